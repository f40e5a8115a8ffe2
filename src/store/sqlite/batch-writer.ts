/**
 * SQLite's commit: better-sqlite3 directly, one statement per table prepared once and run per
 * row (for SQLite a cached single-row statement is as fast per row as a multi-row one, and
 * nothing is parsed per batch), the whole batch in one BEGIN IMMEDIATE transaction. It runs
 * while holding Kysely's connection (its single-connection mutex), so no Kysely transaction
 * can be open on the same connection meanwhile.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { type BatchWriter, checkJournalRange, onConflictSql, type PreparedBatch, ROW_TABLES, TABLES, type TableSpec } from '../batch-writer.js';
import { num } from '../rows.js';
import type { Database } from '../schema.js';

type Statement = BetterSqlite3.Statement;

function upsertSql(spec: TableSpec): string {
  const names = spec.columns.map(([name]) => name);
  return `insert into "${spec.table}" (${names.map((n) => `"${n}"`).join(', ')}) values (${names.map(() => '?').join(', ')})${onConflictSql(spec)}`;
}

export class SqliteBatchWriter implements BatchWriter {
  private statements: Map<string, Statement> | null = null;
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
    this.statements ??= new Map();
    let stmt = this.statements.get(name);
    if (stmt === undefined) {
      stmt = this.sqlite.prepare(sql());
      this.statements.set(name, stmt);
    }
    return stmt;
  }

  private writeRows(batch: PreparedBatch): void {
    for (const table of ROW_TABLES) {
      const list = batch.rows[table];
      if (list.length === 0) continue;
      const spec: TableSpec = TABLES[table];
      const stmt = this.statement(table, () => upsertSql(spec));
      // Positional values from one reused array: binding by name costs more than the insert.
      const names = spec.columns.map(([name]) => name);
      const values = new Array<unknown>(names.length);
      for (let i = 0; i < list.length; i++) {
        const row = list[i]!;
        for (let c = 0; c < names.length; c++) values[c] = row[names[c]!];
        stmt.run(...values);
      }
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
    // Checked after the inserts, inside the transaction.
    const journal = batch.journal;
    if (journal.length > 0) {
      const range = this.statement('journal.range', () => 'select min(seq) as min_seq, max(seq) as max_seq from journal where seq >= ?')
        .get(journal[0]!.seq - 1) as { min_seq: unknown; max_seq: unknown };
      checkJournalRange(journal, num(range.min_seq), num(range.max_seq));
    }
  }
}
