/**
 * The write side of `commit`, shared by both adapters: the batch is checked and mapped to rows
 * here (before any transaction opens), and each adapter's `batch-writer.ts` writes those rows in
 * ONE transaction with statements built once per table from `TABLES` (no query building per
 * batch: the command loop's group commit writes thousands of rows a batch, and building and
 * compiling them through the query builder cost more than the database's own work).
 */
import { JournalSequenceError } from './errors.js';
import { MAX_COMMIT_ROWS, type CommitBatch } from './port.js';
import * as rows from './rows.js';
import type { Database, JournalTable } from './schema.js';

/** Longest key argument a read or a delete accepts (ids, hashes, emails, market keys). */
const MAX_KEY_CHARS = 1_024;

/** A column's PostgreSQL type (SQLite takes every value as is). */
export type PgType = 'text' | 'int8' | 'int4';

export interface TableSpec {
  readonly table: keyof Database;
  /** Every column, in statement order; each row the mappers build has exactly these keys. */
  readonly columns: readonly (readonly [name: string, pg: PgType])[];
  /** Upsert on these (every other column overwritten); absent: plain insert. */
  readonly conflictKeys?: readonly string[];
}

const t = (name: string): readonly [string, PgType] => [name, 'text'];
const i8 = (name: string): readonly [string, PgType] => [name, 'int8'];
const i4 = (name: string): readonly [string, PgType] => [name, 'int4'];

/** The tables `commit` writes, in the order it writes them (journal first: a repeated seq fails fast). */
export const TABLES = {
  journal: { table: 'journal', columns: [i8('seq'), i8('at_ms'), t('kind'), t('command'), t('result')] },
  users: {
    table: 'users',
    columns: [t('id'), t('email'), t('password_hash'), t('role'), t('display_name'), i8('created_at_ms'), i8('disabled_at_ms')],
    conflictKeys: ['id'],
  },
  sessions: { table: 'sessions', columns: [t('id_hash'), t('user_id'), i8('created_at_ms'), i8('expires_at_ms')], conflictKeys: ['id_hash'] },
  apiKeys: {
    table: 'api_keys',
    columns: [t('id'), t('user_id'), t('name'), t('key_hash'), t('scopes'), i8('created_at_ms'), i8('last_used_at_ms'), i8('revoked_at_ms')],
    conflictKeys: ['id'],
  },
  idempotency: {
    table: 'idempotency_keys',
    columns: [t('user_id'), t('key'), t('request_hash'), i4('status_code'), t('response'), i8('created_at_ms')],
  },
  nodes: {
    table: 'nodes',
    columns: [
      t('id'), t('provider_id'), t('accelerator_id'), t('region_id'), i4('gpu_count'), t('kind'), t('status'), t('spec'),
      i8('created_at_ms'), i8('updated_at_ms'),
    ],
    conflictKeys: ['id'],
  },
  orders: {
    table: 'orders',
    columns: [
      t('id'), t('user_id'), t('side'), t('markets'), t('spec'), t('status'), i8('remaining'), i8('price_fen'), i8('created_at_ms'),
      i8('updated_at_ms'),
    ],
    conflictKeys: ['id'],
  },
  trades: {
    table: 'trades',
    columns: [
      t('id'), t('bid_id'), t('ask_id'), t('buyer_id'), t('provider_id'), t('market'), i4('gpus'), i8('price_fen'), i8('start_ms'),
      i8('end_ms'), i8('at_ms'), i8('seq'),
    ],
  },
  leases: {
    table: 'leases',
    columns: [
      t('id'), t('trade_id'), t('node_id'), t('buyer_id'), t('provider_id'), t('market'), t('gpu_indices'), i8('price_fen'),
      i8('start_ms'), i8('end_ms'), t('state'), i8('ended_at_ms'), t('end_reason'), i8('created_at_ms'), i8('updated_at_ms'),
      t('workload'), t('access'),
    ],
    conflictKeys: ['id'],
  },
  transfers: {
    table: 'transfers',
    columns: [
      t('id'), t('debit_account_id'), t('credit_account_id'), t('amount_fen'), t('code'), i4('flags'), t('pending_id'), t('user_data'),
      i8('at_ms'), i8('seq'),
    ],
  },
  settings: { table: 'settings', columns: [t('key'), t('value')], conflictKeys: ['key'] },
  enrollmentTokens: {
    table: 'enrollment_tokens',
    columns: [
      t('token_hash'), t('id'), t('provider_id'), t('region_id'), t('accelerator_id'), i4('gpu_count'), t('label'), i8('created_at_ms'),
      i8('expires_at_ms'), i8('used_at_ms'), t('node_id'),
    ],
    conflictKeys: ['token_hash'],
  },
  nodeCredentials: {
    table: 'node_credentials',
    columns: [t('token_hash'), t('node_id'), i8('created_at_ms'), i8('revoked_at_ms')],
    conflictKeys: ['token_hash'],
  },
  nodeAttestations: {
    table: 'node_attestations',
    columns: [t('node_id'), t('verdict'), t('reasons'), t('hardware'), t('measured_tflops'), t('agent_version'), i8('at_ms')],
    conflictKeys: ['node_id'],
  },
  // Upserted, not inserted: a repeated log line must never fail a batch (and stop the exchange).
  leaseLogs: { table: 'lease_logs', columns: [t('lease_id'), i8('seq'), t('stream'), t('line'), i8('at_ms')], conflictKeys: ['lease_id', 'seq'] },
} as const satisfies Record<string, TableSpec>;

