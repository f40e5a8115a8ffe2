/**
 * The docker runtime: the exact argv it builds (pure), and its lifecycle against a fake `docker`
 * on PATH that records its argv (a real child process each time, not a mock object).
 */
import { copyFileSync, chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LeaseSpec } from '../src/agent/protocol.js';
import { buildRunArgs, containerName, createDockerRuntime, dockerLimits, listArgs, pickPort, stopArgs } from '../src/agent/runtime/docker.js';
import { LeaseSupervisor } from '../src/agent/runtime/supervisor.js';
import type { Runtime } from '../src/agent/runtime/types.js';
import { Recorder } from './support/agent-harness.js';

const here = dirname(fileURLToPath(import.meta.url));

function dockerLease(image: string, overrides: Partial<LeaseSpec> = {}): LeaseSpec {
  return {
    leaseId: `L-${image.replace(/\W/g, '')}-${Math.floor(Math.random() * 1e9)}`,
    gpuIndices: [0, 3],
    startMs: Date.now() - 1_000,
    endMs: Date.now() + 3_600_000,
    workload: { runtime: 'docker', image, command: ['python', 'train.py', '--lr', '3e-4'], env: { WANDB_MODE: 'offline' }, sshPublicKey: 'ssh-ed25519 AAAAC3Nza buyer@laptop', mode: 'lease' },
    ...overrides,
  };
}

describe('docker argv', () => {
  it('builds the exact docker run argv', () => {
    const lease: LeaseSpec = {
      leaseId: 'lease:42',
      gpuIndices: [0, 3],
      startMs: 0,
      endMs: 1_700_000_000_000,
      workload: { runtime: 'docker', image: 'pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime', command: ['sleep', 'infinity'], env: { HF_TOKEN: 'hf_x y' }, sshPublicKey: 'ssh-ed25519 AAAA k', mode: 'lease' },
    };
    expect(buildRunArgs({ nodeId: 'node-7', lease, scratchDir: '/var/lib/suanli-agent/scratch/lease:42', hostPort: 22_007, limits: { cpus: 22.5, memoryMiB: 241_664 } })).toEqual([
      'run',
      '-d',
      '--name',
      'suanli-lease_42',
      '--label',
      'suanli.node=node-7',
      '--label',
      'suanli.lease=lease:42',
      '--label',
      'suanli.end-ms=1700000000000',
      '--gpus',
      '"device=0,3"',
      '--cpus',
      '22.50',
      '--memory',
      '241664m',
      '--shm-size',
      '60416m',
      '--init',
      '-p',
      '22007:22',
      '--mount',
      'type=bind,source=/var/lib/suanli-agent/scratch/lease:42,target=/scratch',
      '-e',
      'HF_TOKEN=hf_x y',
      '-e',
      'SUANLI_LEASE_ID=lease:42',
      '-e',
      'SUANLI_SCRATCH=/scratch',
      '-e',
      'SUANLI_GPU_INDICES=0,3',
      '-e',
      'SSH_PUBLIC_KEY=ssh-ed25519 AAAA k',
      '-e',
      'PUBLIC_KEY=ssh-ed25519 AAAA k',
      'pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime',
      'sleep',
      'infinity',
    ]);
    expect(stopArgs('lease:42', 10_000)).toEqual(['stop', '-t', '10', 'suanli-lease_42']);
    expect(stopArgs('x', 1_500)).toEqual(['stop', '-t', '2', 'suanli-x']);
    expect(containerName('a.b-c_d')).toBe('suanli-a.b-c_d');
    expect(listArgs('node-7')).toEqual(['ps', '-a', '-q', '--no-trunc', '--filter', 'label=suanli.node=node-7']);
  });

  it('shares the host by GPU count, keeping the rest for the host', () => {
    const host = { cpuCores: 128, memoryBytes: 2 * 1024 ** 4, gpuCount: 8 };
    expect(dockerLimits(host, 8, 0.9)).toEqual({ cpus: 115.2, memoryMiB: 1_887_436 });
    expect(dockerLimits(host, 1, 0.9)).toEqual({ cpus: 14.4, memoryMiB: 235_929 });
    expect(dockerLimits({ cpuCores: 1, memoryBytes: 0, gpuCount: 8 }, 1, 0.5)).toEqual({ cpus: 0.06, memoryMiB: 64 });
  });

  it('picks the first port of the range that no lease holds and the host can bind', async () => {
    expect(await pickPort([22_000, 22_005], new Set([22_000, 22_001]), async (p) => p !== 22_002)).toBe(22_003);
    expect(await pickPort([22_000, 22_001], new Set([22_000]), async () => false)).toBeNull();
  });
});

