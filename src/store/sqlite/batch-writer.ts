/**
 * SQLite's commit, in two steps:
 * - `planBatch` (the calling thread): a prepared batch becomes a write plan, for each table the
 *   SQL of its insert (an upsert for tables with conflict keys) and its rows' values as one flat
 *   positional array, then the deletes the same way;
 * - `executePlan`: runs a plan in one BEGIN IMMEDIATE transaction with statements prepared once
 *   per SQL text (a multi-row insert for runs of rows, a single-row one for the rest), after
 *   checking that the journal continues the stored one.
 *
 * A file store executes plans on a worker thread with its own connection
 * (`SqliteThreadWriter`): better-sqlite3 is synchronous, so on the calling thread every commit's
 * fsync, every WAL checkpoint, and the inserts of a big group commit (45 ms for a batch of 1,000
 * bids) blocked the event loop, and HTTP, the live feed and the agents' heartbeats waited. With
 * the writer on its own thread they go on, and the command loop applies the next batch
 * meanwhile. WAL lets the main thread's connection (reads and migrations, through Kysely) read
 * while the writer writes. The hop to the thread and back costs 130 µs at the median and 400 µs
 * at p90 on the 2-core test machines, which a lone client feels (`bench:ingest` one transaction
 * per order: 852–991 orders/s against 1,232–1,420 in place); under concurrent load it pays:
 * `bench:http` (32 clients) kept its throughput and its p99.9 fell from 290–440 ms to 160–200 ms,
 * its slowest order from 370–480 ms to 165–230 ms (3 alternating pairs). An in-memory store has
 * one connection only, so it executes plans in place (`SqliteBatchWriter`).
 *
 * `executePlan` and `writerThread` run in the worker as their own source text (Function
 * toString: the worker needs no file of its own, which works the same from `dist` and from the
 * TypeScript sources under test), so they use nothing from outside their bodies.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { type BatchWriter, checkJournalContinues, onConflictSql, type PreparedBatch, ROW_TABLES, type RowTable, TABLES, type TableSpec } from '../batch-writer.js';
import type { Database } from '../schema.js';

/**
 * Rows per multi-row insert. One statement run per row costs more in the call and in starting
 * the statement than SQLite spends inserting the row; 16 to 64 rows a statement cut the batched
 * commit's row writes by about a fifth (measured on the ingest bench's batches), and the bound
 * parameters (rows × columns, at most 32 × 17) stay far below SQLite's limit.
 */
const SQLITE_ROWS_PER_STATEMENT = 32;

/** The connection settings both connections of a file store use (WAL is the file's own, set once by the main connection). */
export function sqlitePragmas(busyTimeoutMs: number): readonly string[] {
  return ['synchronous = FULL', 'foreign_keys = ON', `busy_timeout = ${busyTimeoutMs}`];
}

/** One statement's share of a plan: `values` holds `width` parameters per run, row after row. */
export interface PlanStep {
  /** Runs one row. */
  readonly sql: string;
  /** Runs `many` rows at once (null: always one at a time). */
  readonly manySql: string | null;
  readonly many: number;
  readonly width: number;
  readonly values: unknown[];
}

export interface WritePlan {
  /** The first journal seq the batch carries (0: none): the journal must end right before it. */
  readonly journalFirst: number;
  readonly steps: readonly PlanStep[];
}

/** Each table's column names, in `TABLES` order: the positional order of its statements' values. */
const COLUMN_NAMES = {} as Record<RowTable, readonly string[]>;
for (const table of ROW_TABLES) COLUMN_NAMES[table] = TABLES[table].columns.map(([name]) => name);

/** The insert (an upsert for tables with conflict keys) of `rows` value tuples. */
function upsertSql(spec: TableSpec, rows: number): string {
  const names = spec.columns.map(([name]) => name);
  const tuple = `(${names.map(() => '?').join(', ')})`;
  return `insert into "${spec.table}" (${names.map((n) => `"${n}"`).join(', ')}) values ${Array.from({ length: rows }, () => tuple).join(', ')}${onConflictSql(spec)}`;
}

/** Each table's statements, built once. */
const INSERT_SQL = {} as Record<RowTable, { readonly one: string; readonly many: string }>;
for (const table of ROW_TABLES) INSERT_SQL[table] = { one: upsertSql(TABLES[table], 1), many: upsertSql(TABLES[table], SQLITE_ROWS_PER_STATEMENT) };

function deleteStep(sql: string, width: number, values: unknown[]): PlanStep {
  return { sql, manySql: null, many: 1, width, values };
}