export type RowTable = keyof typeof TABLES;
export const ROW_TABLES = Object.keys(TABLES) as RowTable[];

/** A mapped row: column name → value, as `rows.ts` builds it. */
export type DbRow = Readonly<Record<string, unknown>>;

/** What a writer deletes after the rows, checked and merged. */
export interface PreparedDeletes {
  readonly sessionIdHashes: readonly string[];
  readonly sessionsOfUserIds: readonly string[];
  readonly sessionsExpiredAtMs: number | undefined;
  readonly leaseLogsUpTo: readonly { readonly leaseId: string; readonly upToSeq: number }[];
  readonly idempotencyCreatedBeforeMs: number | undefined;
}

export interface PreparedBatch {
  readonly rowCount: number;
  readonly journal: readonly JournalTable[];
  /** Rows per table (journal included), in `TABLES` order; upserts hold one row per key. */
  readonly rows: { readonly [K in RowTable]: readonly DbRow[] };
  readonly deletes: PreparedDeletes | undefined;
}

/**
 * Writes a prepared batch in one transaction, all or nothing, checking inside it that the
 * journal rows continue the stored journal (`checkJournalContinues`).
 */
export interface BatchWriter {
  write(batch: PreparedBatch): Promise<void>;
  /** Releases what the writer holds of its own (a thread, a connection); the store's close calls it first. */
  close?(): Promise<void>;
}

/** The upsert tail of `spec`'s insert (every non-key column from `excluded`), or '' for a plain insert. */
export function onConflictSql(spec: TableSpec): string {
  const keys = spec.conflictKeys;
  if (keys === undefined) return '';
  const updates = spec.columns.filter(([name]) => !keys.includes(name)).map(([name]) => `"${name}" = excluded."${name}"`);
  return ` on conflict (${keys.map((k) => `"${k}"`).join(', ')}) do update set ${updates.join(', ')}`;
}

export function checkInt(what: string, v: number): number {
  if (!Number.isSafeInteger(v)) throw new RangeError(`store: ${what} must be a safe integer, got ${String(v)}`);
  return v;
}

export function key(what: string, v: string): string {
  if (typeof v !== 'string' || v.length > MAX_KEY_CHARS) throw new RangeError(`store: ${what} must be a string of at most ${MAX_KEY_CHARS} characters`);
  return v;
}

const NONE: readonly never[] = [];

function mapAll<S, R>(list: readonly S[] | undefined, map: (row: S) => R): readonly R[] {
  if (list === undefined || list.length === 0) return NONE;
  const out = new Array<R>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = map(list[i]!);
  return out;
}