describe('docker runtime against a recording fake docker', () => {
  let dir: string;
  let logFile: string;
  let rec: Recorder;
  let sup: LeaseSupervisor;
  let runtime: Runtime;
  const calls = (): string[][] => (existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]) : []);

  beforeEach(() => {
    dir = mkdtempSync(join(os.tmpdir(), 'suanli-agent-docker-'));
    logFile = join(dir, 'docker-argv.jsonl');
    const state = mkdtempSync(join(dir, 'state-'));
    const binDir = mkdtempSync(join(dir, 'bin-'));
    copyFileSync(join(here, 'support/fake-docker.mjs'), join(binDir, 'docker'));
    chmodSync(join(binDir, 'docker'), 0o755);
    rec = new Recorder();
    runtime = createDockerRuntime({
      nodeId: 'node-7',
      runner: { command: 'docker', env: { ...process.env, PATH: `${binDir}:${process.env['PATH'] ?? ''}`, FAKE_DOCKER_LOG: logFile, FAKE_DOCKER_STATE: state } },
      publicHost: 'gpu-01.example.com',
      sshPortRange: [40_001, 40_010],
      isPortFree: async (p) => p !== 40_001,
      host: { cpuCores: 16, memoryBytes: 64 * 1024 ** 3, gpuCount: 4 },
    });
    sup = new LeaseSupervisor({
      runtime,
      scratchRoot: join(dir, 'scratch'),
      graceMs: 1_000,
      emit: rec.push,
      onLog: (leaseId, stream, line) => rec.push({ type: 'lease.log', leaseId, stream, lines: [line] }),
    });
  });

  afterEach(async () => {
    await sup.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the container, reports SSH access, follows its logs, then stop → rm → scratch wiped', async () => {
    const lease = dockerLease('example/trainer:1');
    sup.start(lease);
    const ready = await rec.waitFor('lease.ready', lease.leaseId);
    expect(ready.access).toEqual({ kind: 'ssh', host: 'gpu-01.example.com', port: 40_002, user: 'root' });
    const run = calls()[0] ?? [];
    expect(run.slice(0, 4)).toEqual(['run', '-d', '--name', containerName(lease.leaseId)]);
    expect(run).toContain('"device=0,3"');
    expect(run[run.indexOf('--cpus') + 1]).toBe('7.20');
    expect(run[run.indexOf('-p') + 1]).toBe('40002:22');
    expect(run.slice(-5)).toEqual(['example/trainer:1', 'python', 'train.py', '--lr', '3e-4']);
    await rec.waitFor('lease.log', lease.leaseId);
    await sup.stop(lease.leaseId);
    const name = containerName(lease.leaseId);
    const all = calls();
    expect(all).toContainEqual(['logs', '-f', name]);
    expect(all).toContainEqual(['wait', name]);
    const stopAt = all.findIndex((c) => c[0] === 'stop');
    expect(all[stopAt]).toEqual(['stop', '-t', '1', name]);
    expect(all.slice(stopAt + 1)).toContainEqual(['rm', '-f', name]);
    expect(rec.lines(lease.leaseId)).toContain('container says hi');
    expect(rec.lines(lease.leaseId, 'stderr')).toContain('container warns');
    expect(rec.of('lease.stopped', lease.leaseId)).toEqual([expect.objectContaining({ scratchWiped: true })]);
    expect(rec.of('lease.exited', lease.leaseId)).toEqual([]);
    expect(existsSync(join(dir, 'scratch', lease.leaseId))).toBe(false);
  });

  it('a second lease gets the next free port; a container that ends by itself is reported exited', async () => {
    const a = dockerLease('example/a');
    const b = dockerLease('exits/now');
    sup.start(a);
    await rec.waitFor('lease.ready', a.leaseId);
    sup.start(b);
    const readyB = await rec.waitFor('lease.ready', b.leaseId);
    expect(readyB.access).toMatchObject({ port: 40_003 });
    const exited = await rec.waitFor('lease.exited', b.leaseId);
    expect(exited.exitCode).toBe(0);
  });

  it('leases starting together get different ports', async () => {
    const leases = [dockerLease('example/a'), dockerLease('example/b'), dockerLease('example/c')];
    for (const l of leases) sup.start(l);
    const ports = await Promise.all(leases.map(async (l) => (await rec.waitFor('lease.ready', l.leaseId)).access));
    expect(ports.map((a) => (a.kind === 'ssh' ? a.port : 0)).sort()).toEqual([40_002, 40_003, 40_004]);
  });

  it('sweep removes the containers a previous run of this node left behind', async () => {
    await runtime.sweep?.();
    expect(calls()).toEqual([
      ['ps', '-a', '-q', '--no-trunc', '--filter', 'label=suanli.node=node-7'],
      ['rm', '-f', 'aaaaaaaaaaaa', 'bbbbbbbbbbbb'],
    ]);
  });

  it('a failed docker run is lease.failed with docker\'s message, and the container is removed', async () => {
    const lease = dockerLease('missing/image');
    sup.start(lease);
    const failed = await rec.waitFor('lease.failed', lease.leaseId);
    expect(failed.error).toMatch(/exit 125.*pull access denied/s);
    expect(calls()).toContainEqual(['rm', '-f', containerName(lease.leaseId)]);
    expect(rec.of('lease.ready', lease.leaseId)).toEqual([]);
  });
});
