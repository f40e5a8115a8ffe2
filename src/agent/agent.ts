/**
 * `startAgent(options)`: the whole provider agent in-process (the CLI `suanli agent` is a thin
 * wrapper). Detects the hardware (or makes up fake GPUs), enrolls on first run, then keeps a
 * session with the exchange and runs the leases it is given. Returns once the session has
 * started (not once connected): `handle.done` settles when the agent ends.
 */
import { readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { AgentSession, type LeaseCommand, type LogLevel, type SessionEnd } from './client/connection.js';
import { DEFAULT_BACKOFF, type BackoffPolicy } from './client/backoff.js';
import { fakeHealthSource, nvidiaSmiHealthSource, type HealthSource } from './client/health.js';
import { Outbox } from './client/outbox.js';
import { detectHost } from './detect/host.js';
import { detectGpus, nvidiaSmiRunner, type GpuDetection, type NvidiaSmiRun } from './detect/nvidia-smi.js';
import { enroll } from './enroll.js';
import { AgentError, AgentExitCodes, describeError, type AgentExitCode } from './errors.js';
import { fakeDetection, parseFakeGpus } from './fake-gpus.js';
import { AGENT_VERSION, buildHardwareReport, unknownGpuWarnings } from './hardware.js';
import { runProbe, type ProbeOptions } from './probe.js';
import { AGENT_PROTOCOL_VERSION, type HardwareReport } from './protocol.js';
import { createDockerRuntime, type DockerRuntimeOptions } from './runtime/docker.js';
import { createProcessRuntime } from './runtime/process.js';
import { DEFAULT_GRACE_MS, LeaseSupervisor, type LeaseStatus } from './runtime/supervisor.js';
import type { Runtime } from './runtime/types.js';
import { defaultStateDir, ensureStateDir, lockStateDir, nodeFile, normaliseServer, readIdentity, scratchRoot, writeIdentity } from './state.js';

export interface AgentOptions {
  /** The exchange's URL; needed on the first run, checked against node.json later. */
  readonly server?: string;
  /** One-time enrollment token; needed on the first run only. */
  readonly token?: string;
  readonly stateDir?: string;
  /** `process` (default), `docker`, or a runtime object (tests). */
  readonly runtime?: 'process' | 'docker' | Runtime;
  /** nvidia-smi program (default `nvidia-smi` on PATH) and arguments before its own. */
  readonly nvidiaSmi?: string;
  readonly nvidiaSmiArgs?: readonly string[];
  readonly nvidiaSmiEnv?: NodeJS.ProcessEnv;
  /** `nvidia-h100-sxm5-80g:8`: made-up GPUs from the catalog (reported as fake). */
  readonly fakeGpus?: string;
  /** Measure bf16 TFLOPS per GPU with PyTorch. */
  readonly probe?: boolean;
  readonly probeOptions?: ProbeOptions;
  /** Overrides the exchange's heartbeat interval. */
  readonly heartbeatMs?: number;
  /** SIGTERM → SIGKILL (or `docker stop -t`) grace when a lease stops. Default 10 s. */
  readonly graceMs?: number;
  readonly backoff?: Partial<BackoffPolicy>;
  readonly random?: () => number;
  readonly clock?: () => number;
  readonly logFlushMs?: number;
  readonly docker?: Partial<Omit<DockerRuntimeOptions, 'host'>>;
  readonly log?: (level: LogLevel, text: string) => void;
}

export type AgentEnd =
  | { readonly reason: 'stopped'; readonly exitCode: 0 }
  | { readonly reason: 'unauthorized' | 'replaced'; readonly exitCode: AgentExitCode; readonly message: string };

export interface AgentHandle {
  readonly nodeId: string;
  readonly server: string;
  readonly stateDir: string;
  /** True when this start enrolled the node (first run). */
  readonly enrolled: boolean;
  readonly hardware: HardwareReport;
  /** Settles when the agent ends: `stop()`, a revoked token, or another agent taking over. */
  readonly done: Promise<AgentEnd>;
  /** Connected and welcomed by the exchange. */
  connected(): boolean;
  leases(): LeaseStatus[];
  /** Stops every workload (grace, kill), wipes scratch dirs, closes the session. */
  stop(): Promise<void>;
}

export async function detectHardware(options: AgentOptions, stateDir: string, log: (level: LogLevel, text: string) => void): Promise<{ report: HardwareReport; run: NvidiaSmiRun | null }> {
  let detection: GpuDetection;
  let run: NvidiaSmiRun | null = null;
  if (options.fakeGpus !== undefined) {
    detection = fakeDetection(parseFakeGpus(options.fakeGpus));
  } else {
    run = nvidiaSmiRunner(options.nvidiaSmi ?? 'nvidia-smi', options.nvidiaSmiArgs ?? [], options.nvidiaSmiEnv ? { env: options.nvidiaSmiEnv } : {});
    try {
      detection = await detectGpus(run);
    } catch (err) {
      throw new AgentError(`no GPUs detected: ${describeError(err)} (is the NVIDIA driver installed? --fake-gpus <id>:<n> runs a demo node without GPUs)`, AgentExitCodes.hardware);
    }
    if (detection.gpus.length === 0) throw new AgentError('no GPUs detected: nvidia-smi lists none', AgentExitCodes.hardware);
  }
  for (const w of unknownGpuWarnings(detection)) log('warn', w);
  const extraWarnings: string[] = [];
  let measuredTflops: Record<string, number> | undefined;
  if (options.probe === true) {
    if (options.fakeGpus !== undefined) extraWarnings.push('probe skipped: fake GPUs');
    else {
      const probe = await runProbe(options.probeOptions);
      if (probe.kind === 'measured') {
        measuredTflops = { ...probe.tflops };
        extraWarnings.push(...probe.warnings);
      } else extraWarnings.push(probe.warning);
    }
    for (const w of extraWarnings) log('warn', w);
  }
  const host = await detectHost({ diskPath: stateDir });
  const report = buildHardwareReport({ detection, host, fake: options.fakeGpus !== undefined, extraWarnings, ...(measuredTflops ? { measuredTflops } : {}) });
  return { report, run };
}

export async function startAgent(options: AgentOptions): Promise<AgentHandle> {
  const log = options.log ?? ((level, text) => process.stderr.write(`${new Date().toISOString()} ${level} ${text}\n`));
  const clock = options.clock ?? Date.now;
  const stateDir = options.stateDir ?? defaultStateDir();
  if (options.server !== undefined) normaliseServer(options.server); // a typo fails before anything is written
  await ensureStateDir(stateDir);
  const unlock = await lockStateDir(stateDir);
  try {
    return await startLocked(options, stateDir, unlock, log, clock);
  } catch (err) {
    await unlock();
    throw err;
  }
}

async function startLocked(
  options: AgentOptions,
  stateDir: string,
  unlock: () => Promise<void>,
  log: (level: LogLevel, text: string) => void,
  clock: () => number,
): Promise<AgentHandle> {
  const wantedServer = options.server === undefined ? undefined : normaliseServer(options.server);

  let identity = await readIdentity(stateDir);
  if (identity !== null && wantedServer !== undefined && wantedServer !== identity.server) {
    throw new AgentError(`${stateDir} belongs to a node of ${identity.server}, not ${wantedServer}; use another --state-dir`, AgentExitCodes.usage);
  }
  if (identity === null) {
    if (wantedServer === undefined) throw new AgentError('first run: --server is required', AgentExitCodes.usage);
    if (options.token === undefined) throw new AgentError('first run: --token is required (create one: POST /api/v1/enrollment-tokens)', AgentExitCodes.usage);
  } else if (options.token !== undefined) {
    log('info', `already enrolled as node ${identity.nodeId}: --token ignored`);
  }

  const { report: hardware, run } = await detectHardware(options, stateDir, log);
  let enrolled = false;
  if (identity === null) {
    const server = wantedServer as string;
    const answer = await enroll({ server, token: options.token as string, hardware, agentVersion: AGENT_VERSION });
    identity = { nodeId: answer.nodeId, nodeToken: answer.nodeToken, server, enrolledAtMs: clock() };
    await writeIdentity(stateDir, identity);
    enrolled = true;
    log('info', `enrolled as node ${answer.nodeId} (attestation: ${answer.attestation})`);
    if (answer.attestation === 'mismatch') {
      log('warn', 'the exchange says the detected GPUs differ from what the enrollment token lists: this node is not traded until that is fixed');
    }
  }
  const runtime = makeRuntime(options, hardware, identity.nodeId, stateDir);
  // Workloads a previous run left behind (the agent was killed) would hold GPUs nobody bills.
  await runtime.sweep?.().catch((err: unknown) => log('warn', `could not remove workloads of a previous run: ${describeError(err)}`));
  // Anything left in scratch/ is from a previous run: nothing runs yet, and buyers' files must not outlive it.
  await wipeScratch(scratchRoot(stateDir));
  const outbox = new Outbox();
  let session: AgentSession | null = null;
  /** Leases whose workload has printed something (until they stop): bounded by the running leases. */
  const heard = new Set<string>();
  const supervisor = new LeaseSupervisor({
    runtime,
    scratchRoot: scratchRoot(stateDir),
    graceMs: options.graceMs ?? DEFAULT_GRACE_MS,
    gpuIndices: new Set(hardware.gpus.map((g) => g.index)),
    clock,
    emit: (message) => {
      const droppedBefore = outbox.eventsDropped;
      outbox.pushEvent(message);
      if (outbox.eventsDropped > droppedBefore) log('warn', 'the exchange has been unreachable too long: the oldest queued lease report was dropped');
      if (message.type === 'lease.stopped' || message.type === 'lease.failed') heard.delete(message.leaseId);
      session?.notify('event');
    },
    onLog: (leaseId, stream, line) => {
      outbox.pushLog(leaseId, stream, line);
      // A workload's first line is news (it runs): it leaves at once; later lines are batched.
      const first = !heard.has(leaseId);
      heard.add(leaseId);
      session?.notify(first ? 'event' : 'log');
    },
    warn: (text) => log('warn', text),
  });
  const indices = hardware.gpus.map((g) => g.index);
  const health: HealthSource = run === null ? fakeHealthSource(indices) : nvidiaSmiHealthSource(run, indices, (w) => log('warn', w));
  const nodeToken = identity.nodeToken;
  /** What this node had when it said hello: the only leases the welcome's list may stop. */
  let knownAtHello: ReadonlySet<string> = new Set();
  session = new AgentSession({
    server: identity.server,
    nodeToken,
    hello: () => {
      knownAtHello = supervisor.leaseIds();
      return { type: 'hello', protocol: AGENT_PROTOCOL_VERSION, agentVersion: AGENT_VERSION, hardware, running: supervisor.running(), runtime: runtime.kind };
    },
    onWelcome: (welcome) => {
      log('info', `connected to ${identity.server} as node ${welcome.nodeId}; ${welcome.leases.length} lease(s) listed`);
      void supervisor.reconcile(welcome.leases, knownAtHello);
    },
    onCommand: (command: LeaseCommand) => {
      if (command.type === 'lease.start') supervisor.start(command.lease);
      else if (command.type === 'lease.stop') {
        log('info', `lease ${command.leaseId}: stop (${command.reason})`);
        void supervisor.stop(command.leaseId);
      }
    },
    outbox,
    health,
    ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
    backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
    random: options.random ?? Math.random,
    clock,
    log,
    ...(options.logFlushMs !== undefined ? { logFlushMs: options.logFlushMs } : {}),
  });
  session.start();

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await supervisor.close();
      await session?.stop();
      await unlock();
    })();
    return stopping;
  };
  const done: Promise<AgentEnd> = session.finished.then(async (end: SessionEnd) => {
    if (end.reason === 'stopped') return { reason: 'stopped', exitCode: 0 } as const;
    const message =
      end.reason === 'unauthorized' ? `${end.message}; to enroll again, delete ${nodeFile(stateDir)} and run with --token <a new token>` : end.message;
    await stop();
    return { reason: end.reason, exitCode: AgentExitCodes.auth, message };
  });

  const server = identity.server;
  const nodeId = identity.nodeId;
  return {
    nodeId,
    server,
    stateDir,
    enrolled,
    hardware,
    done,
    connected: () => session?.connected ?? false,
    leases: () => supervisor.status(),
    stop,
  };
}

function makeRuntime(options: AgentOptions, hardware: HardwareReport, nodeId: string, stateDir: string): Runtime {
  const choice = options.runtime ?? 'process';
  if (typeof choice !== 'string') return choice;
  if (choice === 'process') return createProcessRuntime({ pidDir: join(stateDir, 'pids') });
  return createDockerRuntime({
    nodeId,
    publicHost: options.docker?.publicHost ?? os.hostname(),
    host: { cpuCores: hardware.host.cpuCores, memoryBytes: hardware.host.ramBytes, gpuCount: Math.max(1, hardware.gpus.length) },
    ...(options.docker?.runner ? { runner: options.docker.runner } : {}),
    ...(options.docker?.sshPortRange ? { sshPortRange: options.docker.sshPortRange } : {}),
    ...(options.docker?.hostShare !== undefined ? { hostShare: options.docker.hostShare } : {}),
    ...(options.docker?.isPortFree ? { isPortFree: options.docker.isPortFree } : {}),
  });
}

async function wipeScratch(root: string): Promise<void> {
  for (const name of await readdir(root).catch(() => [] as string[])) {
    await rm(join(root, name), { recursive: true, force: true, maxRetries: 3 });
  }
}
