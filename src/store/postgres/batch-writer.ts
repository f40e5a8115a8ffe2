/**
 * PostgreSQL's commit: a client from the same pool Kysely uses, one transaction per batch, and
 * in it ONE statement that writes every table of the batch, each table's rows passed as one
 * JSON parameter: `with w0 as (insert into t0 (…) select … from json_to_recordset($1::json) …),
 * w1 as (…) select max(seq) from journal`. Its text depends only on which tables the batch
 * touches, so it is a named statement (parsed and planned once per connection), and a batch
 * of thousands of rows is three round trips (begin, the statement, commit): the server writes
 * the whole batch in one go.
 */
import type pg from 'pg';
import { type BatchWriter, checkJournalContinues, type DbRow, onConflictSql, type PreparedBatch, ROW_TABLES, type RowTable, TABLES, type TableSpec } from '../batch-writer.js';
import { num } from '../rows.js';

/**
 * Rows of one table per statement: bounds one message's size (each row may carry JSON text).
 * A table with more rows is written in several statements (rounds), in order.
 */
const PG_ROWS_PER_STATEMENT = 5_000;

function insertSql(spec: TableSpec, param: number): string {
  const names = spec.columns.map(([name]) => `"${name}"`).join(', ');
  const record = spec.columns.map(([name, type]) => `"${name}" ${type}`).join(', ');
  return `insert into "${spec.table}" (${names}) select ${names} from json_to_recordset($${param}::json) as r(${record})${onConflictSql(spec)}`;
}

/**
 * The statement for one set of tables. Every part runs on the snapshot taken when the statement
 * starts, so the final select sees the journal as it was before this statement's rows.
 */
function batchSql(tables: readonly RowTable[]): string {
  const parts = tables.map((table, i) => `w${i} as (${insertSql(TABLES[table], i + 1)})`);
  return `with ${parts.join(',\n')}\nselect max(seq) as stored_max from journal`;
}

export class PostgresBatchWriter implements BatchWriter {
  /** Statement texts by name, one per set of tables a batch has touched. */
  private readonly statements = new Map<string, string>();

  constructor(private readonly pool: pg.Pool) {}

  async write(batch: PreparedBatch): Promise<void> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('begin');
      await this.writeRows(client, batch);
      await client.query('commit');
    } catch (e) {
      // A connection that cannot even roll back is dropped from the pool, not reused.
      await client.query('rollback').catch((re: unknown) => {
        broken = re instanceof Error ? re : new Error(String(re));
      });
      throw e;
    } finally {
      client.release(broken);
    }
  }

  private async writeRows(client: pg.PoolClient, batch: PreparedBatch): Promise<void> {
    const rounds = Math.max(1, ...ROW_TABLES.map((table) => Math.ceil(batch.rows[table].length / PG_ROWS_PER_STATEMENT)));
    for (let round = 0; round < rounds; round++) {
      const from = round * PG_ROWS_PER_STATEMENT;
      const tables: RowTable[] = [];
      const values: string[] = [];
      let mask = 0; // which tables: names the statement (PostgreSQL cuts names at 63 bytes)
      let journal: readonly DbRow[] = [];
      for (let t = 0; t < ROW_TABLES.length; t++) {
        const table = ROW_TABLES[t]!;
        const list = batch.rows[table];
        if (list.length <= from) continue;
        const chunk = from === 0 && list.length <= PG_ROWS_PER_STATEMENT ? list : list.slice(from, from + PG_ROWS_PER_STATEMENT);
        if (table === 'journal') journal = chunk;
        tables.push(table);
        mask |= 1 << t;
        values.push(rowsJson(chunk));
      }
      if (tables.length === 0) continue;
      const name = `suanli.commit.${mask.toString(16)}`;
      let text = this.statements.get(name);
      if (text === undefined) this.statements.set(name, (text = batchSql(tables)));
      const found = await client.query<{ stored_max: unknown }>({ name, text, values });
      if (journal.length > 0) {
        // Before this statement the journal ended where this chunk begins (0: empty).
        const storedMax = found.rows[0]!.stored_max;
        const before = storedMax === null ? 0 : num(storedMax);
        const first = journal[0]!.seq as number;
        checkJournalContinues(first, before);
      }
    }
    const d = batch.deletes;
    if (d !== undefined) {
      if (d.sessionIdHashes.length > 0) await client.query('delete from sessions where id_hash = any($1::text[])', [d.sessionIdHashes]);
      if (d.sessionsOfUserIds.length > 0) await client.query('delete from sessions where user_id = any($1::text[])', [d.sessionsOfUserIds]);
      if (d.sessionsExpiredAtMs !== undefined) await client.query('delete from sessions where expires_at_ms <= $1', [d.sessionsExpiredAtMs]);
      for (const cut of d.leaseLogsUpTo) {
        await client.query('delete from lease_logs where lease_id = $1 and seq <= $2', [cut.leaseId, cut.upToSeq]);
      }
      if (d.idempotencyCreatedBeforeMs !== undefined) {
        await client.query('delete from idempotency_keys where created_at_ms < $1', [d.idempotencyCreatedBeforeMs]);
      }
    }
  }
}

/** JSON.stringify escapes a lone surrogate as `\udxxx`, which PostgreSQL's JSON refuses. */
const LONE_SURROGATE_ESCAPE = /\\ud[89a-f]/;

/**
 * The rows as one JSON array. Strings with lone surrogates are stored as the driver would store
 * them as parameters (UTF-8 with U+FFFD in their place), as SQLite stores them too.
 */
function rowsJson(rows: readonly DbRow[]): string {
  const text = JSON.stringify(rows);
  if (!LONE_SURROGATE_ESCAPE.test(text)) return text;
  return JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'string' ? (value as unknown as WellFormable).toWellFormed() : value));
}

/** String.prototype.toWellFormed (Node 20) is newer than the ES2022 lib this project types against. */
interface WellFormable {
  toWellFormed(): string;
}
