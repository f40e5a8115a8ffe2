/**
 * The `process` runtime: the buyer's argv as a child process of the agent, no shell. It runs in
 * its own process group (so a stop reaches everything it forked, and when the main process exits
 * whatever it left running in the background is killed with it), in the lease's scratch dir,
 * with only the buyer's env plus the lease variables: nothing of the agent's own environment
 * leaks into it except PATH (to find the program) unless the buyer sets one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { LineSplitter } from '../client/lines.js';
import { describeError } from '../errors.js';
import { PidRecords } from './pid-records.js';
import { leaseVariables, type Runtime, type StartContext, type StartedWorkload, type WorkloadExit } from './types.js';

/** After the main process exits, how long its output pipes may stay open (a forked child can hold them). */
const DRAIN_AFTER_EXIT_MS = 1_000;
const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ProcessRuntimeOptions {
  /** PATH the workload gets when the buyer's env has none (default: the agent's PATH). */
  readonly path?: string;
  /** Where to record running process groups (`<state-dir>/pids`); unset: not recorded, no sweep. */
  readonly pidDir?: string;
}

export function processWorkloadEnv(ctx: Pick<StartContext, 'lease' | 'scratchDir'>, path: string): Record<string, string> {
  return { PATH: path, HOME: ctx.scratchDir, ...ctx.lease.workload.env, ...leaseVariables(ctx.lease, ctx.scratchDir) };
}

export function createProcessRuntime(options: ProcessRuntimeOptions = {}): Runtime {
  const path = options.path ?? process.env['PATH'] ?? FALLBACK_PATH;
  const records = options.pidDir === undefined ? null : new PidRecords(options.pidDir);
  return {
    kind: 'process',
    start: (ctx) => startProcess(ctx, path, records),
    sweep: async () => {
      records?.sweep();
    },
  };
}

function startProcess(ctx: StartContext, path: string, records: PidRecords | null): Promise<StartedWorkload> {
  const argv = ctx.lease.workload.command;
  const program = argv?.[0];
  if (argv === undefined || program === undefined) return Promise.reject(new Error('a process workload needs a command'));
  let child: ChildProcess;
  try {
    child = spawn(program, argv.slice(1), {
      cwd: ctx.scratchDir,
      env: processWorkloadEnv(ctx, path),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
  } catch (err) {
    return Promise.reject(new Error(`cannot start ${program}: ${describeError(err)}`));
  }
  const out = new LineSplitter((line) => ctx.onLog('stdout', line));
  const err = new LineSplitter((line) => ctx.onLog('stderr', line));
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));

  let exited: WorkloadExit | null = null;
  const exit = new Promise<WorkloadExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { exitCode: code, signal };
      // Whatever it forked goes with it, now: while a member lives the group id cannot be reused,
      // but once the group is empty its number can be, so it is never signalled after this.
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      records?.remove(ctx.lease.leaseId);
      let drained = false;
      const done = (): void => {
        if (drained) return;
        drained = true;
        clearTimeout(timer);
        out.end();
        err.end();
        resolve({ exitCode: code, signal });
      };
      // 'close' follows once the pipes are drained; a forked child holding them open must not delay the report.
      const timer = setTimeout(done, DRAIN_AFTER_EXIT_MS);
      child.once('close', done);
    });
  });

  return new Promise((resolve, reject) => {
    // `on`, not `once`: a later error (a failed kill) must not become an uncaught exception.
    child.on('error', (e) => {
      // An error before 'spawn' means it never ran (ENOENT, EACCES, bad cwd).
      if (child.pid === undefined) reject(new Error(`cannot start ${program}: ${describeError(e)}`));
    });
    child.once('spawn', () => {
      const pid = child.pid as number;
      records?.add(ctx.lease.leaseId, pid);
      resolve({ access: { kind: 'process', pid }, exit, stop: stopper(pid, () => exited !== null, exit) });
    });
  });
}

/**
 * SIGTERM to the group, `graceMs`, then SIGKILL to the group while its leader still runs (the
 * exit handler sweeps the group when the leader goes); shared by concurrent callers.
 */
function stopper(pid: number, hasExited: () => boolean, exit: Promise<WorkloadExit>): (graceMs: number) => Promise<void> {
  let stopping: Promise<void> | null = null;
  return (graceMs) => {
    stopping ??= (async () => {
      if (hasExited()) {
        await exit;
        return;
      }
      signalGroup(pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'grace'>((r) => {
        timer = setTimeout(() => r('grace'), graceMs);
      });
      await Promise.race([exit, graceOver]);
      clearTimeout(timer);
      if (!hasExited()) signalGroup(pid, 'SIGKILL');
      await exit;
    })();
    return stopping;
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}
