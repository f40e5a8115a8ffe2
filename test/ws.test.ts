/**
 * The live feed on a real http.Server, fed by a real CommandLoop over a SQLite file: book
 * snapshots plus deltas rebuild the engine's depth exactly, a gap is healed by subscribing again,
 * the user channel needs auth and carries only the user's own events, and the limits hold.
 */
import { createApp } from '../src/api/app.js';
import { DEFAULT_API_CONFIG } from '../src/api/context.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { WebSocket } from 'ws';
import { Writable } from 'node:stream';
import { createLogger, logLevel } from '../src/api/log.js';
import { createMetrics, type Metrics } from '../src/api/metrics.js';
import { applyBookDelta, type BookData, LiveFeed, type LiveFeedOptions } from '../src/api/ws.js';
import { listAccelerators, listRegions } from '../src/core/catalog/index.js';
import type { CoreCommand, CoreResult } from '../src/exchange/core.js';
import { ExchangeCore } from '../src/exchange/core.js';
import { CommandLoop } from '../src/exchange/loop.js';
import { Projection } from '../src/exchange/projection.js';
import { openSqliteStore, type Store } from '../src/store/index.js';

const catalog = { accelerators: listAccelerators(), regions: listRegions() };
const A100 = 'nvidia-a100-sxm4-40g';
const BJ = 'cn-beijing';
const SH = 'cn-shanghai';
const MARKET = `${A100}@${BJ}`;
const OTHER = `${A100}@${SH}`;
const T0 = Date.UTC(2026, 0, 1);
const TOKENS: Record<string, string> = { 'tok-buyer': 'buyer', 'tok-buyer2': 'buyer2', 'tok-prov': 'prov' };

interface Msg {
  readonly type: string;
  readonly channel?: string;
  readonly seq?: number;
  readonly code?: string;
  readonly data?: Record<string, unknown>;
}

