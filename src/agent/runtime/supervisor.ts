/**
 * The lease supervisor: what runs on this node, whatever the connection does.
 *
 * - `reconcile(welcome.leases)`: starts listed leases that do not run, stops running ones that
 *   are not listed (the exchange decides what should run; the agent reports what runs).
 * - Every lease has a timer at its `endMs` on the agent's clock: at the end the workload is
 *   stopped, its scratch wiped and `lease.stopped` queued, connected or not. A lease whose end
 *   has passed is never started; one whose start lies ahead waits for it.
 * - A lease that finished here (stopped, failed, ended) is never started again, even if a
 *   welcome computed before our report reached the exchange still lists it.
 *
 * Lease events go out through `emit` (the outbox keeps them while disconnected).
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LeaseSpec } from '../protocol.js';
import type { LeaseEventMessage } from '../client/outbox.js';
import { describeError } from '../errors.js';
import { runAt, type AtTimer } from './timers.js';
import type { LogStream, Runtime, StartedWorkload } from './types.js';

export const DEFAULT_GRACE_MS = 10_000;
/** Finished lease ids remembered so a stale welcome cannot restart them. */
const MAX_FINISHED_REMEMBERED = 10_000;
/** The most leases one node runs or schedules at once (the protocol lists at most 1024). */
const MAX_LEASES = 1_024;

export type LeasePhase = 'scheduled' | 'starting' | 'running' | 'exited' | 'stopping';

export interface LeaseStatus {
  readonly leaseId: string;
  readonly phase: LeasePhase;
  readonly exitCode: number | null;
}

export interface SupervisorOptions {
  readonly runtime: Runtime;
  /** `<state-dir>/scratch`. */
  readonly scratchRoot: string;
  readonly graceMs?: number;
  /** The GPU indices this node has; a lease naming another is refused. Unset: not checked. */
  readonly gpuIndices?: ReadonlySet<number>;
  readonly clock?: () => number;
  readonly emit: (message: LeaseEventMessage) => void;
  readonly onLog: (leaseId: string, stream: LogStream, line: string) => void;
  readonly warn?: (text: string) => void;
}

interface Entry {
  spec: LeaseSpec;
  phase: LeasePhase;
  exitCode: number | null;
  startTimer: AtTimer | null;
  endTimer: AtTimer | null;
  workload: StartedWorkload | null;
  /** Settles when the start attempt has finished either way. */
  starting: Promise<void> | null;
  stopping: Promise<void> | null;
  stopRequested: boolean;
}

export class LeaseSupervisor {
  private readonly leases = new Map<string, Entry>();
  private readonly finished = new Set<string>();
  private readonly graceMs: number;
  private readonly clock: () => number;
  private readonly warn: (text: string) => void;
  private closed = false;

  constructor(private readonly options: SupervisorOptions) {
    this.graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.clock = options.clock ?? Date.now;
    this.warn = options.warn ?? (() => undefined);
  }

  /** What runs now, for `hello` (scheduled leases have not started and are not reported). */
  running(): { leaseId: string; state: 'starting' | 'running' | 'exited'; exitCode?: number | null }[] {
    const out: { leaseId: string; state: 'starting' | 'running' | 'exited'; exitCode?: number | null }[] = [];
    for (const [leaseId, e] of this.leases) {
      if (e.phase === 'starting') out.push({ leaseId, state: 'starting' });
      else if (e.phase === 'running' || e.phase === 'stopping') out.push({ leaseId, state: 'running' });
      else if (e.phase === 'exited') out.push({ leaseId, state: 'exited', exitCode: e.exitCode });
    }
    return out;
  }

  status(): LeaseStatus[] {
    return [...this.leases.entries()].map(([leaseId, e]) => ({ leaseId, phase: e.phase, exitCode: e.exitCode }));
  }

  /** Every lease this node runs or has scheduled (for `reconcile`'s `stopOnly`). */
  leaseIds(): Set<string> {
    return new Set(this.leases.keys());
  }

