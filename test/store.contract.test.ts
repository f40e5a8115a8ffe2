/**
 * The store contract: one suite, run on every adapter against a real database (a SQLite file in
 * a fresh temp folder, a fresh PostgreSQL database). No mocks. Each test uses its own ids so
 * the tests share one database per adapter and stay fast.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApiKeyRow,
  type CommitBatch,
  type EnrollmentTokenRow,
  type LeaseLogRow,
  type NodeAttestationRow,
  type IdempotencyRow,
  InvalidCursorError,
  isPostgresUrl,
  type JournalEntry,
  JournalSequenceError,
  type LeaseRow,
  type NodeRow,
  openSqliteStore,
  openStore,
  type OrderRow,
  type Page,
  type SessionRow,
  type Store,
  StoreLockedError,
  type TradeRow,
  type TransferRow,
  type UserRow,
} from '../src/store/index.js';
import { encodeCursor } from '../src/store/cursor.js';
import { createTestDatabase } from './support/pg.js';

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const HOUR = 3_600_000;
const MAX_I64 = (1n << 63n) - 1n;

interface Location {
  readonly location: string;
  readonly sqliteFile?: string;
  cleanup(): Promise<void>;
}

const adapters: readonly { readonly name: 'sqlite' | 'postgres'; setup(): Promise<Location> }[] = [
  {
    name: 'sqlite',
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'suanli-store-'));
      const file = join(dir, 'nested', 'suanli.db'); // the adapter creates the folder
      return { location: file, sqliteFile: file, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    async setup() {
      const db = await createTestDatabase();
      return { location: db.url, cleanup: () => db.drop() };
    },
  },
];

// ---- fixtures ----

function user(id: string, over: Partial<UserRow> = {}): UserRow {
  return {
    id,
    email: `${id}@example.com`,
    passwordHash: `$argon2id$v=19$m=65536,t=3,p=4$${id}`,
    role: 'buyer',
    displayName: `用户 ${id} 算力 🚀`,
    createdAtMs: T0,
    disabledAtMs: null,
    ...over,
  };
}
function order(id: string, over: Partial<OrderRow> = {}): OrderRow {
  return {
    id,
    userId: 'u-orders',
    side: 'bid',
    markets: ['nvidia-h100@beijing', 'nvidia-a100@ningxia'],
    specJson: JSON.stringify({ type: 'placeBid', orderId: id, limitFen: 2_500, note: '买 8 卡' }),
    status: 'active',
    remaining: 8,
    priceFen: 2_500,
    createdAtMs: T0,
    updatedAtMs: T0,
    ...over,
  };
}
function trade(id: string, over: Partial<TradeRow> = {}): TradeRow {
  return {
    id,
    bidId: `bid-${id}`,
    askId: `ask-${id}`,
    buyerId: 'u-buyer',
    providerId: 'u-provider',
    market: 'nvidia-h100@beijing',
    gpus: 8,
    priceFenPerGpuHour: 2_270,
    startMs: T0,
    endMs: T0 + 24 * HOUR,
    atMs: T0,
    seq: 1,
    ...over,
  };
}
function lease(id: string, over: Partial<LeaseRow> = {}): LeaseRow {
  return {
    id,
    tradeId: `trade-${id}`,
    nodeId: 'node-1',
    buyerId: 'u-buyer',
    providerId: 'u-provider',
    market: 'nvidia-h100@beijing',
    gpuIndices: [0, 1, 2, 3],
    priceFenPerGpuHour: 2_270,
    startMs: T0,
    endMs: T0 + HOUR,
    state: 'pending',
    endedAtMs: null,
    endReason: null,
    createdAtMs: T0,
    updatedAtMs: T0,
    workloadJson: null,
    accessJson: null,
    ...over,
  };
}
function node(id: string, over: Partial<NodeRow> = {}): NodeRow {
  return {
    id,
    providerId: 'u-provider',
    acceleratorId: 'nvidia-h100-sxm5-80g',
    regionId: 'beijing',
    gpuCount: 8,
    kind: 'agent',
    status: 'online',
    specJson: JSON.stringify({ cpuCores: 128, ramGiB: 2048, diskTiB: 30, netGbps: 400, pue: 1.25 }),
    createdAtMs: T0,
    updatedAtMs: T0,
    ...over,
  };
}
function transfer(id: string, over: Partial<TransferRow> = {}): TransferRow {
  return {
    id,
    debitAccountId: 'acct-world',
    creditAccountId: 'acct-cash',
    amountFen: 100n,
    code: 'deposit',
    flags: 0,
    pendingId: null,
    userData: '',
    atMs: T0,
    seq: 1,
    ...over,
  };
}
function session(idHash: string, over: Partial<SessionRow> = {}): SessionRow {
  return { idHash, userId: 'u-sess', createdAtMs: T0, expiresAtMs: T0 + 7 * 24 * HOUR, ...over };
}
function apiKey(id: string, over: Partial<ApiKeyRow> = {}): ApiKeyRow {
  return {
    id,
    userId: 'u-keys',
    name: `key ${id}`,
    keyHash: `sha256:${id}`,
    scopes: ['orders:read', 'orders:write'],
    createdAtMs: T0,
    lastUsedAtMs: null,
    revokedAtMs: null,
    ...over,
  };
}
function idem(userId: string, key: string, over: Partial<IdempotencyRow> = {}): IdempotencyRow {
  return {
    userId,
    key,
    requestHash: `h-${key}`,
    statusCode: 201,
    responseJson: JSON.stringify({ id: 'o-1', amountFen: '9007199254740993' }),
    createdAtMs: T0,
    ...over,
  };
}
function entry(seq: number, kind = 'placeBid'): JournalEntry {
  return {
    seq,
    atMs: T0 + seq,
    kind,
    commandJson: JSON.stringify({ type: kind, now: T0 + seq, n: seq }),
    resultJson: JSON.stringify({ ok: true, events: [] }),
  };
}

/** Follows nextCursor to the end; checks page sizes on the way. */
async function collect<T>(limit: number, fetch: (cursor: string | null) => Promise<Page<T>>): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1_000; pages++) {
    const page: Page<T> = await fetch(cursor);
    expect(page.items.length).toBeLessThanOrEqual(limit);
    if (page.nextCursor !== null) expect(page.items.length).toBe(limit);
    all.push(...page.items);
    if (page.nextCursor === null) return all;
    cursor = page.nextCursor;
  }
  throw new Error('pagination did not end');
}