/** The plan of a prepared batch: rows in `TABLES` order, then the deletes. */
export function planBatch(batch: PreparedBatch): WritePlan {
  const steps: PlanStep[] = [];
  for (const table of ROW_TABLES) {
    const rows = batch.rows[table];
    if (rows.length === 0) continue;
    const names = COLUMN_NAMES[table];
    const width = names.length;
    const values = new Array<unknown>(rows.length * width);
    let k = 0;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      for (let c = 0; c < width; c++) values[k++] = r[names[c]!];
    }
    const sql = INSERT_SQL[table];
    steps.push({ sql: sql.one, manySql: rows.length < SQLITE_ROWS_PER_STATEMENT ? null : sql.many, many: SQLITE_ROWS_PER_STATEMENT, width, values });
  }
  const d = batch.deletes;
  if (d !== undefined) {
    if (d.sessionIdHashes.length > 0) steps.push(deleteStep('delete from sessions where id_hash = ?', 1, [...d.sessionIdHashes]));
    if (d.sessionsOfUserIds.length > 0) steps.push(deleteStep('delete from sessions where user_id = ?', 1, [...d.sessionsOfUserIds]));
    if (d.sessionsExpiredAtMs !== undefined) steps.push(deleteStep('delete from sessions where expires_at_ms <= ?', 1, [d.sessionsExpiredAtMs]));
    if (d.leaseLogsUpTo.length > 0) {
      steps.push(deleteStep('delete from lease_logs where lease_id = ? and seq <= ?', 2, d.leaseLogsUpTo.flatMap((cut) => [cut.leaseId, cut.upToSeq])));
    }
    if (d.idempotencyCreatedBeforeMs !== undefined) {
      steps.push(deleteStep('delete from idempotency_keys where created_at_ms < ?', 1, [d.idempotencyCreatedBeforeMs]));
    }
  }
  return { journalFirst: batch.journal.length > 0 ? batch.journal[0]!.seq : 0, steps };
}

/**
 * Runs `plan`'s statements; the caller wraps it in one transaction. A journal that does not end
 * right before the plan's first seq throws an error carrying `storedMax` (what `failure` turns
 * into a JournalSequenceError) before anything is written. Self-contained: see the file header.
 */
