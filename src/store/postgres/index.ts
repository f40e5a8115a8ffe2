/**
 * PostgreSQL adapter: production's system of record. pg Pool under Kysely. The pool parses
 * int8 (bigint columns, counts) into JS numbers, on this pool only: a value past 2^53 stays a
 * string, which the row mappers reject loudly rather than round.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { KyselyStore } from '../kysely-store.js';
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
  return new KyselyStore(db, 'postgres', new PostgresBatchWriter(pool));
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
