/**
 * The two store adapters every cross-layer suite runs on: a fresh SQLite file in a temporary
 * folder, and a fresh PostgreSQL database (support/pg.ts). Call at module level: it registers the
 * hooks that create both before the file's tests and remove them after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openPostgresStore, openSqliteStore, type Store } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from './pg.js';

export interface StoreAdapter {
  readonly name: 'sqlite' | 'postgres';
  /** A store on a new SQLite file, or on the file's PostgreSQL database. */
  readonly open: () => Promise<Store>;
}

export interface StoreAdapters {
  readonly adapters: readonly StoreAdapter[];
  /** The temporary folder (valid inside tests). */
  dir(): string;
}

export function storeAdapters(prefix: string): StoreAdapters {
  let dir = '';
  let pgdb: TestDatabase | null = null;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `suanli-${prefix}-`));
    pgdb = await createTestDatabase();
  });
  afterAll(async () => {
    await pgdb?.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    adapters: [
      { name: 'sqlite', open: () => openSqliteStore({ file: join(dir, `${prefix}-${Math.random().toString(36).slice(2)}.db`) }) },
      { name: 'postgres', open: () => openPostgresStore({ url: pgdb!.url }) },
    ],
    dir: () => dir,
  };
}
