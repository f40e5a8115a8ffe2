/**
 * `suanli agent` as a real process (`node dist/src/cli/index.js agent …`, built by the global
 * setup) against the exchange stand-in: exit codes for bad flags, a refused token and an
 * unreachable exchange; a full run that enrolls, runs a lease and stops cleanly on SIGTERM; a
 * second run that reuses node.json; and exit code 4 when the node token is revoked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlive, nodeLease, waitFor } from './support/agent-harness.js';
import { FakeExchange, GOOD_TOKEN } from './support/fake-exchange.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(root, 'dist/src/cli/index.js');

interface Run {
  readonly child: ChildProcess;
  readonly exit: Promise<number | null>;
  stderr(): string;
}

function agent(args: string[]): Run {
  const env = { ...process.env };
  for (const name of ['SUANLI_SERVER', 'SUANLI_ENROLL_TOKEN', 'SUANLI_AGENT_STATE_DIR']) delete env[name];
  const child = spawn(process.execPath, [CLI, 'agent', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  child.stdout?.resume();
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exit, stderr: () => err };
}

let fx: FakeExchange;
let stateDir: string;
const running: Run[] = [];

function start(args: string[]): Run {
  const run = agent(args);
  running.push(run);
  return run;
}

beforeEach(async () => {
  fx = await new FakeExchange().listen();
  stateDir = mkdtempSync(join(os.tmpdir(), 'suanli-agent-cli-'));
});

afterEach(async () => {
  for (const r of running.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  }
  await fx.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('suanli agent (child process)', () => {
  it('exits 2 on bad flags, 4 on a refused token, 3 when the exchange cannot be reached', async () => {
    const base = ['--state-dir', stateDir, '--fake-gpus', 'nvidia-h100-sxm5-80g:8'];
    const noToken = start(['--server', fx.url, ...base]);
    expect(await noToken.exit).toBe(2);
    expect(noToken.stderr()).toMatch(/--token is required/);

    const badGpus = start(['--server', fx.url, '--token', GOOD_TOKEN, '--state-dir', stateDir, '--fake-gpus', 'nvidia-h100:8']);
    expect(await badGpus.exit).toBe(2);
    expect(badGpus.stderr()).toMatch(/not a catalog accelerator id/);

    const badFlag = start(['--server', fx.url, '--heartbeat-ms', 'soon', ...base]);
    expect(await badFlag.exit).toBe(2);

    const badToken = start(['--server', fx.url, '--token', 'enroll-wrong-0009', ...base]);
    expect(await badToken.exit).toBe(4);
    expect(badToken.stderr()).toMatch(/refused the enrollment token \(401 ENROLLMENT_TOKEN_INVALID/);

    const gone = await new FakeExchange().listen();
    await gone.close();
    const unreachable = start(['--server', gone.url, '--token', GOOD_TOKEN, ...base]);
    expect(await unreachable.exit).toBe(3);
    expect(unreachable.stderr()).toMatch(/cannot reach the exchange/);
    expect(fx.enrollments).toEqual([]);
  });

  it('enrolls, runs a lease, stops it on SIGTERM; a second run reuses node.json; a revoked token exits 4', async () => {
    const lease = nodeLease(`process.on('SIGTERM', () => process.exit(0)); console.log('running'); setInterval(() => {}, 1000);`);
    fx.welcomeLeases = () => [lease];
    const first = start(['--server', fx.url, '--token', GOOD_TOKEN, '--state-dir', stateDir, '--fake-gpus', 'nvidia-h100-sxm5-80g:8', '--heartbeat-ms', '200', '--grace-ms', '2000']);
    const ready = await fx.waitFor('lease.ready', lease.leaseId);
    await waitFor('the log line', () => (fx.logLines(lease.leaseId).includes('running') ? true : undefined));
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    if (ready.access.kind === 'process') expect(isAlive(ready.access.pid)).toBe(false);
    expect(first.stderr()).toMatch(/node node-1 of http:\/\/127\.0\.0\.1:\d+, 8 GPU\(s\) \(fake\)/);

    fx.welcomeLeases = () => [];
    const second = start(['--state-dir', stateDir, '--fake-gpus', 'nvidia-h100-sxm5-80g:8']);
    await fx.waitFor('hello', undefined, 2);
    expect(fx.enrollments).toHaveLength(1);
    fx.revoke();
    expect(await second.exit).toBe(4);
    expect(second.stderr()).toMatch(/revoked/);
  });
});