export function executePlan(db: BetterSqlite3.Database, cache: Map<string, BetterSqlite3.Statement>, plan: WritePlan): void {
  const prepared = (sql: string): BetterSqlite3.Statement => {
    let stmt = cache.get(sql);
    if (stmt === undefined) {
      stmt = db.prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  };
  if (plan.journalFirst > 0) {
    // Checked before the inserts: BEGIN IMMEDIATE holds the write lock, so nothing lands between.
    const stored = prepared('select max(seq) as max_seq from journal').get() as { max_seq: number | bigint | null };
    const storedMax = stored.max_seq === null ? 0 : Number(stored.max_seq);
    if (storedMax !== plan.journalFirst - 1) throw Object.assign(new Error('journal does not continue'), { storedMax });
  }
  for (const step of plan.steps) {
    const { width, values } = step;
    const rows = values.length / width;
    let i = 0;
    if (step.manySql !== null) {
      const many = prepared(step.manySql);
      const n = step.many;
      const args = new Array<unknown>(n * width);
      for (; i + n <= rows; i += n) {
        for (let k = 0, from = i * width; k < args.length; k++) args[k] = values[from + k];
        many.run(args);
      }
    }
    if (i === rows) continue;
    const one = prepared(step.sql);
    const args = new Array<unknown>(width);
    for (; i < rows; i++) {
      for (let k = 0, from = i * width; k < width; k++) args[k] = values[from + k];
      one.run(args);
    }
  }
}

/** What a failed write reports across threads. */
interface WriteFailure {
  readonly name: string;
  readonly message: string;
  readonly code: unknown;
  readonly storedMax: unknown;
}

function describeFailure(e: unknown): WriteFailure {
  const err = e as { name?: unknown; message?: unknown; code?: unknown; storedMax?: unknown };
  return { name: String(err?.name ?? 'Error'), message: String(err?.message ?? e), code: err?.code, storedMax: err?.storedMax };
}

/** The error a failed write rejects with: a JournalSequenceError for a journal that does not continue, else the driver's error. */
function failure(f: WriteFailure, plan: WritePlan): Error {
  if (typeof f.storedMax === 'number') {
    try {
      checkJournalContinues(plan.journalFirst, f.storedMax);
    } catch (e) {
      return e as Error;
    }
  }
  const err = new Error(f.message) as Error & { code?: unknown };
  err.name = f.name;
  if (f.code !== undefined) err.code = f.code;
  return err;
}

/** Executes plans in place, on the store's one connection (an in-memory store). */
export class SqliteBatchWriter implements BatchWriter {
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  private readonly transaction: (plan: WritePlan) => void;

  constructor(
    sqlite: BetterSqlite3.Database,
    private readonly db: Kysely<Database>,
  ) {
    this.transaction = sqlite.transaction((plan: WritePlan) => executePlan(sqlite, this.statements, plan)).immediate;
  }

  async write(batch: PreparedBatch): Promise<void> {
    const plan = planBatch(batch);
    // Under Kysely's connection mutex: no Kysely transaction is open on the connection meanwhile.
    await this.db.connection().execute(async () => {
      try {
        this.transaction(plan);
      } catch (e) {
        if (typeof (e as { storedMax?: unknown }).storedMax === 'number') throw failure(describeFailure(e), plan);
        throw e;
      }
    });
  }
}

/** A message to the writer thread. */
type ToWriter = { readonly type: 'write'; readonly plan: WritePlan } | { readonly type: 'close' };
/** Its answer to each message, in order. */
type FromWriter = { readonly ok: true } | { readonly ok: false; readonly failure: WriteFailure };

interface WriterData {
  readonly driver: string;
  readonly file: string;
  readonly pragmas: readonly string[];
}

/**
 * The writer thread's body (self-contained: see the file header). It opens its own connection
 * and answers each message in order: a plan executed in one transaction, or `close`.
 */
function writerThread(
  Driver: typeof BetterSqlite3,
  port: import('node:worker_threads').MessagePort,
  data: WriterData,
  execute: typeof executePlan,
  describe: typeof describeFailure,
): void {
  const db = new Driver(data.file);
  for (const p of data.pragmas) db.pragma(p);
  const cache = new Map<string, BetterSqlite3.Statement>();
  const run = db.transaction((plan: WritePlan) => execute(db, cache, plan)).immediate;
  port.on('message', (msg: ToWriter) => {
    if (msg.type === 'close') {
      db.close();
      port.postMessage({ ok: true } satisfies FromWriter);
      port.close();
      return;
    }
    let answer: FromWriter;
    try {
      run(msg.plan);
      answer = { ok: true };
    } catch (e) {
      answer = { ok: false, failure: describe(e) };
    }
    port.postMessage(answer);
  });
}

const WRITER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
(${writerThread.toString()})(require(workerData.driver), parentPort, workerData, ${executePlan.toString()}, ${describeFailure.toString()});
`;

/**
 * A file store's writer: plans run on a worker thread with its own connection to the file (see
 * the file header). Each write is posted at once; the thread runs them one at a time in the order
 * posted and answers each in turn, so the next write waits in the thread's queue, not for a turn
 * of this event loop. If the thread dies, every write waiting and every later one reject (the
 * command loop then stops: fail-stop).
 */
export class SqliteThreadWriter implements BatchWriter {
  /** The writer thread (for operators' diagnostics and the tests that end it). */
  readonly worker: Worker;
  /** The writes posted and not yet answered, oldest first (the thread answers in that order). */
  private readonly waiting: { readonly resolve: () => void; readonly reject: (e: unknown) => void; readonly plan: WritePlan | null }[] = [];
  private dead: Error | null = null;
  private readonly exited: Promise<void>;

  constructor(file: string, busyTimeoutMs: number) {
    const data: WriterData = { driver: createRequire(import.meta.url).resolve('better-sqlite3'), file, pragmas: sqlitePragmas(busyTimeoutMs) };
    this.worker = new Worker(WRITER_SOURCE, { eval: true, workerData: data });
    // Idle, the thread does not keep the process alive; a write waiting does (see `send`).
    this.worker.unref();
    this.worker.on('message', (answer: FromWriter) => {
      const w = this.waiting.shift();
      if (w === undefined) return;
      if (this.waiting.length === 0) this.worker.unref();
      if (answer.ok) w.resolve();
      else w.reject(failure(answer.failure, w.plan ?? { journalFirst: 0, steps: [] }));
    });
    this.worker.on('error', (e) => this.fail(e instanceof Error ? e : new Error(String(e))));
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        this.fail(new Error(`store: the SQLite writer thread exited (code ${code})`));
        resolve();
      });
    });
  }

  write(batch: PreparedBatch): Promise<void> {
    const plan = planBatch(batch);
    return this.send({ type: 'write', plan }, plan);
  }

  async close(): Promise<void> {
    // After the writes waiting (the thread answers in order). A dead thread, or one that dies
    // meanwhile, has nothing left to close.
    if (this.dead === null) await this.send({ type: 'close' }, null).catch(() => undefined);
    // Kept alive until the thread is gone (idle, it is unref'd).
    this.worker.ref();
    await this.exited;
  }

  private send(msg: ToWriter, plan: WritePlan | null): Promise<void> {
    if (this.dead !== null) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      if (this.waiting.length === 0) this.worker.ref();
      this.waiting.push({ resolve, reject, plan });
      this.worker.postMessage(msg);
    });
  }

  /** The thread is gone: reject every write waiting, and every later one. */
  private fail(e: Error): void {
    this.dead ??= e;
    for (const w of this.waiting.splice(0)) w.reject(this.dead);
  }
}