/** Checks and maps everything before the transaction opens; a bad row throws here. */
export function prepareBatch(batch: CommitBatch): PreparedBatch {
  let count = 0;
  for (const table of ROW_TABLES) count += batch[table]?.length ?? 0;
  if (count > MAX_COMMIT_ROWS) throw new RangeError(`store: a commit takes at most ${MAX_COMMIT_ROWS} rows, got ${count}`);

  const journal = mapAll(batch.journal, rows.journalToDb);
  for (let i = 1; i < journal.length; i++) {
    if (journal[i]!.seq !== journal[i - 1]!.seq + 1) {
      throw new JournalSequenceError(`journal batch is not gap-free: seq ${journal[i]!.seq} follows ${journal[i - 1]!.seq}`);
    }
  }
  if (journal.length > 0 && journal[0]!.seq < 1) throw new JournalSequenceError('journal seqs start at 1');
  return {
    rowCount: count,
    journal,
    rows: {
      journal: journal as unknown as readonly DbRow[],
      users: lastWins(mapAll(batch.users, rows.userToDb), (r) => r.id),
      sessions: lastWins(mapAll(batch.sessions, rows.sessionToDb), (r) => r.id_hash),
      apiKeys: lastWins(mapAll(batch.apiKeys, rows.apiKeyToDb), (r) => r.id),
      idempotency: mapAll(batch.idempotency, rows.idempotencyToDb) as unknown as readonly DbRow[],
      nodes: lastWins(mapAll(batch.nodes, rows.nodeToDb), (r) => r.id),
      orders: lastWins(mapAll(batch.orders, rows.orderToDb), (r) => r.id),
      trades: mapAll(batch.trades, rows.tradeToDb) as unknown as readonly DbRow[],
      leases: lastWins(mapAll(batch.leases, rows.leaseToDb), (r) => r.id),
      transfers: mapAll(batch.transfers, rows.transferToDb) as unknown as readonly DbRow[],
      settings: lastWins(mapAll(batch.settings, rows.settingToDb), (r) => r.key),
      enrollmentTokens: lastWins(mapAll(batch.enrollmentTokens, rows.enrollmentTokenToDb), (r) => r.token_hash),
      nodeCredentials: lastWins(mapAll(batch.nodeCredentials, rows.nodeCredentialToDb), (r) => r.token_hash),
      nodeAttestations: lastWins(mapAll(batch.nodeAttestations, rows.nodeAttestationToDb), (r) => r.node_id),
      leaseLogs: lastWins(mapAll(batch.leaseLogs, rows.leaseLogToDb), (r) => `${r.lease_id}\u0000${r.seq}`),
    },
    deletes: prepareDeletes(batch),
  };
}

function prepareDeletes(batch: CommitBatch): PreparedDeletes | undefined {
  const d = batch.deletes;
  if (d === undefined) return undefined;
  return {
    sessionIdHashes: (d.sessionIdHashes ?? []).map((h) => key('sessionIdHash', h)),
    sessionsOfUserIds: (d.sessionsOfUserIds ?? []).map((u) => key('userId', u)),
    sessionsExpiredAtMs: d.sessionsExpiredAtMs === undefined ? undefined : checkInt('sessionsExpiredAtMs', d.sessionsExpiredAtMs),
    leaseLogsUpTo: (d.leaseLogsUpTo ?? []).map((cut) => ({ leaseId: key('leaseId', cut.leaseId), upToSeq: checkInt('upToSeq', cut.upToSeq) })),
    idempotencyCreatedBeforeMs:
      d.idempotencyCreatedBeforeMs === undefined ? undefined : checkInt('idempotencyCreatedBeforeMs', d.idempotencyCreatedBeforeMs),
  };
}

/** One row per key, the last given: PostgreSQL refuses to upsert one key twice in a statement. */
function lastWins<R extends object>(list: readonly R[], keyOf: (row: R) => string): readonly DbRow[] {
  if (list.length < 2) return list as unknown as readonly DbRow[];
  const byKey = new Map<string, R>();
  for (const row of list) byKey.set(keyOf(row), row);
  return (byKey.size === list.length ? list : [...byKey.values()]) as unknown as readonly DbRow[];
}

/**
 * The batch's seqs are gap-free (checked in `prepareBatch`); what remains is that they start
 * right after the stored journal (`storedMax`, 0 when empty): nothing missing before, nothing at
 * or beyond. Writers check it inside their transaction, holding the write lock.
 */
export function checkJournalContinues(first: number, storedMax: number): void {
  if (storedMax >= first) throw new JournalSequenceError(`journal has seq ${storedMax} at or beyond this batch's first ${first}`);
  if (storedMax !== first - 1) throw new JournalSequenceError(`journal batch starts at seq ${first} but seq ${first - 1} is not stored`);
}