/** A test client: collects messages, waits for the ones it needs. */
class Client {
  readonly messages: Msg[] = [];
  /** Per message, how many commits had completed when it arrived (see `committed`). */
  readonly committedAt: number[] = [];
  private waiters: (() => void)[] = [];
  closed: { code: number; reason: string } | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      this.messages.push(JSON.parse(String(raw)) as Msg);
      this.committedAt.push(committed);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
  }

  static open(url: string, headers: Record<string, string> = {}, options: { autoPong?: boolean } = {}): Promise<Client> {
    const ws = new WebSocket(url, { headers, ...options });
    const c = new Client(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(o: unknown): void {
    this.ws.send(typeof o === 'string' ? o : JSON.stringify(o));
  }

  /** Resolves with the first message from `from` on that matches, else fails after `ms`. */
  async next(pred: (m: Msg) => boolean, from = 0, ms = 3_000): Promise<Msg> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.messages.slice(from).find(pred);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching message in ${ms} ms; got ${JSON.stringify(this.messages.slice(from)).slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  async waitClosed(ms = 5_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('socket not closed');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.closed;
  }

  close(): void {
    this.ws.close();
  }
}

/** Keeps a book from snapshot + deltas; on a gap it subscribes again, as a real client must. */
class BookFollower {
  book: BookData | null = null;
  seq = -1;
  resubscribes = 0;
  /** The book after each snapshot and delta, as JSON, and the commits completed when it arrived. */
  readonly history: [book: string, committed: number][] = [];
  private seen = 0;
  /** Seqs of deltas to throw away (to force a gap). */
  readonly drop = new Set<number>();

  constructor(
    readonly client: Client,
    readonly channel: string,
  ) {}

  subscribe(): void {
    this.book = null;
    this.client.send({ op: 'subscribe', channel: this.channel });
  }

  /** Applies every message received so far. */
  pump(): void {
    for (; this.seen < this.client.messages.length; this.seen++) {
      const m = this.client.messages[this.seen]!;
      if (m.channel !== this.channel) continue;
      if (m.type === 'snapshot') {
        this.book = m.data as unknown as BookData;
        this.seq = m.seq!;
        this.history.push([JSON.stringify(this.book), this.client.committedAt[this.seen]!]);
      } else if (m.type === 'delta' && this.book) {
        if (this.drop.delete(m.seq!)) continue; // "lost"
        if (m.seq !== this.seq + 1) {
          this.resubscribes++;
          this.subscribe();
          continue;
        }
        this.book = applyBookDelta(this.book, m.data as unknown as BookData);
        this.seq = m.seq!;
        this.history.push([JSON.stringify(this.book), this.client.committedAt[this.seen]!]);
      }
    }
  }

  async converge(expected: () => BookData, ms = 3_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      this.pump();
      if (this.book && JSON.stringify(this.book) === JSON.stringify(expected())) return;
      if (Date.now() > deadline) throw new Error(`book did not converge: ${JSON.stringify(this.book)} vs ${JSON.stringify(expected())}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

let dir = '';
let store: Store;
let core: ExchangeCore;
let loop: CommandLoop;
let now = T0;
let metrics: Metrics;
const feeds: LiveFeed[] = [];
/** The depth of MARKET when each batch was applied, while a test records it. */
let appliedBooks: string[] | null = null;
/** Commits completed while a test counts them. */
let committed = 0;
const servers: Server[] = [];
let url = '';
let feed: LiveFeed;

const authenticate = (req: IncomingMessage): Promise<{ userId: string } | null> => {
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  const cookie = /(?:^|;\s*)suanli_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
  const user = TOKENS[bearer ?? cookie ?? ''];
  return Promise.resolve(user ? { userId: user } : null);
};

async function serve(options: LiveFeedOptions): Promise<{ feed: LiveFeed; url: string }> {
  const f = new LiveFeed(core, store, options);
  const server = createServer((_req, res) => res.writeHead(404).end());
  f.attach(server, '/api/v1/ws', authenticate);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  feeds.push(f);
  servers.push(server);
  return { feed: f, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/ws` };
}

async function submit(cmd: Record<string, unknown>): Promise<CoreResult> {
  now += 1_000;
  const r = await loop.submit({ now: 0, ...cmd } as unknown as CoreCommand);
  return r;
}

async function ok(cmd: Record<string, unknown>): Promise<CoreResult> {
  const r = await submit(cmd);
  if (!r.ok) throw new Error(`${String(cmd['type'])} rejected: ${r.code} ${r.message}`);
  return r;
}

const depth = (market: string) => (): BookData => {
  const d = core.engine.depth(market);
  return { market, asks: d.asks, bids: d.bids };
};

const bid = (id: string, buyerId: string, gpus: number, limitFen: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'placeBid', orderId: id, buyerId, acceleratorIds: [A100], regionIds: [BJ], quantity: { kind: 'gpus', gpus }, hours: 2, limitFen, allowPartial: true, ...extra,
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'suanli-ws-'));
  store = await openSqliteStore({ file: join(dir, 'ws.db') });
  await store.migrate();
  core = new ExchangeCore(catalog);
  metrics = createMetrics({ processMetrics: false });
  metrics.instrumentCore(core);
  loop = await CommandLoop.open(core, store, new Projection(catalog.accelerators), {
    clock: () => now,
    onApplied: (b) => {
      appliedBooks?.push(JSON.stringify(depth(MARKET)()));
      const sends = feeds.map((f) => f.prepare(b));
      return (committed) => {
        metrics.observeBatch(committed);
        for (const send of sends) send();
      };
    },
  });
  ({ feed, url } = await serve({ hooks: metrics.wsHooks() }));
  for (const u of ['prov', 'buyer', 'buyer2']) await ok({ type: 'openAccount', userId: u });
  for (const u of ['buyer', 'buyer2']) await ok({ type: 'deposit', userId: u, amountFen: '100000000', transferId: `dep-${u}` });
  for (const [n, region] of [['n1', BJ], ['n2', BJ], ['n3', SH]] as const) {
    await ok({ type: 'registerNode', nodeId: n, providerId: 'prov', acceleratorId: A100, regionId: region, gpuCount: 8, kind: 'manual' });
  }
});