/** Byte order, as both databases sort ids (SQLite BINARY, PostgreSQL "C"). */
function cmp(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

describe('openStore', () => {
  it('takes postgres:// and postgresql:// URLs as PostgreSQL and anything else as a SQLite path', () => {
    expect(isPostgresUrl('postgres://u@h:5432/db')).toBe(true);
    expect(isPostgresUrl('postgresql://u@h/db')).toBe(true);
    expect(isPostgresUrl('./data/suanli.db')).toBe(false);
    expect(isPostgresUrl('/var/lib/postgres/suanli.db')).toBe(false);
  });
});

describe.each(adapters)('store contract: $name', ({ name, setup }) => {
  let loc: Location;
  let store: Store;

  beforeAll(async () => {
    loc = await setup();
    store = await openStore(loc.location);
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await loc?.cleanup();
  });

  async function commitWithJournal(batch: Omit<CommitBatch, 'journal'>, kind = 'test'): Promise<number> {
    const seq = (await store.lastJournalSeq()) + 1;
    await store.commit({ ...batch, journal: [entry(seq, kind)] });
    return seq;
  }

  it('opens the right adapter, starts empty, and migrations are idempotent', async () => {
    expect(store.dialect).toBe(name);
    expect(await store.lastJournalSeq()).toBe(0);
    expect(await store.journalAfter(0, 10)).toEqual([]);
    await store.commit({ settings: [{ key: 'fee.bps', value: '250' }] });
    await store.migrate();
    await store.migrate();
    expect(await store.getSetting('fee.bps')).toBe('250');
  });

  it('round-trips every row type exactly, bigint money included', async () => {
    const transfers = [
      transfer('rt-x1', { amountFen: 9_007_199_254_740_993n, seq: 11 }),
      transfer('rt-x2', { amountFen: MAX_I64, seq: 12, flags: 3, pendingId: 'rt-x1', userData: 'lease-7', code: 'settle' }),
      transfer('rt-x3', { amountFen: -(1n << 63n), seq: 13, debitAccountId: 'acct-cash', creditAccountId: 'acct-x' }),
    ];
    const batch = {
      users: [user('rt-u1'), user('rt-u2', { role: 'admin', disabledAtMs: T0 + 5 })],
      sessions: [session('rt-s1', { userId: 'rt-u1' })],
      apiKeys: [apiKey('rt-k1', { lastUsedAtMs: T0 + 1, revokedAtMs: T0 + 2, scopes: [] })],
      idempotency: [idem('rt-u1', 'rt-i1')],
      nodes: [node('rt-n1', { createdAtMs: 8_640_000_000_000_000, updatedAtMs: 8_640_000_000_000_000 })],
      orders: [order('rt-o1', { priceFen: 100_000_000, remaining: 10_000_000_000 })],
      trades: [trade('rt-t1', { seq: Number.MAX_SAFE_INTEGER })],
      leases: [lease('rt-l1', { state: 'ended', endedAtMs: T0 + 9, endReason: 'node_lost', gpuIndices: [] })],
      transfers,
      settings: [{ key: 'rt.json', value: JSON.stringify({ 名: '值', n: [1, 2] }) }],
    } satisfies Omit<CommitBatch, 'journal'>;
    const seq = await commitWithJournal(batch, 'roundTrip');

    expect(await store.journalAfter(seq - 1, 1)).toEqual([entry(seq, 'roundTrip')]);
    expect(await store.userById('rt-u1')).toEqual(batch.users[0]);
    expect(await store.userByEmail('rt-u2@example.com')).toEqual(batch.users[1]);
    expect(await store.sessionByHash('rt-s1')).toEqual(batch.sessions[0]);
    expect(await store.apiKeyByHash('sha256:rt-k1')).toEqual(batch.apiKeys[0]);
    expect(await store.idempotency('rt-u1', 'rt-i1')).toEqual(batch.idempotency[0]);
    expect(await store.getNode('rt-n1')).toEqual(batch.nodes[0]);
    expect(await store.getOrder('rt-o1')).toEqual(batch.orders[0]);
    expect((await store.listTrades({ market: 'nvidia-h100@beijing', userId: 'u-buyer', limit: 500 })).items).toContainEqual(batch.trades[0]);
    expect(await store.getLease('rt-l1')).toEqual(batch.leases[0]);
    expect(await store.getTrade(batch.trades[0]!.id)).toEqual(batch.trades[0]);
    expect(await store.getSetting('rt.json')).toBe(batch.settings[0]!.value);

    const cash = await store.accountTransfers({ accountId: 'acct-cash', limit: 10 });
    expect(cash.items).toEqual(transfers);
    expect(cash.items[0]!.amountFen).toBe(9_007_199_254_740_993n);
    expect(cash.items[1]!.amountFen).toBe(MAX_I64);

    expect(await store.userById('missing')).toBeUndefined();
    expect(await store.userByEmail('missing@example.com')).toBeUndefined();
    expect(await store.sessionByHash('missing')).toBeUndefined();
    expect(await store.apiKeyByHash('missing')).toBeUndefined();
    expect(await store.idempotency('rt-u1', 'missing')).toBeUndefined();
    expect(await store.getNode('missing')).toBeUndefined();
    expect(await store.getOrder('missing')).toBeUndefined();
    expect(await store.getLease('missing')).toBeUndefined();
    expect(await store.getTrade('missing')).toBeUndefined();
    expect(await store.getSetting('missing')).toBeUndefined();
  });

  it('rejects values it cannot store exactly, before writing anything', async () => {
    const before = await store.lastJournalSeq();
    await expect(store.commit({ journal: [entry(before + 1)], orders: [order('bad-o1', { priceFen: 12.5 })] })).rejects.toThrow(TypeError);
    await expect(store.commit({ orders: [order('bad-o2', { createdAtMs: 2 ** 53 })] })).rejects.toThrow(/safe integer/);
    await expect(store.commit({ transfers: [transfer('bad-x1', { amountFen: 1n << 63n })] })).rejects.toThrow(RangeError);
    expect(await store.lastJournalSeq()).toBe(before);
    expect(await store.getOrder('bad-o1')).toBeUndefined();
    expect(await store.getOrder('bad-o2')).toBeUndefined();
  });

  it('upserts overwrite every column, and the last row for a key in one batch wins', async () => {
    await store.commit({
      users: [user('up-u1')],
      nodes: [node('up-n1')],
      orders: [order('up-o1')],
      leases: [lease('up-l1')],
      apiKeys: [apiKey('up-k1')],
      sessions: [session('up-s1')],
      settings: [{ key: 'up.k', value: 'one' }],
    });
    const u2 = user('up-u1', { email: 'changed@example.com', role: 'provider', displayName: 'x', passwordHash: 'h2', createdAtMs: T0 + 1, disabledAtMs: T0 + 2 });
    const n2 = node('up-n1', { gpuCount: 4, status: 'draining', specJson: '{}', providerId: 'p2', updatedAtMs: T0 + 3 });
    const o2 = order('up-o1', { status: 'filled', remaining: 0, priceFen: 1, markets: [], specJson: '{"v":2}', updatedAtMs: T0 + 4 });
    const o3 = { ...o2, status: 'cancelled' as const, updatedAtMs: T0 + 5 };
    const l2 = lease('up-l1', { state: 'ended', endedAtMs: T0 + 6, endReason: 'buyer', gpuIndices: [7], updatedAtMs: T0 + 6 });
    const k2 = apiKey('up-k1', { revokedAtMs: T0 + 7, lastUsedAtMs: T0 + 6, name: 'renamed' });
    const s2 = session('up-s1', { expiresAtMs: T0 + 99 });
    await store.commit({
      users: [u2],
      nodes: [n2],
      orders: [o2, o3],
      leases: [l2],
      apiKeys: [k2],
      sessions: [s2],
      settings: [
        { key: 'up.k', value: 'two' },
        { key: 'up.k', value: 'three' },
      ],
    });
    expect(await store.userById('up-u1')).toEqual(u2);
    expect(await store.userByEmail('up-u1@example.com')).toBeUndefined();
    expect(await store.getNode('up-n1')).toEqual(n2);
    expect(await store.getOrder('up-o1')).toEqual(o3);
    expect(await store.getLease('up-l1')).toEqual(l2);
    expect(await store.apiKeyByHash('sha256:up-k1')).toEqual(k2);
    expect(await store.sessionByHash('up-s1')).toEqual(s2);
    expect(await store.getSetting('up.k')).toBe('three');
  });

  it('upserts runs of rows onto stored ones exactly, whatever the run length', async () => {
    // SQLite writes runs of rows with multi-row statements and the rest one by one: lengths
    // around its run size (32), each run overwriting rows that are already stored.
    for (const n of [1, 31, 32, 33, 64, 70]) {
      const ids = Array.from({ length: n }, (_, i) => `run${n}-${i}`);
      await store.commit({ orders: ids.map((id) => order(id)), leases: ids.map((id) => lease(id)) });
      const orders = ids.map((id, i) => order(id, { status: 'filled', remaining: 0, priceFen: i + 1, markets: [], specJson: `{"i":${i}}`, updatedAtMs: T0 + i }));
      const leases = ids.map((id, i) => lease(id, { state: 'ended', endedAtMs: T0 + i, endReason: 'completed', gpuIndices: [i % 8], updatedAtMs: T0 + i }));
      await store.commit({ orders, leases });
      for (const i of new Set([0, 30, 31, 32, n - 1].filter((x) => x < n))) {
        expect(await store.getOrder(ids[i]!)).toEqual(orders[i]);
        expect(await store.getLease(ids[i]!)).toEqual(leases[i]);
      }
    }
  });

  it('commits all or nothing: a repeated journal seq, a duplicate key or a unique violation writes nothing', async () => {
    const seq = await commitWithJournal({ trades: [trade('at-t1')], users: [user('at-u1')] });
    const untouched = async (): Promise<void> => {
      expect(await store.lastJournalSeq()).toBe(seq);
      expect(await store.journalAfter(seq, 10)).toEqual([]);
      expect(await store.getOrder('at-o1')).toBeUndefined();
      expect(await store.getSetting('at.k')).toBeUndefined();
      expect(await store.userById('at-u2')).toBeUndefined();
      expect(await store.getLease('at-l1')).toBeUndefined();
    };
    const rest = { orders: [order('at-o1')], settings: [{ key: 'at.k', value: 'v' }], leases: [lease('at-l1')] };

    // The stored seq again.
    await expect(store.commit({ ...rest, journal: [entry(seq)] })).rejects.toThrow();
    await untouched();
    // A fresh seq, but a trade id that exists: fails after the journal row went in.
    await expect(store.commit({ ...rest, journal: [entry(seq + 1)], trades: [trade('at-t2'), trade('at-t1')] })).rejects.toThrow();
    await untouched();
    // The same id twice within one insert.
    await expect(store.commit({ ...rest, journal: [entry(seq + 1)], transfers: [transfer('at-x'), transfer('at-x')] })).rejects.toThrow();
    await untouched();
    // Unique email taken by another user, through an upsert.
    await expect(
      store.commit({ ...rest, journal: [entry(seq + 1)], users: [user('at-u2', { email: 'at-u1@example.com' })] }),
    ).rejects.toThrow();
    await untouched();
    // Idempotency records are inserts: a second one for the same key fails the batch.
    await store.commit({ idempotency: [idem('at-u1', 'k1')] });
    await expect(store.commit({ ...rest, journal: [entry(seq + 1)], idempotency: [idem('at-u1', 'k1')] })).rejects.toThrow();
    await untouched();
    // And the next good batch goes through.
    await store.commit({ ...rest, journal: [entry(seq + 1)] });
    expect(await store.lastJournalSeq()).toBe(seq + 1);
    expect(await store.getOrder('at-o1')).toEqual(rest.orders[0]);
  });

  it('keeps the journal gap-free and replays it in order', async () => {
    const last = await store.lastJournalSeq();
    await expect(store.commit({ journal: [entry(last + 2)] })).rejects.toThrow(JournalSequenceError);
    await expect(store.commit({ journal: [entry(last + 1), entry(last + 3)] })).rejects.toThrow(JournalSequenceError);
    await expect(store.commit({ journal: [entry(last + 1), entry(last + 1)] })).rejects.toThrow(JournalSequenceError);
    await expect(store.commit({ journal: [entry(0)] })).rejects.toThrow(JournalSequenceError);
    expect(await store.lastJournalSeq()).toBe(last);

    const written: JournalEntry[] = [];
    for (const size of [1, 7, 3, 12]) {
      const from = (await store.lastJournalSeq()) + 1;
      const batch = Array.from({ length: size }, (_, i) => entry(from + i, `kind${size}`));
      await store.commit({ journal: batch });
      written.push(...batch);
    }
    expect(await store.lastJournalSeq()).toBe(last + 23);

    const replayed: JournalEntry[] = [];
    let after = last;
    for (;;) {
      const page = await store.journalAfter(after, 5);
      if (page.length === 0) break;
      replayed.push(...page);
      after = page[page.length - 1]!.seq;
    }
    expect(replayed).toEqual(written);
    // From the start: every seq, 1…n, in order.
    const all = await store.journalAfter(0, 10_000);
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));

    await expect(store.journalAfter(0, 0)).rejects.toThrow(RangeError);
    await expect(store.journalAfter(0, 10_001)).rejects.toThrow(RangeError);
    await expect(store.journalAfter(0.5, 10)).rejects.toThrow(RangeError);
  });

  it('pages every list by keyset: no duplicates, no gaps, stable order, clear limits', async () => {
    // Ties on the sort key, ids out of insertion order.
    const ids = Array.from({ length: 23 }, (_, i) => `pg-${((i * 7) % 23).toString().padStart(2, '0')}-${i % 2 ? 'B' : 'a'}`);
    const orders = ids.map((id, i) =>
      order(id, { userId: 'u-page', createdAtMs: T0 + (i % 4) * 1_000, side: i % 3 ? 'bid' : 'ask', status: i % 5 ? 'active' : 'filled' }),
    );
    const trades = ids.map((id, i) =>
      trade(`t${id}`, {
        atMs: T0 + (i % 5) * 60_000,
        market: i % 2 ? 'pg-m1' : 'pg-m2',
        buyerId: i % 3 ? 'pg-buyer' : 'pg-other',
        providerId: i % 3 ? 'pg-prov' : 'pg-buyer',
      }),
    );
    const leases = ids.map((id, i) =>
      lease(`l${id}`, {
        buyerId: 'pg-buyer',
        providerId: i % 2 ? 'pg-prov' : 'pg-prov2',
        createdAtMs: T0 + (i % 3),
        state: i % 2 ? 'active' : 'ended',
      }),
    );
    const nodes = ids.map((id, i) => node(`n${id}`, { providerId: 'pg-prov', createdAtMs: T0 + (i % 2) }));
    const transfers = ids.map((id, i) =>
      transfer(`x${id}`, { debitAccountId: i % 2 ? 'pg-acct' : 'pg-world', creditAccountId: i % 2 ? 'pg-world' : 'pg-acct', seq: 1_000 + (i % 6) }),
    );
    const users = ids.map((id, i) => user(`pgu${id}`, { createdAtMs: T0 - 1_000_000 + (i % 3) }));
    const keys = ids.map((id, i) => apiKey(`k${id}`, { userId: 'pg-keys', createdAtMs: T0 + (i % 2) }));
    await store.commit({ orders: orders.slice(0, 10), trades: trades.slice(0, 10) });
    await store.commit({ orders: orders.slice(10), trades: trades.slice(10), leases, nodes, transfers, users, apiKeys: keys });

    const newestFirst = (key: (r: { id: string }) => number) => (a: { id: string }, b: { id: string }) =>
      key(b) - key(a) || cmp(b.id, a.id);
    const oldestFirst = (key: (r: { id: string }) => number) => (a: { id: string }, b: { id: string }) =>
      key(a) - key(b) || cmp(a.id, b.id);

    for (const limit of [1, 5, 23, 500]) {
      const gotOrders = await collect(limit, (cursor) => store.listOrders({ userId: 'u-page', cursor, limit }));
      expect(gotOrders).toEqual([...orders].sort(newestFirst((r) => (r as OrderRow).createdAtMs)));
    }
    const asks = await collect(4, (cursor) => store.listOrders({ userId: 'u-page', side: 'ask', status: 'active', cursor, limit: 4 }));
    expect(asks).toEqual(
      orders.filter((o) => o.side === 'ask' && o.status === 'active').sort(newestFirst((r) => (r as OrderRow).createdAtMs)),
    );

    const byAt = newestFirst((r) => (r as TradeRow).atMs);
    const mine = await collect(4, (cursor) => store.listTrades({ userId: 'pg-buyer', cursor, limit: 4 }));
    expect(mine).toEqual(trades.filter((t) => t.buyerId === 'pg-buyer' || t.providerId === 'pg-buyer').sort(byAt));
    expect(mine).toHaveLength(23);
    const m1 = await collect(3, (cursor) => store.listTrades({ market: 'pg-m1', cursor, limit: 3 }));
    expect(m1).toEqual(trades.filter((t) => t.market === 'pg-m1').sort(byAt));
    const m1Other = await collect(3, (cursor) => store.listTrades({ market: 'pg-m1', userId: 'pg-other', cursor, limit: 3 }));
    expect(m1Other).toEqual(trades.filter((t) => t.market === 'pg-m1' && t.buyerId === 'pg-other').sort(byAt));
    const tape = await collect(50, (cursor) => store.listTrades({ cursor, limit: 50 }));
    expect(new Set(tape.map((t) => t.id)).size).toBe(tape.length);
    expect(tape).toEqual([...tape].sort(byAt));

    const byCreated = newestFirst((r) => (r as LeaseRow).createdAtMs);
    expect(await collect(6, (cursor) => store.listLeases({ userId: 'pg-buyer', role: 'buyer', cursor, limit: 6 }))).toEqual(
      [...leases].sort(byCreated),
    );
    expect(
      await collect(2, (cursor) => store.listLeases({ userId: 'pg-prov', role: 'provider', state: 'active', cursor, limit: 2 })),
    ).toEqual(leases.filter((l) => l.providerId === 'pg-prov' && l.state === 'active').sort(byCreated));
    expect((await store.listLeases({ userId: 'pg-buyer', role: 'provider', limit: 10 })).items).toEqual([]);

    expect(await collect(7, (cursor) => store.listNodes({ providerId: 'pg-prov', cursor, limit: 7 }))).toEqual(
      [...nodes].sort(oldestFirst((r) => (r as NodeRow).createdAtMs)),
    );
    const allNodes = await collect(500, (cursor) => store.listNodes({ cursor, limit: 500 }));
    expect(allNodes).toEqual([...allNodes].sort(oldestFirst((r) => (r as NodeRow).createdAtMs)));

    expect(await collect(5, (cursor) => store.accountTransfers({ accountId: 'pg-acct', cursor, limit: 5 }))).toEqual(
      [...transfers].sort(oldestFirst((r) => (r as TransferRow).seq)),
    );

    const allUsers = await collect(9, (cursor) => store.listUsers({ cursor, limit: 9 }));
    expect(allUsers.filter((u) => u.id.startsWith('pgu'))).toEqual([...users].sort(oldestFirst((r) => (r as UserRow).createdAtMs)));
    expect(allUsers).toEqual([...allUsers].sort(oldestFirst((r) => (r as UserRow).createdAtMs)));

    expect(await collect(4, (cursor) => store.listApiKeys({ userId: 'pg-keys', cursor, limit: 4 }))).toEqual(
      [...keys].sort(oldestFirst((r) => (r as ApiKeyRow).createdAtMs)),
    );

    // Rows added between pages land either before the cursor (not shown) or after (shown once).
    const first = await store.listOrders({ userId: 'u-page', limit: 5 });
    await store.commit({ orders: [order('pg-new', { userId: 'u-page', createdAtMs: T0 + 1_000_000 })] });
    const rest = await collect(5, (cursor) => store.listOrders({ userId: 'u-page', cursor: cursor ?? first.nextCursor, limit: 5 }));
    const seen = [...first.items, ...rest].map((o) => o.id);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...orders].sort(newestFirst((r) => (r as OrderRow).createdAtMs)).map((o) => o.id));

    for (const limit of [0, -1, 501, 1.5, Number.NaN]) {
      await expect(store.listOrders({ userId: 'u-page', limit })).rejects.toThrow(RangeError);
    }
  });

  it('refuses tampered, foreign or malformed cursors with InvalidCursorError', async () => {
    const page = await store.listTrades({ limit: 1 });
    expect(page.nextCursor).not.toBeNull();
    const bad = [
      'not a cursor!',
      '',
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from('[1,2').toString('base64url'),
      Buffer.from(JSON.stringify(['trades', '1', 'x'])).toString('base64url'),
      Buffer.from(JSON.stringify(['trades', 1.5, 'x'])).toString('base64url'),
      Buffer.from(JSON.stringify(['trades', 1, 7])).toString('base64url'),
      'A'.repeat(5_000),
    ];
    for (const cursor of bad) {
      const err = await store.listTrades({ cursor, limit: 5 }).catch((e: unknown) => e);
      expect(err, cursor.slice(0, 40)).toBeInstanceOf(InvalidCursorError);
      expect((err as InvalidCursorError).code).toBe('INVALID_CURSOR');
    }
    // A trades cursor is not an orders cursor.
    await expect(store.listOrders({ userId: 'u-page', cursor: page.nextCursor, limit: 5 })).rejects.toThrow(/another list/);
    // A well-formed cursor for a position that never existed is still a valid position.
    const made = encodeCursor('trades', { sortKey: T0 + 1, id: 'zzz' });
    await expect(store.listTrades({ cursor: made, limit: 5 })).resolves.toBeDefined();
  });

  it('computes candles and volume exactly on a known trade set', async () => {
    const m = 'candle-gpu@test';
    const t = (id: string, atOffsetMs: number, price: number, gpus: number, hours: number, seq: number): TradeRow =>
      trade(id, { market: m, atMs: T0 + atOffsetMs, priceFenPerGpuHour: price, gpus, startMs: T0, endMs: T0 + hours * HOUR, seq });
    const set = [
      t('c1', 10_000, 100, 1, 1, 1),
      t('c2', 20_000, 120, 2, 2, 2),
      t('c3', 20_000, 90, 1, 0.5, 3), // same time as c2, later seq
      t('c5', 59_999, 105, 1, 1, 4), // same time and seq as c4: the id breaks the tie
      t('c4', 59_999, 110, 4, 1, 4),
      t('c6', 120_000, 200, 8, 24, 5),
      t('c7', HOUR + 5, 50, 1, 1, 6),
      t('c8', 24 * HOUR + 1, 70, 3, 1, 7),
    ];
    await store.commit({ trades: [...set, trade('c-other', { market: 'other@test', atMs: T0 + 15_000, priceFenPerGpuHour: 1 })] });

    const minute = await store.candles({ market: m, intervalMs: 60_000, fromMs: T0, toMs: T0 + 3 * 60_000 });
    expect(minute).toEqual([
      { startMs: T0, open: 100, high: 120, low: 90, close: 105, tradeCount: 5, volumeGpus: 9, volumeGpuHours: 1 + 4 + 0.5 + 1 + 4 },
      { startMs: T0 + 120_000, open: 200, high: 200, low: 200, close: 200, tradeCount: 1, volumeGpus: 8, volumeGpuHours: 192 },
    ]);
    const hour = await store.candles({ market: m, intervalMs: HOUR, fromMs: T0, toMs: T0 + 2 * HOUR });
    expect(hour.map((c) => [c.startMs - T0, c.open, c.high, c.low, c.close, c.tradeCount])).toEqual([
      [0, 100, 200, 90, 200, 6],
      [HOUR, 50, 50, 50, 50, 1],
    ]);
    const day = await store.candles({ market: m, intervalMs: 24 * HOUR, fromMs: T0, toMs: T0 + 48 * HOUR });
    expect(day.map((c) => [c.startMs - T0, c.open, c.high, c.low, c.close, c.tradeCount, c.volumeGpus])).toEqual([
      [0, 100, 200, 50, 50, 7, 18],
      [24 * HOUR, 70, 70, 70, 70, 1, 3],
    ]);
    // toMs is exclusive; buckets count from fromMs.
    expect((await store.candles({ market: m, intervalMs: 60_000, fromMs: T0, toMs: T0 + 120_000 })).map((c) => c.tradeCount)).toEqual([5]);
    const shifted = await store.candles({ market: m, intervalMs: 60_000, fromMs: T0 + 30_000, toMs: T0 + 150_000 });
    expect(shifted.map((c) => [c.startMs - T0, c.open, c.close, c.tradeCount])).toEqual([
      [30_000, 110, 105, 2],
      [90_000, 200, 200, 1],
    ]);
    expect(await store.candles({ market: 'nothing@test', intervalMs: 60_000, fromMs: T0, toMs: T0 + HOUR })).toEqual([]);
    await expect(store.candles({ market: m, intervalMs: 0, fromMs: T0, toMs: T0 + 1 })).rejects.toThrow(RangeError);
    await expect(store.candles({ market: m, intervalMs: 60_000, fromMs: T0, toMs: T0 })).rejects.toThrow(RangeError);
    await expect(store.candles({ market: m, intervalMs: 1_000, fromMs: T0, toMs: T0 + 24 * HOUR })).rejects.toThrow(/at most/);

    const firstMinute = await store.tradeVolume({ market: m, sinceMs: T0, untilMs: T0 + 60_000 });
    // 100·1·1 + 120·2·2 + 90·1·0.5 + 105·1·1 + 110·4·1 = 1170 fen.
    expect(firstMinute).toEqual({ tradeCount: 5, volumeGpus: 9, volumeGpuHours: 10.5, notionalFen: 1_170n });
    const all = await store.tradeVolume({ market: m, sinceMs: T0 });
    expect(all.tradeCount).toBe(8);
    expect(all.notionalFen).toBe(1_170n + 200n * 8n * 24n + 50n + 210n);
    expect(await store.tradeVolume({ market: m, sinceMs: T0 + 49 * HOUR })).toEqual({
      tradeCount: 0,
      volumeGpus: 0,
      volumeGpuHours: 0,
      notionalFen: 0n,
    });

    // Notional past 2^53 fen stays exact: 1e8 fen/GPU-h × 100 000 GPUs × 26 352 h, twice, plus a third of an hour.
    const big = 'big-gpu@test';
    await store.commit({
      trades: [
        trade('big1', { market: big, priceFenPerGpuHour: 100_000_000, gpus: 100_000, startMs: T0, endMs: T0 + 26_352 * HOUR }),
        trade('big2', { market: big, priceFenPerGpuHour: 100_000_000, gpus: 100_000, startMs: T0, endMs: T0 + 26_352 * HOUR }),
        trade('big3', { market: big, priceFenPerGpuHour: 7, gpus: 1, startMs: T0, endMs: T0 + HOUR / 3 }),
      ],
    });
    const bigVolume = await store.tradeVolume({ market: big, sinceMs: T0 });
    expect(bigVolume.notionalFen).toBe(2n * 100_000_000n * 100_000n * 26_352n + 2n); // 7/3 fen rounds down to 2
    expect(bigVolume.volumeGpuHours).toBeCloseTo(2 * 100_000 * 26_352 + 1 / 3, 3);
    const bigCandle = await store.candles({ market: big, intervalMs: HOUR, fromMs: T0, toMs: T0 + HOUR });
    expect(bigCandle[0]?.volumeGpuHours).toBeCloseTo(2 * 100_000 * 26_352 + 1 / 3, 3);
  });

  it('deletes sessions and old idempotency records inside a commit', async () => {
    await store.commit({
      sessions: [
        session('del-s1', { userId: 'del-u1' }),
        session('del-s2', { userId: 'del-u1' }),
        session('del-s3', { userId: 'del-u2' }),
        session('del-s4', { userId: 'del-u3', expiresAtMs: T0 - 1 }),
        session('del-s5', { userId: 'del-u3', expiresAtMs: T0 + HOUR }),
      ],
      idempotency: [idem('del-u1', 'old', { createdAtMs: T0 - 2 * 24 * HOUR }), idem('del-u1', 'new')],
    });
    await store.commit({
      deletes: {
        sessionIdHashes: ['del-s3', 'never-existed'],
        sessionsOfUserIds: ['del-u1'],
        sessionsExpiredAtMs: T0,
        idempotencyCreatedBeforeMs: T0 - 24 * HOUR,
      },
    });
    for (const gone of ['del-s1', 'del-s2', 'del-s3', 'del-s4']) expect(await store.sessionByHash(gone)).toBeUndefined();
    expect(await store.sessionByHash('del-s5')).toBeDefined();
    expect(await store.idempotency('del-u1', 'old')).toBeUndefined();
    expect(await store.idempotency('del-u1', 'new')).toBeDefined();
  });

  it('lists settings by key', async () => {
    await store.commit({ settings: [{ key: 'zz.b', value: '2' }, { key: 'zz.a', value: '1' }] });
    const settings = await store.listSettings();
    expect(settings.map((s) => s.key)).toEqual([...settings.map((s) => s.key)].sort(cmp));
    expect(settings).toContainEqual({ key: 'zz.a', value: '1' });
  });

  it('keeps agent enrollment tokens, node credentials and attestations (hashes only, upserted)', async () => {
    const token = (id: string, over: Partial<EnrollmentTokenRow> = {}): EnrollmentTokenRow => ({
      id, tokenHash: `sha256:${id}`, providerId: 'ag-p1', regionId: 'cn-beijing', acceleratorId: null, gpuCount: null, label: '机房 A',
      createdAtMs: T0, expiresAtMs: T0 + 24 * HOUR, usedAtMs: null, nodeId: null, ...over,
    });
    const tokens = [
      token('ag-t1', { acceleratorId: 'nvidia-a100-sxm4-40g', gpuCount: 8 }),
      token('ag-t2', { createdAtMs: T0 + 1 }),
      token('ag-t3', { createdAtMs: T0 + 2, expiresAtMs: T0 + HOUR }),
      token('ag-t4', { createdAtMs: T0 + 3, providerId: 'ag-p2' }),
    ];
    const attestation: NodeAttestationRow = {
      nodeId: 'ag-n1', verdict: 'unverified', reasons: ['fake GPUs'], hardwareJson: JSON.stringify({ gpus: [{ index: 0 }], fake: true }),
      measuredTflops: { '0': 301.5, '1': 299 }, agentVersion: '0.1.0', atMs: T0,
    };
    await store.commit({
      enrollmentTokens: tokens,
      nodeCredentials: [{ tokenHash: 'sha256:ag-node-token', nodeId: 'ag-n1', createdAtMs: T0, revokedAtMs: null }],
      nodeAttestations: [attestation, { ...attestation, nodeId: 'ag-n2', verdict: 'mismatch', reasons: ['listed 8 GPUs, detected 4'], measuredTflops: null }],
      nodes: [node('ag-n1', { providerId: 'ag-p1', kind: 'agent' }), node('ag-n3', { providerId: 'ag-p1', kind: 'manual' })],
    });
    expect(await store.enrollmentTokenByHash('sha256:ag-t1')).toEqual(tokens[0]);
    expect(await store.enrollmentTokenByHash('missing')).toBeUndefined();
    // Open = unused and unexpired at the time asked, newest first, one provider's.
    expect((await store.listOpenEnrollmentTokens({ providerId: 'ag-p1', atMs: T0 + HOUR, limit: 10 })).map((t) => t.id)).toEqual(['ag-t2', 'ag-t1']);
    await store.commit({ enrollmentTokens: [{ ...tokens[1]!, usedAtMs: T0 + 5, nodeId: 'ag-n1' }] });
    expect((await store.listOpenEnrollmentTokens({ providerId: 'ag-p1', atMs: T0, limit: 10 })).map((t) => t.id)).toEqual(['ag-t3', 'ag-t1']);
    expect(await store.enrollmentTokenByHash('sha256:ag-t2')).toMatchObject({ usedAtMs: T0 + 5, nodeId: 'ag-n1' });

    expect(await store.nodeCredentialByHash('sha256:ag-node-token')).toEqual({ tokenHash: 'sha256:ag-node-token', nodeId: 'ag-n1', createdAtMs: T0, revokedAtMs: null });
    await store.commit({ nodeCredentials: [{ tokenHash: 'sha256:ag-node-token', nodeId: 'ag-n1', createdAtMs: T0, revokedAtMs: T0 + 9 }] });
    expect((await store.nodeCredentialByHash('sha256:ag-node-token'))?.revokedAtMs).toBe(T0 + 9);
    expect(await store.nodeCredentialByHash('missing')).toBeUndefined();
    expect(await store.nodeCredentialsOfNode('ag-n1')).toEqual([{ tokenHash: 'sha256:ag-node-token', nodeId: 'ag-n1', createdAtMs: T0, revokedAtMs: T0 + 9 }]);
    expect(await store.nodeCredentialsOfNode('missing')).toEqual([]);

    expect(await store.nodeAttestations(['ag-n2', 'ag-n1', 'missing'])).toEqual([attestation, { ...attestation, nodeId: 'ag-n2', verdict: 'mismatch', reasons: ['listed 8 GPUs, detected 4'], measuredTflops: null }]);
    expect(await store.nodeAttestations([])).toEqual([]);
    await expect(store.commit({ nodeAttestations: [{ ...attestation, verdict: 'great' as 'verified' }] })).rejects.toThrow(TypeError);

    const agentNodes = await store.listNodes({ providerId: 'ag-p1', kind: 'agent', limit: 10 });
    expect(agentNodes.items.map((n) => n.id)).toEqual(['ag-n1']);
  });

  it('copies workloads and access onto leases and lists a node’s live leases', async () => {
    const workloadJson = JSON.stringify({ runtime: 'process', command: ['python', 'train.py'], env: { HF_TOKEN: 'secret' }, mode: 'task' });
    await commitWithJournal({
      leases: [
        lease('wl-l1', { nodeId: 'wl-n1', state: 'provisioning', workloadJson }),
        lease('wl-l2', { nodeId: 'wl-n1', state: 'active', createdAtMs: T0 + 1, accessJson: JSON.stringify({ kind: 'process', pid: 42 }) }),
        lease('wl-l3', { nodeId: 'wl-n1', state: 'ended', createdAtMs: T0 + 2, endedAtMs: T0 + 3, endReason: 'job_exited' }),
        lease('wl-l4', { nodeId: 'wl-n2', state: 'pending' }),
      ],
    });
    expect(await store.getLease('wl-l1')).toEqual(lease('wl-l1', { nodeId: 'wl-n1', state: 'provisioning', workloadJson }));
    expect((await store.liveLeasesOfNode('wl-n1', 10)).map((l) => l.id)).toEqual(['wl-l1', 'wl-l2']);
    expect((await store.liveLeasesOfNode('wl-n1', 1)).map((l) => l.id)).toEqual(['wl-l1']);
    expect((await store.liveLeasesOfNode('wl-n1', 10))[1]!.accessJson).toBe(JSON.stringify({ kind: 'process', pid: 42 }));
    await expect(store.liveLeasesOfNode('wl-n1', 0)).rejects.toThrow(RangeError);
  });

  it('appends lease logs in batches and keeps them bounded by deleting the oldest', async () => {
    const line = (seq: number, over: Partial<LeaseLogRow> = {}): LeaseLogRow => ({ leaseId: 'log-l1', seq, stream: 'stdout', line: `step ${seq} 损失 0.1`, atMs: T0 + seq, ...over });
    expect(await store.lastLeaseLogSeq('log-l1')).toBe(0);
    await store.commit({ leaseLogs: [line(1), line(2, { stream: 'stderr' }), line(3, { stream: 'system' }), line(1, { leaseId: 'log-l2' })] });
    expect(await store.leaseLogs({ leaseId: 'log-l1', afterSeq: 0, limit: 10 })).toEqual([line(1), line(2, { stream: 'stderr' }), line(3, { stream: 'system' })]);
    expect(await store.leaseLogs({ leaseId: 'log-l1', afterSeq: 1, limit: 1 })).toEqual([line(2, { stream: 'stderr' })]);
    // Keep the last 2: the insert and the cut land in one transaction.
    await store.commit({ leaseLogs: [line(4), line(5)], deletes: { leaseLogsUpTo: [{ leaseId: 'log-l1', upToSeq: 3 }] } });
    expect((await store.leaseLogs({ leaseId: 'log-l1', afterSeq: 0, limit: 10 })).map((l) => l.seq)).toEqual([4, 5]);
    expect(await store.lastLeaseLogSeq('log-l1')).toBe(5);
    expect(await store.leaseLogs({ leaseId: 'log-l2', afterSeq: 0, limit: 10 })).toEqual([line(1, { leaseId: 'log-l2' })]);
    // A repeated line never fails a batch; overlong lines are cut.
    await store.commit({ leaseLogs: [line(5, { line: 'again' }), line(6, { line: 'x'.repeat(5_000) })] });
    const tail = await store.leaseLogs({ leaseId: 'log-l1', afterSeq: 4, limit: 10 });
    expect(tail.map((l) => [l.seq, l.line.length])).toEqual([[5, 5], [6, 4_096]]);
    await expect(store.commit({ leaseLogs: [line(7, { stream: 'tty' as 'stdout' })] })).rejects.toThrow(TypeError);
  });

  it('writes a batch larger than any one statement takes, in one transaction, exactly', async () => {
    // More rows per table than PostgreSQL's writer puts in one statement (5,000): several
    // statements in one transaction, each checked to continue the journal.
    const n = 6_100;
    const from = (await store.lastJournalSeq()) + 1;
    const journal = Array.from({ length: n }, (_, i) => entry(from + i, 'bulk'));
    const transfers = Array.from({ length: n }, (_, i) =>
      transfer(`bulk-x${String(i).padStart(5, '0')}`, {
        creditAccountId: 'bulk-acct',
        amountFen: i % 2 === 0 ? MAX_I64 - BigInt(i) : (1n << 53n) + BigInt(i), // past 2^53, up to 2^63 − 1
        pendingId: i % 3 === 0 ? null : `bulk-p${i}`,
        userData: i % 5 === 0 ? '' : `"quoted" \\ back\\slash, {braces} 算力 ${i}`,
        seq: i,
      }),
    );
    // Every order twice in the batch, the second differing in each column: the last wins.
    const first = Array.from({ length: n }, (_, i) => order(`bulk-o${i}`, { userId: 'u-bulk' }));
    const last = first.map((o, i) =>
      order(o.id, { userId: 'u-bulk', status: 'filled', remaining: 0, priceFen: i + 1, markets: [], specJson: `{"i":${i}}`, updatedAtMs: T0 + i }),
    );
    const leases = Array.from({ length: n }, (_, i) =>
      lease(`bulk-l${i}`, i % 2 === 0 ? {} : { state: 'ended', endedAtMs: T0 + i, endReason: 'completed', workloadJson: '{"image":"x"}', accessJson: 'null' }),
    );
    await store.commit({ journal, transfers, orders: [...first, ...last], leases });

    expect(await store.lastJournalSeq()).toBe(from + n - 1);
    expect(await store.journalAfter(from - 1, 10_000)).toEqual(journal);
    const stored = await collect(500, (cursor) => store.accountTransfers({ accountId: 'bulk-acct', cursor, limit: 500 }));
    expect(stored).toEqual([...transfers].sort((a, b) => a.seq - b.seq || cmp(a.id, b.id)));
    for (const i of [0, 1, 4_999, 5_000, 5_001, n - 1]) {
      expect(await store.getOrder(`bulk-o${i}`)).toEqual(last[i]);
      expect(await store.getLease(`bulk-l${i}`)).toEqual(leases[i]);
    }

    // All or nothing across statements: a duplicate in the last statement undoes the first.
    const next = from + n;
    const again = Array.from({ length: n }, (_, i) => transfer(`bulk-y${i}`, { creditAccountId: 'bulk-acct2', seq: i }));
    await expect(
      store.commit({ journal: Array.from({ length: n }, (_, i) => entry(next + i, 'bulk')), transfers: [...again, transfer('bulk-y0', { seq: n })] }),
    ).rejects.toThrow();
    expect(await store.lastJournalSeq()).toBe(next - 1);
    expect((await store.accountTransfers({ accountId: 'bulk-acct2', limit: 10 })).items).toEqual([]);
    // A batch that does not continue the stored journal fails in its first statement.
    await expect(store.commit({ journal: Array.from({ length: n }, (_, i) => entry(next + 1 + i, 'bulk')) })).rejects.toThrow(JournalSequenceError);
    expect(await store.lastJournalSeq()).toBe(next - 1);
  });

  it('writes any mix of tables in one commit, on one connection, one after another', async () => {
    // Every table, then every table but one (each left out in turn): fifteen different mixes,
    // which a writer must not confuse (PostgreSQL keeps one prepared statement per mix).
    const rowsOf = (i: number): Omit<CommitBatch, 'journal'> => ({
      users: [user(`mix-u${i}`)],
      sessions: [session(`mix-s${i}`)],
      apiKeys: [apiKey(`mix-k${i}`)],
      idempotency: [idem('mix-u', `k${i}`)],
      nodes: [node(`mix-n${i}`)],
      orders: [order(`mix-o${i}`)],
      trades: [trade(`mix-t${i}`)],
      leases: [lease(`mix-l${i}`)],
      transfers: [transfer(`mix-x${i}`, { creditAccountId: 'mix-acct', seq: i })],
      settings: [{ key: `mix.${i}`, value: String(i) }],
      enrollmentTokens: [{ id: `mix-e${i}`, tokenHash: `sha256:mix-e${i}`, providerId: 'mix-p', regionId: 'cn-beijing', acceleratorId: null, gpuCount: null, label: 'l', createdAtMs: T0, expiresAtMs: T0 + HOUR, usedAtMs: null, nodeId: null }],
      nodeCredentials: [{ tokenHash: `sha256:mix-c${i}`, nodeId: `mix-n${i}`, createdAtMs: T0, revokedAtMs: null }],
      nodeAttestations: [{ nodeId: `mix-n${i}`, verdict: 'verified', reasons: [], hardwareJson: '{}', measuredTflops: null, agentVersion: '0.1.0', atMs: T0 }],
      leaseLogs: [{ leaseId: `mix-l${i}`, seq: 1, stream: 'stdout', line: `line ${i}`, atMs: T0 }],
    });
    const tables = Object.keys(rowsOf(0)) as (keyof ReturnType<typeof rowsOf>)[];
    for (let leftOut = -1; leftOut < tables.length; leftOut++) {
      const i = leftOut + 1;
      const batch = Object.fromEntries(Object.entries(rowsOf(i)).filter(([table]) => table !== tables[leftOut]));
      await commitWithJournal(batch);
      const has = (table: string): boolean => table !== tables[leftOut];
      expect(await store.userById(`mix-u${i}`)).toEqual(has('users') ? user(`mix-u${i}`) : undefined);
      expect(await store.getOrder(`mix-o${i}`)).toEqual(has('orders') ? order(`mix-o${i}`) : undefined);
      expect(await store.getLease(`mix-l${i}`)).toEqual(has('leases') ? lease(`mix-l${i}`) : undefined);
      expect(await store.getTrade(`mix-t${i}`)).toEqual(has('trades') ? trade(`mix-t${i}`) : undefined);
      expect(await store.getSetting(`mix.${i}`)).toBe(has('settings') ? String(i) : undefined);
      expect((await store.nodeCredentialByHash(`sha256:mix-c${i}`))?.nodeId).toBe(has('nodeCredentials') ? `mix-n${i}` : undefined);
      expect((await store.leaseLogs({ leaseId: `mix-l${i}`, afterSeq: 0, limit: 10 })).length).toBe(has('leaseLogs') ? 1 : 0);
    }
    const transfers = await store.accountTransfers({ accountId: 'mix-acct', limit: 100 });
    const expected = Array.from({ length: tables.length + 1 }, (_, i) => `mix-x${i}`).filter((id) => id !== `mix-x${tables.indexOf('transfers') + 1}`);
    expect(transfers.items.map((t) => t.id)).toEqual(expected);
  });

  it('stores text with lone surrogates instead of failing the batch', async () => {
    // Not well-formed UTF-16 (a JS string can hold it): the stores replace the lone half with
    // U+FFFD as they encode UTF-8; the commit must not fail (a failed commit stops the exchange).
    const seq = await commitWithJournal({ users: [user('sur-u1', { displayName: 'a\ud800b' })], orders: [order('sur-o1', { specJson: '{"x":"\udc00"}' })] });
    expect(await store.lastJournalSeq()).toBe(seq);
    const name = (await store.userById('sur-u1'))!.displayName;
    expect(name.startsWith('a') && name.endsWith('b') && name.includes('\ufffd')).toBe(true);
    expect(name).not.toContain('\ud800');
    expect((await store.getOrder('sur-o1'))!.specJson).toMatch(/^\{"x":"\ufffd+"\}$/);
  });

  it('stores U+FFFD for U+0000 in text (PostgreSQL text cannot hold it) instead of failing the batch', async () => {
    const seq = await commitWithJournal({
      users: [user('nul-u1', { displayName: 'a\u0000b' })],
      leaseLogs: [{ leaseId: 'nul-l1', seq: 1, stream: 'stdout', line: 'x\u0000y\u0000', atMs: 5 }],
    });
    expect(await store.lastJournalSeq()).toBe(seq);
    expect((await store.userById('nul-u1'))!.displayName).toBe('a\ufffdb');
    expect((await store.leaseLogs({ leaseId: 'nul-l1', afterSeq: 0, limit: 10 })).map((l) => l.line)).toEqual(['x\ufffdy\ufffd']);
  });

  it('writes a big batch (binary arrays on PostgreSQL) exactly: any text, nulls and extreme integers', async () => {
    // PostgreSQL passes a statement of 50 rows or more as binary arrays, a smaller one as JSON:
    // the same values must come back either way. (SQLite may store one U+FFFD per byte of a lone
    // surrogate, PostgreSQL one per surrogate: `one` folds runs of them.)
    const strange = ['', 'ascii', '用户 算力 🚀', 'a\ud800b', '\udc00', 'x\u0000y', 'é'.repeat(47), 'z'.repeat(48), `${'长'.repeat(3_000)}🚀`];
    const one = (s: string | null | undefined): string | null | undefined => (typeof s === 'string' ? s.replace(/\ufffd+/g, '\ufffd') : s);
    const stored = (s: string): string => s.replaceAll('\u0000', '\ufffd').replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
    const orders = Array.from({ length: 30 }, (_, i) =>
      order(`big-o${i}`, {
        specJson: JSON.stringify({ note: strange[i % strange.length] }),
        remaining: [0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 32, -(2 ** 32) - 1][i % 6]!,
        priceFen: i * 4_294_967_297,
        createdAtMs: T0 + i,
      }),
    );
    // Raw text (not JSON-escaped): lone surrogates and U+0000 come back as U+FFFD.
    const leases = Array.from({ length: 30 }, (_, i) =>
      lease(`big-l${i}`, {
        buyerId: `big-b${i % 3}`,
        endReason: i % 3 === 0 ? null : strange[i % strange.length]!,
        workloadJson: i % 4 === 0 ? null : strange[(i + 1) % strange.length]! + (i === 29 ? ' '.repeat(300_000) : ''),
        endedAtMs: i % 2 === 0 ? null : -i,
        gpuIndices: [i % 8],
      }),
    );
    const trades = [trade('big-t1', { gpus: 2 ** 31 - 1, seq: Number.MAX_SAFE_INTEGER }), trade('big-t2', { gpus: -(2 ** 31), seq: 0 })];
    const transfers = [transfer('big-x1', { amountFen: MAX_I64, flags: 7, pendingId: 'p\ud800', userData: strange[8]!, creditAccountId: 'big-acct', seq: 1 })];
    const users = [user('big-u1', { displayName: strange[3]!, disabledAtMs: 1 })];
    const seq = await commitWithJournal({ orders, leases, trades, transfers, users, leaseLogs: [{ leaseId: 'big-l1', seq: 1, stream: 'stderr', line: 'a\u0000\ud800', atMs: 5 }] }, '大批');

    expect((await store.journalAfter(seq - 1, 1))[0]?.kind).toBe('大批');
    for (const o of orders) expect(await store.getOrder(o.id)).toEqual(o);
    for (const l of leases) {
      const got = await store.getLease(l.id);
      expect(got && { ...got, endReason: one(got.endReason), workloadJson: one(got.workloadJson) }).toEqual({
        ...l,
        endReason: l.endReason == null ? null : stored(l.endReason),
        workloadJson: l.workloadJson == null ? null : stored(l.workloadJson),
      });
    }
    expect(await store.getTrade('big-t1')).toEqual(trades[0]);
    expect(await store.getTrade('big-t2')).toEqual(trades[1]);
    const x = (await store.accountTransfers({ accountId: 'big-acct', limit: 10 })).items;
    expect(x.map((t) => ({ ...t, pendingId: one(t.pendingId) }))).toEqual([{ ...transfers[0], pendingId: 'p\ufffd' }]);
    expect(one((await store.userById('big-u1'))?.displayName)).toBe('a\ufffdb');
    expect((await store.leaseLogs({ leaseId: 'big-l1', afterSeq: 0, limit: 10 })).map((l) => one(l.line))).toEqual(['a\ufffd']);
  });

  it('keeps committed data across close and reopen', async () => {
    const seq = await commitWithJournal({ orders: [order('dur-o1')], transfers: [transfer('dur-x1', { amountFen: 9_007_199_254_740_993n })] });
    await store.close();
    if (loc.sqliteFile !== undefined) {
      // Another connection sees it on disk, in WAL mode.
      const raw = new BetterSqlite3(loc.sqliteFile, { readonly: true });
      try {
        expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
        expect(raw.prepare('select amount_fen from transfers where id = ?').get('dur-x1')).toEqual({ amount_fen: '9007199254740993' });
      } finally {
        raw.close();
      }
    }
    store = await openStore(loc.location);
    await store.migrate();
    expect(await store.lastJournalSeq()).toBe(seq);
    expect(await store.getOrder('dur-o1')).toEqual(order('dur-o1'));
    const page = await store.accountTransfers({ accountId: 'acct-cash', limit: 500 });
    expect(page.items.find((x) => x.id === 'dur-x1')?.amountFen).toBe(9_007_199_254_740_993n);
  });

  it('one writer per store: a second store on the same database is refused the writer lock until the first closes', async () => {
    const first = await openStore(loc.location);
    const second = await openStore(loc.location);
    try {
      await first.lockWriter();
      await first.lockWriter(); // again on the same store: a no-op
      const refused = await second.lockWriter().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(StoreLockedError);
      expect((refused as StoreLockedError).message).toMatch(/another exchange is using this database/);
      // Refused, the store still reads: only the lock was refused.
      expect(await second.lastJournalSeq()).toBe(await first.lastJournalSeq());
      await first.close();
      await second.lockWriter();
      const third = await openStore(loc.location);
      await expect(third.lockWriter()).rejects.toBeInstanceOf(StoreLockedError);
      await third.close();
    } finally {
      await first.close();
      await second.close();
    }
  });
});

describe('writer lock of an in-memory SQLite store', () => {
  it('has nothing to share: every in-memory store takes it', async () => {
    const a = await openSqliteStore({ file: ':memory:' });
    const b = await openSqliteStore({ file: ':memory:' });
    await a.lockWriter();
    await b.lockWriter();
    await a.close();
    await b.close();
  });
});
