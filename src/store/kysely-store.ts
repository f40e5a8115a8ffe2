/**
 * The one query layer both adapters share: `Store` over a Kysely instance. The adapters only
 * build the dialect (connection, pragmas, type parsers) and their `BatchWriter` (the write side
 * of `commit`, which bypasses the query builder: batch-writer.ts) and hand both here.
 */
import type { Kysely } from 'kysely';
import { type BatchWriter, checkInt, key, prepareBatch } from './batch-writer.js';
import { decodeCursor, encodeCursor, type CursorPosition } from './cursor.js';
import { candlesQuery, tradeVolumeQuery } from './market-stats.js';
import { migrateToLatest, type SqlDialectName } from './migrations/index.js';
import {
  MAX_JOURNAL_PAGE_LIMIT,
  MAX_LOG_PAGE_LIMIT,
  MAX_PAGE_LIMIT,
  MAX_SETTINGS,
  type ApiKeyRow,
  type Candle,
  type EnrollmentTokenRow,
  type LeaseLogRow,
  type NodeAttestationRow,
  type NodeCredentialRow,
  type CommitBatch,
  type IdempotencyRow,
  type JournalEntry,
  type LeaseRow,
  type LeaseState,
  type NodeRow,
  type OrderRow,
  type OrderSide,
  type OrderStatus,
  type Page,
  type PageRequest,
  type SessionRow,
  type SettingRow,
  type Store,
  type TradeRow,
  type TradeVolume,
  type TransferRow,
  type UserRow,
} from './port.js';
import * as rows from './rows.js';
import type { Database } from './schema.js';

/** An adapter's writer lock (see Store.lockWriter): `acquire` throws StoreLockedError when it is taken. */
export interface WriterLock {
  acquire(): Promise<void>;
  release(): Promise<void>;
}

export class KyselyStore implements Store {
  private closed = false;
  private locked = false;

  constructor(
    private readonly db: Kysely<Database>,
    readonly dialect: SqlDialectName,
    /** The adapter's own writer for `commit` (see batch-writer.ts). */
    private readonly writer: BatchWriter,
    /** Absent: nothing to lock (an in-memory store). */
    private readonly writerLock?: WriterLock,
  ) {}

  async lockWriter(): Promise<void> {
    if (this.closed) throw new Error('store: the store is closed');
    if (this.locked || this.writerLock === undefined) return;
    await this.writerLock.acquire();
    this.locked = true;
  }