  /**
   * Makes this node run `specs` (those not finished here) and stops the leases not listed. With
   * `stopOnly`, only those may be stopped: a welcome answers the hello, so a lease the exchange
   * pushed with `lease.start` after the hello may be missing from it and must keep running.
   */
  reconcile(specs: readonly LeaseSpec[], stopOnly?: ReadonlySet<string>): Promise<void> {
    const wanted = new Set(specs.map((s) => s.leaseId));
    const stops = [...this.leases.keys()]
      .filter((id) => !wanted.has(id) && (stopOnly === undefined || stopOnly.has(id)))
      .map((id) => this.stop(id));
    for (const spec of specs) this.start(spec);
    return Promise.all(stops).then(() => undefined);
  }

  /** `lease.start`, or a lease listed in a welcome. Idempotent. */
  start(spec: LeaseSpec): void {
    if (this.closed) return;
    const known = this.leases.get(spec.leaseId);
    if (known !== undefined) {
      if (known.spec.endMs !== spec.endMs) this.moveEnd(known, spec.endMs);
      return;
    }
    if (this.finished.has(spec.leaseId)) {
      this.warn(`lease ${spec.leaseId} already finished on this node: not started again`);
      return;
    }
    const now = this.clock();
    const refusal = this.refusal(spec);
    if (refusal !== null) {
      this.finish(spec.leaseId);
      this.options.emit({ type: 'lease.failed', leaseId: spec.leaseId, atMs: now, error: refusal });
      return;
    }
    if (now >= spec.endMs) {
      // Its time is over: nothing ran, nothing is left; say so once.
      this.finish(spec.leaseId);
      this.options.emit({ type: 'lease.stopped', leaseId: spec.leaseId, atMs: now, scratchWiped: true });
      return;
    }
    const entry: Entry = {
      spec,
      phase: 'scheduled',
      exitCode: null,
      startTimer: null,
      endTimer: null,
      workload: null,
      starting: null,
      stopping: null,
      stopRequested: false,
    };
    this.leases.set(spec.leaseId, entry);
    entry.endTimer = runAt(spec.endMs, this.clock, () => void this.stop(spec.leaseId));
    if (now < spec.startMs) entry.startTimer = runAt(spec.startMs, this.clock, () => this.launch(entry));
    else this.launch(entry);
  }

  /**
   * `lease.stop`, the end timer, or reconciliation. Resolves once nothing runs, the scratch dir
   * is wiped and `lease.stopped` is queued. An unknown lease is acknowledged the same way.
   */
  stop(leaseId: string): Promise<void> {
    const entry = this.leases.get(leaseId);
    if (entry === undefined) {
      return this.wipe(leaseId).then((wiped) => {
        this.options.emit({ type: 'lease.stopped', leaseId, atMs: this.clock(), scratchWiped: wiped });
      });
    }
    entry.stopRequested = true;
    entry.stopping ??= this.stopEntry(leaseId, entry, true);
    return entry.stopping;
  }

  /** Agent shutdown: every workload stopped and every scratch dir wiped, no messages (the session is closing). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.leases.entries()].map(([leaseId, entry]) => {
        entry.stopRequested = true;
        entry.stopping ??= this.stopEntry(leaseId, entry, false);
        return entry.stopping;
      }),
    );
  }

  /** Why this node cannot run `spec` at all, or null. */
  private refusal(spec: LeaseSpec): string | null {
    if (scratchName(spec.leaseId) === null) return `lease id '${spec.leaseId}' cannot name a scratch dir`;
    if (spec.workload.runtime !== this.options.runtime.kind) {
      return `this node runs ${this.options.runtime.kind} workloads, not ${spec.workload.runtime}`;
    }
    const known = this.options.gpuIndices;
    const foreign = known === undefined ? [] : spec.gpuIndices.filter((i) => !known.has(i));
    if (foreign.length > 0) return `GPU ${foreign.join(', ')} is not on this node`;
    if (this.leases.size >= MAX_LEASES) return `this node already runs ${MAX_LEASES} leases`;
    return null;
  }

