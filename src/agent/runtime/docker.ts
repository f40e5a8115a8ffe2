/**
 * The `docker` runtime: one container per lease, `docker run --gpus "device=…"`, reached over SSH
 * on a host port mapped to the container's port 22.
 *
 * Choices (docs/agent.md explains them to providers):
 * - No `--rm`: a container removed the moment it exits takes its last log lines and its exit code
 *   with it (`docker logs -f` and `docker wait` race the removal). The agent removes it itself
 *   (`docker rm -f`) after the stop.
 * - `--gpus` takes a CSV list, so several devices must be one quoted element: `"device=0,3"`.
 *   Inside, the container sees its GPUs renumbered from 0; CUDA_VISIBLE_DEVICES is therefore not
 *   set (host indices would be wrong there); SUANLI_GPU_INDICES says which host GPUs they are.
 * - The buyer's SSH key arrives as env `SSH_PUBLIC_KEY` (and `PUBLIC_KEY`, the name RunPod-style
 *   images read): the image's entrypoint appends it to /root/.ssh/authorized_keys and starts
 *   sshd. A mounted file would need root ownership inside for sshd's StrictModes.
 * - CPU and memory: the lease's share of the host (`hostShare` of the cores and RAM, split by GPU
 *   count), so a one-GPU lease cannot starve the other seven.
 * - The scratch dir is mounted at /scratch (`SUANLI_SCRATCH=/scratch`) and wiped after the stop.
 * - Containers carry the node id as a label: at start the agent removes any its previous run left
 *   (it was killed), since nothing bills them any more.
 */
import { createServer } from 'node:net';
import type { LeaseSpec } from '../protocol.js';
import { followCommand, runCommand, type CommandRunner } from './exec.js';
import type { Runtime, StartContext, StartedWorkload, WorkloadExit } from './types.js';

export const CONTAINER_SCRATCH = '/scratch';
/** Marks the containers of one node, so a restarted agent finds what its previous run left. */
export const NODE_LABEL = 'suanli.node';
/** `docker run` may pull a large image first (PyTorch images are 10+ GB). */
const DOCKER_RUN_TIMEOUT_MS = 30 * 60_000;
const DOCKER_CALL_TIMEOUT_MS = 120_000;
const DOCKER_RM_TIMEOUT_MS = 30_000;

export interface HostCapacity {
  readonly cpuCores: number;
  readonly memoryBytes: number;
  readonly gpuCount: number;
}

export interface DockerLimits {
  /** `--cpus`, two decimals. */
  readonly cpus: number;
  readonly memoryMiB: number;
}

/** The lease's share of the host: `hostShare` of CPUs and RAM, in proportion to its GPUs. */
export function dockerLimits(host: HostCapacity, leaseGpus: number, hostShare: number): DockerLimits {
  const fraction = Math.min(1, Math.max(0, hostShare)) * Math.min(1, leaseGpus / Math.max(1, host.gpuCount));
  const cpus = Math.max(0.01, Math.floor(host.cpuCores * fraction * 100) / 100);
  const memoryMiB = Math.max(64, Math.floor((host.memoryBytes * fraction) / (1024 * 1024)));
  return { cpus, memoryMiB };
}

/** docker allows [a-zA-Z0-9][a-zA-Z0-9_.-]; a lease id may also hold ':'. The label keeps the exact id. */
export function containerName(leaseId: string): string {
  return `suanli-${leaseId.replace(/:/g, '_')}`;
}

