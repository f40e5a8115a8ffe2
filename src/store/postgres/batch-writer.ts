/**
 * PostgreSQL's commit: a client from the same pool Kysely uses, one transaction per batch, and
 * in it ONE statement that writes every table of the batch: `with w0 as (insert into t0 (…)
 * select … from <the rows> …), w1 as (…) select (select max(seq) from journal)`. Its text
 * depends only on which tables the batch touches and on how the rows are passed, so it is a named
 * statement (parsed and planned once per connection), and a batch of thousands of rows is three
 * round trips (begin, the statement, commit): the server writes the whole batch in one go.
 *
 * The rows go one of two ways, whichever the server reads faster:
 * - big statements (`BINARY_FROM_ROWS` rows and more, group commit under load): each column of a
 *   table as one array parameter in PostgreSQL's binary format, `unnest($1::int8[], $2::text[],
 *   …)`. The server reads each element as a length and its bytes, where JSON is parsed twice (
 *   validated as `json`, then taken apart by `json_to_recordset`) with every string unescaped: at
 *   1,000 orders a batch (6,000 rows) the statement takes about a quarter less time.
 * - small ones: each table's rows as one JSON parameter, `json_to_recordset($1::json)`. Every
 *   array parameter and `unnest` costs the server a few microseconds whatever its length, about
 *   0.13 ms more per one-order statement (46 parameters instead of 5).
 */
import type pg from 'pg';
import { type BatchWriter, checkJournalContinues, type DbRow, onConflictSql, type PgType, type PreparedBatch, ROW_TABLES, type RowTable, TABLES, type TableSpec } from '../batch-writer.js';
import { num } from '../rows.js';

/**
 * Rows of one table per statement: bounds one message's size (each row may carry JSON text).
 * A table with more rows is written in several statements (rounds), in order.
 */
const PG_ROWS_PER_STATEMENT = 5_000;

/** Statements of this many rows and more pass them as binary arrays, smaller ones as JSON. */
const BINARY_FROM_ROWS = 50;

/** The insert of one table from one JSON parameter (`param`): an array of row objects. */
function jsonInsertSql(spec: TableSpec, param: number): string {
  const names = spec.columns.map(([name]) => `"${name}"`).join(', ');
  const record = spec.columns.map(([name, type]) => `"${name}" ${type}`).join(', ');
  return `insert into "${spec.table}" (${names}) select ${names} from json_to_recordset($${param}::json) as r(${record})${onConflictSql(spec)}`;
}

/** The insert of one table from one array parameter per column, from `firstParam` on, in `spec.columns` order. */
function arraysInsertSql(spec: TableSpec, firstParam: number): string {
  const names = spec.columns.map(([name]) => `"${name}"`).join(', ');
  const arrays = spec.columns.map(([, type], j) => `$${firstParam + j}::${type}[]`).join(', ');
  return `insert into "${spec.table}" (${names}) select * from unnest(${arrays})${onConflictSql(spec)}`;
}

/**
 * The statement for one set of tables. Every part runs on the snapshot taken when the statement
 * starts, so the final select sees the journal as it was before this statement's rows. The max
 * is a subquery: PostgreSQL reads `max(seq)` from the end of the primary key only in a query
 * without a WITH clause; `select max(seq) from journal` beside the inserts read the whole journal
 * on every commit.
 */
