/**
 * The single-writer command loop. Commands that arrive together are applied to the in-memory
 * core one after another and everything they produced — journal entries, projected rows,
 * transfers, and the caller's own extra rows (a new user, an idempotency record) — is written
 * in ONE store transaction (group commit). Only then are the callers answered. If the commit
 * fails the process stops (fail-stop): memory is ahead of the store and must not be trusted.
 *
 * At start, `open` takes the store's writer lock (one loop per store: a second one would replay
 * the same journal and then diverge), rebuilds the core and the projection by replaying the
 * journal, checks that every replayed result matches the recorded one, and checks the ledger and
 * the books.
 */
import type { CommitBatch, CommitDeletes, JournalEntry, Store } from '../store/port.js';
import { MAX_JOURNAL_PAGE_LIMIT } from '../store/port.js';
import type { CoreCommand, CoreResult, ExchangeCore } from './core.js';
import { emptyRows, Projection, type ProjectedRows } from './projection.js';

/** What a caller may add to its command's transaction, computed from the command's result. */
export type Extras = (result: CoreResult) => Omit<CommitBatch, 'journal'> | undefined;

interface Pending {
  readonly command: CoreCommand | null;
  readonly extras: Extras | undefined;
  readonly resolve: (r: CoreResult) => void;
  readonly reject: (e: unknown) => void;
}

export interface LoopOptions {
  /** Wall clock; the loop keeps command times monotonic. */
  readonly clock: () => number;
  /**
   * Most commands in one transaction. Memory can run up to two batches ahead of the store: one
   * committing, the next being applied.
   */
  readonly maxBatch?: number;
  /** Most commands waiting; beyond it `submit` refuses (back-pressure). */
  readonly maxQueue?: number;
  /** Called when a commit fails; default: log and exit the process. */
  readonly onFatal?: (e: unknown) => void;
  /**
   * Called when a batch is sealed for its commit: memory (books, balances) is exactly at the
   * batch's end, nothing of the next batch applied yet, so read it here (the live feed does).
   * What it returns is called once the batch is durable and its callers are answered: send what
   * was read then. By that time commands of the next batch may already be applied (not committed).
   */
  readonly onApplied?: OnApplied;
  /**
   * Called after each committed batch with its commands and results (metrics, pushing leases to
   * agents). Memory may be one batch ahead of it by then: read memory in `onApplied` instead.
   */
  readonly onCommitted?: (batch: CommittedBatch) => void;
}

/** The loop's `onApplied` hook (see LoopOptions): reads memory when a batch is sealed, returns what to do once it is committed. */
export type OnApplied = (batch: AppliedEntries) => ((committed: CommittedBatch) => void) | undefined;

export interface AppliedEntries {
  readonly entries: readonly { readonly command: CoreCommand; readonly result: CoreResult; readonly seq: number }[];
}

export interface CommittedBatch extends AppliedEntries {
  readonly commitMs: number;
}

/** Commands applied between two looks at I/O while a commit is in flight, and the most a batch starts with when none is (see `drain`). */
const APPLY_SLICE = 64;

export class QueueFullError extends Error {
  constructor() {
    super('the exchange is busy: too many commands waiting');
  }
}

/** Serialises a result for the journal: events and outcome (transfers live in their own table). */
export function resultJson(r: CoreResult): string {
  // The same text as JSON.stringify({ ok, [code,] events }), without building that wrapper per command.
  if (r.ok) return `{"ok":true,"events":${JSON.stringify(r.events)}}`;
  return `{"ok":false,"code":${JSON.stringify(r.code)},"events":${JSON.stringify(r.events)}}`;
}

export class CommandLoop {
  private queue: Pending[] = [];
  private running = false;
  private lastNow = 0;
  private seq = 0;
  private dead: unknown = null;
  /** Wakes `drain` while it waits for a commit or a command. */
  private wake: (() => void) | null = null;
  private readonly maxBatch: number;
  private readonly maxQueue: number;

  private constructor(
    readonly core: ExchangeCore,
    readonly store: Store,
    readonly projection: Projection,
    private readonly opts: LoopOptions,
  ) {
    this.maxBatch = opts.maxBatch ?? 1_000;
    this.maxQueue = opts.maxQueue ?? 100_000;
    if (!Number.isSafeInteger(this.maxBatch) || this.maxBatch < 1) throw new RangeError('loop: maxBatch must be a positive integer');
    if (!Number.isSafeInteger(this.maxQueue) || this.maxQueue < 1) throw new RangeError('loop: maxQueue must be a positive integer');
  }

