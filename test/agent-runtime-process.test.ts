/**
 * The process runtime under the lease supervisor, with real child processes (`node -e …`): the
 * environment a workload sees, its private scratch dir (created, then wiped), captured logs,
 * SIGTERM → grace → SIGKILL of the whole process group, end-time enforcement, spawn failure and
 * reconciliation. Nothing here asserts how fast anything is.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProcessRuntime } from '../src/agent/runtime/process.js';
import { LeaseSupervisor } from '../src/agent/runtime/supervisor.js';
import { isAlive, nodeLease, Recorder, waitFor } from './support/agent-harness.js';

let dir: string;
let rec: Recorder;
let sup: LeaseSupervisor;

function supervisor(graceMs = 10_000): LeaseSupervisor {
  return new LeaseSupervisor({
    runtime: createProcessRuntime(),
    scratchRoot: join(dir, 'scratch'),
    graceMs,
    gpuIndices: new Set([0, 1, 2, 3]),
    emit: rec.push,
    onLog: (leaseId, stream, line) => rec.push({ type: 'lease.log', leaseId, stream, lines: [line] }),
  });
}

beforeEach(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'suanli-agent-proc-'));
  rec = new Recorder();
  sup = supervisor();
});

afterEach(async () => {
  await sup.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('process runtime', () => {
  it('runs the argv with the lease env in a private scratch dir, captures logs, reports exit, wipes scratch on stop', async () => {
    process.env['SUANLI_AGENT_TEST_SECRET'] = 'must-not-leak';
    const lease = nodeLease(
      `const fs = require('fs');
       fs.writeFileSync('result.txt', 'done');
       console.log(JSON.stringify({
         cuda: process.env.CUDA_VISIBLE_DEVICES, nv: process.env.NVIDIA_VISIBLE_DEVICES, order: process.env.CUDA_DEVICE_ORDER,
         lease: process.env.SUANLI_LEASE_ID, scratch: process.env.SUANLI_SCRATCH, cwd: process.cwd(),
         foo: process.env.FOO, secret: process.env.SUANLI_AGENT_TEST_SECRET ?? null }));
       console.error('to stderr');
       process.stdout.write('no newline at the end');
       process.exitCode = 3;`,
      { env: { FOO: 'bar', CUDA_VISIBLE_DEVICES: 'buyer-cannot-override' } },
    );
    sup.start(lease);
    const ready = await rec.waitFor('lease.ready', lease.leaseId);
    expect(ready.access.kind).toBe('process');
    if (ready.access.kind === 'process') expect(ready.access.pid).toBeGreaterThan(0);
    const exited = await rec.waitFor('lease.exited', lease.leaseId);
    expect(exited).toMatchObject({ exitCode: 3, signal: null });

    const scratch = join(dir, 'scratch', lease.leaseId);
    const out = rec.lines(lease.leaseId);
    const seen = JSON.parse(out[0] ?? '{}') as Record<string, unknown>;
    expect(seen).toEqual({
      cuda: '0,3',
      nv: '0,3',
      order: 'PCI_BUS_ID',
      lease: lease.leaseId,
      scratch,
      cwd: scratch,
      foo: 'bar',
      secret: null,
    });
    expect(out[1]).toBe('no newline at the end');
    expect(rec.lines(lease.leaseId, 'stderr')).toEqual(['to stderr']);
    // The lease runs on after its workload exits (mode lease): the scratch dir stays until the stop.
    expect(statSync(scratch).mode & 0o777).toBe(0o700);
    expect(existsSync(join(scratch, 'result.txt'))).toBe(true);
    expect(sup.running()).toEqual([{ leaseId: lease.leaseId, state: 'exited', exitCode: 3 }]);

    await sup.stop(lease.leaseId);
    expect(rec.of('lease.stopped', lease.leaseId)).toEqual([expect.objectContaining({ scratchWiped: true })]);
    expect(existsSync(scratch)).toBe(false);
    expect(sup.running()).toEqual([]);
    delete process.env['SUANLI_AGENT_TEST_SECRET'];
  });

  it('SIGTERM, then SIGKILL after the grace period, to the whole process group', async () => {
    sup = supervisor(300);
    const lease = nodeLease(
      `const { spawn } = require('child_process');
       const kid = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
       process.on('SIGTERM', () => console.log('got SIGTERM, ignoring it'));
       console.log('grandchild ' + kid.pid);
       setInterval(() => {}, 1000);`,
    );
    sup.start(lease);
    const ready = await rec.waitFor('lease.ready', lease.leaseId);
    const pid = ready.access.kind === 'process' ? ready.access.pid : -1;
    const line = await waitFor('the grandchild pid', () => rec.lines(lease.leaseId).find((l) => l.startsWith('grandchild ')));
    const grandchild = Number(line.split(' ')[1]);
    expect(isAlive(pid)).toBe(true);
    expect(isAlive(grandchild)).toBe(true);

    await sup.stop(lease.leaseId);
    expect(rec.lines(lease.leaseId)).toContain('got SIGTERM, ignoring it');
    expect(rec.of('lease.stopped', lease.leaseId)).toHaveLength(1);
    expect(rec.of('lease.exited', lease.leaseId)).toHaveLength(0);
    expect(isAlive(pid)).toBe(false);
    await waitFor('the grandchild to die', () => (isAlive(grandchild) ? undefined : true));
  });

  it('what a workload left running in the background dies when it exits', async () => {
    const lease = nodeLease(
      `const { spawn } = require('child_process');
       const kid = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
       kid.unref();
       console.log('background ' + kid.pid);`,
    );
    sup.start(lease);
    await rec.waitFor('lease.exited', lease.leaseId);
    const line = rec.lines(lease.leaseId).find((l) => l.startsWith('background ')) ?? '';
    const kid = Number(line.split(' ')[1]);
    expect(kid).toBeGreaterThan(0);
    await waitFor('the background process to die', () => (isAlive(kid) ? undefined : true));
  });

  it('a workload that honours SIGTERM ends within its grace and is reported stopped once', async () => {
    const lease = nodeLease(`process.on('SIGTERM', () => { console.log('bye'); process.exit(0); }); console.log('up'); setInterval(() => {}, 1000);`);
    sup.start(lease);
    await waitFor('up', () => (rec.lines(lease.leaseId).includes('up') ? true : undefined));
    await Promise.all([sup.stop(lease.leaseId), sup.stop(lease.leaseId)]);
    expect(rec.lines(lease.leaseId)).toContain('bye');
    expect(rec.of('lease.stopped', lease.leaseId)).toHaveLength(1);
  });

  it('stops the workload at endMs on its own clock, without being told', async () => {
    sup = supervisor(200);
    const lease = nodeLease(`process.on('SIGTERM', () => {}); setInterval(() => {}, 1000);`, { endMs: Date.now() + 2_000 });
    sup.start(lease);
    const ready = await rec.waitFor('lease.ready', lease.leaseId);
    const stopped = await rec.waitFor('lease.stopped', lease.leaseId);
    expect(stopped.atMs).toBeGreaterThanOrEqual(lease.endMs);
    expect(stopped.scratchWiped).toBe(true);
    if (ready.access.kind === 'process') expect(isAlive(ready.access.pid)).toBe(false);
  });

  it('never starts a lease whose end has passed; waits for a start in the future', async () => {
    const over = nodeLease(`console.log('must not run')`, { startMs: Date.now() - 10_000, endMs: Date.now() - 1 });
    sup.start(over);
    expect(rec.of('lease.stopped', over.leaseId)).toEqual([expect.objectContaining({ scratchWiped: true })]);
    expect(rec.of('lease.ready', over.leaseId)).toEqual([]);
    sup.start(over); // a stale repeat does not start it either
    expect(rec.of('lease.ready', over.leaseId)).toEqual([]);

    const later = nodeLease(`console.log('started')`, { startMs: Date.now() + 400 });
    sup.start(later);
    expect(sup.running()).toEqual([]);
    expect(sup.status()).toEqual([{ leaseId: later.leaseId, phase: 'scheduled', exitCode: null }]);
    const ready = await rec.waitFor('lease.ready', later.leaseId);
    expect(ready.atMs).toBeGreaterThanOrEqual(later.startMs);
  });

  it('reports lease.failed when the program cannot be spawned, and leaves no scratch dir', async () => {
    const lease = nodeLease('', { workload: { runtime: 'process', command: ['/no/such/program', '--flag'], env: {}, mode: 'lease' } });
    sup.start(lease);
    const failed = await rec.waitFor('lease.failed', lease.leaseId);
    expect(failed.error).toMatch(/ENOENT/);
    expect(rec.of('lease.ready', lease.leaseId)).toEqual([]);
    expect(existsSync(join(dir, 'scratch', lease.leaseId))).toBe(false);
    sup.start(lease); // a failed lease is not retried by a stale welcome
    expect(rec.of('lease.failed', lease.leaseId)).toHaveLength(1);
  });

  it('refuses a lease naming a GPU this node does not have', async () => {
    const lease = nodeLease(`console.log('must not run')`, { gpuIndices: [3, 4] });
    sup.start(lease);
    expect(rec.of('lease.failed', lease.leaseId)).toEqual([expect.objectContaining({ error: 'GPU 4 is not on this node' })]);
  });

  it('refuses a workload for the other runtime', async () => {
    const lease = nodeLease('', { workload: { runtime: 'docker', image: 'pytorch/pytorch', env: {}, mode: 'lease' } });
    sup.start(lease);
    expect(rec.of('lease.failed', lease.leaseId)).toEqual([expect.objectContaining({ error: 'this node runs process workloads, not docker' })]);
  });

  it('reconcile starts what is listed and stops what is not', async () => {
    const keep = nodeLease('setInterval(() => {}, 1000)');
    const drop = nodeLease('setInterval(() => {}, 1000)');
    sup.start(keep);
    sup.start(drop);
    await rec.waitFor('lease.ready', keep.leaseId);
    await rec.waitFor('lease.ready', drop.leaseId);
    const added = nodeLease('setInterval(() => {}, 1000)');
    await sup.reconcile([keep, added]);
    expect(rec.of('lease.stopped', drop.leaseId)).toHaveLength(1);
    expect(rec.of('lease.stopped', keep.leaseId)).toHaveLength(0);
    await rec.waitFor('lease.ready', added.leaseId);
    expect(rec.of('lease.ready', keep.leaseId)).toHaveLength(1);
    expect(sup.running().map((r) => r.leaseId).sort()).toEqual([keep.leaseId, added.leaseId].sort());
  });

  it('a restarted agent kills the process groups a killed predecessor left, and only those', async () => {
    const pidDir = join(dir, 'pids');
    const before = new LeaseSupervisor({ runtime: createProcessRuntime({ pidDir }), scratchRoot: join(dir, 'scratch'), emit: rec.push, onLog: () => undefined });
    const lease = nodeLease(`process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)`);
    before.start(lease);
    const ready = await rec.waitFor('lease.ready', lease.leaseId);
    const pid = ready.access.kind === 'process' ? ready.access.pid : -1;
    expect(readdirSync(pidDir)).toEqual([lease.leaseId]);
    // A stale record whose pid now belongs to another process (this one): must be left alone.
    writeFileSync(join(pidDir, 'stale'), `${process.pid} 1\n`);

    await createProcessRuntime({ pidDir }).sweep?.();
    await waitFor('the orphan to die', () => (isAlive(pid) ? undefined : true));
    expect(readdirSync(pidDir)).toEqual([]);
    await before.close();
  });

  it('acknowledges a stop for a lease it does not run', async () => {
    await sup.stop('never-seen');
    expect(rec.of('lease.stopped', 'never-seen')).toEqual([expect.objectContaining({ scratchWiped: true })]);
  });

  it("never treats the ids '.' and '..' (valid in the protocol) as dirs", async () => {
    writeFileSync(join(dir, 'node.json'), '{}');
    await sup.stop('..');
    await sup.stop('.');
    sup.start(nodeLease(`console.log('x')`, { leaseId: '..' }));
    expect(existsSync(join(dir, 'node.json'))).toBe(true);
    expect(rec.of('lease.failed', '..')).toEqual([expect.objectContaining({ error: "lease id '..' cannot name a scratch dir" })]);
  });

  it('close() stops every workload and wipes scratch without reporting', async () => {
    const lease = nodeLease('setInterval(() => {}, 1000)');
    sup.start(lease);
    const ready = await rec.waitFor('lease.ready', lease.leaseId);
    await sup.close();
    if (ready.access.kind === 'process') expect(isAlive(ready.access.pid)).toBe(false);
    expect(existsSync(join(dir, 'scratch', lease.leaseId))).toBe(false);
    expect(rec.of('lease.stopped')).toEqual([]);
  });
});
