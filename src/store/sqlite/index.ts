/**
 * SQLite adapter: the embedded default. better-sqlite3 under Kysely for reads and migrations,
 * and a writer thread with its own connection for `commit` (batch-writer.ts); WAL so readers
 * never block the writer, synchronous=FULL so an acknowledged commit survives a power cut (WAL's
 * NORMAL could lose the last commits), busy_timeout so a connection waits for another's write
 * lock (the other connection's, or a second process's) instead of failing.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import { StoreLockedError } from '../errors.js';
import { KyselyStore, type WriterLock } from '../kysely-store.js';
import { SqliteBatchWriter, SqliteThreadWriter, sqlitePragmas } from './batch-writer.js';
import type { Store } from '../port.js';
import type { Database } from '../schema.js';

export const DEFAULT_SQLITE_FILE = './data/suanli.db';

export interface SqliteStoreOptions {
  /** A file path (its folder is created), or ':memory:' for a throwaway store. */
  readonly file: string;
  /** How long to wait for another process's write lock. */
  readonly busyTimeoutMs?: number;
}

/** Most prepared statements one connection keeps (see `cachedStatements`). */
const STATEMENT_CACHE_SIZE = 256;

/**
 * The connection as Kysely's dialect sees it, with its prepared statements kept by SQL text.
 * Kysely prepares every query anew, and on the serving thread SQLite's parse and plan of the
 * same few dozen query texts took a noticeable share of each read. A statement is reused only
 * while it is idle (`busy` is an iteration in progress: then a fresh one is prepared), and at
 * most STATEMENT_CACHE_SIZE texts are kept, the least recently used dropped first, so queries
 * whose text varies (IN lists of any length) cannot grow it without bound. SQLite re-prepares a
 * kept statement itself after a schema change (the migrations).
 */
export function cachedStatements(sqlite: BetterSqlite3.Database, size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      const kept = cache.get(sql);
      if (kept !== undefined && !kept.busy) {
        // Most recently used last: Map keeps insertion order.
        cache.delete(sql);
        cache.set(sql, kept);
        return kept;
      }
      const stmt = sqlite.prepare(sql);
      if (kept === undefined) {
        cache.set(sql, stmt);
        if (cache.size > size) cache.delete(cache.keys().next().value as string);
      }
      return stmt;
    },
  };
}

export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const { file } = options;
  const busyTimeoutMs = options.busyTimeoutMs ?? 5_000;
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) throw new RangeError('store: busyTimeoutMs must be a non-negative integer');
  const inMemory = file === ':memory:' || file === '';
  if (!inMemory) mkdirSync(dirname(resolve(file)), { recursive: true });
  const sqlite = new BetterSqlite3(file);
  try {
    if (!inMemory) {
      const mode = sqlite.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') throw new Error(`store: ${file} refused WAL mode (got ${String(mode)})`);
    }
    for (const p of sqlitePragmas(busyTimeoutMs)) sqlite.pragma(p);
  } catch (err) {
    sqlite.close();
    throw err;
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachedStatements(sqlite) }) });
  // An in-memory database is this connection's alone: its writes stay on this thread.
  const writer = inMemory ? new SqliteBatchWriter(sqlite, db) : new SqliteThreadWriter(resolve(file), busyTimeoutMs);
  return new KyselyStore(db, 'sqlite', writer, inMemory ? undefined : lockFile(`${resolve(file)}.lock`));
}

/**
 * The writer lock of a file store: an exclusive transaction held open on a small SQLite file
 * beside the database (`<file>.lock`). SQLite takes it with the operating system's file locks,
 * which another process cannot take meanwhile and which go with the process however it ends
 * (SIGKILL included), so a crashed exchange never leaves a stale lock; another connection of this
 * process is refused the same way. The file itself stays and means nothing on its own.
 */
function lockFile(path: string): WriterLock {
  let held: BetterSqlite3.Database | null = null;
  return {
    async acquire() {
      const conn = new BetterSqlite3(path);
      try {
        conn.pragma('busy_timeout = 0');
        conn.exec('begin exclusive');
      } catch (err) {
        conn.close();
        if ((err as { code?: unknown }).code === 'SQLITE_BUSY') {
          throw new StoreLockedError(`store: another exchange is using this database (its lock ${path} is held); stop it first`);
        }
        throw err;
      }
      held = conn;
    },
    async release() {
      held?.close(); // closing rolls the empty transaction back and drops the lock
      held = null;
    },
  };
}
