/**
 * The agent protocol's tables: enrollment tokens and node credentials (hashes only), what each
 * agent node's hardware attested, and bounded lease logs; leases gain the buyer's workload and
 * the access details the agent reported. Same rules as 001: portable types, no foreign keys.
 */
import { type Kysely, type Migration, sql } from 'kysely';
import type { SqlDialectName } from './index.js';

export function agents002(dialect: SqlDialectName): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('enrollment_tokens')
        .addColumn('token_hash', key, (c) => c.primaryKey())
        .addColumn('id', key, (c) => c.notNull().unique())
        .addColumn('provider_id', key, (c) => c.notNull())
        .addColumn('region_id', 'text', (c) => c.notNull())
        .addColumn('accelerator_id', 'text')
        .addColumn('gpu_count', 'integer')
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('used_at_ms', 'bigint')
        .addColumn('node_id', key)
        .execute();
      await db.schema.createIndex('enrollment_tokens_provider').on('enrollment_tokens').columns(['provider_id', 'created_at_ms']).execute();

      await db.schema
        .createTable('node_credentials')
        .addColumn('token_hash', key, (c) => c.primaryKey())
        .addColumn('node_id', key, (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at_ms', 'bigint')
        .execute();
      await db.schema.createIndex('node_credentials_node').on('node_credentials').column('node_id').execute();

      await db.schema
        .createTable('node_attestations')
        .addColumn('node_id', key, (c) => c.primaryKey())
        .addColumn('verdict', 'text', (c) => c.notNull())
        .addColumn('reasons', 'text', (c) => c.notNull())
        .addColumn('hardware', 'text', (c) => c.notNull())
        .addColumn('measured_tflops', 'text')
        .addColumn('agent_version', 'text', (c) => c.notNull())
        .addColumn('at_ms', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('lease_logs')
        .addColumn('lease_id', key, (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('stream', 'text', (c) => c.notNull())
        .addColumn('line', 'text', (c) => c.notNull())
        .addColumn('at_ms', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('lease_logs_pk', ['lease_id', 'seq'])
        .execute();

      await db.schema.alterTable('leases').addColumn('workload', 'text').execute();
      await db.schema.alterTable('leases').addColumn('access', 'text').execute();
      await db.schema.createIndex('nodes_kind').on('nodes').columns(['kind', 'created_at_ms', 'id']).execute();
    },

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropIndex('nodes_kind').ifExists().execute();
      await db.schema.alterTable('leases').dropColumn('access').execute();
      await db.schema.alterTable('leases').dropColumn('workload').execute();
      for (const t of ['lease_logs', 'node_attestations', 'node_credentials', 'enrollment_tokens']) await db.schema.dropTable(t).ifExists().execute();
    },
  };
}