  /**
   * Takes the store's writer lock (StoreLockedError while another loop holds it), replays the
   * journal into `core` and `projection`, verifies it, and returns a running loop.
   */
  static async open(core: ExchangeCore, store: Store, projection: Projection, opts: LoopOptions): Promise<CommandLoop> {
    await store.lockWriter();
    const loop = new CommandLoop(core, store, projection, opts);
    let after = 0;
    for (;;) {
      const page = await store.journalAfter(after, MAX_JOURNAL_PAGE_LIMIT);
      for (const entry of page) loop.replay(entry);
      if (page.length < MAX_JOURNAL_PAGE_LIMIT) break;
      after = page[page.length - 1]!.seq;
    }
    core.check();
    return loop;
  }

  private replay(entry: JournalEntry): void {
    if (entry.seq !== this.seq + 1) throw new Error(`journal gap: expected seq ${this.seq + 1}, found ${entry.seq}`);
    const command = JSON.parse(entry.commandJson) as CoreCommand;
    const result = this.core.apply(command);
    if (resultJson(result) !== entry.resultJson) {
      throw new Error(`journal entry ${entry.seq} (${entry.kind}) replays differently: the core is not deterministic or the store was altered`);
    }
    this.projection.project(command, result, entry.seq, emptyRows());
    this.seq = entry.seq;
    this.lastNow = Math.max(this.lastNow, command.now);
  }

  get journalSeq(): number {
    return this.seq;
  }

  /** The time the next command will carry. */
  now(): number {
    return Math.max(this.lastNow, this.opts.clock());
  }

  /**
   * Applies `command` (its `now` is replaced by the loop's clock) and resolves once it is
   * durable. A rejected command resolves too (with `ok: false`): it is journaled, since time
   * passing may have had effects.
   */
  submit(command: CoreCommand, extras?: Extras): Promise<CoreResult> {
    return this.enqueue(command, extras);
  }

  /** Writes store rows that belong to no core command (sessions, API keys) through the same writer. */
  async write(batch: Omit<CommitBatch, 'journal'>): Promise<void> {
    await this.enqueue(null, () => batch);
  }