function batchSql(tables: readonly RowTable[], binary: boolean): string {
  let param = 1;
  const parts = tables.map((table, i) => {
    const spec = TABLES[table];
    const part = `w${i} as (${binary ? arraysInsertSql(spec, param) : jsonInsertSql(spec, param)})`;
    param += binary ? spec.columns.length : 1;
    return part;
  });
  return `with ${parts.join(',\n')}\nselect (select max(seq) from journal) as stored_max`;
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
      const chunks: (readonly DbRow[])[] = [];
      let rows = 0;
      let mask = 0; // which tables: names the statement (PostgreSQL cuts names at 63 bytes)
      let journal: readonly DbRow[] = [];
      for (let t = 0; t < ROW_TABLES.length; t++) {
        const table = ROW_TABLES[t]!;
        const list = batch.rows[table];
        if (list.length <= from) continue;
        const chunk = from === 0 && list.length <= PG_ROWS_PER_STATEMENT ? list : list.slice(from, from + PG_ROWS_PER_STATEMENT);
        if (table === 'journal') journal = chunk;
        tables.push(table);
        chunks.push(chunk);
        rows += chunk.length;
        mask |= 1 << t;
      }
      if (tables.length === 0) continue;
      const binary = rows >= BINARY_FROM_ROWS;
      const values: (string | Buffer)[] = [];
      if (binary) {
        const arrays = new ArrayWriter(rows);
        for (let i = 0; i < tables.length; i++) {
          for (const [column, type] of TABLES[tables[i]!].columns) values.push(arrays.column(chunks[i]!, column, type));
        }
      } else {
        for (const chunk of chunks) values.push(rowsJson(chunk));
      }
      const name = `suanli.commit.${binary ? 'a' : 'j'}${mask.toString(16)}`;
      let text = this.statements.get(name);
      if (text === undefined) this.statements.set(name, (text = batchSql(tables, binary)));
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

const OIDS: Readonly<Record<PgType, number>> = { text: 25, int8: 20, int4: 23 };
const TWO_32 = 2 ** 32;
/** Strings shorter than this are encoded in JS (a native call costs more); longer ones by Buffer. */
const SHORT_STRING = 48;

/**
 * Writes columns as one-dimensional arrays in PostgreSQL's binary format (what `array_recv`
 * reads): a header (dimensions 1, has-nulls flag, element type OID, length, lower bound 1), then
 * each element as its byte length (-1: null) and its bytes: text as UTF-8, int8 and int4 big-endian.
 * pg sends a Buffer parameter in binary format as is. Strings are encoded as the driver encodes a
 * text parameter: UTF-8, a lone surrogate as U+FFFD (the row mappers have already replaced U+0000).
 * Each column is a view of one growing buffer per statement (a new buffer, never reused: the
 * views stay valid until pg has copied them into its message).
 */
class ArrayWriter {
  private buf: Buffer;
  private pos = 0;
  /** Where the column being written starts. */
  private start = 0;

  /** `rows`: about how many rows it will hold (a row of the ingest benchmark takes about 400 bytes). */
  constructor(rows: number) {
    this.buf = Buffer.allocUnsafe(Math.min(Math.max(rows * 400, 1_024), 16 << 20));
  }

  column(rows: readonly DbRow[], column: string, type: PgType): Buffer {
    const n = rows.length;
    this.start = this.pos;
    this.room(20 + n * 12);
    let pos = this.pos + 20;
    let nulls = 0;
    if (type === 'text') {
      for (let i = 0; i < n; i++) {
        const v = rows[i]![column];
        if (v === null || v === undefined) {
          this.buf.writeInt32BE(-1, pos);
          pos += 4;
          nulls = 1;
          this.pos = pos;
          continue;
        }
        const s = typeof v === 'string' ? v : String(v);
        this.pos = pos;
        this.room(4 + 3 * s.length + (n - i) * 4);
        pos = this.pos;
        const buf = this.buf;
        let len = 0;
        if (s.length < SHORT_STRING) {
          const at = pos + 4;
          for (; len < s.length; len++) {
            const c = s.charCodeAt(len);
            if (c >= 0x80) break;
            buf[at + len] = c;
          }
          if (len < s.length) len = buf.write(s, at);
        } else {
          len = buf.write(s, pos + 4);
        }
        buf.writeInt32BE(len, pos);
        pos += 4 + len;
      }
    } else {
      const buf = this.buf;
      const wide = type === 'int8';
      for (let i = 0; i < n; i++) {
        const v = rows[i]![column];
        if (v === null || v === undefined) {
          buf.writeInt32BE(-1, pos);
          pos += 4;
          nulls = 1;
          continue;
        }
        if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new TypeError(`store: ${column} must be a safe integer, got ${String(v)}`);
        if (wide) {
          const high = Math.floor(v / TWO_32);
          buf.writeInt32BE(8, pos);
          buf.writeInt32BE(high, pos + 4);
          buf.writeUInt32BE(v - high * TWO_32, pos + 8);
          pos += 12;
        } else {
          if (v < -0x80000000 || v > 0x7fffffff) throw new RangeError(`store: ${column} must be a 32-bit integer, got ${v}`);
          buf.writeInt32BE(4, pos);
          buf.writeInt32BE(v, pos + 4);
          pos += 8;
        }
      }
    }
    const buf = this.buf;
    const at = this.start;
    buf.writeInt32BE(1, at);
    buf.writeInt32BE(nulls, at + 4);
    buf.writeInt32BE(OIDS[type], at + 8);
    buf.writeInt32BE(n, at + 12);
    buf.writeInt32BE(1, at + 16);
    this.pos = pos;
    return buf.subarray(at, pos);
  }

  /** Makes room for `bytes` more at `pos`: a bigger buffer, with the column written so far moved to its start. */
  private room(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const partial = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, partial + bytes + 1024));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = partial;
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
