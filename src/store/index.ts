/**
 * The store: `openStore(DATABASE_URL)` picks the adapter by the location's form —
 * `postgres://` or `postgresql://` is PostgreSQL, anything else a SQLite file path.
 * Call `migrate()` once after opening, before anything else.
 */
import { openPostgresStore } from './postgres/index.js';
import type { Store } from './port.js';
import { DEFAULT_SQLITE_FILE, openSqliteStore } from './sqlite/index.js';

export * from './port.js';
export { InvalidCursorError, JournalSequenceError, StoreLockedError } from './errors.js';
export { DEFAULT_SQLITE_FILE, openSqliteStore } from './sqlite/index.js';
export { openPostgresStore } from './postgres/index.js';

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** `location` is usually `process.env.DATABASE_URL ?? DEFAULT_SQLITE_FILE`. */
export function openStore(location: string = DEFAULT_SQLITE_FILE): Promise<Store> {
  return isPostgresUrl(location) ? openPostgresStore({ url: location }) : openSqliteStore({ file: location });
}
