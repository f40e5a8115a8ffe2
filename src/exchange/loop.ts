/**
 * The single-writer command loop. Commands that arrive together are applied to the in-memory
 * core one after another and everything they produced — journal entries, projected rows,
 * transfers, and the caller's own extra rows (a new user, an idempotency record) — is written
 * in ONE store transaction (group commit). Only then are the callers answered. If the commit
 * fails the process stops (fail-stop): memory is ahead of the store and must not be trusted.
 *
 * At start, `open` rebuilds the core and the projection by replaying the journal, checks that
 * every replayed result matches the recorded one, and checks the ledger and the books.
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
  /** Most commands in one transaction. */
  readonly maxBatch?: number;
  /** Most commands waiting; beyond it `submit` refuses (back-pressure). */
  readonly maxQueue?: number;
  /** Called when a commit fails; default: log and exit the process. */
  readonly onFatal?: (e: unknown) => void;
  /** Called after each committed batch with its commands and results (live feeds, metrics). */
  readonly onCommitted?: (batch: CommittedBatch) => void;
}

export interface CommittedBatch {
  readonly entries: readonly { readonly command: CoreCommand; readonly result: CoreResult; readonly seq: number }[];
  readonly commitMs: number;
}

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
  }

  /** Replays the journal into `core` and `projection`, verifies it, and returns a running loop. */
  static async open(core: ExchangeCore, store: Store, projection: Projection, opts: LoopOptions): Promise<CommandLoop> {
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
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  /**
   * Group commit: a batch is applied to memory, written in one transaction, and only then are
   * its callers answered and the batch published (`onCommitted`); the next batch is applied after
   * that. (Applying the next batch while a commit is in flight was tried: the live feed reads the
   * books and balances in memory when a batch is published, so it would have shown state that was
   * not yet stored, and that a failed commit would never store.)
   */
  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.dead) {
      const batch = this.queue.splice(0, this.maxBatch);
      const applied = this.applyBatch(batch);
      if (applied === null) break;
      await this.commitBatch(batch, applied);
    }
    this.running = false;
  }

  private async commitBatch(batch: readonly Pending[], applied: AppliedBatch): Promise<void> {
    const started = this.opts.clock();
    try {
      await this.store.commit(mergeBatches(applied.journal, applied.rows, applied.extra));
    } catch (e) {
      this.stop(e, batch);
      return;
    }
    const { outcomes } = applied;
    for (let i = 0; i < outcomes.length; i++) batch[i]!.resolve(outcomes[i]!.result);
    const onCommitted = this.opts.onCommitted;
    if (onCommitted === undefined) return;
    const entries: CommittedBatch['entries'][number][] = [];
    for (const o of outcomes) if (o.seq > 0) entries.push({ command: o.command!, result: o.result, seq: o.seq });
    if (entries.length === 0) return;
    try {
      onCommitted({ entries, commitMs: this.opts.clock() - started });
    } catch (e) {
      // A throwing hook is a bug: stop rather than leave the loop half-drained (its callers are answered; the batch is stored).
      this.stop(e, []);
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

  /** Applies the batch to memory; null when the core threw (the loop has stopped). */
  private applyBatch(batch: readonly Pending[]): AppliedBatch | null {
    const applied: AppliedBatch = { rows: emptyRows(), journal: [], extra: [], outcomes: [] };
    try {
      this.applyAll(batch, applied);
    } catch (e) {
      // A throw from the core is a bug, and memory may be half-changed: stop (fail-stop)
      // exactly as for a failed commit; a restart rebuilds memory from the store.
      this.stop(e, batch);
      return null;
    }
    return applied;
  }

  private applyAll(batch: readonly Pending[], applied: AppliedBatch): void {
    for (let i = 0; i < batch.length; i++) {
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