export function buildRunArgs(input: {
  readonly nodeId: string;
  readonly lease: LeaseSpec;
  readonly scratchDir: string;
  readonly hostPort: number;
  readonly limits: DockerLimits;
}): string[] {
  const { nodeId, lease, scratchDir, hostPort, limits } = input;
  const image = lease.workload.image;
  if (image === undefined) throw new Error('a docker workload needs an image');
  if (/[,"]/.test(scratchDir)) throw new Error(`the state dir path must not hold ',' or '"' (docker --mount): ${scratchDir}`);
  const env: Record<string, string> = {
    ...lease.workload.env,
    SUANLI_LEASE_ID: lease.leaseId,
    SUANLI_SCRATCH: CONTAINER_SCRATCH,
    SUANLI_GPU_INDICES: lease.gpuIndices.join(','),
  };
  if (lease.workload.sshPublicKey !== undefined) {
    env['SSH_PUBLIC_KEY'] = lease.workload.sshPublicKey;
    env['PUBLIC_KEY'] = lease.workload.sshPublicKey;
  }
  return [
    'run',
    '-d',
    '--name',
    containerName(lease.leaseId),
    '--label',
    `${NODE_LABEL}=${nodeId}`,
    '--label',
    `suanli.lease=${lease.leaseId}`,
    '--label',
    `suanli.end-ms=${lease.endMs}`,
    '--gpus',
    `"device=${lease.gpuIndices.join(',')}"`,
    '--cpus',
    limits.cpus.toFixed(2),
    '--memory',
    `${limits.memoryMiB}m`,
    // PyTorch data loaders share tensors through /dev/shm; docker's 64 MiB default breaks them.
    '--shm-size',
    `${Math.max(64, Math.floor(limits.memoryMiB / 4))}m`,
    // A real PID 1 passes docker stop's SIGTERM on and reaps zombies.
    '--init',
    '-p',
    `${hostPort}:22`,
    // --mount, not -v: a lease id may hold ':', which -v reads as its separator.
    '--mount',
    `type=bind,source=${scratchDir},target=${CONTAINER_SCRATCH}`,
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    image,
    ...(lease.workload.command ?? []),
  ];
}

/** Every container of this node, running or not (`docker ps` prints their ids, one a line). */
export function listArgs(nodeId: string): string[] {
  return ['ps', '-a', '-q', '--no-trunc', '--filter', `label=${NODE_LABEL}=${nodeId}`];
}
export function stopArgs(leaseId: string, graceMs: number): string[] {
  return ['stop', '-t', String(Math.max(0, Math.ceil(graceMs / 1000))), containerName(leaseId)];
}
export function removeArgs(leaseId: string): string[] {
  return ['rm', '-f', containerName(leaseId)];
}
export function logsArgs(leaseId: string): string[] {
  return ['logs', '-f', containerName(leaseId)];
}
export function waitArgs(leaseId: string): string[] {
  return ['wait', containerName(leaseId)];
}

/** The first port of [first, last] that no lease holds and the host can bind. */
export async function pickPort(
  range: readonly [number, number],
  taken: ReadonlySet<number>,
  isFree: (port: number) => Promise<boolean>,
): Promise<number | null> {
  for (let port = range[0]; port <= range[1]; port++) {
    if (!taken.has(port) && (await isFree(port))) return port;
  }
  return null;
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export interface DockerRuntimeOptions {
  readonly nodeId: string;
  /** The docker CLI (default `docker` on PATH) and its env (DOCKER_HOST…). */
  readonly runner?: CommandRunner;
  /** The host name or address buyers connect to for SSH. */
  readonly publicHost: string;
  readonly sshPortRange?: readonly [number, number];
  readonly host: HostCapacity;
  /** Part of the host's CPUs and RAM leases may use together (the rest stays with the host). */
  readonly hostShare?: number;
  readonly isPortFree?: (port: number) => Promise<boolean>;
}

export const DEFAULT_SSH_PORT_RANGE: readonly [number, number] = [22_000, 22_999];
export const DEFAULT_HOST_SHARE = 0.9;

export function createDockerRuntime(options: DockerRuntimeOptions): Runtime {
  const runner = options.runner ?? { command: 'docker' };
  const range = options.sshPortRange ?? DEFAULT_SSH_PORT_RANGE;
  const isFree = options.isPortFree ?? portIsFree;
  const ports = new Map<string, number>();
  /** Port picks run one at a time, so two leases starting together cannot take the same port. */
  let portTurn: Promise<unknown> = Promise.resolve();
  const reservePort = (leaseId: string): Promise<number> => {
    const pick = portTurn.then(async () => {
      const port = await pickPort(range, new Set(ports.values()), isFree);
      if (port === null) throw new Error(`no free SSH port in ${range[0]}-${range[1]}`);
      ports.set(leaseId, port);
      return port;
    });
    portTurn = pick.catch(() => undefined);
    return pick;
  };

  async function start(ctx: StartContext): Promise<StartedWorkload> {
    const { lease } = ctx;
    const hostPort = await reservePort(lease.leaseId);
    const limits = dockerLimits(options.host, lease.gpuIndices.length, options.hostShare ?? DEFAULT_HOST_SHARE);
    const args = buildRunArgs({ nodeId: options.nodeId, lease, scratchDir: ctx.scratchDir, hostPort, limits });
    const run = await runCommand(runner, args, DOCKER_RUN_TIMEOUT_MS);
    if (run.code !== 0) {
      await runCommand(runner, removeArgs(lease.leaseId), DOCKER_RM_TIMEOUT_MS);
      ports.delete(lease.leaseId);
      throw new Error(`docker run failed (exit ${String(run.code)}): ${run.stderr.trim().slice(0, 2_000) || run.stdout.trim().slice(0, 2_000)}`);
    }
    const logs = followCommand(runner, logsArgs(lease.leaseId), ctx.onLog);
    const wait = followCommand(runner, waitArgs(lease.leaseId), () => undefined);
    const exit: Promise<WorkloadExit> = wait.done.then((r) => {
      const code = Number.parseInt(r.stdout.trim(), 10);
      return { exitCode: r.code === 0 && Number.isFinite(code) ? code : null, signal: null };
    });
    let stopping: Promise<void> | null = null;
    const stop = (graceMs: number): Promise<void> => {
      stopping ??= (async () => {
        const stopped = await runCommand(runner, stopArgs(lease.leaseId, graceMs), graceMs + DOCKER_CALL_TIMEOUT_MS);
        const removed = await runCommand(runner, removeArgs(lease.leaseId), DOCKER_RM_TIMEOUT_MS);
        wait.kill();
        logs.kill();
        await Promise.all([wait.done, logs.done]);
        ports.delete(lease.leaseId);
        if (removed.code !== 0 && !/no such container/i.test(removed.stderr)) {
          throw new Error(`docker rm failed (exit ${String(removed.code)}; stop exit ${String(stopped.code)}): ${removed.stderr.trim()}`);
        }
      })();
      return stopping;
    };
    return { access: { kind: 'ssh', host: options.publicHost, port: hostPort, user: 'root' }, exit, stop };
  }

  async function sweep(): Promise<void> {
    const list = await runCommand(runner, listArgs(options.nodeId), DOCKER_CALL_TIMEOUT_MS);
    if (list.code !== 0) throw new Error(`docker ps failed (exit ${String(list.code)}): ${list.stderr.trim().slice(0, 500)}`);
    const ids = list.stdout.split('\n').map((l) => l.trim()).filter((l) => /^[0-9a-f]{12,64}$/.test(l));
    if (ids.length === 0) return;
    const rm = await runCommand(runner, ['rm', '-f', ...ids], DOCKER_RM_TIMEOUT_MS);
    if (rm.code !== 0) throw new Error(`docker rm failed (exit ${String(rm.code)}): ${rm.stderr.trim().slice(0, 500)}`);
  }

  return { kind: 'docker', start, sweep };
}
