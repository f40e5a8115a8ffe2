/**
 * Every migration, in code: no file-system lookups, so it runs the same from src/ (vitest) and
 * dist/ (the built CLI). Names sort in the order they apply; never edit one that has shipped,
 * add the next (`002_…`).
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import { init001 } from './001-init.js';
import { agents002 } from './002-agents.js';

export type SqlDialectName = 'sqlite' | 'postgres';

export function migrationProvider(dialect: SqlDialectName): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      return { '001_init': init001(dialect), '002_agents': agents002(dialect) };
    },
  };
}

/** Applies every pending migration; throws the first failure (that migration rolls back). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function migrateToLatest(db: Kysely<any>, dialect: SqlDialectName): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider(dialect),
    migrationTableName: 'schema_migrations',
    migrationLockTableName: 'schema_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`store migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}