afterAll(async () => {
  for (const f of feeds) f.close();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('book channel', () => {
  it('snapshot + deltas rebuild the engine depth; other markets stay out', async () => {
    const c = await Client.open(url);
    const f = new BookFollower(c, `book:${MARKET}`);
    f.subscribe();
    const snap = await c.next((m) => m.type === 'snapshot');
    expect(snap).toMatchObject({ channel: `book:${MARKET}`, type: 'snapshot', seq: 0, data: { market: MARKET, asks: [], bids: [] } });

    await ok({ type: 'placeAsk', orderId: 'a1', providerId: 'prov', nodeIds: ['n1'], priceFenPerGpuHour: 2270 });
    await ok({ type: 'placeAsk', orderId: 'a2', providerId: 'prov', nodeIds: ['n2'], priceFenPerGpuHour: 2500 });
    await ok({ type: 'placeAsk', orderId: 'a3', providerId: 'prov', nodeIds: ['n3'], priceFenPerGpuHour: 1900 }); // Shanghai
    await ok(bid('b1', 'buyer', 2, 2000)); // rests: below every Beijing ask
    await ok(bid('b2', 'buyer2', 3, 1800));
    await ok(bid('b3', 'buyer', 3, 2300)); // trades 3 GPUs on n1 at 2270
    await ok({ type: 'cancel', orderId: 'b2', ownerId: 'buyer2' });
    await ok({ type: 'amend', orderId: 'a2', ownerId: 'prov', priceFen: 2400 });
    await ok(bid('b4', 'buyer2', 10, 2600)); // sweeps the rest of n1 and part of n2
    await f.converge(depth(MARKET));

    const mine = c.messages.filter((m) => m.channel === `book:${MARKET}`);
    expect(mine.filter((m) => m.type === 'delta').map((m) => m.seq)).toEqual(mine.filter((m) => m.type === 'delta').map((_m, i) => i + 1));
    expect(c.messages.every((m) => m.channel === `book:${MARKET}`)).toBe(true); // nothing of Shanghai
    expect(f.book!.asks.length).toBeGreaterThan(0);
    expect(f.book!.bids).toEqual([{ priceFenPerGpuHour: 2000, gpus: 2 }]);
    // ... and what the follower rebuilt is what REST serves for the same book
    const app = createApp({ loop, store, core, clock: () => now, config: DEFAULT_API_CONFIG });
    const rest = (await (await app.request(`/api/v1/markets/${MARKET}/book`)).json()) as BookData;
    expect({ asks: f.book!.asks, bids: f.book!.bids }).toEqual({ asks: rest.asks, bids: rest.bids });
    c.close();
  });

  it('a lost delta is noticed by seq and healed by subscribing again (fresh snapshot)', async () => {
    const c = await Client.open(url);
    const f = new BookFollower(c, `book:${MARKET}`);
    f.subscribe();
    const snap = await c.next((m) => m.type === 'snapshot');
    f.drop.add(snap.seq! + 1);
    await ok(bid('g1', 'buyer', 1, 1500));
    await ok(bid('g2', 'buyer', 1, 1600));
    await ok({ type: 'cancel', orderId: 'g1', ownerId: 'buyer' });
    await f.converge(depth(MARKET));
    expect(f.resubscribes).toBe(1);
    const snaps = c.messages.filter((m) => m.type === 'snapshot');
    expect(snaps).toHaveLength(2);
    expect(snaps[1]!.seq).toBeGreaterThan(snap.seq!);
    await ok({ type: 'cancel', orderId: 'g2', ownerId: 'buyer' });
    await f.converge(depth(MARKET));
    c.close();
  });

  it('pipelined commits: the follower only ever sees the depth of a committed batch, in order', async () => {
    const c = await Client.open(url);
    const f = new BookFollower(c, `book:${MARKET}`);
    f.subscribe();
    await c.next((m) => m.type === 'snapshot');
    // Slow commits: the loop applies the next batch while one commits. Batch i (from 1) is
    // appliedBooks[i], and is stored once `committed` reaches i.
    const commit = store.commit.bind(store);
    store.commit = async (batch) => {
      await new Promise((r) => setTimeout(r, 10));
      await commit(batch);
      committed++;
    };
    committed = 0;
    appliedBooks = [JSON.stringify(depth(MARKET)())];
    const from = f.history.length;
    try {
      const cmds = Array.from({ length: 60 }, (_, i) =>
        i % 3 === 2 ? { type: 'cancel', orderId: `p${i - 1}`, ownerId: 'buyer' } : bid(`p${i}`, 'buyer', 1 + (i % 4), 1000 + 10 * i),
      );
      // In waves, so they land in several batches, each applied while the one before commits.
      const pending: Promise<CoreResult>[] = [];
      for (let w = 0; w < cmds.length; w += 6) {
        for (const cmd of cmds.slice(w, w + 6)) pending.push(submit(cmd));
        await new Promise((r) => setTimeout(r, 4));
      }
      const results = await Promise.all(pending);
      expect(results.every((r) => r.ok)).toBe(true);
      await f.converge(depth(MARKET));
    } finally {
      store.commit = commit;
    }
    const applied = appliedBooks;
    appliedBooks = null;
    expect(applied.length).toBeGreaterThan(4); // several batches
    let at = 0;
    for (const [book, committedThen] of f.history.slice(from)) {
      const found = applied.indexOf(book, at);
      expect(found, `a book no batch had: ${book}`).toBeGreaterThanOrEqual(0);
      expect(found, 'a book sent before its batch was committed').toBeLessThanOrEqual(committedThen);
      at = found;
    }
    for (let i = 30; i < 60; i += 3) await ok({ type: 'cancel', orderId: `p${i}`, ownerId: 'buyer' });
    c.close();
  });
});

describe('trades channel', () => {
  it('snapshot of the last trades from the store, then one delta per trade, without user ids', async () => {
    const c = await Client.open(url);
    c.send({ op: 'subscribe', channel: `trades:${MARKET}` });
    const snap = await c.next((m) => m.type === 'snapshot');
    const trades = (snap.data as { trades: Record<string, unknown>[] }).trades;
    expect(trades.length).toBeGreaterThanOrEqual(2);
    expect(trades[0]).toEqual({
      id: expect.any(String), market: MARKET, gpus: expect.any(Number), priceFenPerGpuHour: expect.any(Number), hours: 2,
      startAt: expect.stringMatching(/Z$/), endAt: expect.stringMatching(/Z$/), at: expect.stringMatching(/Z$/),
    });
    await ok(bid('t1', 'buyer2', 1, 3000, { allowPartial: false }));
    const d = await c.next((m) => m.type === 'delta');
    expect(d).toMatchObject({ channel: `trades:${MARKET}`, seq: snap.seq! + 1, data: { market: MARKET, gpus: 1 } });
    expect(JSON.stringify(c.messages)).not.toMatch(/buyer|prov/);
    c.close();
  });
});

describe('user channel', () => {
  it('needs authentication: anonymous and cross-site sockets are refused', async () => {
    const anon = await Client.open(url);
    anon.send({ op: 'subscribe', channel: 'user' });
    expect(await anon.next((m) => m.type === 'error')).toEqual({ type: 'error', code: 'UNAUTHENTICATED', message: expect.any(String), channel: 'user' });
    // A browser on another site carries the user's cookie; it must not unlock the user channel.
    const evil = await Client.open(url, { cookie: 'suanli_session=tok-buyer', origin: 'https://evil.example' });
    evil.send({ op: 'subscribe', channel: 'user' });
    expect(await evil.next((m) => m.type === 'error')).toMatchObject({ code: 'UNAUTHENTICATED' });
    anon.close();
    evil.close();
  });

  it("carries only the user's own orders, trades, leases and balances", async () => {
    const buyer = await Client.open(url, { authorization: 'Bearer tok-buyer' });
    const other = await Client.open(url, { cookie: 'suanli_session=tok-buyer2' });
    const prov = await Client.open(url, { authorization: 'Bearer tok-prov' });
    for (const c of [buyer, other, prov]) c.send({ op: 'subscribe', channel: 'user' });
    const snaps = await Promise.all([buyer, other, prov].map((c) => c.next((m) => m.type === 'snapshot')));
    expect(snaps[0]).toMatchObject({ channel: 'user', type: 'snapshot', data: { userId: 'buyer', balances: { cashFen: expect.any(String), heldFen: expect.any(String) } } });
    expect(snaps[1]).toMatchObject({ data: { userId: 'buyer2' } });

    const placed = await ok(bid('u1', 'buyer', 2, 3000, { allowPartial: false }));
    expect(placed.events.some((e) => e.type === 'trade')).toBe(true);
    const lease = await buyer.next((m) => m.data?.['type'] === 'lease_created');
    expect(lease.data).toMatchObject({ startAt: expect.stringMatching(/Z$/), endAt: expect.stringMatching(/Z$/) });
    const bal = await buyer.next((m) => m.data?.['type'] === 'balance');
    const expectedCash = core.ledger.getAccount('user:buyer:cash')!;
    expect(bal.data).toMatchObject({
      cashFen: (expectedCash.creditsPostedFen - expectedCash.debitsPostedFen).toString(),
      availableFen: (expectedCash.creditsPostedFen - expectedCash.debitsPostedFen - expectedCash.debitsPendingFen).toString(),
      heldFen: expectedCash.debitsPendingFen.toString(),
    });
    const sold = await prov.next((m) => m.data?.['type'] === 'trade' && m.data['bidId'] === 'u1');
    expect(sold.data).toMatchObject({ side: 'sell', gpus: 2, hours: 2 });
    expect(await buyer.next((m) => m.data?.['type'] === 'trade')).toMatchObject({ data: { side: 'buy', bidId: 'u1' } });
    // Neither party learns the other's user id.
    expect(JSON.stringify(buyer.messages)).not.toContain('prov');
    expect(JSON.stringify(prov.messages)).not.toMatch(/"buyer"|buyerId/);
    await prov.next((m) => m.data?.['type'] === 'lease_created');
    expect(await submit({ type: 'cancel', orderId: 'nope', ownerId: 'buyer2' })).toMatchObject({ ok: false, code: 'ORDER_NOT_FOUND' });
    await ok(bid('u2', 'buyer2', 1, 100));
    await other.next((m) => m.data?.['type'] === 'order_accepted' && m.data['orderId'] === 'u2');

    const types = buyer.messages.filter((m) => m.type === 'delta').map((m) => m.data!['type']);
    expect(types).toEqual(expect.arrayContaining(['bid_held', 'order_accepted', 'trade', 'lease_created', 'order_filled', 'bid_released', 'balance']));
    // Nothing of buyer2's bid reaches the buyer, nothing of the buyer's reaches buyer2.
    expect(JSON.stringify(buyer.messages)).not.toContain('"u2"');
    expect(JSON.stringify(other.messages)).not.toContain('"u1"');
    expect(prov.messages.some((m) => m.data?.['orderId'] === 'u2')).toBe(false);
    for (const c of [buyer, other, prov]) {
      const seqs = c.messages.filter((m) => m.channel === 'user').map((m) => m.seq!);
      expect(seqs.slice(1)).toEqual(seqs.slice(1).map((_s, i) => seqs[0]! + i + 1));
      c.close();
    }
  });

  it('looks up owners it never saw in the store (an order placed before the feed started)', async () => {
    await ok(bid('old1', 'buyer2', 1, 1000, { timeInForce: 'GTD', expiresAt: now + 5_000 }));
    // A fresh feed knows nothing of old1, like one started after a restart.
    const { feed: fresh, url: freshUrl } = await serve({});
    const c = await Client.open(freshUrl, { authorization: 'Bearer tok-buyer2' });
    const b = await Client.open(freshUrl, { authorization: 'Bearer tok-buyer' });
    c.send({ op: 'subscribe', channel: 'user' });
    b.send({ op: 'subscribe', channel: 'user' });
    await c.next((m) => m.type === 'snapshot');
    await b.next((m) => m.type === 'snapshot');
    now += 10_000;
    const r = await ok({ type: 'tick' }); // old1 expires: the event names only the order
    expect(r.events.some((e) => e.type === 'order_expired' && e.orderId === 'old1')).toBe(true);
    expect(await c.next((m) => m.data?.['type'] === 'order_expired')).toMatchObject({ data: { orderId: 'old1', reason: 'expires_at' } });
    await c.next((m) => m.data?.['type'] === 'bid_released' && m.data['orderId'] === 'old1');
    await c.next((m) => m.data?.['type'] === 'balance');
    expect(b.messages.filter((m) => m.type === 'delta')).toEqual([]);
    c.close();
    b.close();
    fresh.close();
  });
});

describe('protocol errors and limits', () => {
  it('answers bad requests, unknown channels and markets with error messages', async () => {
    const c = await Client.open(url);
    c.send('not json');
    expect(await c.next((m) => m.type === 'error')).toMatchObject({ code: 'BAD_REQUEST' });
    c.send({ op: 'subscribe', channel: 'candles:x' });
    expect(await c.next((m) => m.code === 'UNKNOWN_CHANNEL')).toMatchObject({ channel: 'candles:x' });
    c.send({ op: 'subscribe', channel: 'book:nope@nowhere' });
    await c.next((m) => m.code === 'MARKET_NOT_FOUND');
    c.send({ op: 'dance', channel: `book:${MARKET}` });
    await c.next((m) => m.code === 'BAD_REQUEST' && m.channel === `book:${MARKET}`);
    c.close();
  });

  it('caps subscriptions, message size, message rate and clients', async () => {
    const { url: u } = await serve({ maxSubscriptionsPerSocket: 2, maxPayloadBytes: 512, maxMessagesPerWindow: 6, maxClients: 2 });
    const c = await Client.open(u);
    c.send({ op: 'subscribe', channel: `book:${MARKET}` });
    c.send({ op: 'subscribe', channel: `book:${OTHER}` });
    c.send({ op: 'subscribe', channel: `trades:${MARKET}` });
    expect(await c.next((m) => m.type === 'error')).toMatchObject({ code: 'TOO_MANY_SUBSCRIPTIONS', channel: `trades:${MARKET}` });
    c.send({ op: 'subscribe', channel: `book:${MARKET}` }); // resubscribing an existing channel is fine
    await c.next((m) => m.type === 'snapshot' && m.channel === `book:${MARKET}`, 3);
    c.send({ op: 'unsubscribe', channel: `book:${OTHER}` });
    c.send({ op: 'subscribe', channel: `trades:${MARKET}` });
    await c.next((m) => m.type === 'snapshot' && m.channel === `trades:${MARKET}`);
    c.send({ op: 'subscribe', channel: `trades:${MARKET}` }); // 7th message in the window
    expect(await c.next((m) => m.code === 'RATE_LIMITED')).toMatchObject({ type: 'error' });

    const second = await Client.open(u);
    await expect(Client.open(u)).rejects.toThrow(/503/); // maxClients
    second.send('x'.repeat(1024));
    expect((await second.waitClosed()).code).toBe(1009); // maxPayload
    c.close();
  });

  it('closes idle anonymous sockets and sockets that stop answering pings', async () => {
    const { feed: f, url: u } = await serve({ idleUnauthenticatedMs: 150, heartbeatMs: 100 });
    const idle = await Client.open(u);
    const busy = await Client.open(u);
    busy.send({ op: 'subscribe', channel: `book:${MARKET}` });
    const authed = await Client.open(u, { authorization: 'Bearer tok-buyer' });
    expect(await idle.waitClosed()).toMatchObject({ code: 1000, reason: expect.stringMatching(/idle/) });
    const deaf = await Client.open(u, { authorization: 'Bearer tok-buyer' }, { autoPong: false });
    await deaf.waitClosed();
    expect(f.dropped.heartbeat).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(busy.closed).toBeNull();
    expect(authed.closed).toBeNull();
    busy.close();
    authed.close();
  });

  it('drops a client that does not read (1013) instead of buffering without end', async () => {
    const { feed: f, url: u } = await serve({ maxBufferedBytes: 256 * 1024 });
    const slow = await Client.open(u);
    slow.send({ op: 'subscribe', channel: `trades:${OTHER}` });
    await slow.next((m) => m.type === 'snapshot');
    slow.ws.pause();
    const trade = (i: number): CoreResult['events'][number] => ({
      type: 'trade', tradeId: `x${i}`, bidId: 'xb', askId: 'xa', buyerId: 'x', providerId: 'y', market: OTHER, gpus: 1,
      priceFenPerGpuHour: 100, startMs: T0, endMs: T0 + 3_600_000,
    });
    // Synthetic batches straight into publish: far more than socket buffers hold.
    for (let b = 0; b < 100 && f.dropped.slow === 0; b++) {
      const events = Array.from({ length: 2_000 }, (_v, i) => trade(b * 2_000 + i));
      f.publish({ entries: [{ command: { type: 'tick', now: T0 }, result: { ok: true, events, transfers: [] }, seq: 1 }] });
      await new Promise((r) => setImmediate(r));
    }
    expect(f.dropped.slow).toBe(1);
    slow.ws.resume();
    // It reads what was queued, then the close frame (unless the grace period cut it first).
    expect([1013, 1006]).toContain((await slow.waitClosed(10_000)).code);
  });
});

describe('metrics and logs', () => {
  it('counts clients, orders, trades and commits', async () => {
    const c = await Client.open(url);
    await new Promise((r) => setTimeout(r, 50));
    const text = await metrics.text();
    expect(text).toMatch(new RegExp(`suanli_ws_clients ${feed.clientCount}\\b`));
    expect(feed.clientCount).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/suanli_orders_total\{side="bid",outcome="filled"\} [1-9]/);
    expect(text).toMatch(/suanli_orders_total\{side="bid",outcome="rested"\} [1-9]/);
    expect(text).toMatch(/suanli_trades_total [1-9]/);
    expect(text).toMatch(/suanli_commit_batch_size_count [1-9]/);
    expect(text).toMatch(/suanli_commit_latency_seconds_bucket/);
    expect(text).toMatch(/suanli_match_latency_seconds_count\{command="placeBid"\} [1-9]/);
    expect(text).toMatch(/suanli_command_rejections_total\{code="ORDER_NOT_FOUND"\} [1-9]/);
    metrics.observeHttp({ method: 'GET', route: '/api/v1/markets', status: 200, durationMs: 3 });
    expect(await metrics.text()).toMatch(/suanli_http_requests_total\{method="GET",route="\/api\/v1\/markets",status="200"\} 1/);
    const res = await metrics.metricsHandler()();
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    // The Hono middleware labels requests by route template, never by raw path.
    const app = new Hono();
    app.use('*', metrics.httpMiddleware());
    app.route('/api/v1', new Hono().get('/orders/:id', (ctx) => ctx.json({ id: ctx.req.param('id') })));
    expect((await app.request('/api/v1/orders/o-123')).status).toBe(200);
    expect((await app.request('/api/v1/nowhere/else')).status).toBe(404);
    const after = await metrics.text();
    expect(after).toMatch(/suanli_http_requests_total\{method="GET",route="\/api\/v1\/orders\/:id",status="200"\} 1/);
    expect(after).toMatch(/suanli_http_requests_total\{method="GET",route="unmatched",status="404"\} 1/);
    expect(after).not.toContain('o-123');
    c.close();
  });
});

describe('logger', () => {
  it('writes JSON lines, takes LOG_LEVEL, is silent under tests, and redacts credentials', () => {
    expect(logLevel({ env: { VITEST: 'true' } })).toBe('silent');
    expect(logLevel({ env: { LOG_LEVEL: 'DEBUG' } })).toBe('debug');
    expect(logLevel({ env: {} })).toBe('info');
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => { lines.push(String(chunk)); done(); } });
    const log = createLogger({ level: 'info', name: 'test', destination: sink });
    log.debug('not shown');
    log.info({ req: { headers: { cookie: 'suanli_session=secret', authorization: 'Bearer sk_secret' } } }, 'request');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'info', name: 'test', msg: 'request', req: { headers: { cookie: '[redacted]', authorization: '[redacted]' } } });
    expect(lines[0]).not.toContain('secret');
  });
});
