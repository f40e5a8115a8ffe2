/**
 * The REST API on both stores (a SQLite file and a fresh PostgreSQL database): the trading
 * story end to end, the authorization matrix, bad input that changes nothing, idempotent
 * replays, rate limits, halts, API keys, the OpenAPI document; and `startServer` over real HTTP.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CORE_CODES, REJECTION_STATUS } from '../src/api/errors.js';
import { startServer } from '../src/cli/serve.js';
import type { Store } from '../src/store/index.js';
import { type Actor, FAST_ARGON2, type Harness, ok, openHarness } from './support/api-harness.js';
import { ACTOR_ORDER, type ActorName, type Fixture, MATRIX } from './support/api-matrix.js';
import { waitFor } from './support/processes.js';
import { storeAdapters } from './support/stores.js';

const A100 = 'nvidia-a100-sxm4-40g';
const MARKET = `${A100}@cn-beijing`;
const HOUR_MS = 3_600_000;

const { adapters, dir } = storeAdapters('api');

/**
 * A provider with an 8-GPU A100 node listed at ¥22.70 in `regionId` (each test its own region, so
 * tests never trade with each other's asks), and a buyer with ¥1,000 deposited.
 */
async function market(h: Harness, admin: Actor, tag: string, regionId = 'cn-beijing'): Promise<{ buyer: Actor; provider: Actor; nodeId: string; askId: string }> {
  const provider = await h.signup(`prov-${tag}`, 'provider');
  const buyer = await h.signup(`buyer-${tag}`, 'buyer');
  const node = ok(await provider.post('/nodes', { acceleratorId: A100, regionId, gpuCount: 8, spec: { cpuCores: 128, ramGiB: 1024 } }), 201).body.node;
  const ask = ok(await provider.post('/asks', { nodeIds: [node.id], priceFenPerGpuHour: 2270 }), 201).body.order;
  ok(await admin.post('/admin/deposits', { userId: buyer.userId, amountFen: '100000' }), 201);
  return { buyer, provider, nodeId: node.id, askId: ask.id };
}

/** Everything a bad request must leave alone. */
async function snapshot(h: Harness, actors: readonly Actor[]): Promise<unknown> {
  return { seq: h.loop.journalSeq, stored: await h.store.lastJournalSeq(), balances: await Promise.all(actors.map(async (a) => (await a.get('/balances')).body)) };
}

