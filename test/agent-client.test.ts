/**
 * `startAgent` against a small real exchange stand-in (test/support/fake-exchange.ts) that speaks
 * protocol.ts over a real WebSocket: enrollment and node.json, hello → welcome with a lease →
 * ready/logs → stop → stopped, heartbeats, reconnect after the exchange drops (with the reports
 * made while away), reconciliation, invalid messages, and 4401 ending the agent.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent, type AgentHandle, type AgentOptions } from '../src/agent/agent.js';
import { AgentError } from '../src/agent/errors.js';
import { mulberry32 } from '../src/core/prng.js';
import { isAlive, nodeLease, waitFor } from './support/agent-harness.js';
import { FakeExchange, GOOD_TOKEN, USED_TOKEN } from './support/fake-exchange.js';

const here = dirname(fileURLToPath(import.meta.url));
const FAKE_SMI = join(here, 'support/fake-nvidia-smi.mjs');
const FIXTURES = [process.env['SUANLI_NVIDIA_SMI_FIXTURES'], join(here, '../../shared/fixtures/nvidia-smi')].find(
  (d): d is string => d !== undefined && existsSync(d),
);

let fx: FakeExchange;
let stateDir: string;
const agents: AgentHandle[] = [];
const logs: string[] = [];

function options(extra: Partial<AgentOptions> = {}): AgentOptions {
  return {
    server: fx.url,
    token: GOOD_TOKEN,
    stateDir,
    fakeGpus: 'nvidia-h100-sxm5-80g:8',
    // Not lower: a loaded test machine can stall the event loop for a few hundred ms, and three
    // silent intervals make the agent redial.
    heartbeatMs: 250,
    graceMs: 500,
    logFlushMs: 20,
    backoff: { baseMs: 20, capMs: 200, stableAfterMs: 60_000 },
    random: mulberry32(1),
    log: (level, text) => logs.push(`${level} ${text}`),
    ...extra,
  };
}

async function start(extra: Partial<AgentOptions> = {}): Promise<AgentHandle> {
  const agent = await startAgent(options(extra));
  agents.push(agent);
  return agent;
}

beforeEach(async () => {
  fx = await new FakeExchange().listen();
  stateDir = mkdtempSync(join(os.tmpdir(), 'suanli-agent-client-'));
  logs.length = 0;
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await fx.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('enrollment', () => {
  it('enrolls once, keeps the node token 0600, and reuses it without --token', async () => {
    const first = await start();
    expect(first.enrolled).toBe(true);
    expect(first.nodeId).toBe('node-1');
    expect(fx.enrollments).toHaveLength(1);
    expect(fx.enrollments[0]?.hardware).toMatchObject({ fake: true, nvlinkGroups: [[0, 1, 2, 3, 4, 5, 6, 7]] });
    expect(fx.enrollments[0]?.hardware.gpus).toHaveLength(8);
    const file = join(stateDir, 'node.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ nodeId: 'node-1', nodeToken: fx.nodeToken, server: fx.url });
    await fx.waitFor('hello');
    await first.stop();

    const again = await start({ token: undefined, server: undefined });
    expect(again.enrolled).toBe(false);
    expect(fx.enrollments).toHaveLength(1);
    await fx.waitFor('hello', undefined, 2);
  });

  it('turns every refusal into an AgentError with its exit code', async () => {
    const code = async (extra: Partial<AgentOptions>): Promise<number> => {
      try {
        await start(extra);
        return 0;
      } catch (e) {
        expect(e).toBeInstanceOf(AgentError);
        return (e as AgentError).exitCode;
      }
    };
    expect(await code({ token: 'enroll-bad-00003' })).toBe(4);
    expect(await code({ token: USED_TOKEN })).toBe(4);
    expect(await code({ token: undefined })).toBe(2);
    expect(await code({ fakeGpus: 'nvidia-h100:8' })).toBe(2);
    expect(await code({ server: 'ftp://example.com' })).toBe(2);
    const closed = await new FakeExchange().listen();
    await closed.close();
    expect(await code({ server: closed.url })).toBe(3);
    expect(await code({ fakeGpus: undefined, nvidiaSmi: '/no/such/nvidia-smi' })).toBe(5);
    expect(fx.enrollments).toHaveLength(0);
    await start();
    await agents[0]?.stop();
    expect(await code({ server: 'http://127.0.0.1:1' })).toBe(2); // enrolled elsewhere
  });
});

describe('real GPUs through nvidia-smi (the fake replaying real captures)', () => {
  it.skipIf(FIXTURES === undefined)('reports the H100 as detected, not fake, and heartbeats its live numbers', async () => {
    const capture = join(FIXTURES as string, 'linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt');
    await start({
      fakeGpus: undefined,
      nvidiaSmi: process.execPath,
      nvidiaSmiArgs: [FAKE_SMI],
      nvidiaSmiEnv: { ...process.env, FAKE_NVIDIA_SMI_CAPTURE: capture, FAKE_NVIDIA_SMI_PHASE: 'load' },
    });
    const hardware = fx.enrollments[0]?.hardware;
    expect(hardware?.fake).toBe(false);
    expect(hardware?.gpus).toEqual([expect.objectContaining({ index: 0, acceleratorId: 'nvidia-h100-sxm5-80g', memoryMiB: 81_559 })]);
    expect(hardware?.driverVersion).toBe('590.48.01');
    const beat = await fx.waitFor('heartbeat');
    expect(beat.gpus).toEqual([{ index: 0, healthy: true, utilizationPct: 100, memoryUsedMiB: 19_818, temperatureC: 59 }]);
  });

  it('reports a GPU the catalog does not know as unknown (null), never a guess', async () => {
    const smi = `const a = process.argv.slice(1).join(' ');
      if (a.startsWith('--query-gpu=index,uuid')) console.log('0, GPU-11111111-2222-3333-4444-555555555555, NVIDIA Mystery X9, 98304, 999.1, [N/A], 12, 40');
      else if (a === '-L') console.log('GPU 0: NVIDIA Mystery X9 (UUID: GPU-11111111-2222-3333-4444-555555555555)');
      else if (a.startsWith('--query-gpu=index,utilization')) console.log('0, 12, 100, 40');
      else process.exit(1);`;
    await start({ fakeGpus: undefined, nvidiaSmi: process.execPath, nvidiaSmiArgs: ['-e', smi, '--'] });
    const hardware = fx.enrollments[0]?.hardware;
    expect(hardware?.gpus).toEqual([expect.objectContaining({ productName: 'NVIDIA Mystery X9', acceleratorId: null })]);
    expect(hardware?.warnings.join('\n')).toMatch(/not in the catalog/);
    expect(logs.join('\n')).toMatch(/GPU 0 'NVIDIA Mystery X9' is not in the catalog/);
  });
});

describe('session', () => {
  it('hello → welcome with a lease → ready and logs → lease.stop → stopped; heartbeats carry every GPU', async () => {
    const lease = nodeLease(`console.log('hello from the lease'); console.error('warn'); setInterval(() => {}, 1000);`);
    fx.welcomeLeases = () => [lease];
    const agent = await start();
    const hello = await fx.waitFor('hello');
    expect(hello).toMatchObject({ protocol: 1, running: [], runtime: 'process' });
    expect(hello.hardware.fake).toBe(true);
    const ready = await fx.waitFor('lease.ready', lease.leaseId);
    expect(ready.access.kind).toBe('process');
    await waitFor('log lines', () => (fx.logLines(lease.leaseId).includes('hello from the lease') ? true : undefined));
    // The first line leaves at once; the next may follow one batching wait later.
    await waitFor('the stderr line', () => (fx.logLines(lease.leaseId, 'stderr').length > 0 ? true : undefined));
    expect(fx.logLines(lease.leaseId, 'stderr')).toEqual(['warn']);
    const beat = await fx.waitFor('heartbeat', undefined, 2);
    expect(beat.gpus).toHaveLength(8);
    expect(beat.gpus.every((g) => g.healthy && g.utilizationPct === 0)).toBe(true);
    expect(beat.seq).toBeGreaterThan(0);
    expect(agent.connected()).toBe(true);

    fx.send({ type: 'lease.stop', leaseId: lease.leaseId, reason: 'buyer_cancelled' });
    const stopped = await fx.waitFor('lease.stopped', lease.leaseId);
    expect(stopped.scratchWiped).toBe(true);
    if (ready.access.kind === 'process') expect(isAlive(ready.access.pid)).toBe(false);
    expect(agent.leases()).toEqual([]);
  });

  it('a lease.start while connected runs at once; an invalid message is ignored', async () => {
    await start();
    await fx.waitFor('hello');
    await waitFor('welcome handled', () => (agents[0]?.connected() ? true : undefined));
    fx.send({ type: 'lease.frobnicate', leaseId: 'x' });
    fx.send({ type: 'lease.start', lease: { leaseId: 'bad id with spaces' } });
    const lease = nodeLease(`console.log('started by command')`);
    fx.send({ type: 'lease.start', lease });
    await fx.waitFor('lease.exited', lease.leaseId);
    expect(fx.logLines(lease.leaseId)).toEqual(['started by command']);
    expect(logs.filter((l) => l.includes('ignored an invalid message'))).toHaveLength(2);
    expect(fx.connections).toBe(1);
  });

  it('reconnects after the exchange drops, says what runs, and delivers what happened meanwhile', async () => {
    const lease = nodeLease(`console.log('working'); setTimeout(() => { console.log('finished while away'); process.exit(7); }, 800);`);
    fx.welcomeLeases = () => [lease];
    const agent = await start();
    await fx.waitFor('lease.ready', lease.leaseId);
    fx.accepting = false;
    fx.drop();
    await waitFor('the workload to exit while disconnected', () => (agent.leases()[0]?.phase === 'exited' ? true : undefined));
    await waitFor('a refused reconnect attempt', () => (fx.upgradeAttempts >= 2 ? true : undefined));
    expect(fx.of('lease.exited')).toEqual([]);
    fx.accepting = true;

    await waitFor('the second session', () => (fx.connections === 2 ? true : undefined));
    const exited = await fx.waitFor('lease.exited', lease.leaseId);
    expect(exited.exitCode).toBe(7);
    const second = fx.onConnection(2);
    expect(second[0]).toMatchObject({ type: 'hello', running: [{ leaseId: lease.leaseId, state: 'exited', exitCode: 7 }] });
    await waitFor('the log line', () => (fx.logLines(lease.leaseId).includes('finished while away') ? true : undefined));
    // Still listed by the welcome: an exited lease is neither restarted nor stopped.
    expect(fx.of('lease.ready', lease.leaseId)).toHaveLength(1);
    expect(fx.of('lease.stopped', lease.leaseId)).toEqual([]);
  });

  it('reconciliation stops a running lease the exchange no longer lists', async () => {
    const lease = nodeLease(`setInterval(() => {}, 1000)`);
    fx.welcomeLeases = () => [lease];
    await start();
    const ready = await fx.waitFor('lease.ready', lease.leaseId);
    fx.welcomeLeases = () => [];
    fx.drop();
    await waitFor('the second session', () => (fx.connections === 2 ? true : undefined));
    const stopped = await fx.waitFor('lease.stopped', lease.leaseId);
    expect(stopped.scratchWiped).toBe(true);
    expect(fx.onConnection(2)[0]).toMatchObject({ type: 'hello', running: [{ leaseId: lease.leaseId, state: 'running' }] });
    if (ready.access.kind === 'process') expect(isAlive(ready.access.pid)).toBe(false);
  });

  it('a lease pushed between hello and welcome keeps running though the welcome does not list it', async () => {
    const pushed = nodeLease(`setInterval(() => {}, 1000)`);
    fx.beforeWelcome = () => [{ type: 'lease.start', lease: pushed }];
    fx.welcomeLeases = () => [];
    const agent = await start();
    await fx.waitFor('lease.ready', pushed.leaseId);
    await fx.waitFor('heartbeat', undefined, 3);
    expect(fx.of('lease.stopped', pushed.leaseId)).toEqual([]);
    expect(agent.leases()).toEqual([{ leaseId: pushed.leaseId, phase: 'running', exitCode: null }]);
  });

  it('redials an exchange that stopped answering (no pongs) for three heartbeats', async () => {
    await start({ heartbeatMs: 100 });
    await fx.waitFor('heartbeat');
    fx.hang();
    await waitFor('the second session', () => (fx.connections === 2 ? true : undefined));
    expect(logs.join('\n')).toMatch(/no word from the exchange for 3 heartbeats/);
    await fx.waitFor('hello', undefined, 2);
  });

  it('another agent connecting as the same node (4409) ends this one', async () => {
    const first = await start();
    await fx.waitFor('hello');
    await expect(start({ token: undefined })).rejects.toThrow(/another agent \(pid \d+\) uses/);
    // The same identity copied to another state dir (another host): the exchange keeps the newer session.
    const copy = mkdtempSync(join(os.tmpdir(), 'suanli-agent-copy-'));
    copyFileSync(join(stateDir, 'node.json'), join(copy, 'node.json'));
    await start({ token: undefined, stateDir: copy });
    await expect(first.done).resolves.toMatchObject({ reason: 'replaced', exitCode: 4 });
    await fx.waitFor('hello', undefined, 2);
    expect(fx.connections).toBe(2);
    rmSync(copy, { recursive: true, force: true });
  });

  it('close 4401 ends the agent for good: no more retries, workloads stopped, exit code 4', async () => {
    const lease = nodeLease(`setInterval(() => {}, 1000)`);
    fx.welcomeLeases = () => [lease];
    const agent = await start();
    const ready = await fx.waitFor('lease.ready', lease.leaseId);
    fx.revoke();
    const end = await agent.done;
    expect(end).toMatchObject({ reason: 'unauthorized', exitCode: 4 });
    if (end.reason !== 'stopped') expect(end.message).toMatch(/revoked/);
    if (ready.access.kind === 'process') expect(isAlive(ready.access.pid)).toBe(false);
    const attempts = fx.upgradeAttempts;
    await new Promise((r) => setTimeout(r, 400)); // many backoff periods (base 20 ms)
    expect(fx.upgradeAttempts).toBe(attempts);
    expect(agent.connected()).toBe(false);
  });

  it('a node token refused at the next connect (after a drop) also ends the agent', async () => {
    const agent = await start();
    await fx.waitFor('hello');
    fx.nodeToken = 'someone-else-entirely';
    fx.drop();
    await expect(agent.done).resolves.toMatchObject({ reason: 'unauthorized', exitCode: 4 });
  });
});