  async migrate(): Promise<void> {
    await migrateToLatest(this.db, this.dialect);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.writer.close?.();
    } finally {
      try {
        // Once every write is done: another process may take over from here. Before the pool
        // ends (PostgreSQL's lock holds one of its connections).
        if (this.locked) await this.writerLock!.release();
      } finally {
        await this.db.destroy();
      }
    }
  }

  // ---- writes ----

  async commit(batch: CommitBatch): Promise<void> {
    if (this.closed) throw new Error('store: the store is closed');
    const w = prepareBatch(batch);
    if (w.rowCount === 0 && w.deletes === undefined) return;
    await this.writer.write(w);
  }

  // ---- journal ----

  async journalAfter(afterSeq: number, limit: number): Promise<readonly JournalEntry[]> {
    checkInt('afterSeq', afterSeq);
    checkLimit(limit, MAX_JOURNAL_PAGE_LIMIT);
    const found = await this.db
      .selectFrom('journal')
      .selectAll()
      .where('seq', '>', afterSeq)
      .orderBy('seq', 'asc')
      .limit(limit)
      .execute();
    return found.map(rows.journalFromDb);
  }

  async lastJournalSeq(): Promise<number> {
    const row = await this.db
      .selectFrom('journal')
      .select((eb) => eb.fn.max('seq').as('max_seq'))
      .executeTakeFirst();
    return row?.max_seq === null || row?.max_seq === undefined ? 0 : rows.num(row.max_seq);
  }

  // ---- accounts and auth ----

  async userByEmail(email: string): Promise<UserRow | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('email', '=', key('email', email)).executeTakeFirst();
    return row && rows.userFromDb(row);
  }

  async userById(id: string): Promise<UserRow | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', key('id', id)).executeTakeFirst();
    return row && rows.userFromDb(row);
  }

  async listUsers(page: PageRequest): Promise<Page<UserRow>> {
    const limit = checkLimit(page.limit);
    const pos = decodeCursor('users', page.cursor);
    let q = this.db.selectFrom('users').selectAll();
    if (pos) q = q.where((eb) => eb(eb.refTuple('created_at_ms', 'id'), '>', eb.tuple(pos.sortKey, pos.id)));
    const found = await q.orderBy('created_at_ms', 'asc').orderBy('id', 'asc').limit(limit + 1).execute();
    return toPage('users', found, limit, rows.userFromDb, (r) => ({ sortKey: r.created_at_ms, id: r.id }));
  }

  async sessionByHash(idHash: string): Promise<SessionRow | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id_hash', '=', key('idHash', idHash)).executeTakeFirst();
    return row && rows.sessionFromDb(row);
  }

  async apiKeyByHash(keyHash: string): Promise<ApiKeyRow | undefined> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('key_hash', '=', key('keyHash', keyHash)).executeTakeFirst();
    return row && rows.apiKeyFromDb(row);
  }

  async listApiKeys(query: { readonly userId: string } & PageRequest): Promise<Page<ApiKeyRow>> {
    const limit = checkLimit(query.limit);
    const pos = decodeCursor('apiKeys', query.cursor);
    let q = this.db.selectFrom('api_keys').selectAll().where('user_id', '=', key('userId', query.userId));
    if (pos) q = q.where((eb) => eb(eb.refTuple('created_at_ms', 'id'), '>', eb.tuple(pos.sortKey, pos.id)));
    const found = await q.orderBy('created_at_ms', 'asc').orderBy('id', 'asc').limit(limit + 1).execute();
    return toPage('apiKeys', found, limit, rows.apiKeyFromDb, (r) => ({ sortKey: r.created_at_ms, id: r.id }));
  }

  async idempotency(userId: string, idempotencyKey: string): Promise<IdempotencyRow | undefined> {
    const row = await this.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('user_id', '=', key('userId', userId))
      .where('key', '=', key('key', idempotencyKey))
      .executeTakeFirst();
    return row && rows.idempotencyFromDb(row);
  }

  // ---- market ----

  async getOrder(id: string): Promise<OrderRow | undefined> {
    const row = await this.db.selectFrom('orders').selectAll().where('id', '=', key('id', id)).executeTakeFirst();
    return row && rows.orderFromDb(row);
  }

  async listOrders(
    query: { readonly userId: string; readonly side?: OrderSide; readonly status?: OrderStatus } & PageRequest,
  ): Promise<Page<OrderRow>> {
    const limit = checkLimit(query.limit);
    const pos = decodeCursor('orders', query.cursor);
    let q = this.db.selectFrom('orders').selectAll().where('user_id', '=', key('userId', query.userId));
    if (query.side !== undefined) q = q.where('side', '=', query.side);
    if (query.status !== undefined) q = q.where('status', '=', query.status);
    if (pos) q = q.where((eb) => eb(eb.refTuple('created_at_ms', 'id'), '<', eb.tuple(pos.sortKey, pos.id)));
    const found = await q.orderBy('created_at_ms', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
    return toPage('orders', found, limit, rows.orderFromDb, (r) => ({ sortKey: r.created_at_ms, id: r.id }));
  }

  async listTrades(query: { readonly market?: string; readonly userId?: string } & PageRequest): Promise<Page<TradeRow>> {
    const limit = checkLimit(query.limit);
    const pos = decodeCursor('trades', query.cursor);
    let q = this.db.selectFrom('trades').selectAll();
    if (query.market !== undefined) q = q.where('market', '=', key('market', query.market));
    const userId = query.userId;
    if (userId !== undefined) {
      key('userId', userId);
      q = q.where((eb) => eb.or([eb('buyer_id', '=', userId), eb('provider_id', '=', userId)]));
    }
    if (pos) q = q.where((eb) => eb(eb.refTuple('at_ms', 'id'), '<', eb.tuple(pos.sortKey, pos.id)));
    const found = await q.orderBy('at_ms', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
    return toPage('trades', found, limit, rows.tradeFromDb, (r) => ({ sortKey: r.at_ms, id: r.id }));
  }

  async getTrade(id: string): Promise<TradeRow | undefined> {
    const row = await this.db.selectFrom('trades').selectAll().where('id', '=', key('id', id)).executeTakeFirst();
    return row && rows.tradeFromDb(row);
  }

  async getLease(id: string): Promise<LeaseRow | undefined> {
    const row = await this.db.selectFrom('leases').selectAll().where('id', '=', key('id', id)).executeTakeFirst();
    return row && rows.leaseFromDb(row);
  }

  async listLeases(
    query: { readonly userId: string; readonly role: 'buyer' | 'provider'; readonly state?: LeaseState } & PageRequest,
  ): Promise<Page<LeaseRow>> {
    const limit = checkLimit(query.limit);
    const pos = decodeCursor('leases', query.cursor);
    if (query.role !== 'buyer' && query.role !== 'provider') throw new RangeError(`store: role must be buyer or provider`);
    const column = query.role === 'buyer' ? 'buyer_id' : 'provider_id';
    let q = this.db.selectFrom('leases').selectAll().where(column, '=', key('userId', query.userId));
    if (query.state !== undefined) q = q.where('state', '=', query.state);
    if (pos) q = q.where((eb) => eb(eb.refTuple('created_at_ms', 'id'), '<', eb.tuple(pos.sortKey, pos.id)));
    const found = await q.orderBy('created_at_ms', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
    return toPage('leases', found, limit, rows.leaseFromDb, (r) => ({ sortKey: r.created_at_ms, id: r.id }));
  }

  async liveLeasesOfNode(nodeId: string, limit: number): Promise<readonly LeaseRow[]> {
    checkLimit(limit);
    const found = await this.db
      .selectFrom('leases')
      .selectAll()
      .where('node_id', '=', key('nodeId', nodeId))
      .where('state', 'in', ['pending', 'provisioning', 'active'])
      .orderBy('created_at_ms', 'asc')
      .orderBy('id', 'asc')
      .limit(limit)
      .execute();
    return found.map(rows.leaseFromDb);
  }

  async getNode(id: string): Promise<NodeRow | undefined> {
    const row = await this.db.selectFrom('nodes').selectAll().where('id', '=', key('id', id)).executeTakeFirst();
    return row && rows.nodeFromDb(row);
  }

  async listNodes(query: { readonly providerId?: string; readonly kind?: string } & PageRequest): Promise<Page<NodeRow>> {
    const limit = checkLimit(query.limit);
    const pos = decodeCursor('nodes', query.cursor);
    let q = this.db.selectFrom('nodes').selectAll();
    if (query.providerId !== undefined) q = q.where('provider_id', '=', key('providerId', query.providerId));
    if (query.kind !== undefined) q = q.where('kind', '=', key('kind', query.kind));
    if (pos) q = q.where((eb) => eb(eb.refTuple('created_at_ms', 'id'), '>', eb.tuple(pos.sortKey, pos.id)));
    const found = await q.orderBy('created_at_ms', 'asc').orderBy('id', 'asc').limit(limit + 1).execute();
    return toPage('nodes', found, limit, rows.nodeFromDb, (r) => ({ sortKey: r.created_at_ms, id: r.id }));
  }

  async accountTransfers(query: { readonly accountId: string } & PageRequest): Promise<Page<TransferRow>> {
    const limit = checkLimit(query.limit);
    const pos = decodeCursor('transfers', query.cursor);
    const accountId = key('accountId', query.accountId);
    let q = this.db
      .selectFrom('transfers')
      .selectAll()
      .where((eb) => eb.or([eb('debit_account_id', '=', accountId), eb('credit_account_id', '=', accountId)]));
    if (pos) q = q.where((eb) => eb(eb.refTuple('seq', 'id'), '>', eb.tuple(pos.sortKey, pos.id)));
    const found = await q.orderBy('seq', 'asc').orderBy('id', 'asc').limit(limit + 1).execute();
    return toPage('transfers', found, limit, rows.transferFromDb, (r) => ({ sortKey: r.seq, id: r.id }));
  }

  tradeVolume(query: { readonly market: string; readonly sinceMs: number; readonly untilMs?: number }): Promise<TradeVolume> {
    key('market', query.market);
    return tradeVolumeQuery(this.db, query);
  }

  candles(query: {
    readonly market: string;
    readonly intervalMs: number;
    readonly fromMs: number;
    readonly toMs: number;
  }): Promise<readonly Candle[]> {
    key('market', query.market);
    return candlesQuery(this.db, query);
  }

  // ---- agents ----

  async enrollmentTokenByHash(tokenHash: string): Promise<EnrollmentTokenRow | undefined> {
    const row = await this.db.selectFrom('enrollment_tokens').selectAll().where('token_hash', '=', key('tokenHash', tokenHash)).executeTakeFirst();
    return row && rows.enrollmentTokenFromDb(row);
  }

  async listOpenEnrollmentTokens(query: { readonly providerId: string; readonly atMs: number; readonly limit: number }): Promise<readonly EnrollmentTokenRow[]> {
    const limit = checkLimit(query.limit);
    const found = await this.db
      .selectFrom('enrollment_tokens')
      .selectAll()
      .where('provider_id', '=', key('providerId', query.providerId))
      .where('used_at_ms', 'is', null)
      .where('expires_at_ms', '>', checkInt('atMs', query.atMs))
      .orderBy('created_at_ms', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return found.map(rows.enrollmentTokenFromDb);
  }

  async nodeCredentialByHash(tokenHash: string): Promise<NodeCredentialRow | undefined> {
    const row = await this.db.selectFrom('node_credentials').selectAll().where('token_hash', '=', key('tokenHash', tokenHash)).executeTakeFirst();
    return row && rows.nodeCredentialFromDb(row);
  }

  async nodeCredentialsOfNode(nodeId: string): Promise<readonly NodeCredentialRow[]> {
    const found = await this.db.selectFrom('node_credentials').selectAll().where('node_id', '=', key('nodeId', nodeId)).orderBy('token_hash').limit(MAX_PAGE_LIMIT).execute();
    return found.map(rows.nodeCredentialFromDb);
  }

  async nodeAttestations(nodeIds: readonly string[]): Promise<readonly NodeAttestationRow[]> {
    if (nodeIds.length > MAX_PAGE_LIMIT) throw new RangeError(`store: at most ${MAX_PAGE_LIMIT} node ids`);
    if (nodeIds.length === 0) return [];
    const found = await this.db
      .selectFrom('node_attestations')
      .selectAll()
      .where('node_id', 'in', nodeIds.map((id) => key('nodeId', id)))
      .orderBy('node_id', 'asc')
      .execute();
    return found.map(rows.nodeAttestationFromDb);
  }

  async leaseLogs(query: { readonly leaseId: string; readonly afterSeq: number; readonly limit: number }): Promise<readonly LeaseLogRow[]> {
    const limit = checkLimit(query.limit, MAX_LOG_PAGE_LIMIT);
    const found = await this.db
      .selectFrom('lease_logs')
      .selectAll()
      .where('lease_id', '=', key('leaseId', query.leaseId))
      .where('seq', '>', checkInt('afterSeq', query.afterSeq))
      .orderBy('seq', 'asc')
      .limit(limit)
      .execute();
    return found.map(rows.leaseLogFromDb);
  }

  async lastLeaseLogSeq(leaseId: string): Promise<number> {
    const row = await this.db
      .selectFrom('lease_logs')
      .select((eb) => eb.fn.max('seq').as('max_seq'))
      .where('lease_id', '=', key('leaseId', leaseId))
      .executeTakeFirst();
    return row?.max_seq === null || row?.max_seq === undefined ? 0 : rows.num(row.max_seq);
  }

  // ---- settings ----

  async getSetting(settingKey: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('settings').select('value').where('key', '=', key('key', settingKey)).executeTakeFirst();
    return row?.value;
  }

  async listSettings(): Promise<readonly SettingRow[]> {
    return this.db.selectFrom('settings').select(['key', 'value']).orderBy('key', 'asc').limit(MAX_SETTINGS).execute();
  }
}

// ---- helpers ----

function checkLimit(limit: number, max = MAX_PAGE_LIMIT): number {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > max) {
    throw new RangeError(`store: limit must be an integer from 1 to ${max}, got ${String(limit)}`);
  }
  return limit;
}

function toPage<R, T>(
  list: string,
  found: readonly R[],
  limit: number,
  map: (row: R) => T,
  position: (row: R) => CursorPosition,
): Page<T> {
  const more = found.length > limit;
  const kept = more ? found.slice(0, limit) : found;
  const last = kept[kept.length - 1];
  return { items: kept.map(map), nextCursor: more && last !== undefined ? encodeCursor(list, position(last)) : null };
}