describe.each(adapters)('REST API on $name', (adapter) => {
  let h: Harness;
  let store: Store;
  let admin: Actor;

  beforeAll(async () => {
    store = await adapter.open();
    h = await openHarness(store);
    admin = await h.admin('root');
  });
  afterAll(async () => {
    await store.close();
  });

  it('signs up, logs in, says who you are, logs out', async () => {
    const a = h.actor('alice');
    const signup = ok(await a.post('/auth/signup', { email: 'Alice@Example.com', password: 'long enough pw', role: 'buyer', displayName: 'Alice' }), 201);
    expect(signup.body.user).toMatchObject({ email: 'alice@example.com', role: 'buyer', displayName: 'Alice' });
    expect(signup.headers.get('set-cookie')).toMatch(/suanli_session=.+; Max-Age=604800; Path=\/; HttpOnly; SameSite=Lax/);
    expect(ok(await a.get('/me')).body.user.id).toBe(signup.body.user.id);
    expect(await h.ctx.core.hasAccount(signup.body.user.id)).toBe(true); // accounts opened with the user
    ok(await a.post('/auth/logout'), 204);
    expect((await a.get('/me')).status).toBe(401);
    const b = h.actor('alice2');
    expect((await b.post('/auth/login', { email: 'alice@example.com', password: 'wrong password' })).body.error.code).toBe('INVALID_CREDENTIALS');
    expect((await b.post('/auth/login', { email: 'nobody@example.com', password: 'wrong password' })).status).toBe(401);
    ok(await b.post('/auth/login', { email: 'ALICE@example.com', password: 'long enough pw' }));
    expect(ok(await b.get('/me')).body.user.email).toBe('alice@example.com');
    const dup = await h.actor('x').post('/auth/signup', { email: 'alice@example.com', password: 'long enough pw', role: 'provider', displayName: 'A' });
    expect([dup.status, dup.body.error.code]).toEqual([409, 'EMAIL_TAKEN']);
    // Two signups for one email at once: one wins, the other is refused (never a commit clash).
    const race = await Promise.all([1, 2].map((i) => h.actor(`r${i}`).post('/auth/signup', { email: 'race@example.com', password: 'long enough pw', role: 'buyer', displayName: `r${i}` })));
    expect(race.map((r) => r.status).sort()).toEqual([201, 409]);
    const adminRole = await h.actor('y').post('/auth/signup', { email: 'y@example.com', password: 'long enough pw', role: 'admin', displayName: 'Y' });
    expect(adminRole.status).toBe(400); // admins are made by admins only
  });

  it('trades: node and ask, deposit and bid, trade, lease, early end, refund in balances and statements', async () => {
    const { buyer, provider, nodeId, askId } = await market(h, admin, 'story');
    expect(ok(await provider.get(`/nodes/${nodeId}`)).body.node).toMatchObject({ gpuCount: 8, kind: 'manual', status: 'online', market: MARKET, spec: { cpuCores: 128, ramGiB: 1024 } });
    expect(ok(await buyer.get(`/markets/${MARKET}/book`)).body.asks).toEqual([{ priceFenPerGpuHour: 2270, gpus: 8 }]);
    const placed = ok(await buyer.post('/bids', { acceleratorIds: [A100], gpus: 2, hours: 2, limitFenPerGpuHour: 2500 }), 201).body;
    expect(placed.order).toMatchObject({ side: 'bid', status: 'filled', remaining: 0, priceFen: 2500, markets: [`${A100}@*`] });
    expect(placed.trades).toMatchObject([{ gpus: 2, priceFenPerGpuHour: 2270, side: 'buy', askId, hours: 2 }]); // at the ask's price
    expect(placed.leases).toHaveLength(1);
    const leaseId: string = placed.leases[0].id;
    expect(placed.leases[0]).toMatchObject({ state: 'active', nodeId, gpuIndices: [0, 1], role: 'buyer' });
    // the stored views agree with the answer
    expect(ok(await buyer.get(`/orders/${placed.order.id}`)).body.order).toMatchObject({ status: 'filled', bid: { gpus: 2, hours: 2, timeInForce: 'GTC' } });
    expect(ok(await buyer.get('/balances')).body).toMatchObject({ cashFen: String(100_000 - 9_080), escrowFen: '9080', heldFen: '0' });
    expect(ok(await provider.get('/leases')).body.items.map((l: { id: string; role: string }) => [l.id, l.role])).toEqual([[leaseId, 'provider']]);
    expect(ok(await provider.get('/trades')).body.items[0]).toMatchObject({ side: 'sell', gpus: 2 });

    h.advance(HOUR_MS / 2);
    await h.tick();
    expect(ok(await buyer.get(`/leases/${leaseId}`)).body.lease.billing).toMatchObject({ chargedFen: '2270', accruedFen: '2270' });
    const ended = ok(await buyer.post(`/leases/${leaseId}/end`)).body;
    expect(ended).toMatchObject({ refundFen: '6810', slaCreditFen: '0', lease: { state: 'ended', endReason: 'buyer' } });
    expect(ok(await buyer.get('/balances')).body).toMatchObject({ cashFen: String(100_000 - 2_270), escrowFen: '0', heldFen: '0', display: { cash: '¥977.30' } });
    expect(ok(await provider.get('/balances')).body.earningsFen).toBe(String(2_270 - 113)); // 5% fee, rounded down
    expect((await buyer.post(`/leases/${leaseId}/end`)).body.error.code).toBe('LEASE_ALREADY_ENDED');

    // The provider is paid out: never more than it earned, and nothing moves on a refusal.
    const over = await admin.post('/admin/withdrawals', { userId: provider.userId, amountFen: String(2_270 - 113 + 1) });
    expect([over.status, over.body.error.code]).toEqual([402, 'INSUFFICIENT_FUNDS']);
    expect(ok(await provider.get('/balances')).body.earningsFen).toBe(String(2_270 - 113));
    expect(ok(await admin.post('/admin/withdrawals', { userId: provider.userId, amountFen: '2000' }), 201).body).toMatchObject({ userId: provider.userId, amountFen: '2000', from: 'earnings' });
    expect(ok(await provider.get('/balances')).body.earningsFen).toBe(String(2_270 - 113 - 2_000));
    expect((await admin.post('/admin/withdrawals', { userId: 'u-nobody', amountFen: '1' })).body.error.code).toBe('USER_NOT_FOUND');
    const platform = ok(await admin.get('/admin/ledger')).body;
    expect(platform.totals).toMatchObject({ feesFen: '113', sumFen: '0' });
    expect(platform.accounts.find((a: { id: string }) => a.id === 'world').balanceFen).toBe(String(-Number(platform.totals.depositedFen)));

    const cash = ok(await buyer.get('/statement?account=cash')).body;
    expect(cash.items[0]).toMatchObject({ code: 'deposit', creditFen: '100000', balanceFen: '100000', counterparty: 'world' });
    expect(cash.closingBalanceFen).toBe(String(100_000 - 2_270));
    expect(cash.items.at(-1).balanceFen).toBe(cash.closingBalanceFen);
    const escrow = ok(await buyer.get('/statement?account=escrow')).body;
    expect(JSON.stringify(escrow)).not.toContain(provider.userId); // other users are masked
    const monthly = ok(await buyer.get('/statement/monthly?month=2026-01')).body;
    expect(monthly.compute).toMatchObject({ cashFen: '2270', voucherFen: '0', totalFen: '2270' });

    // the market's statistics and candles
    const m = ok(await h.actor('anon').get('/markets')).body.items.find((x: { market: string }) => x.market === MARKET);
    expect(m).toMatchObject({ lastTradeFen: 2270, volume24hGpuHours: 4, change24hPct: 0, side: 'east', hubId: 'beijing-tianjin-hebei' });
    const candles = ok(await h.actor('anon').get(`/markets/${MARKET}/candles?interval=1h`)).body.items;
    expect(candles.at(-1)).toMatchObject({ open: 2270, close: 2270, volumeGpus: 2, volumeGpuHours: 4 });
    expect(ok(await h.actor('anon').get(`/markets/${MARKET}/trades`)).body.items[0]).not.toHaveProperty('bidId');
  });

  it('resting bids hold money, amend, cancel and release; compute amounts in P are exact', async () => {
    const { buyer } = await market(h, admin, 'rest', 'cn-tianjin');
    const resting = ok(await buyer.post('/bids', { acceleratorIds: [A100], regionIds: ['cn-shanghai'], gpus: 1, hours: 1, limitFenPerGpuHour: 3000 }), 201).body;
    expect(resting).toMatchObject({ holdFen: '3000', order: { status: 'active', remaining: 1 } });
    expect(ok(await buyer.get('/balances')).body).toMatchObject({ heldFen: '3000', availableFen: '97000' });
    const amended = ok(await buyer.call('PATCH', `/orders/${resting.order.id}`, { priceFen: 3500 })).body.order;
    expect(amended).toMatchObject({ priceFen: 3500, holdFen: '3500' });
    expect(ok(await buyer.call('DELETE', `/orders/${resting.order.id}`)).body.order.status).toBe('cancelled');
    expect(ok(await buyer.get('/balances')).body).toMatchObject({ heldFen: '0', cashFen: '100000' });
    expect((await buyer.call('DELETE', `/orders/${resting.order.id}`)).body.error.code).toBe('ORDER_NOT_ACTIVE');
    const compute = ok(await buyer.post('/bids', { acceleratorIds: [A100], regionIds: ['cn-shanghai'], computeP: '0.3120', hours: 1, limitFenPerPHour: 8000 }), 201).body;
    expect(compute.order).toMatchObject({ remaining: 3_120, remainingUnit: 'deci_tflops', priceUnit: 'fen_per_p_hour', bid: { computeP: '0.312' } });
    ok(await buyer.call('DELETE', `/orders/${compute.order.id}`));
  });

  it('answers every route by role and ownership (the authorization matrix)', async () => {
    const region = 'cn-hebei-langfang';
    const { buyer, provider, nodeId, askId } = await market(h, admin, 'matrix', region);
    const other = await h.signup('other-matrix', 'buyer');
    ok(await admin.post('/admin/deposits', { userId: other.userId, amountFen: '100000' }), 201);
    const restingBid = ok(await buyer.post('/bids', { acceleratorIds: [A100], regionIds: ['cn-shanghai'], gpus: 1, hours: 1, limitFenPerGpuHour: 2000 }), 201).body.order.id;
    const lease = ok(await buyer.post('/bids', { acceleratorIds: [A100], regionIds: [region], gpus: 1, hours: 1, limitFenPerGpuHour: 2270 }), 201).body.leases[0].id;
    const key = ok(await buyer.post('/api-keys', { name: 'matrix', scopes: ['read'] }), 201).body.id;
    const f: Fixture = { market: `${A100}@${region}`, buyerOrderId: restingBid, askId, askPriceFen: 2270, nodeId, leaseId: lease, buyerKeyId: key };
    const actors: Record<ActorName, Actor> = { anon: h.actor('anon'), buyer, provider, admin, other };
    const failures: string[] = [];
    for (const row of MATRIX) {
      for (const name of ACTOR_ORDER) {
        const want = row.expect[name];
        if (want === null) continue;
        const r = await actors[name].call(row.method, row.path(f), row.body?.(f));
        if (r.status !== want) failures.push(`${row.method} ${row.route} as ${name}: ${r.status} (want ${want}) ${JSON.stringify(r.body).slice(0, 160)}`);
      }
    }
    expect(failures).toEqual([]);
    // The matrix covers every documented route.
    const doc = ok(await h.actor('anon').get('/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/^\/api\/v1/, '')}`));
    expect(documented.sort()).toEqual(MATRIX.map((row) => `${row.method} ${row.route}`).sort());
  });

  it('refuses bad input with a stable code and changes nothing', async () => {
    const { buyer, provider } = await market(h, admin, 'bad', 'cn-hebei-baoding');
    const other = await h.signup('other-bad', 'provider');
    const otherNode = ok(await other.post('/nodes', { acceleratorId: A100, regionId: 'cn-hebei-baoding', gpuCount: 8 }), 201).body.node.id;
    const bid = { acceleratorIds: [A100], regionIds: ['cn-hebei-baoding'], gpus: 1, hours: 1, limitFenPerGpuHour: 2270 };
    const cases: [Actor, string, string, unknown, number, string, Record<string, string>?][] = [
      [buyer, 'POST', '/bids', '{"gpus":', 400, 'MALFORMED_JSON'],
      [buyer, 'POST', '/bids', { ...bid, gpus: '1' }, 400, 'VALIDATION_FAILED'],
      [buyer, 'POST', '/bids', { ...bid, limitFenPerGpuHour: -5 }, 400, 'VALIDATION_FAILED'],
      [buyer, 'POST', '/bids', { ...bid, limitFenPerGpuHour: 22.7 }, 400, 'VALIDATION_FAILED'],
      [buyer, 'POST', '/bids', { ...bid, limitFenPerGpuHour: 2 ** 60 }, 400, 'VALIDATION_FAILED'],
      [buyer, 'POST', '/bids', { ...bid, limitFen: 2270 }, 400, 'VALIDATION_FAILED'],
      [buyer, 'POST', '/bids', { ...bid, acceleratorIds: ['no-such-gpu'] }, 400, 'UNKNOWN_ACCELERATOR'],
      [buyer, 'POST', '/bids', { ...bid, regionIds: ['atlantis'] }, 400, 'UNKNOWN_REGION'],
      [buyer, 'POST', '/bids', { ...bid, gpus: undefined, computeP: '2.12345', limitFenPerPHour: 9000, limitFenPerGpuHour: undefined }, 400, 'VALIDATION_FAILED'],
      [buyer, 'POST', '/bids', { ...bid, startAt: '2020-01-01T00:00:00Z' }, 400, 'START_IN_PAST'],
      [buyer, 'POST', '/bids', { ...bid, pad: 'x'.repeat(70_000) }, 413, 'BODY_TOO_LARGE'],
      [buyer, 'POST', '/bids', JSON.stringify(bid), 415, 'UNSUPPORTED_MEDIA_TYPE', { 'content-type': 'text/plain' }],
      [admin, 'POST', '/admin/deposits', { userId: buyer.userId, amountFen: '-100' }, 400, 'VALIDATION_FAILED'],
      [admin, 'POST', '/admin/deposits', { userId: buyer.userId, amountFen: '0' }, 400, 'VALIDATION_FAILED'],
      [admin, 'POST', '/admin/deposits', { userId: buyer.userId, amountFen: '1.5' }, 400, 'VALIDATION_FAILED'],
      [admin, 'POST', '/admin/deposits', { userId: buyer.userId, amountFen: '99999999999999999999' }, 400, 'VALIDATION_FAILED'],
      [admin, 'POST', '/admin/deposits', { userId: buyer.userId, amountFen: 100 }, 400, 'VALIDATION_FAILED'],
      [admin, 'POST', '/admin/deposits', { userId: 'u-nobody', amountFen: '100' }, 404, 'USER_NOT_FOUND'],
      [provider, 'POST', '/asks', { nodeIds: [otherNode], priceFenPerGpuHour: 100 }, 404, 'NODE_NOT_FOUND'],
      [provider, 'POST', '/nodes', { acceleratorId: A100, regionId: 'atlantis', gpuCount: 8 }, 400, 'UNKNOWN_REGION'],
      [provider, 'POST', '/nodes', { acceleratorId: A100, regionId: 'cn-beijing', gpuCount: 8, kind: 'agent' }, 400, 'VALIDATION_FAILED'],
      [buyer, 'GET', '/markets/nope@nowhere/book', undefined, 404, 'MARKET_NOT_FOUND'],
      [buyer, 'GET', '/markets/not-a-market/book', undefined, 400, 'VALIDATION_FAILED'],
      [buyer, 'GET', '/orders?limit=100000', undefined, 400, 'VALIDATION_FAILED'],
      [buyer, 'GET', '/orders?cursor=garbage', undefined, 400, 'INVALID_CURSOR'],
      [buyer, 'GET', '/no/such/route', undefined, 404, 'NOT_FOUND'],
    ];
    const before = await snapshot(h, [buyer, provider, other]);
    for (const [actor, method, path, body, status, code, headers] of cases) {
      const r = await actor.call(method, path, body, headers);
      expect({ path, status: r.status, code: r.body?.error?.code }).toEqual({ path, status, code });
      if (code === 'VALIDATION_FAILED' && status === 400) expect(r.body.error.details.issues[0]).toHaveProperty('path');
    }
    expect(await snapshot(h, [buyer, provider, other])).toEqual(before);
    const typed = await buyer.post('/bids', { ...bid, gpus: '1' });
    expect(typed.body.error.details.issues).toContainEqual({ path: 'json.gpus', message: expect.any(String) });
    // Money short: a business rejection (journaled with its time), balances untouched.
    const poor = await h.signup('poor-bad', 'buyer');
    const balances = (await poor.get('/balances')).body;
    const r = await poor.post('/bids', bid);
    expect([r.status, r.body.error.code]).toEqual([402, 'INSUFFICIENT_FUNDS']);
    expect((await poor.get('/balances')).body).toEqual(balances);
  });

  it('replays Idempotency-Key requests and refuses a reused key with another body', async () => {
    const { buyer } = await market(h, admin, 'idem', 'cn-jiangsu');
    const key = { 'idempotency-key': 'dep-1' };
    const first = ok(await admin.call('POST', '/admin/deposits', { userId: buyer.userId, amountFen: '500' }, key), 201);
    const seq = h.loop.journalSeq;
    const again = ok(await admin.call('POST', '/admin/deposits', { amountFen: '500', userId: buyer.userId }, key), 201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(h.loop.journalSeq).toBe(seq);
    expect((await buyer.get('/balances')).body.cashFen).toBe('100500');
    const reused = await admin.call('POST', '/admin/deposits', { userId: buyer.userId, amountFen: '501' }, key);
    expect([reused.status, reused.body.error.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    // Bids: the whole placement answer is replayed, the order placed once.
    const bid = { acceleratorIds: [A100], regionIds: ['cn-shanghai'], gpus: 1, hours: 1, limitFenPerGpuHour: 1000 };
    const b1 = ok(await buyer.call('POST', '/bids', bid, { 'idempotency-key': 'bid-1' }), 201);
    const b2 = ok(await buyer.call('POST', '/bids', bid, { 'idempotency-key': 'bid-1' }), 201);
    expect(b2.body).toEqual(b1.body);
    expect((await buyer.get('/orders?status=active')).body.items.filter((o: { id: string }) => o.id === b1.body.order.id)).toHaveLength(1);
    // A rejection is recorded and replayed too.
    const big = { ...bid, gpus: 1000, limitFenPerGpuHour: 100_000 };
    const r1 = await buyer.call('POST', '/bids', big, { 'idempotency-key': 'bid-2' });
    const r2 = await buyer.call('POST', '/bids', big, { 'idempotency-key': 'bid-2' });
    expect([r1.status, r2.status, r2.body]).toEqual([402, 402, r1.body]);
    // Keys are per user.
    ok(await h.actor('x').post('/auth/signup', { email: 'idem2@example.com', password: 'long enough pw', role: 'buyer', displayName: 'x' }), 201);
  });

  it('API keys carry scopes; revoked keys stop working', async () => {
    const buyer = await h.signup('keys', 'buyer');
    const readOnly = ok(await buyer.post('/api-keys', { name: 'ro', scopes: ['read'] }), 201).body;
    expect(readOnly.key).toMatch(/^sk_/);
    expect((await buyer.post('/api-keys', { name: 'bad', scopes: ['admin'] })).body.error.code).toBe('SCOPE_NOT_ALLOWED');
    const bot = h.actor('bot');
    bot.apiKey = readOnly.key;
    ok(await bot.get('/orders'));
    expect((await bot.post('/bids', {})).body.error.code).toBe('INSUFFICIENT_SCOPE');
    expect((await bot.post('/api-keys', { name: 'x', scopes: ['read'] })).body.error.code).toBe('SESSION_REQUIRED');
    const listed = ok(await buyer.get('/api-keys')).body.items;
    expect(listed[0]).toMatchObject({ id: readOnly.id, scopes: ['read'] });
    expect(JSON.stringify(listed)).not.toContain(readOnly.key);
    // a key may revoke itself, but not its owner's other keys
    const other = ok(await buyer.post('/api-keys', { name: 'other', scopes: ['read'] }), 201).body;
    expect((await bot.call('DELETE', `/api-keys/${other.id}`)).body.error.code).toBe('SESSION_REQUIRED');
    const third = h.actor('third');
    third.apiKey = other.key;
    ok(await third.get('/orders'));
    ok(await buyer.call('DELETE', `/api-keys/${readOnly.id}`), 204);
    expect((await bot.get('/orders')).body.error.code).toBe('INVALID_API_KEY');
    ok(await third.call('DELETE', `/api-keys/${other.id}`), 204);
    expect((await third.get('/orders')).body.error.code).toBe('INVALID_API_KEY');
  });

  it('halts a market: new orders only there are refused, resting ones stay', async () => {
    const { buyer, provider, nodeId } = await market(h, admin, 'halt', 'cn-anhui-hefei');
    const market1 = `${A100}@cn-anhui-hefei`;
    const market2 = `${A100}@cn-shanghai`;
    const resting = ok(await buyer.post('/bids', { acceleratorIds: [A100], regionIds: ['cn-shanghai'], gpus: 1, hours: 1, limitFenPerGpuHour: 1000 }), 201).body.order.id;
    ok(await admin.post(`/admin/markets/${market2}/halt`));
    const refused = await buyer.post('/bids', { acceleratorIds: [A100], regionIds: ['cn-shanghai'], gpus: 1, hours: 1, limitFenPerGpuHour: 1000 });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'MARKET_HALTED']);
    ok(await buyer.post('/bids', { acceleratorIds: [A100], regionIds: ['cn-shanghai', 'cn-anhui-hefei'], gpus: 1, hours: 1, limitFenPerGpuHour: 100 }), 201); // Hefei still open
    expect((await buyer.get(`/orders/${resting}`)).body.order.status).toBe('active');
    expect((await h.actor('a').get('/markets')).body.items.find((m: { market: string }) => m.market === market1).halted).toBe(false);
    ok(await admin.post(`/admin/markets/${market1}/halt`));
    expect((await h.actor('a').get('/markets')).body.items.find((m: { market: string }) => m.market === market1).halted).toBe(true);
    expect((await provider.post('/asks', { nodeIds: [nodeId], priceFenPerGpuHour: 100 })).body.error.code).toBe('MARKET_HALTED');
    ok(await admin.post(`/admin/markets/${market1}/resume`));
    ok(await admin.post(`/admin/markets/${market2}/resume`));
    ok(await buyer.post('/bids', { acceleratorIds: [A100], regionIds: ['cn-shanghai'], gpus: 1, hours: 1, limitFenPerGpuHour: 1000 }), 201);
  });

  it('disables a user: sessions and keys stop at once, resting orders are cancelled and their holds released; enabling lets them back', async () => {
    const { buyer } = await market(h, admin, 'disable', 'cn-hebei-zhangjiakou');
    const resting = ok(await buyer.post('/bids', { acceleratorIds: [A100], regionIds: ['cn-hebei-zhangjiakou'], gpus: 1, hours: 1, limitFenPerGpuHour: 100 }), 201).body.order.id;
    expect(ok(await buyer.get('/balances')).body.heldFen).toBe('100');
    const key = ok(await buyer.post('/api-keys', { name: 'bot', scopes: ['read'] }), 201).body.key;
    const off = ok(await admin.post(`/admin/users/${buyer.userId}/disable`)).body;
    expect(off).toMatchObject({ user: { id: buyer.userId }, cancelledOrders: [resting] });
    expect(off.user.disabledAt).not.toBeNull();
    expect((await buyer.get('/balances')).status).toBe(401); // the session is gone
    const viaKey = await h.actor('anon').call('GET', '/balances', undefined, { authorization: `Bearer ${key}` });
    expect([viaKey.status, viaKey.body.error.code]).toEqual([403, 'ACCOUNT_DISABLED']);
    const credentials = { email: 'buyer-disable@test.suanli', password: 'correct horse battery' };
    const login = await h.actor('anon').post('/auth/login', credentials);
    expect([login.status, login.body.error.code]).toEqual([403, 'ACCOUNT_DISABLED']);
    expect((await admin.post(`/admin/users/${admin.userId}/disable`)).body.error.code).toBe('CANNOT_DISABLE_SELF');

    expect(ok(await admin.post(`/admin/users/${buyer.userId}/enable`)).body.user.disabledAt).toBeNull();
    const again = h.actor('again');
    ok(await again.post('/auth/login', credentials));
    expect(ok(await again.get('/balances')).body.heldFen).toBe('0');
    expect(ok(await again.get(`/orders/${resting}`)).body.order.status).toBe('cancelled');
  });

  it('vouchers and fees through the admin routes', async () => {
    const buyer = await h.signup('voucher', 'buyer');
    ok(await admin.post('/admin/programmes', { programmeId: 'city-fund', amountFen: '1000000' }), 201);
    const grant = ok(await admin.post('/admin/vouchers', { programmeId: 'city-fund', userId: buyer.userId, amountFen: '5000', expiresAt: new Date(h.now() + 30 * 24 * HOUR_MS).toISOString() }), 201).body;
    expect((await buyer.get('/vouchers')).body.items).toMatchObject([{ grantId: grant.grantId, amountFen: '5000', balanceFen: '5000', expired: false }]);
    expect((await buyer.get('/balances')).body.voucherFen).toBe('5000');
    expect(ok(await admin.get('/admin/fee')).body).toEqual({ feeBps: 500 });
    expect(ok(await admin.call('PUT', '/admin/fee', { feeBps: 300 })).body).toEqual({ feeBps: 300 });
    expect(ok(await admin.get('/admin/fee')).body).toEqual({ feeBps: 300 });
    expect(h.ctx.core.platformFeeBps).toBe(300);
    expect((await admin.call('PUT', '/admin/fee', { feeBps: 9_000 })).status).toBe(400);
    ok(await admin.call('PUT', '/admin/fee', { feeBps: 500 }));
    expect((await admin.get('/admin/users?limit=500')).body.items.some((u: { id: string }) => u.id === buyer.userId)).toBe(true);
    const created = ok(await admin.post('/admin/users', { email: 'ops2@example.com', password: 'long enough pw', role: 'admin', displayName: 'Ops' }), 201).body.user;
    expect(created.role).toBe('admin');
  });

  it('estimates as the CLI does, and documents every route', async () => {
    const anon = h.actor('anon');
    const gpt3 = ok(await anon.post('/estimate/training', { params: 175e9, tokens: 300e9, days: 30, gpu: 'nvidia-a100-sxm4-40g', util: 0.45 })).body;
    expect(Math.round(gpt3.gpus * 10) / 10).toBe(865.6);
    expect((await anon.post('/estimate/training', { params: 175e9, tokens: 300e9, days: 30, util: 1.5 })).body.error.code).toBe('CALC_INVALID_INPUT');
    expect(ok(await anon.post('/estimate/convert', { pricePerGpuHour: 22.7 })).body.pricePerGpuHourFen).toBe(2270);
    // The document is generated from the routes: every registered route is in it, and only those.
    const doc = ok(await anon.get('/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    const registered = h.app.routes
      .filter((r) => r.method !== 'ALL' && (r.path.startsWith('/api/v1/') || r.path === '/healthz' || r.path === '/readyz'))
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
    expect([...new Set(registered)].sort()).toEqual(documented.sort());
    expect(documented.length).toBeGreaterThanOrEqual(48);
    const docs = ok(await anon.get('/docs'));
    expect(docs.body).toContain('/api/v1/bids');
    expect(docs.body).not.toMatch(/<script|https?:\/\/cdn/);
    expect(ok(await anon.get('/readyz')).body).toMatchObject({ status: 'ready' });
  });

  it('rate-limits per client with Retry-After', async () => {
    const limited = await openHarness(store, { rateLimit: { burst: 3, perSecond: 1 } });
    const a = limited.actor('rl');
    for (let i = 0; i < 3; i++) ok(await a.get('/hubs'));
    const r = await a.get('/hubs');
    expect([r.status, r.body.error.code, r.headers.get('retry-after')]).toEqual([429, 'RATE_LIMITED', '1']);
    limited.advance(1_000);
    ok(await a.get('/hubs'));
  });

  it('expires sessions after 7 days', async () => {
    const a = await h.signup('expiry', 'buyer');
    h.advance(7 * 24 * HOUR_MS + 1);
    const seq = h.loop.journalSeq;
    const r = await a.get('/me');
    expect([r.status, r.body.error.code]).toEqual([401, 'SESSION_EXPIRED']);
    const bid = await a.post('/bids', { acceleratorIds: [A100], gpus: 1, hours: 1, limitFenPerGpuHour: 2270 });
    expect([bid.status, bid.body.error.code, h.loop.journalSeq]).toEqual([401, 'SESSION_EXPIRED', seq]);
    ok(await h.actor('anon').get('/markets')); // a stale cookie does not break public routes
  });

  it('a lease shows what it has cost so far between settlements, to both parties', async () => {
    const { buyer, provider, askId } = await market(h, await h.admin('accrued-admin'), 'accrued', 'cn-shanghai');
    const placed = ok(await buyer.post('/bids', { acceleratorIds: [A100], regionIds: ['cn-shanghai'], gpus: 2, hours: 1, limitFenPerGpuHour: 2500 }), 201).body;
    const leaseId: string = placed.leases[0].id;
    expect(placed.leases[0].billing).toMatchObject({ chargedFen: '0', accruedFen: '0' });
    h.advance(90_000); // no tick: nothing settled
    // 2 GPUs × 22.70 CNY/h × 90 s = 1.135 CNY, floored to 1.13
    for (const who of [buyer, provider]) expect(ok(await who.get(`/leases/${leaseId}`)).body.lease.billing).toMatchObject({ chargedFen: '0', accruedFen: '113' });
    expect(ok(await buyer.get('/leases')).body.items.find((l: { id: string }) => l.id === leaseId).billing.accruedFen).toBe('113');
    h.advance(2 * HOUR_MS); // past its end, still no tick: the cost stops at the end
    expect(ok(await buyer.get(`/leases/${leaseId}`)).body.lease.billing).toMatchObject({ chargedFen: '0', accruedFen: '4540' });
    await h.tick();
    expect(ok(await buyer.get(`/leases/${leaseId}`)).body.lease).toMatchObject({ state: 'ended', billing: null });
    ok(await provider.call('DELETE', `/orders/${askId}`)); // no other test's bid may trade with it
  });
});

describe('error mapping', () => {
  it('gives every core and engine rejection code an explicit status', () => {
    expect(ALL_CORE_CODES.filter((c) => REJECTION_STATUS[c] === undefined)).toEqual([]);
  });
});

describe('suanli serve', () => {
  it('starts on an ephemeral port, seeds the demo market and answers over real HTTP; restarts by replay', async () => {
    const file = join(dir(), 'serve.db');
    const logs: string[] = [];
    let batches = 0;
    let attached = false;
    const extension = () => ({
      onApplied: () => () => void batches++,
      attach: () => void (attached = true),
      routes: (app: { get: (path: string, handler: () => Response) => unknown }) => void app.get('/metrics', () => new Response('up 1\n')),
    });
    const first = await startServer({ port: 0, db: file, demoTraderIntervalMs: 60_000, config: { argon2: FAST_ARGON2 }, extensions: [extension], log: (l) => logs.push(l) });
    try {
      expect([batches > 0, attached, await (await fetch(`${first.url}/metrics`)).text()]).toEqual([true, true, 'up 1\n']);
      expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const markets = (await (await fetch(`${first.url}/api/v1/markets`)).json()) as { items: { market: string; bestAskFen: number }[] };
      expect(markets.items.find((m) => m.market === MARKET)?.bestAskFen).toBeGreaterThan(2200);
      const buyer = first.credentials.find((c) => c.role === 'buyer')!;
      const login = await fetch(`${first.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: buyer.email, password: buyer.password }) });
      expect(login.status).toBe(200);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const balances = (await (await fetch(`${first.url}/api/v1/balances`, { headers: { cookie } })).json()) as { cashFen: string };
      expect(balances.cashFen).toBe('10000000');
      expect((await fetch(`${first.url}/`, { redirect: 'manual' })).headers.get('location')).toBe('/docs');
    } finally {
      await first.close();
    }
    const seq = first.loop.journalSeq;
    const second = await startServer({ port: 0, db: file, demo: false, config: { argon2: FAST_ARGON2 }, log: (l) => logs.push(l) });
    try {
      expect(second.credentials).toEqual([]);
      expect(second.loop.journalSeq).toBeGreaterThanOrEqual(seq);
      expect((await fetch(`${second.url}/readyz`)).status).toBe(200);
    } finally {
      await second.close();
    }
  });
});

describe('suanli serve: lease settlement', () => {
  it('its ticks settle each running lease once per --settle-every, and replay keeps that', async () => {
    const file = join(dir(), 'settle.db');
    let now = Date.UTC(2026, 0, 1);
    const server = await startServer({
      port: 0, db: file, demo: false, tickIntervalMs: 10, settleEveryMs: 60_000, clock: () => now, config: { argon2: FAST_ARGON2 }, log: () => undefined,
    });
    try {
      const { loop } = server;
      for (const userId of ['prov', 'buyer']) expect((await loop.submit({ type: 'openAccount', now: 0, userId })).ok).toBe(true);
      await loop.submit({ type: 'deposit', now: 0, userId: 'buyer', amountFen: '1000000', transferId: 'd1' });
      await loop.submit({ type: 'registerNode', now: 0, nodeId: 'n1', providerId: 'prov', acceleratorId: A100, regionId: 'cn-beijing', gpuCount: 8, kind: 'manual' });
      await loop.submit({ type: 'placeAsk', now: 0, orderId: 'a1', providerId: 'prov', nodeIds: ['n1'], priceFenPerGpuHour: 2270 });
      const bid = await loop.submit({ type: 'placeBid', now: 0, orderId: 'b1', buyerId: 'buyer', acceleratorIds: [A100], quantity: { kind: 'gpus', gpus: 3 }, hours: 2, limitFen: 2500 });
      expect(bid.ok).toBe(true);
      const startMs = loop.core.leaseBilling('l1')!.startMs;
      // 59 s in, ticks keep coming and settle nothing; at 60 s one settles the whole minute.
      now = startMs + 59_000;
      const seq = loop.journalSeq;
      await new Promise((r) => setTimeout(r, 100));
      expect(loop.core.leaseBilling('l1')!.billedUntilMs).toBe(startMs);
      expect(loop.journalSeq).toBe(seq); // ticks that change nothing are not journaled
      now = startMs + 60_000;
      await waitFor('the settlement at 60 s', () => (loop.core.leaseBilling('l1')!.billedUntilMs === startMs + 60_000 ? true : undefined), 2_000, 10);
    } finally {
      await server.close();
    }
    const again = await startServer({ port: 0, db: file, demo: false, settleEveryMs: 60_000, clock: () => now, config: { argon2: FAST_ARGON2 }, log: () => undefined });
    try {
      expect(again.loop.core.leaseBilling('l1')!.billedUntilMs).toBe(now);
    } finally {
      await again.close();
    }
  });
});