  private launch(entry: Entry): void {
    const { spec } = entry;
    entry.startTimer = null;
    if (entry.stopRequested || this.closed) return;
    entry.phase = 'starting';
    entry.starting = (async () => {
      const scratchDir = join(this.options.scratchRoot, spec.leaseId); // a safe name: refusal() checked it
      try {
        await mkdir(scratchDir, { recursive: true, mode: 0o700 });
        await chmod(scratchDir, 0o700);
        const workload = await this.options.runtime.start({
          lease: spec,
          scratchDir,
          onLog: (stream, line) => this.options.onLog(spec.leaseId, stream, line),
        });
        entry.workload = workload;
        if (entry.stopRequested) return; // stopEntry takes it from here
        entry.phase = 'running';
        this.options.emit({ type: 'lease.ready', leaseId: spec.leaseId, atMs: this.clock(), access: workload.access });
        void workload.exit.then((exit) => {
          if (entry.phase !== 'running') return; // stopped by us: `lease.stopped` says it
          entry.phase = 'exited';
          entry.exitCode = exit.exitCode;
          this.options.emit({ type: 'lease.exited', leaseId: spec.leaseId, atMs: this.clock(), exitCode: exit.exitCode, signal: exit.signal });
        });
      } catch (err) {
        if (entry.stopRequested) return;
        entry.endTimer?.cancel();
        this.leases.delete(spec.leaseId);
        this.finish(spec.leaseId);
        await this.wipe(spec.leaseId);
        this.options.emit({ type: 'lease.failed', leaseId: spec.leaseId, atMs: this.clock(), error: describeError(err).slice(0, 4_000) });
      }
    })();
  }

  private async stopEntry(leaseId: string, entry: Entry, report: boolean): Promise<void> {
    entry.startTimer?.cancel();
    entry.endTimer?.cancel();
    if (entry.starting !== null) await entry.starting;
    entry.phase = 'stopping';
    if (entry.workload !== null) {
      try {
        await entry.workload.stop(this.graceMs);
      } catch (err) {
        this.warn(`lease ${leaseId}: stopping failed: ${describeError(err)}`);
      }
    }
    const wiped = await this.wipe(leaseId);
    this.leases.delete(leaseId);
    this.finish(leaseId);
    if (report) this.options.emit({ type: 'lease.stopped', leaseId, atMs: this.clock(), scratchWiped: wiped });
  }

  private moveEnd(entry: Entry, endMs: number): void {
    entry.spec = { ...entry.spec, endMs };
    entry.endTimer?.cancel();
    entry.endTimer = runAt(endMs, this.clock, () => void this.stop(entry.spec.leaseId));
  }

  private async wipe(leaseId: string): Promise<boolean> {
    const name = scratchName(leaseId);
    if (name === null) return true; // never had a dir
    try {
      await rm(join(this.options.scratchRoot, name), { recursive: true, force: true, maxRetries: 3 });
      return true;
    } catch (err) {
      this.warn(`lease ${leaseId}: scratch dir not wiped: ${describeError(err)}`);
      return false;
    }
  }

  private finish(leaseId: string): void {
    this.finished.add(leaseId);
    if (this.finished.size > MAX_FINISHED_REMEMBERED) {
      const oldest = this.finished.values().next().value;
      if (oldest !== undefined) this.finished.delete(oldest);
    }
  }
}

/**
 * The scratch dir name for a lease id, or null where the id cannot be one: the protocol's id
 * pattern admits `.` and `..`, which as a path would be the scratch root or the state dir itself.
 */
export function scratchName(leaseId: string): string | null {
  return leaseId === '.' || leaseId === '..' || leaseId.includes('/') || leaseId === '' ? null : leaseId;
}