  private enqueue(command: CoreCommand | null, extras: Extras | undefined): Promise<CoreResult> {
    if (this.dead) return Promise.reject(new Error('the exchange stopped after a failed commit'));
    if (this.queue.length >= this.maxQueue) return Promise.reject(new QueueFullError());
    return new Promise((resolve, reject) => {
      this.queue.push({ command, extras, resolve, reject });
      this.wake?.();
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  /**
   * Group commit, pipelined. With nothing committing, the first commands waiting (up to
   * APPLY_SLICE) are applied to memory as one batch, and its commit starts. While that commit is
   * in flight, the commands waiting and those that arrive are applied into the next batch (up to
   * maxBatch; PostgreSQL's server writes meanwhile, SQLite's writer thread likewise:
   * src/store/sqlite/batch-writer.ts); when the commit is done, that batch is sealed and its
   * commit starts. So one batch commits while the next fills, and callers are answered, in
   * order, only after their own batch is durable. If a commit fails, every later command, applied
   * or not, is rejected and the process stops (fail-stop): memory is ahead of the store.
   */
  private async drain(): Promise<void> {
    /** The commit in flight (it never rejects), and whether it is done. */
    let flight: { done: boolean; readonly promise: Promise<void> } | null = null;
    /** Applied, not yet committed. */
    let open: OpenBatch | null = null;
    while (!this.dead) {
      if (flight?.done) flight = null;
      const room = this.maxBatch - (open === null ? 0 : open.batch.length);
      if (this.queue.length > 0 && room > 0) {
        open ??= { batch: [], applied: { rows: emptyRows(), journal: [], extra: [], outcomes: [] } };
        // APPLY_SLICE commands at a time. While a commit is in flight, I/O is let through between
        // slices, so that commit's round trips go on, and the commands waiting fill the batch (up
        // to maxBatch) before it is sealed: bigger batches, fewer commits. With nothing in
        // flight, the slice is sealed at once (below): the store starts writing while the rest
        // of a burst is applied into the next batch, instead of idling until the whole burst is
        // applied (a burst of 5,000 bids: 1,000 applied, about 50 ms, before the first write).
        const taken = this.queue.splice(0, Math.min(room, APPLY_SLICE));
        const from = open.batch.length;
        for (const p of taken) open.batch.push(p);
        if (!this.applyInto(open, from)) break;
        if (flight !== null) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
      }
      if (open !== null && flight === null) {
        // Nothing committing: the applied batch goes now.
        const sealed = open;
        open = null;
        const hooks = this.sealed(sealed);
        if (hooks === null) break;
        const f = { done: false, promise: this.commit(sealed, hooks) };
        const landed = (): void => {
          f.done = true;
          this.wake?.();
        };
        f.promise.then(landed, (e: unknown) => {
          // `commit` handles its own failures; this is a throwing clock or onFatal: stop, never hang.
          this.stop(e, []);
          landed();
        });
        flight = f;
        continue;
      }
      if (flight === null) break; // nothing waiting, applied or in flight
      // Wait for the commit to finish, or (while the next batch has room) for a command.
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
    // Stopped: whatever was applied but not committed is not durable.
    if (open !== null) for (const p of open.batch) p.reject(this.dead);
    if (flight !== null) await flight.promise;
    this.running = false;
  }

  /** Commits a sealed batch, then answers its callers and publishes it. Never rejects. */
  private async commit(open: OpenBatch, { entries, sent }: SealedHooks): Promise<void> {
    const { batch, applied } = open;
    const started = this.opts.clock();
    try {
      await this.store.commit(mergeBatches(applied.journal, applied.rows, applied.extra));
    } catch (e) {
      this.stop(e, batch);
      return;
    }
    const { outcomes } = applied;
    for (let i = 0; i < outcomes.length; i++) batch[i]!.resolve(outcomes[i]!.result);
    const { onCommitted } = this.opts;
    if ((onCommitted === undefined && sent === undefined) || entries.length === 0) return;
    const committed: CommittedBatch = { entries, commitMs: this.opts.clock() - started };
    try {
      sent?.(committed);
      onCommitted?.(committed);
    } catch (e) {
      // A throwing hook is a bug: stop rather than leave the loop half-drained (its callers are answered; the batch is stored).
      this.stop(e, []);
    }
  }

  /**
   * Seals a batch: memory is exactly at its end now, so `onApplied` reads it here. Returns the
   * batch's journaled commands for the hooks (none without hooks) and what `onApplied` gave back;
   * null when the hook threw (the loop has stopped).
   */
  private sealed(open: OpenBatch): SealedHooks | null {
    const { onApplied, onCommitted } = this.opts;
    if (onApplied === undefined && onCommitted === undefined) return NO_HOOKS;
    const entries: CommittedBatch['entries'][number][] = [];
    for (const o of open.applied.outcomes) if (o.seq > 0) entries.push({ command: o.command!, result: o.result, seq: o.seq });
    if (onApplied === undefined || entries.length === 0) return { entries, sent: undefined };
    try {
      return { entries, sent: onApplied({ entries }) };
    } catch (e) {
      this.stop(e, open.batch);
      return null;
    }
  }

  private stop(e: unknown, batch: readonly Pending[]): void {
    for (const p of batch) p.reject(e);
    // Stop once, whatever fails after.
    if (this.dead) return;
    this.dead = e;
    for (const p of this.queue.splice(0)) p.reject(e);
    (this.opts.onFatal ?? defaultFatal)(e);
  }

  /** Applies `open.batch` from `from` on to memory, into `open.applied`; false when the core threw (the loop has stopped). */
  private applyInto(open: OpenBatch, from: number): boolean {
    try {
      this.applyAll(open.batch, open.applied, from, open.batch.length);
    } catch (e) {
      // A throw from the core is a bug, and memory may be half-changed: stop (fail-stop)
      // exactly as for a failed commit; a restart rebuilds memory from the store.
      this.stop(e, open.batch);
      return false;
    }
    return true;
  }

  private applyAll(batch: readonly Pending[], applied: AppliedBatch, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const p = batch[i]!;
      let result: CoreResult;
      let command: CoreCommand | null = null;
      let seq = 0;
      if (!p.command) result = { ok: true, events: [], transfers: [] };
      else {
        const now = this.now();
        this.lastNow = now;
        command = { ...p.command, now } as CoreCommand;
        result = this.core.apply(command);
        // A tick that changed nothing is not journaled: replay without it is identical.
        const noop = command.type === 'tick' && result.events.length === 0 && result.transfers.length === 0;
        if (!noop) {
          seq = ++this.seq;
          const commandJson = JSON.stringify(command);
          applied.journal.push({ seq, atMs: now, kind: command.type, commandJson, resultJson: resultJson(result) });
          this.projection.project(command, result, seq, applied.rows, commandJson);
        }
      }
      const more = p.extras?.(result);
      if (more) applied.extra.push(more);
      applied.outcomes.push({ result, command, seq });
    }
  }
}

interface AppliedBatch {
  readonly rows: ProjectedRows;
  readonly journal: JournalEntry[];
  readonly extra: Omit<CommitBatch, 'journal'>[];
  /** One per pending of the batch, in order. */
  readonly outcomes: { readonly result: CoreResult; readonly command: CoreCommand | null; readonly seq: number }[];
}

/** What the hooks get of a sealed batch: its journaled commands, and what `onApplied` returned. */
interface SealedHooks {
  readonly entries: CommittedBatch['entries'];
  readonly sent: ((committed: CommittedBatch) => void) | undefined;
}
const NO_HOOKS: SealedHooks = { entries: [], sent: undefined };

/** A batch being applied (or applied and waiting for its commit): its callers, in order, and what it produced. */
interface OpenBatch {
  readonly batch: Pending[];
  readonly applied: AppliedBatch;
}

function mergeBatches(journal: JournalEntry[], rows: ProjectedRows, extra: readonly Omit<CommitBatch, 'journal'>[]): CommitBatch {
  const cat = <K extends keyof Omit<CommitBatch, 'journal' | 'deletes'>>(key: K, base: readonly unknown[] = []): readonly unknown[] =>
    extra.length === 0 ? base : [...base, ...extra.flatMap((x) => (x[key] as readonly unknown[] | undefined) ?? [])];
  const ds = extra.flatMap((x) => (x.deletes === undefined ? [] : [x.deletes]));
  /** The latest of a cut-off that several callers may have asked for. */
  const latest = (pick: (d: CommitDeletes) => number | undefined): { value: number } | null => {
    const v = ds.map(pick).filter((x): x is number => x !== undefined);
    return v.length > 0 ? { value: Math.max(...v) } : null;
  };
  const expired = latest((d) => d.sessionsExpiredAtMs);
  const idempotency = latest((d) => d.idempotencyCreatedBeforeMs);
  const deletes: CommitDeletes | undefined =
    ds.length === 0
      ? undefined
      : {
          sessionIdHashes: ds.flatMap((d) => d.sessionIdHashes ?? []),
          sessionsOfUserIds: ds.flatMap((d) => d.sessionsOfUserIds ?? []),
          ...(expired ? { sessionsExpiredAtMs: expired.value } : {}),
          ...(idempotency ? { idempotencyCreatedBeforeMs: idempotency.value } : {}),
          leaseLogsUpTo: ds.flatMap((d) => d.leaseLogsUpTo ?? []),
        };
  return {
    journal,
    orders: cat('orders', rows.orders),
    trades: cat('trades', rows.trades),
    leases: cat('leases', rows.leases),
    nodes: cat('nodes', rows.nodes),
    transfers: cat('transfers', rows.transfers),
    users: cat('users'),
    sessions: cat('sessions'),
    apiKeys: cat('apiKeys'),
    idempotency: cat('idempotency'),
    settings: cat('settings'),
    enrollmentTokens: cat('enrollmentTokens'),
    nodeCredentials: cat('nodeCredentials'),
    nodeAttestations: cat('nodeAttestations'),
    leaseLogs: cat('leaseLogs'),
    ...(deletes ? { deletes } : {}),
  } as CommitBatch;
}

function defaultFatal(e: unknown): void {
  console.error(JSON.stringify({ level: 'fatal', msg: 'commit failed: stopping (fail-stop)', err: String(e) }));
  process.exit(70);
}
