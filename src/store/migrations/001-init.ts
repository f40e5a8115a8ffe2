/**
 * The first schema. Portable column types only: ids and keys text, times epoch-ms bigint,
 * money amounts that may pass 2^53 as decimal text, JSON as text. On PostgreSQL, ids use the
 * "C" collation so they sort byte-wise exactly as SQLite's BINARY does: pages come back in the
 * same order on both databases. No foreign keys: these tables are projections of the journal,
 * written in one transaction by one writer, and a key violation would only turn a bug into an
 * outage (the pragma stays on so a later migration can add them).
 */
import { type Kysely, type Migration, sql } from 'kysely';
import type { SqlDialectName } from './index.js';

const TABLES = [
  'journal',
  'users',
  'sessions',
  'api_keys',
  'idempotency_keys',
  'nodes',
  'orders',
  'trades',
  'leases',
  'transfers',
  'settings',
] as const;

export function init001(dialect: SqlDialectName): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    // Kysely's documented convention: migrations use Kysely<any>, frozen in time.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('journal')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('at_ms', 'bigint', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('result', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('users')
        .addColumn('id', key, (c) => c.primaryKey())
        .addColumn('email', key, (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('disabled_at_ms', 'bigint')
        .execute();
      await db.schema.createIndex('users_created').on('users').columns(['created_at_ms', 'id']).execute();

      await db.schema
        .createTable('sessions')
        .addColumn('id_hash', key, (c) => c.primaryKey())
        .addColumn('user_id', key, (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
      await db.schema.createIndex('sessions_expires').on('sessions').column('expires_at_ms').execute();

      await db.schema
        .createTable('api_keys')
        .addColumn('id', key, (c) => c.primaryKey())
        .addColumn('user_id', key, (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('key_hash', key, (c) => c.notNull().unique())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at_ms', 'bigint')
        .addColumn('revoked_at_ms', 'bigint')
        .execute();
      await db.schema.createIndex('api_keys_user').on('api_keys').columns(['user_id', 'created_at_ms', 'id']).execute();

      await db.schema
        .createTable('idempotency_keys')
        .addColumn('user_id', key, (c) => c.notNull())
        .addColumn('key', key, (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('status_code', 'integer', (c) => c.notNull())
        .addColumn('response', 'text', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['user_id', 'key'])
        .execute();
      await db.schema.createIndex('idempotency_keys_created').on('idempotency_keys').column('created_at_ms').execute();

      await db.schema
        .createTable('nodes')
        .addColumn('id', key, (c) => c.primaryKey())
        .addColumn('provider_id', key, (c) => c.notNull())
        .addColumn('accelerator_id', key, (c) => c.notNull())
        .addColumn('region_id', key, (c) => c.notNull())
        .addColumn('gpu_count', 'integer', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('nodes_provider').on('nodes').columns(['provider_id', 'created_at_ms', 'id']).execute();
      await db.schema.createIndex('nodes_created').on('nodes').columns(['created_at_ms', 'id']).execute();

      await db.schema
        .createTable('orders')
        .addColumn('id', key, (c) => c.primaryKey())
        .addColumn('user_id', key, (c) => c.notNull())
        .addColumn('side', 'text', (c) => c.notNull())
        .addColumn('markets', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('remaining', 'bigint', (c) => c.notNull())
        .addColumn('price_fen', 'bigint', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('orders_user').on('orders').columns(['user_id', 'created_at_ms', 'id']).execute();

      await db.schema
        .createTable('trades')
        .addColumn('id', key, (c) => c.primaryKey())
        .addColumn('bid_id', key, (c) => c.notNull())
        .addColumn('ask_id', key, (c) => c.notNull())
        .addColumn('buyer_id', key, (c) => c.notNull())
        .addColumn('provider_id', key, (c) => c.notNull())
        .addColumn('market', key, (c) => c.notNull())
        .addColumn('gpus', 'integer', (c) => c.notNull())
        .addColumn('price_fen', 'bigint', (c) => c.notNull())
        .addColumn('start_ms', 'bigint', (c) => c.notNull())
        .addColumn('end_ms', 'bigint', (c) => c.notNull())
        .addColumn('at_ms', 'bigint', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .execute();
      // id last in each index: the keyset order of the pages.
      await db.schema.createIndex('trades_market').on('trades').columns(['market', 'at_ms', 'id']).execute();
      await db.schema.createIndex('trades_buyer').on('trades').columns(['buyer_id', 'at_ms', 'id']).execute();
      await db.schema.createIndex('trades_provider').on('trades').columns(['provider_id', 'at_ms', 'id']).execute();
      await db.schema.createIndex('trades_at').on('trades').columns(['at_ms', 'id']).execute();

      await db.schema
        .createTable('leases')
        .addColumn('id', key, (c) => c.primaryKey())
        .addColumn('trade_id', key, (c) => c.notNull())
        .addColumn('node_id', key, (c) => c.notNull())
        .addColumn('buyer_id', key, (c) => c.notNull())
        .addColumn('provider_id', key, (c) => c.notNull())
        .addColumn('market', key, (c) => c.notNull())
        .addColumn('gpu_indices', 'text', (c) => c.notNull())
        .addColumn('price_fen', 'bigint', (c) => c.notNull())
        .addColumn('start_ms', 'bigint', (c) => c.notNull())
        .addColumn('end_ms', 'bigint', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('ended_at_ms', 'bigint')
        .addColumn('end_reason', 'text')
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('leases_buyer').on('leases').columns(['buyer_id', 'created_at_ms', 'id']).execute();
      await db.schema.createIndex('leases_provider').on('leases').columns(['provider_id', 'created_at_ms', 'id']).execute();
      await db.schema.createIndex('leases_node').on('leases').column('node_id').execute();

      await db.schema
        .createTable('transfers')
        .addColumn('id', key, (c) => c.primaryKey())
        .addColumn('debit_account_id', key, (c) => c.notNull())
        .addColumn('credit_account_id', key, (c) => c.notNull())
        .addColumn('amount_fen', 'text', (c) => c.notNull())
        .addColumn('code', 'text', (c) => c.notNull())
        .addColumn('flags', 'integer', (c) => c.notNull())
        .addColumn('pending_id', key)
        .addColumn('user_data', 'text', (c) => c.notNull())
        .addColumn('at_ms', 'bigint', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('transfers_debit').on('transfers').columns(['debit_account_id', 'seq', 'id']).execute();
      await db.schema.createIndex('transfers_credit').on('transfers').columns(['credit_account_id', 'seq', 'id']).execute();

      await db.schema
        .createTable('settings')
        .addColumn('key', key, (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async down(db: Kysely<any>): Promise<void> {
      for (const table of [...TABLES].reverse()) await db.schema.dropTable(table).ifExists().execute();
    },
  };
}
