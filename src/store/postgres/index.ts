/**
 * PostgreSQL adapter: production's system of record. pg Pool under Kysely. The pool parses
 * int8 (bigint columns, counts) into JS numbers, on this pool only: a value past 2^53 stays a
 * string, which the row mappers reject loudly rather than round.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { StoreLockedError } from '../errors.js';
import { KyselyStore, type WriterLock } from '../kysely-store.js';
import { PostgresBatchWriter } from './batch-writer.js';
import type { Store } from '../port.js';
import type { Database } from '../schema.js';

const INT8_OID = 20;

export interface PostgresStoreOptions {
  /** postgres://user:pass@host:port/db */
  readonly url: string;
  readonly maxConnections?: number;
  /** Any one statement longer than this is cancelled. */
  readonly statementTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Errors of idle pooled connections (e.g. the server restarted); the pool drops the client. */
  readonly onIdleError?: (err: Error) => void;
}

function parseInt8(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    types,
  });
  pool.on('error', options.onIdleError ?? ((err) => console.error(`store: idle PostgreSQL connection failed: ${err.message}`)));
  try {
    await pool.query('select 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new Error(`store: cannot connect to PostgreSQL at ${redact(options.url)}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return new KyselyStore(db, 'postgres', new PostgresBatchWriter(pool), advisoryLock(pool));
}

/** The writer lock's key: a session advisory lock, per database ('suan', 'li'). */
const LOCK_KEY: readonly [number, number] = [0x7375616e, 0x6c690000];

/**
 * The writer lock on PostgreSQL: a session advisory lock (per database) on a connection taken
 * out of the pool for as long as it is held. The server drops it with that connection, so an
 * exchange that dies never leaves it behind. If the connection is lost while the exchange runs,
 * the lock goes with it; the journal check of every commit still refuses a second writer's batch.
 */
function advisoryLock(pool: pg.Pool): WriterLock {
  let held: pg.PoolClient | null = null;
  return {
    async acquire() {
      const client = await pool.connect();
      let ok = false;
      try {
        const r = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1, $2) as locked', [...LOCK_KEY]);
        ok = r.rows[0]?.locked === true;
      } catch (err) {
        client.release(err instanceof Error ? err : true);
        throw err;
      }
      if (!ok) {
        client.release();
        throw new StoreLockedError('store: another exchange is using this database (its advisory lock is held); stop it first');
      }
      // An idle checked-out client's errors (the server went away) must not crash the process.
      client.on('error', () => undefined);
      held = client;
    },
    async release() {
      const client = held;
      held = null;
      if (client === null) return;
      try {
        await client.query('select pg_advisory_unlock($1, $2)', [...LOCK_KEY]);
        client.release();
      } catch (err) {
        client.release(err instanceof Error ? err : true);
      }
    },
  };
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
