/**
 * SQLite's commit: better-sqlite3 directly, statements per table prepared once (a multi-row
 * insert for runs of rows, a single-row one for the rest; nothing is parsed per batch), the
 * whole batch in one BEGIN IMMEDIATE transaction. It runs while holding Kysely's connection
 * (its single-connection mutex), so no Kysely transaction can be open on the same connection
 * meanwhile.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { type BatchWriter, checkJournalContinues, type DbRow, onConflictSql, type PreparedBatch, ROW_TABLES, type RowTable, TABLES, type TableSpec } from '../batch-writer.js';
import { num } from '../rows.js';
import type { Database } from '../schema.js';

type Statement = BetterSqlite3.Statement;

/**
 * Rows per multi-row insert. One statement run per row costs more in the call and in starting
 * the statement than SQLite spends inserting the row; 16 to 64 rows a statement cut the batched
 * commit's row writes by about a fifth (measured on the ingest bench's batches), and the bound
 * parameters (rows × columns, at most 32 × 17) stay far below SQLite's limit.
 */
const SQLITE_ROWS_PER_STATEMENT = 32;

/** Each table's column names, in `TABLES` order: the positional order of its statements' values. */
const COLUMN_NAMES = {} as Record<RowTable, readonly string[]>;
for (const table of ROW_TABLES) COLUMN_NAMES[table] = TABLES[table].columns.map(([name]) => name);

/**
 * Writes `rows` with `many` (the insert with SQLITE_ROWS_PER_STATEMENT value tuples; null when
 * there are fewer rows) that many at a time, the rest with `one` (a single-row insert). Values
 * go positionally, from one reused array per call.
 */
function writeTableRows(names: readonly string[], one: Statement, many: Statement | null, rows: readonly DbRow[]): void {
  const width = names.length;
  const n = SQLITE_ROWS_PER_STATEMENT;
  let i = 0;
  if (many !== null) {
    const values = new Array<unknown>(n * width);
    for (; i + n <= rows.length; i += n) {
      let k = 0;
      for (let j = i; j < i + n; j++) {
        const r = rows[j]!;
        for (let c = 0; c < width; c++) values[k++] = r[names[c]!];
      }
      many.run(values);
    }
  }
  if (i === rows.length) return;
  const values = new Array<unknown>(width);
  for (; i < rows.length; i++) {
    const r = rows[i]!;
    for (let c = 0; c < width; c++) values[c] = r[names[c]!];
    one.run(values);
  }
}

/** The insert (an upsert for tables with conflict keys) of `rows` value tuples. */
function upsertSql(spec: TableSpec, rows: number): string {
  const names = spec.columns.map(([name]) => name);
  const tuple = `(${names.map(() => '?').join(', ')})`;
  return `insert into "${spec.table}" (${names.map((n) => `"${n}"`).join(', ')}) values ${Array.from({ length: rows }, () => tuple).join(', ')}${onConflictSql(spec)}`;
}

export class SqliteBatchWriter implements BatchWriter {
  private readonly statements = new Map<string, Statement>();
  private readonly transaction: (batch: PreparedBatch) => void;

  constructor(
    private readonly sqlite: BetterSqlite3.Database,
    private readonly db: Kysely<Database>,
  ) {
    this.transaction = sqlite.transaction((batch: PreparedBatch) => this.writeRows(batch)).immediate;
  }

  async write(batch: PreparedBatch): Promise<void> {
    await this.db.connection().execute(async () => this.transaction(batch));
  }

  /** Prepared on first use: the tables exist only once migrations ran. */
  private statement(name: string, sql: () => string): Statement {
    let stmt = this.statements.get(name);
    if (stmt === undefined) {
      stmt = this.sqlite.prepare(sql());
      this.statements.set(name, stmt);
    }
    return stmt;
  }

  private writeRows(batch: PreparedBatch): void {
    // Checked before the inserts: BEGIN IMMEDIATE holds the write lock, so nothing lands between.
    const journal = batch.journal;
    if (journal.length > 0) {
      const stored = this.statement('journal.max', () => 'select max(seq) as max_seq from journal').get() as { max_seq: unknown };
      checkJournalContinues(journal[0]!.seq, stored.max_seq === null ? 0 : num(stored.max_seq));
    }
    for (const table of ROW_TABLES) {
      const list = batch.rows[table];
      if (list.length === 0) continue;
      const spec: TableSpec = TABLES[table];
      const one = this.statement(table, () => upsertSql(spec, 1));
      const many = list.length < SQLITE_ROWS_PER_STATEMENT ? null : this.statement(`${table}*`, () => upsertSql(spec, SQLITE_ROWS_PER_STATEMENT));
      writeTableRows(COLUMN_NAMES[table], one, many, list);
    }
    const d = batch.deletes;
    if (d !== undefined) {
      if (d.sessionIdHashes.length > 0) {
        const del = this.statement('del.session', () => 'delete from sessions where id_hash = ?');
        for (const h of d.sessionIdHashes) del.run(h);
      }
      if (d.sessionsOfUserIds.length > 0) {
        const del = this.statement('del.sessionsOfUser', () => 'delete from sessions where user_id = ?');
        for (const u of d.sessionsOfUserIds) del.run(u);
      }
      if (d.sessionsExpiredAtMs !== undefined) {
        this.statement('del.sessionsExpired', () => 'delete from sessions where expires_at_ms <= ?').run(d.sessionsExpiredAtMs);
      }
      if (d.leaseLogsUpTo.length > 0) {
        const del = this.statement('del.leaseLogs', () => 'delete from lease_logs where lease_id = ? and seq <= ?');
        for (const cut of d.leaseLogsUpTo) del.run(cut.leaseId, cut.upToSeq);
      }
      if (d.idempotencyCreatedBeforeMs !== undefined) {
        this.statement('del.idempotency', () => 'delete from idempotency_keys where created_at_ms < ?').run(d.idempotencyCreatedBeforeMs);
      }
    }
  }
}
