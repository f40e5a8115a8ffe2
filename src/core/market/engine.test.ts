/**
 * Unit tests of the market rules, run against both engines (fast and reference) with exact
 * event assertions. Every apply is followed by validateInternalState().
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { MarketStream, TEST_CATALOG } from '../../sim/market-stream.js';
import { Engine } from './engine.js';
import { ReferenceEngine } from './reference.js';
import {
  type AmendOrder,
  type Command,
  type CommandResult,
  type EngineCatalog,
  type EngineEvent,
  MAX_ASK_NODES,
  MAX_BID_GPUS,
  MAX_LEASE_HOURS,
  MAX_NODE_GPUS,
  MAX_PRICE_FEN,
  MAX_START_AHEAD_MS,
  type MarketEngine,
  MS_PER_HOUR,
  type PlaceAsk,
  type PlaceBid,
  type RegisterNode,
  type RejectCode,
  RejectCodes,
} from './types.js';

const H = MS_PER_HOUR;
const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const A1 = 'a100@r1';
const A2 = 'a100@r2';
const H1 = 'h100@r1';

// ---- command builders (defaults: a100@r1, provider p1, buyer b1, now T0, one hour, GTC, all-or-none)

type Opts<T> = Partial<Omit<T, 'type'>>;

const node = (nodeId: string, o: Opts<RegisterNode> = {}): RegisterNode => ({
  type: 'registerNode', now: T0, nodeId, providerId: 'p1', acceleratorId: 'a100', regionId: 'r1', gpuCount: 8, kind: 'agent', ...o,
});
const ask = (orderId: string, nodeIds: string[], price: number, o: Opts<PlaceAsk> = {}): PlaceAsk => ({
  type: 'placeAsk', now: T0, orderId, providerId: 'p1', nodeIds, priceFenPerGpuHour: price, ...o,
});
const bid = (orderId: string, gpus: number, limitFen: number, o: Opts<PlaceBid> = {}): PlaceBid => ({
  type: 'placeBid', now: T0, orderId, buyerId: 'b1', acceleratorIds: ['a100'], quantity: { kind: 'gpus', gpus }, hours: 1, limitFen, ...o,
});
const computeBid = (orderId: string, deciTflops: number, limitFenPerPHour: number, o: Opts<PlaceBid> = {}): PlaceBid =>
  bid(orderId, 0, limitFenPerPHour, { quantity: { kind: 'compute', deciTflops }, ...o });
const amend = (orderId: string, ownerId: string, o: Opts<AmendOrder>, now = T0): AmendOrder => ({ type: 'amend', now, orderId, ownerId, ...o });
const cancel = (orderId: string, ownerId: string, now = T0): Command => ({ type: 'cancel', now, orderId, ownerId });
const expire = (now: number): Command => ({ type: 'expire', now });
const endLease = (leaseId: string, now = T0, reason: 'buyer' | 'job_exited' | 'provider' | 'node_lost' | 'admin' = 'buyer'): Command => ({
  type: 'endLease', now, leaseId, reason,
});
const status = (nodeId: string, s: 'online' | 'offline' | 'draining', now = T0): Command => ({ type: 'setNodeStatus', now, nodeId, status: s });
const update = (nodeId: string, gpuCount: number, now = T0, providerId = 'p1'): Command => ({ type: 'updateNode', now, nodeId, providerId, gpuCount });

// ---- expected events

const accepted = (orderId: string, side: 'ask' | 'bid'): EngineEvent => ({ type: 'order_accepted', orderId, side });
const rested = (orderId: string, side: 'ask' | 'bid', remaining: number): EngineEvent => ({ type: 'order_rested', orderId, side, remaining });
const filled = (orderId: string): EngineEvent => ({ type: 'order_filled', orderId });
const cancelled = (orderId: string, reason: 'user' | 'ioc_remainder' | 'fok_unfilled'): EngineEvent => ({ type: 'order_cancelled', orderId, reason });
const expired = (orderId: string, reason: 'expires_at' | 'available_until' | 'start_passed'): EngineEvent => ({ type: 'order_expired', orderId, reason });
const amended = (orderId: string, priceFen: number, remaining: number | null, expiresAt: number | null = null): EngineEvent => ({
  type: 'order_amended', orderId, priceFen, remaining, expiresAt,
});
const book = (market: string): EngineEvent => ({ type: 'book_changed', market });
const registered = (nodeId: string, market: string, gpuCount: number): EngineEvent => ({ type: 'node_registered', nodeId, market, gpuCount });

interface FillSpec {
  readonly bid: string;
  readonly ask: string;
  readonly node: string;
  readonly gpus: readonly number[];
  readonly price: number;
  readonly market?: string;
  readonly start?: number;
  readonly end?: number;
  readonly buyer?: string;
  readonly provider?: string;
}
/** The trade and lease_created events of trade number `n` (ids t<n>, l<n>). */
function fill(n: number, f: FillSpec): EngineEvent[] {
  const start = f.start ?? T0;
  const end = f.end ?? start + H;
  return [
    {
      type: 'trade', tradeId: `t${n}`, bidId: f.bid, askId: f.ask, buyerId: f.buyer ?? 'b1', providerId: f.provider ?? 'p1',
      market: f.market ?? A1, gpus: f.gpus.length, priceFenPerGpuHour: f.price, startMs: start, endMs: end,
    },
    { type: 'lease_created', leaseId: `l${n}`, tradeId: `t${n}`, nodeId: f.node, gpuIndices: f.gpus, priceFenPerGpuHour: f.price, startMs: start, endMs: end },
  ];
}
const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);
const tradesOf = (events: readonly EngineEvent[]) => events.filter((e) => e.type === 'trade');
const nonBook = (events: readonly EngineEvent[]) => events.filter((e) => e.type !== 'book_changed');
const leasesOf = (events: readonly EngineEvent[]) => events.filter((e) => e.type === 'lease_created');

type Factory = (catalog: EngineCatalog) => MarketEngine;
const factories: [string, Factory][] = [
  ['fast', (c) => new Engine(c)],
  ['reference', (c) => new ReferenceEngine(c)],
];

function applyChecked(engine: MarketEngine, cmd: Command): CommandResult {
  const r = engine.apply(cmd);
  engine.validateInternalState();
  return r;
}
function okEvents(engine: MarketEngine, cmd: Command): readonly EngineEvent[] {
  const r = applyChecked(engine, cmd);
  if (!r.ok) throw new Error(`expected ok for ${JSON.stringify(cmd)}, got ${r.code}: ${r.message}`);
  return r.events;
}
function snapshot(engine: MarketEngine): unknown {
  return engine.markets().map((m) => ({ depth: engine.depth(m), summary: engine.summary(m) }));
}

describe.each(factories)('%s engine', (_name, make) => {
  let eng: MarketEngine;
  beforeEach(() => {
    eng = make(TEST_CATALOG);
  });
  const apply = (cmd: Command): CommandResult => applyChecked(eng, cmd);
  const ok = (cmd: Command): readonly EngineEvent[] => okEvents(eng, cmd);
  const okAll = (cmds: readonly Command[]): void => {
    for (const c of cmds) ok(c);
  };

  // ---------------------------------------------------------------------------------------
  describe('rejections', () => {
    // Base state: a listed node with a lease, a resting bid, a GTD bid, unlisted nodes of p1 in two markets.
    const base: Command[] = [
      node('n1'),
      node('n2', { providerId: 'p2', gpuCount: 4 }),
      node('n3', { acceleratorId: 'h100' }),
      node('n4', { regionId: 'r2' }),
      ask('a1', ['n1'], 1000),
      bid('b1', 2, 1500), // l1 on n1 GPUs 0,1
      bid('b2', 16, 900, { buyerId: 'b2' }),
      bid('b3', 1, 1500, { acceleratorIds: ['h100'], timeInForce: 'GTD', expiresAt: T0 + 2 * H }),
    ];
    const followUp: Command[] = [
      bid('f1', 3, 2000),
      amend('b3', 'b1', { expiresAt: null }),
      ask('f2', ['n3'], 500),
      cancel('b2', 'b2'),
      endLease('l1'),
      node('f3', { regionId: 'r3' }),
      update('n1', 12),
      bid('f4', 6, 1000),
      { type: 'expire', now: T0 + 3 * H },
    ];

    /** `bad` is rejected with `code`, emits nothing, and leaves the engine as if it never came. */
    function rejectsCleanly(bad: Command, code: RejectCode, setup: readonly Command[] = base, after: readonly Command[] = followUp): void {
      const a = make(TEST_CATALOG);
      const b = make(TEST_CATALOG);
      for (const c of setup) {
        okEvents(a, c);
        okEvents(b, c);
      }
      const before = snapshot(a);
      const r = applyChecked(a, bad);
      expect({ ok: r.ok, code: r.ok ? null : r.code, events: r.events }).toEqual({ ok: false, code, events: [] });
      if (!r.ok) expect(r.message.length).toBeGreaterThan(0);
      expect(snapshot(a)).toEqual(before);
      const ra = after.map((c) => applyChecked(a, c));
      const rb = after.map((c) => applyChecked(b, c));
      expect(JSON.stringify(ra)).toBe(JSON.stringify(rb));
      expect(snapshot(a)).toEqual(snapshot(b));
    }

    it('base state and follow-up are what the tests assume', () => {
      okAll(base);
      expect(eng.depth(A1)).toEqual({ market: A1, asks: [{ priceFenPerGpuHour: 1000, gpus: 6 }], bids: [{ priceFenPerGpuHour: 900, gpus: 16 }] });
      expect(eng.depth(H1).bids).toEqual([{ priceFenPerGpuHour: 1500, gpus: 1 }]);
      const results = followUp.map(apply);
      expect(results.every((r) => r.ok)).toBe(true);
      expect(results.flatMap((r) => tradesOf(r.events)).length).toBeGreaterThanOrEqual(3);
    });

    it('CLOCK_BACKWARDS', () => {
      rejectsCleanly(expire(T0 - 1), 'CLOCK_BACKWARDS');
      rejectsCleanly(bid('x', 1, 5000, { now: T0 - H }), 'CLOCK_BACKWARDS');
    });

    it('INVALID_ID', () => {
      rejectsCleanly(node(''), 'INVALID_ID');
      rejectsCleanly(node('x'.repeat(129)), 'INVALID_ID');
      rejectsCleanly(node('n9', { providerId: '' }), 'INVALID_ID');
      rejectsCleanly(update('', 4), 'INVALID_ID');
      rejectsCleanly(status('', 'online'), 'INVALID_ID');
      rejectsCleanly(ask('', ['n4'], 1000), 'INVALID_ID');
      rejectsCleanly(ask('x', [], 1000), 'INVALID_ID');
      rejectsCleanly(ask('x', ['n4', ''], 1000), 'INVALID_ID');
      rejectsCleanly(ask('x', ['n4', 'n4'], 1000), 'INVALID_ID');
      rejectsCleanly(bid('', 1, 5000), 'INVALID_ID');
      rejectsCleanly(bid('x', 1, 5000, { buyerId: 'y'.repeat(129) }), 'INVALID_ID');
      rejectsCleanly(cancel('b2', ''), 'INVALID_ID');
      rejectsCleanly(amend('', 'b2', { priceFen: 1000 }), 'INVALID_ID');
      rejectsCleanly(endLease(''), 'INVALID_ID');
      // 128 characters is fine
      okAll(base);
      expect(apply(node('x'.repeat(128))).ok).toBe(true);
    });

    it('DUPLICATE_ID for nodes and for active orders (across sides)', () => {
      rejectsCleanly(node('n1', { acceleratorId: 'h100' }), 'DUPLICATE_ID');
      rejectsCleanly(node('n2', { providerId: 'p1' }), 'DUPLICATE_ID');
      rejectsCleanly(ask('a1', ['n4'], 1000), 'DUPLICATE_ID');
      rejectsCleanly(ask('b2', ['n4'], 1000), 'DUPLICATE_ID');
      rejectsCleanly(bid('a1', 1, 5000), 'DUPLICATE_ID');
      rejectsCleanly(bid('b2', 1, 5000), 'DUPLICATE_ID');
      rejectsCleanly(ask('b3', ['n3'], 1000), 'DUPLICATE_ID');
    });

    it('the id of a finished order may be used again (ids are unique among active orders only)', () => {
      // types.ts: the engine forgets finished orders; the exchange assigns ids that never repeat.
      okAll(base);
      expect(ok(bid('b1', 1, 5000))).toEqual([
        accepted('b1', 'bid'),
        ...fill(2, { bid: 'b1', ask: 'a1', node: 'n1', gpus: [2], price: 1000 }),
        filled('b1'),
        book(A1),
        book(A2), // a bid touches every compatible market (n4 made a100@r2), even one it did not trade in
      ]);
    });

    it('INVALID_GPU_COUNT', () => {
      rejectsCleanly(node('n9', { gpuCount: 0 }), 'INVALID_GPU_COUNT');
      rejectsCleanly(node('n9', { gpuCount: MAX_NODE_GPUS + 1 }), 'INVALID_GPU_COUNT');
      rejectsCleanly(node('n9', { gpuCount: 2.5 }), 'INVALID_GPU_COUNT');
      rejectsCleanly(update('n1', 0), 'INVALID_GPU_COUNT');
      rejectsCleanly(update('n1', -8), 'INVALID_GPU_COUNT');
    });

    it('INVALID_PRICE (ask price, bid limit, amend)', () => {
      rejectsCleanly(ask('x', ['n4'], 0), 'INVALID_PRICE');
      rejectsCleanly(ask('x', ['n4'], MAX_PRICE_FEN + 1), 'INVALID_PRICE');
      rejectsCleanly(ask('x', ['n4'], 10.5), 'INVALID_PRICE');
      rejectsCleanly(bid('x', 1, 0), 'INVALID_PRICE');
      rejectsCleanly(bid('x', 1, -100), 'INVALID_PRICE');
      rejectsCleanly(amend('a1', 'p1', { priceFen: 0 }), 'INVALID_PRICE');
      rejectsCleanly(amend('b2', 'b2', { priceFen: 1.5 }), 'INVALID_PRICE');
    });

    it('INVALID_QUANTITY (bid quantity, bid amend, ask amend)', () => {
      rejectsCleanly(bid('x', 0, 5000), 'INVALID_QUANTITY');
      rejectsCleanly(bid('x', MAX_BID_GPUS + 1, 5000), 'INVALID_QUANTITY');
      rejectsCleanly(bid('x', 1.5, 5000), 'INVALID_QUANTITY');
      rejectsCleanly(computeBid('x', 0, 5000), 'INVALID_QUANTITY');
      rejectsCleanly(computeBid('x', 1_000_000 * 10_000 + 1, 5000), 'INVALID_QUANTITY');
      rejectsCleanly(bid('x', 1, 5000, { quantity: { kind: 'nodes', nodes: 1 } as never }), 'INVALID_QUANTITY');
      rejectsCleanly(bid('x', 1, 5000, { quantity: null as never }), 'INVALID_QUANTITY');
      rejectsCleanly(amend('b2', 'b2', { remaining: 0 }), 'INVALID_QUANTITY');
      rejectsCleanly(amend('b2', 'b2', { remaining: MAX_BID_GPUS + 1 }), 'INVALID_QUANTITY');
      // an ask's quantity is its nodes' free GPUs: it cannot be amended
      rejectsCleanly(amend('a1', 'p1', { remaining: 3 }), 'INVALID_QUANTITY');
      rejectsCleanly(amend('a1', 'p1', { remaining: 3, priceFen: 800 }), 'INVALID_QUANTITY');
    });

    it('INVALID_HOURS (bid hours, ask minHours and maxHours)', () => {
      rejectsCleanly(bid('x', 1, 5000, { hours: 0 }), 'INVALID_HOURS');
      rejectsCleanly(bid('x', 1, 5000, { hours: MAX_LEASE_HOURS + 1 }), 'INVALID_HOURS');
      rejectsCleanly(bid('x', 1, 5000, { hours: 1.5 }), 'INVALID_HOURS');
      rejectsCleanly(ask('x', ['n4'], 1000, { minHours: 0 }), 'INVALID_HOURS');
      rejectsCleanly(ask('x', ['n4'], 1000, { minHours: MAX_LEASE_HOURS + 1 }), 'INVALID_HOURS');
      rejectsCleanly(ask('x', ['n4'], 1000, { minHours: 4, maxHours: 3 }), 'INVALID_HOURS');
      rejectsCleanly(ask('x', ['n4'], 1000, { maxHours: 0 }), 'INVALID_HOURS');
      rejectsCleanly(ask('x', ['n4'], 1000, { maxHours: MAX_LEASE_HOURS + 1 }), 'INVALID_HOURS');
    });

    it('INVALID_GPUS_PER_NODE (range, multiple, amend)', () => {
      rejectsCleanly(bid('x', 8, 5000, { gpusPerNode: 0 }), 'INVALID_GPUS_PER_NODE');
      rejectsCleanly(bid('x', 65, 5000, { gpusPerNode: 65 }), 'INVALID_GPUS_PER_NODE');
      rejectsCleanly(bid('x', 6, 5000, { gpusPerNode: 4 }), 'INVALID_GPUS_PER_NODE');
      const setup = [...base, bid('g', 8, 900, { gpusPerNode: 4 })];
      rejectsCleanly(amend('g', 'b1', { remaining: 6 }), 'INVALID_GPUS_PER_NODE', setup);
    });

    it('INVALID_TIME_IN_FORCE', () => {
      rejectsCleanly(bid('x', 1, 5000, { timeInForce: 'DAY' as never }), 'INVALID_TIME_IN_FORCE');
      rejectsCleanly(bid('x', 1, 5000, { expiresAt: T0 + H }), 'INVALID_TIME_IN_FORCE'); // GTC with an expiry
      rejectsCleanly(bid('x', 1, 5000, { timeInForce: 'IOC', expiresAt: T0 + H }), 'INVALID_TIME_IN_FORCE');
    });

    it('INVALID_STATUS', () => {
      rejectsCleanly(status('n1', 'broken' as never), 'INVALID_STATUS');
    });

    it('INVALID_NODE_KIND', () => {
      rejectsCleanly(node('n9', { kind: 'cloud' as never }), 'INVALID_NODE_KIND');
    });

    it('START_IN_PAST', () => {
      rejectsCleanly(bid('x', 1, 5000, { startAt: T0 - 1 }), 'START_IN_PAST');
    });

    it('START_TOO_FAR (366 days is the limit)', () => {
      rejectsCleanly(bid('x', 1, 5000, { startAt: T0 + MAX_START_AHEAD_MS + 1 }), 'START_TOO_FAR');
      okAll(base);
      expect(apply(bid('x', 1, 5000, { startAt: T0 + MAX_START_AHEAD_MS })).ok).toBe(true);
    });

    it('EXPIRY_IN_PAST (bid, ask, amend)', () => {
      rejectsCleanly(bid('x', 1, 5000, { timeInForce: 'GTD', expiresAt: T0 }), 'EXPIRY_IN_PAST');
      rejectsCleanly(ask('x', ['n4'], 1000, { expiresAt: T0 }), 'EXPIRY_IN_PAST');
      rejectsCleanly(ask('x', ['n4'], 1000, { expiresAt: T0 - H }), 'EXPIRY_IN_PAST');
      rejectsCleanly(amend('b3', 'b1', { expiresAt: T0 }), 'EXPIRY_IN_PAST');
      rejectsCleanly(amend('a1', 'p1', { expiresAt: T0 - 1 }), 'EXPIRY_IN_PAST');
    });

    it('EXPIRY_REQUIRED', () => {
      rejectsCleanly(bid('x', 1, 5000, { timeInForce: 'GTD' }), 'EXPIRY_REQUIRED');
    });

    it('AVAILABLE_UNTIL_IN_PAST', () => {
      rejectsCleanly(ask('x', ['n4'], 1000, { availableUntil: T0 }), 'AVAILABLE_UNTIL_IN_PAST');
      rejectsCleanly(ask('x', ['n4'], 1000, { availableUntil: T0 - 1 }), 'AVAILABLE_UNTIL_IN_PAST');
    });

    it('UNKNOWN_ACCELERATOR', () => {
      rejectsCleanly(node('n9', { acceleratorId: 'nope' }), 'UNKNOWN_ACCELERATOR');
      rejectsCleanly(bid('x', 1, 5000, { acceleratorIds: ['a100', 'nope'] }), 'UNKNOWN_ACCELERATOR');
      rejectsCleanly(bid('x', 1, 5000, { acceleratorIds: [] }), 'UNKNOWN_ACCELERATOR');
    });

    it('UNKNOWN_REGION', () => {
      rejectsCleanly(node('n9', { regionId: 'mars' }), 'UNKNOWN_REGION');
      rejectsCleanly(bid('x', 1, 5000, { regionIds: ['r1', 'mars'] }), 'UNKNOWN_REGION');
      rejectsCleanly(bid('x', 1, 5000, { regionIds: [] }), 'UNKNOWN_REGION');
    });

    it('NO_COMPATIBLE_MARKET', () => {
      rejectsCleanly(bid('x', 1, 5000, { acceleratorIds: undefined }), 'NO_COMPATIBLE_MARKET');
      rejectsCleanly(bid('x', 1, 5000, { acceleratorIds: undefined, computeClass: { minMemoryGiB: 100 } }), 'NO_COMPATIBLE_MARKET');
      rejectsCleanly(bid('x', 1, 5000, { acceleratorIds: ['ascend'], computeClass: { stacks: ['cuda'] } }), 'NO_COMPATIBLE_MARKET');
      rejectsCleanly(bid('x', 1, 5000, { acceleratorIds: ['a100'], computeClass: { minFp16Tflops: 313 } }), 'NO_COMPATIBLE_MARKET');
    });

    it('NODE_NOT_FOUND (unknown node, another provider\'s node)', () => {
      rejectsCleanly(update('ghost', 4), 'NODE_NOT_FOUND');
      rejectsCleanly(update('n2', 8, T0, 'p1'), 'NODE_NOT_FOUND'); // n2 belongs to p2
      rejectsCleanly(status('ghost', 'offline'), 'NODE_NOT_FOUND');
      rejectsCleanly(ask('x', ['ghost'], 1000), 'NODE_NOT_FOUND');
      rejectsCleanly(ask('x', ['n2'], 1000), 'NODE_NOT_FOUND'); // p1 lists p2's node
      rejectsCleanly(ask('x', ['n4', 'ghost'], 1000), 'NODE_NOT_FOUND');
    });

    it('NODE_ALREADY_LISTED', () => {
      rejectsCleanly(ask('x', ['n1'], 900), 'NODE_ALREADY_LISTED');
      rejectsCleanly(ask('x', ['n4', 'n1'], 900), 'NODE_MARKET_MISMATCH'); // market is checked first
      const setup = [...base, node('n5')];
      rejectsCleanly(ask('x', ['n5', 'n1'], 900), 'NODE_ALREADY_LISTED', setup);
    });

    it('NODE_MARKET_MISMATCH', () => {
      rejectsCleanly(ask('x', ['n3', 'n4'], 1000), 'NODE_MARKET_MISMATCH');
    });

    it('NODE_GPUS_BOOKED (leased now, or booked in the future)', () => {
      rejectsCleanly(update('n1', 1), 'NODE_GPUS_BOOKED'); // GPU 1 is in l1
      const future = [node('m1', { gpuCount: 4 }), ask('am', ['m1'], 1000), bid('fb', 4, 1000, { startAt: T0 + 5 * H })];
      rejectsCleanly(update('m1', 3), 'NODE_GPUS_BOOKED', future, [bid('z', 1, 2000), update('m1', 6)]);
      // shrinking over free GPUs is fine
      okAll(base);
      expect(ok(update('n1', 2))).toEqual([{ type: 'node_updated', nodeId: 'n1', gpuCount: 2 }, book(A1)]);
      expect(eng.depth(A1).asks).toEqual([]);
    });

    it('TOO_MANY_NODES', () => {
      const ids = Array.from({ length: MAX_ASK_NODES + 1 }, (_, i) => `x${i}`);
      rejectsCleanly(ask('x', ids, 1000), 'TOO_MANY_NODES');
      // exactly the limit passes the static check (and then fails on the unknown nodes)
      rejectsCleanly(ask('x', ids.slice(1), 1000), 'NODE_NOT_FOUND');
    });

    it('ORDER_NOT_FOUND (unknown order, another user\'s order)', () => {
      rejectsCleanly(cancel('ghost', 'b1'), 'ORDER_NOT_FOUND');
      rejectsCleanly(cancel('b2', 'b1'), 'ORDER_NOT_FOUND'); // b2 belongs to buyer b2
      rejectsCleanly(cancel('a1', 'p2'), 'ORDER_NOT_FOUND');
      rejectsCleanly(amend('b2', 'b9', { priceFen: 5000 }), 'ORDER_NOT_FOUND');
      rejectsCleanly(amend('a1', 'p2', { priceFen: 1 }), 'ORDER_NOT_FOUND');
      rejectsCleanly(cancel('b1', 'b2'), 'ORDER_NOT_FOUND'); // inactive and not yours: still not found
    });

    it('finished orders (filled, cancelled, expired) are forgotten: ORDER_NOT_FOUND, not ORDER_NOT_ACTIVE', () => {
      // ORDER_NOT_ACTIVE is answered by the exchange layer, which keeps history (types.ts).
      rejectsCleanly(cancel('b1', 'b1'), 'ORDER_NOT_FOUND');
      rejectsCleanly(amend('b1', 'b1', { priceFen: 2000 }), 'ORDER_NOT_FOUND');
      const setup = [...base, cancel('b2', 'b2')];
      rejectsCleanly(cancel('b2', 'b2'), 'ORDER_NOT_FOUND', setup, followUp.slice(0, 3));
      const later = [...base, expire(T0 + 2 * H)];
      rejectsCleanly(amend('b3', 'b1', { priceFen: 3000 }, T0 + 2 * H), 'ORDER_NOT_FOUND', later, [bid('z', 1, 2000, { now: T0 + 2 * H })]);
    });

    it('NOTHING_TO_AMEND', () => {
      rejectsCleanly(amend('b2', 'b2', {}), 'NOTHING_TO_AMEND');
      rejectsCleanly(amend('a1', 'p1', {}), 'NOTHING_TO_AMEND');
    });

    it('LEASE_NOT_FOUND', () => {
      rejectsCleanly(endLease('l99'), 'LEASE_NOT_FOUND');
      rejectsCleanly(endLease('t1'), 'LEASE_NOT_FOUND');
    });

    it('ended leases (early or naturally) are forgotten: LEASE_NOT_FOUND, not LEASE_ALREADY_ENDED', () => {
      // LEASE_ALREADY_ENDED is answered by the exchange layer, which keeps history (types.ts).
      rejectsCleanly(endLease('l1'), 'LEASE_NOT_FOUND', [...base, endLease('l1')], followUp.slice(0, 4));
      okAll(base);
      ok(expire(T0 + H)); // l1 ends at T0 + 1h
      const r = apply(endLease('l1', T0 + H));
      expect(r).toMatchObject({ ok: false, code: 'LEASE_NOT_FOUND', events: [] });
    });

    it('INVALID_COMMAND (unknown type, bad now, bad ask unit)', () => {
      rejectsCleanly({ type: 'bogus', now: T0 } as never, 'INVALID_COMMAND');
      rejectsCleanly(expire(-1), 'INVALID_COMMAND');
      rejectsCleanly(expire(1.5), 'INVALID_COMMAND');
      rejectsCleanly(expire(Number.NaN), 'INVALID_COMMAND');
      rejectsCleanly({ type: 'expire' } as never, 'INVALID_COMMAND');
      rejectsCleanly(ask('x', ['n4'], 1000, { unit: 'rack' as never }), 'INVALID_COMMAND');
    });

    it('every reject code is covered above', () => {
      // Keep these lists in sync with the tests: a new code needs a test.
      const exchangeOnly: RejectCode[] = ['ORDER_NOT_ACTIVE', 'LEASE_ALREADY_ENDED'];
      const tested: RejectCode[] = [...exchangeOnly,
        'CLOCK_BACKWARDS', 'INVALID_ID', 'DUPLICATE_ID', 'INVALID_GPU_COUNT', 'INVALID_PRICE', 'INVALID_QUANTITY', 'INVALID_HOURS',
        'INVALID_GPUS_PER_NODE', 'INVALID_TIME_IN_FORCE', 'INVALID_STATUS', 'INVALID_NODE_KIND', 'START_IN_PAST', 'START_TOO_FAR',
        'EXPIRY_IN_PAST', 'EXPIRY_REQUIRED', 'AVAILABLE_UNTIL_IN_PAST', 'UNKNOWN_ACCELERATOR', 'UNKNOWN_REGION', 'NO_COMPATIBLE_MARKET',
        'NODE_NOT_FOUND', 'NODE_ALREADY_LISTED', 'NODE_MARKET_MISMATCH', 'NODE_GPUS_BOOKED', 'TOO_MANY_NODES', 'ORDER_NOT_FOUND',
        'NOTHING_TO_AMEND', 'LEASE_NOT_FOUND', 'INVALID_COMMAND',
      ];
      expect([...tested].sort()).toEqual([...RejectCodes].sort());
    });

    it('a rejected command at a later time still lets time pass (expiries fire, events come back with the rejection)', () => {
      // Documented behaviour: time advances before validation, so a rejected command is not a no-op.
      okAll(base);
      const r = apply(bid('', 1, 5000, { now: T0 + 2 * H }));
      expect(r.ok).toBe(false);
      expect(nonBook(r.events)).toEqual([expired('b3', 'expires_at')]);
      expect(r.events).toContainEqual(book(H1));
      // and the clock moved: an earlier command is now CLOCK_BACKWARDS
      expect(apply(expire(T0 + H))).toMatchObject({ ok: false, code: 'CLOCK_BACKWARDS' });
    });

    it('a rejected command at a later time can even carry trades (a lease ended while time passed)', () => {
      // types.ts (CommandResult): time passes before the command runs; callers persist the events of every result.
      okAll([...base, bid('r', 8, 1000)]); // all-or-none: a1 has 6 free while l1 holds GPUs 0 and 1
      const r = apply(node('', { now: T0 + H }));
      expect(r.ok).toBe(false);
      expect(tradesOf(r.events)).toMatchObject([{ bidId: 'r', gpus: 8, startMs: T0 + H }]);
    });

    it('a rejected clock (CLOCK_BACKWARDS, bad now) does not move time', () => {
      okAll(base);
      expect(apply(expire(T0 - 1)).ok).toBe(false);
      expect(apply(expire(-5)).ok).toBe(false);
      expect(apply(expire(T0)).ok).toBe(true);
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('nodes and events', () => {
    it('registering a node creates its market once, with book_changed', () => {
      expect(ok(node('n1'))).toEqual([registered('n1', A1, 8), book(A1)]);
      expect(ok(node('n2', { gpuCount: 4 }))).toEqual([registered('n2', A1, 4)]);
      expect(ok(node('n3', { acceleratorId: 'h100', kind: 'offline' }))).toEqual([registered('n3', H1, 8), book(H1)]);
      expect(eng.markets()).toEqual([A1, H1]);
      expect(eng.depth(A1)).toEqual({ market: A1, asks: [], bids: [] });
      expect(eng.depth('nope@x')).toEqual({ market: 'nope@x', asks: [], bids: [] });
      expect(eng.summary('nope@x')).toEqual({ market: 'nope@x', bestAskFen: null, bestBidFen: null, lastTradeFen: null, freeGpus: 0 });
    });

    it('status and updates of an unlisted node do not touch the book', () => {
      ok(node('n1'));
      expect(ok(status('n1', 'offline'))).toEqual([{ type: 'node_status_changed', nodeId: 'n1', status: 'offline' }]);
      expect(ok(update('n1', 4))).toEqual([{ type: 'node_updated', nodeId: 'n1', gpuCount: 4 }]);
    });

    it('placing an ask rests it with its free GPUs now', () => {
      okAll([node('n1'), node('n2', { gpuCount: 4 }), status('n2', 'offline')]);
      expect(ok(ask('a1', ['n1', 'n2'], 1000))).toEqual([accepted('a1', 'ask'), rested('a1', 'ask', 8), book(A1)]);
      expect(eng.depth(A1).asks).toEqual([{ priceFenPerGpuHour: 1000, gpus: 8 }]);
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('price', () => {
    beforeEach(() => okAll([node('n1'), ask('a1', ['n1'], 1000)]));

    it('trades execute at the ask\'s price, not the bid\'s limit', () => {
      expect(ok(bid('x', 2, 5000))).toEqual([
        accepted('x', 'bid'),
        ...fill(1, { bid: 'x', ask: 'a1', node: 'n1', gpus: [0, 1], price: 1000 }),
        filled('x'),
        book(A1),
      ]);
      expect(eng.summary(A1)).toEqual({ market: A1, bestAskFen: 1000, bestBidFen: null, lastTradeFen: 1000, freeGpus: 6 });
    });

    it('a bid never trades above its limit (equal is fine)', () => {
      expect(ok(bid('x', 2, 999))).toEqual([accepted('x', 'bid'), rested('x', 'bid', 2), book(A1)]);
      expect(eng.depth(A1)).toEqual({ market: A1, asks: [{ priceFenPerGpuHour: 1000, gpus: 8 }], bids: [{ priceFenPerGpuHour: 999, gpus: 2 }] });
      expect(tradesOf(ok(bid('y', 2, 1000)))).toHaveLength(1);
    });

    it('asks are walked by price, then time', () => {
      okAll([node('n2', { gpuCount: 2 }), node('n3', { gpuCount: 2 }), node('n4', { gpuCount: 2 })]);
      ok(cancel('a1', 'p1'));
      okAll([ask('c', ['n2'], 1200), ask('d', ['n3'], 1000), ask('e', ['n4'], 1000)]);
      expect(ok(bid('x', 5, 1500))).toEqual([
        accepted('x', 'bid'),
        ...fill(1, { bid: 'x', ask: 'd', node: 'n3', gpus: [0, 1], price: 1000 }),
        ...fill(2, { bid: 'x', ask: 'e', node: 'n4', gpus: [0, 1], price: 1000 }),
        ...fill(3, { bid: 'x', ask: 'c', node: 'n2', gpus: [0], price: 1200 }),
        filled('x'),
        book(A1),
      ]);
    });

    it('a repriced ask loses time priority; the same price keeps it', () => {
      okAll([node('n2', { gpuCount: 2 }), node('n3', { gpuCount: 2 })]);
      ok(cancel('a1', 'p1'));
      okAll([ask('d', ['n2'], 1000), ask('e', ['n3'], 1000)]);
      expect(ok(amend('d', 'p1', { priceFen: 1000 }))).toEqual([amended('d', 1000, null), book(A1)]);
      expect(leasesOf(ok(bid('x', 1, 1500)))).toMatchObject([{ nodeId: 'n2' }]);
      okAll([amend('d', 'p1', { priceFen: 1100 }), amend('d', 'p1', { priceFen: 1000 })]);
      expect(leasesOf(ok(bid('y', 1, 1500)))).toMatchObject([{ nodeId: 'n3' }]);
    });

    it('several markets are merged by price per GPU-hour, then time', () => {
      okAll([
        node('m1', { gpuCount: 2, acceleratorId: 'h100' }),
        node('m2', { gpuCount: 2, regionId: 'r2', providerId: 'p2' }),
        amend('a1', 'p1', { priceFen: 1100 }),
        ask('h', ['m1'], 1000),
        ask('r', ['m2'], 1000, { providerId: 'p2' }),
      ]);
      expect(ok(bid('x', 5, 2000, { acceleratorIds: ['a100', 'h100'] }))).toEqual([
        accepted('x', 'bid'),
        ...fill(1, { bid: 'x', ask: 'h', node: 'm1', gpus: [0, 1], price: 1000, market: H1 }),
        ...fill(2, { bid: 'x', ask: 'r', node: 'm2', gpus: [0, 1], price: 1000, market: A2, provider: 'p2' }),
        ...fill(3, { bid: 'x', ask: 'a1', node: 'n1', gpus: [0], price: 1100 }),
        filled('x'),
        book(A1),
        book(A2),
        book(H1),
      ]);
    });

    it('a region list restricts the markets', () => {
      okAll([node('m2', { regionId: 'r2' }), ask('r', ['m2'], 500)]);
      expect(leasesOf(ok(bid('x', 1, 2000, { regionIds: ['r1', 'r3'] })))).toMatchObject([{ nodeId: 'n1', priceFenPerGpuHour: 1000 }]);
      expect(leasesOf(ok(bid('y', 1, 2000)))).toMatchObject([{ nodeId: 'm2', priceFenPerGpuHour: 500 }]);
    });

    it('compute-amount bids compare per P-hour: limit cap and merge order', () => {
      // a100 at 1000/GPU-h = 3205.13/P-h; h100 at 3000/GPU-h = 3032.14/P-h: dearer per GPU, cheaper per P.
      okAll([node('m1', { acceleratorId: 'h100' }), ask('h', ['m1'], 3000)]);
      // 1 h100 GPU covers 0.9894 P exactly
      expect(ok(computeBid('x', 9894, 4000, { acceleratorIds: ['a100', 'h100'] }))).toEqual([
        accepted('x', 'bid'),
        ...fill(1, { bid: 'x', ask: 'h', node: 'm1', gpus: [0], price: 3000, market: H1 }),
        filled('x'),
        book(A1),
        book(H1),
      ]);
      // a GPU-count bid prefers the cheaper GPU-hour
      expect(leasesOf(ok(bid('y', 1, 4000, { acceleratorIds: ['a100', 'h100'] })))).toMatchObject([{ nodeId: 'n1', priceFenPerGpuHour: 1000 }]);
      // per P-hour limit: 1000 fen/GPU-h of a100 needs a limit of at least 1000 * 10000 / 3120 = 3205.13
      expect(ok(computeBid('z', 3120, 3205))).toEqual([accepted('z', 'bid'), rested('z', 'bid', 3120), book(A1)]);
      expect(tradesOf(ok(computeBid('w', 3120, 3206)))).toMatchObject([{ gpus: 1, priceFenPerGpuHour: 1000 }]);
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('fill rules and time in force', () => {
    beforeEach(() => okAll([node('n1', { gpuCount: 4 }), ask('a1', ['n1'], 1000)]));

    it('all-or-none by default: no partial trade, the bid rests whole', () => {
      expect(ok(bid('x', 6, 1500))).toEqual([accepted('x', 'bid'), rested('x', 'bid', 6), book(A1)]);
      expect(eng.depth(A1)).toEqual({ market: A1, asks: [{ priceFenPerGpuHour: 1000, gpus: 4 }], bids: [{ priceFenPerGpuHour: 1500, gpus: 6 }] });
    });

    it('allowPartial fills what it can and rests the rest; more capacity fills it', () => {
      expect(ok(bid('x', 6, 1500, { allowPartial: true }))).toEqual([
        accepted('x', 'bid'),
        ...fill(1, { bid: 'x', ask: 'a1', node: 'n1', gpus: [0, 1, 2, 3], price: 1000 }),
        rested('x', 'bid', 2),
        book(A1),
      ]);
      expect(eng.depth(A1)).toEqual({ market: A1, asks: [], bids: [{ priceFenPerGpuHour: 1500, gpus: 2 }] });
      expect(ok(node('n2', { gpuCount: 4 }))).toEqual([registered('n2', A1, 4)]);
      expect(ok(ask('a2', ['n2'], 1200))).toEqual([
        accepted('a2', 'ask'),
        rested('a2', 'ask', 4),
        ...fill(2, { bid: 'x', ask: 'a2', node: 'n2', gpus: [0, 1], price: 1200 }),
        filled('x'),
        book(A1),
      ]);
    });

    it('IOC with allowPartial fills what it can, then cancels the remainder', () => {
      expect(ok(bid('x', 6, 1500, { timeInForce: 'IOC', allowPartial: true }))).toEqual([
        accepted('x', 'bid'),
        ...fill(1, { bid: 'x', ask: 'a1', node: 'n1', gpus: [0, 1, 2, 3], price: 1000 }),
        cancelled('x', 'ioc_remainder'),
        book(A1),
      ]);
      expect(eng.depth(A1).bids).toEqual([]);
    });

    it('IOC that fills completely is filled', () => {
      expect(ok(bid('x', 3, 1500, { timeInForce: 'IOC' }))).toEqual([
        accepted('x', 'bid'),
        ...fill(1, { bid: 'x', ask: 'a1', node: 'n1', gpus: [0, 1, 2], price: 1000 }),
        filled('x'),
        book(A1),
      ]);
    });

    it('IOC without allowPartial is all-or-none (the default): nothing trades', () => {
      expect(ok(bid('x', 6, 1500, { timeInForce: 'IOC' }))).toEqual([accepted('x', 'bid'), cancelled('x', 'ioc_remainder')]);
      expect(eng.depth(A1).asks).toEqual([{ priceFenPerGpuHour: 1000, gpus: 4 }]);
    });

    it('FOK is all-or-none even with allowPartial', () => {
      expect(ok(bid('x', 6, 1500, { timeInForce: 'FOK', allowPartial: true }))).toEqual([accepted('x', 'bid'), cancelled('x', 'fok_unfilled')]);
      expect(ok(bid('y', 4, 1500, { timeInForce: 'FOK' }))).toEqual([
        accepted('y', 'bid'),
        ...fill(1, { bid: 'y', ask: 'a1', node: 'n1', gpus: [0, 1, 2, 3], price: 1000 }),
        filled('y'),
        book(A1),
      ]);
    });

    it('GTD bid expires with expires_at on the first command at or after its expiry', () => {
      ok(bid('x', 6, 1500, { timeInForce: 'GTD', expiresAt: T0 + H }));
      expect(ok(expire(T0 + H - 1))).toEqual([]);
      expect(eng.depth(A1).bids).toEqual([{ priceFenPerGpuHour: 1500, gpus: 6 }]);
      expect(ok(expire(T0 + H))).toEqual([expired('x', 'expires_at'), book(A1)]);
      expect(eng.depth(A1).bids).toEqual([]);
      expect(apply(cancel('x', 'b1', T0 + H))).toMatchObject({ ok: false, code: 'ORDER_NOT_FOUND' });
    });

    it('GTD bid expiry is reported by any later command, before that command\'s own events', () => {
      ok(bid('x', 6, 1500, { timeInForce: 'GTD', expiresAt: T0 + H }));
      expect(ok(status('n1', 'online', T0 + 2 * H))).toEqual([
        expired('x', 'expires_at'),
        { type: 'node_status_changed', nodeId: 'n1', status: 'online' },
        book(A1),
      ]);
    });

    it('GTD ask expires with expires_at; its nodes can be listed again', () => {
      ok(cancel('a1', 'p1'));
      ok(ask('g', ['n1'], 900, { expiresAt: T0 + H }));
      expect(ok(expire(T0 + H))).toEqual([expired('g', 'expires_at'), book(A1)]);
      expect(eng.depth(A1).asks).toEqual([]);
      expect(ok(bid('x', 1, 2000, { now: T0 + H }))).toEqual([accepted('x', 'bid'), rested('x', 'bid', 1), book(A1)]);
      expect(tradesOf(ok(ask('g2', ['n1'], 900, { now: T0 + H })))).toHaveLength(1);
    });

    it('a future-start bid that did not fill expires with start_passed', () => {
      ok(bid('x', 6, 1500, { startAt: T0 + 2 * H }));
      expect(ok(expire(T0 + 2 * H - 1))).toEqual([]);
      expect(ok(expire(T0 + 2 * H))).toEqual([expired('x', 'start_passed'), book(A1)]);
    });

    it('a GTD bid whose expiry comes before its start expires with expires_at', () => {
      ok(bid('x', 6, 1500, { startAt: T0 + 5 * H, timeInForce: 'GTD', expiresAt: T0 + 2 * H }));
      expect(ok(expire(T0 + 3 * H))).toEqual([expired('x', 'expires_at'), book(A1)]);
    });

    it('a bid with startAt equal to now that rests expires (start_passed) on the next command, even at the same time', () => {
      // Documented behaviour (see report): startAt = now is not the same as leaving startAt out.
      ok(bid('x', 6, 1500, { startAt: T0 }));
      expect(ok(bid('y', 6, 1500))).toEqual([expired('x', 'start_passed'), accepted('y', 'bid'), rested('y', 'bid', 6), book(A1)]);
    });

    it('cancel removes a resting bid; cancel of an ask removes its GPUs from the book', () => {
      ok(bid('x', 6, 1500));
      expect(ok(cancel('x', 'b1'))).toEqual([cancelled('x', 'user'), book(A1)]);
      expect(eng.depth(A1).bids).toEqual([]);
      expect(ok(cancel('a1', 'p1'))).toEqual([cancelled('a1', 'user'), book(A1)]);
      expect(eng.depth(A1)).toEqual({ market: A1, asks: [], bids: [] });
      expect(ok(bid('y', 1, 1500))).toEqual([accepted('y', 'bid'), rested('y', 'bid', 1), book(A1)]);
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('lease windows', () => {
    beforeEach(() => okAll([node('n1', { gpuCount: 1 }), ask('a1', ['n1'], 1000)]));

    it('a booked GPU is not offered for an overlapping window, but is for a later one', () => {
      expect(leasesOf(ok(bid('w1', 1, 1500, { hours: 2 })))).toMatchObject([{ leaseId: 'l1', startMs: T0, endMs: T0 + 2 * H }]);
      expect(eng.depth(A1).asks).toEqual([]);
      // overlapping future window: rests
      expect(ok(bid('w2', 1, 1500, { startAt: T0 + H }))).toEqual([accepted('w2', 'bid'), rested('w2', 'bid', 1), book(A1)]);
      // touching window [T0+2h, T0+3h): trades now for later
      expect(ok(bid('w3', 1, 1500, { startAt: T0 + 2 * H }))).toEqual([
        accepted('w3', 'bid'),
        ...fill(2, { bid: 'w3', ask: 'a1', node: 'n1', gpus: [0], price: 1000, start: T0 + 2 * H }),
        filled('w3'),
        book(A1),
      ]);
      expect(leasesOf(ok(bid('w4', 1, 1500, { startAt: T0 + 3 * H, hours: 2 })))).toMatchObject([{ startMs: T0 + 3 * H, endMs: T0 + 5 * H }]);
      // start-now bid: rests
      ok(bid('w5', 1, 1500));
      expect(ok(expire(T0 + H))).toEqual([expired('w2', 'start_passed'), book(A1)]);
      // l1 ends at T0+2h, but [T0+2h, T0+3h) belongs to w3: w5 still cannot start
      expect(tradesOf(ok(expire(T0 + 2 * H)))).toEqual([]);
      // ending w3's lease at its start leaves it empty and frees the window: w5 takes it
      expect(ok(endLease('l2', T0 + 2 * H))).toEqual([
        { type: 'lease_ended', leaseId: 'l2', atMs: T0 + 2 * H, reason: 'buyer' },
        ...fill(4, { bid: 'w5', ask: 'a1', node: 'n1', gpus: [0], price: 1000, start: T0 + 2 * H }),
        filled('w5'),
        book(A1),
      ]);
    });

    it('minHours and maxHours of an ask are respected', () => {
      ok(cancel('a1', 'p1'));
      ok(ask('a2', ['n1'], 1000, { minHours: 2, maxHours: 4 }));
      expect(tradesOf(ok(bid('x1', 1, 1500, { hours: 1, timeInForce: 'IOC' })))).toEqual([]);
      expect(tradesOf(ok(bid('x5', 1, 1500, { hours: 5, timeInForce: 'IOC' })))).toEqual([]);
      expect(leasesOf(ok(bid('x4', 1, 1500, { hours: 4, startAt: T0 + 10 * H })))).toMatchObject([{ endMs: T0 + 14 * H }]);
      expect(leasesOf(ok(bid('x2', 1, 1500, { hours: 2 })))).toMatchObject([{ endMs: T0 + 2 * H }]);
    });

    it('availableUntil of an ask bounds lease ends; the ask expires with available_until', () => {
      ok(cancel('a1', 'p1'));
      ok(ask('a2', ['n1'], 1000, { availableUntil: T0 + 3 * H }));
      expect(tradesOf(ok(bid('x4', 1, 1500, { hours: 4, timeInForce: 'IOC' })))).toEqual([]);
      expect(tradesOf(ok(bid('xf', 1, 1500, { hours: 3, startAt: T0 + H, timeInForce: 'IOC' })))).toEqual([]);
      expect(leasesOf(ok(bid('xs', 1, 1500, { hours: 2, startAt: T0 + H })))).toMatchObject([{ startMs: T0 + H, endMs: T0 + 3 * H }]);
      expect(leasesOf(ok(bid('x1', 1, 1500, { hours: 1 })))).toMatchObject([{ startMs: T0, endMs: T0 + H }]);
      expect(nonBook(ok(expire(T0 + 3 * H - 1)))).toEqual([]); // x1 ended at T0+1h
      expect(ok(expire(T0 + 3 * H))).toEqual([expired('a2', 'available_until'), book(A1)]);
    });

    it('a lease ended early ends now; ending a future lease makes it empty', () => {
      ok(bid('x', 1, 1500, { hours: 3 }));
      ok(bid('y', 1, 1500, { startAt: T0 + 5 * H }));
      expect(ok(endLease('l1', T0 + H, 'job_exited'))).toEqual([{ type: 'lease_ended', leaseId: 'l1', atMs: T0 + H, reason: 'job_exited' }, book(A1)]);
      expect(eng.depth(A1).asks).toEqual([{ priceFenPerGpuHour: 1000, gpus: 1 }]);
      expect(ok(endLease('l2', T0 + H, 'admin'))).toEqual([{ type: 'lease_ended', leaseId: 'l2', atMs: T0 + 5 * H, reason: 'admin' }, book(A1)]);
      // the window of l2 is free again
      expect(leasesOf(ok(bid('z', 1, 1500, { startAt: T0 + 5 * H, now: T0 + H })))).toMatchObject([{ leaseId: 'l3', startMs: T0 + 5 * H }]);
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('resting bids are retried when capacity appears', () => {
    beforeEach(() => okAll([node('n1', { gpuCount: 2 }), ask('a1', ['n1'], 2000), bid('full', 2, 2000)])); // l1 takes n1 for [T0, T0+1h)

    it('a new ask', () => {
      ok(bid('x', 2, 1500));
      ok(node('n2', { gpuCount: 2 }));
      expect(ok(ask('a2', ['n2'], 1500))).toEqual([
        accepted('a2', 'ask'),
        rested('a2', 'ask', 2),
        ...fill(2, { bid: 'x', ask: 'a2', node: 'n2', gpus: [0, 1], price: 1500 }),
        filled('x'),
        book(A1),
      ]);
    });

    it('an ask repriced down (raising or keeping the price retries nothing)', () => {
      okAll([node('n2', { gpuCount: 2 }), ask('a2', ['n2'], 1600), bid('x', 2, 1500)]);
      expect(ok(amend('a2', 'p1', { priceFen: 1700 }))).toEqual([amended('a2', 1700, null), book(A1)]);
      expect(ok(amend('a2', 'p1', { priceFen: 1500 }))).toEqual([
        amended('a2', 1500, null),
        ...fill(2, { bid: 'x', ask: 'a2', node: 'n2', gpus: [0, 1], price: 1500 }),
        filled('x'),
        book(A1),
      ]);
    });

    it('a node back online', () => {
      okAll([node('n2', { gpuCount: 2 }), ask('a2', ['n2'], 1500), status('n2', 'offline')]);
      ok(bid('x', 2, 1500));
      expect(ok(status('n2', 'draining'))).toEqual([{ type: 'node_status_changed', nodeId: 'n2', status: 'draining' }, book(A1)]);
      expect(ok(status('n2', 'online'))).toEqual([
        { type: 'node_status_changed', nodeId: 'n2', status: 'online' },
        ...fill(2, { bid: 'x', ask: 'a2', node: 'n2', gpus: [0, 1], price: 1500 }),
        filled('x'),
        book(A1),
      ]);
    });

    it('a node grown with updateNode', () => {
      ok(bid('x', 2, 2000));
      expect(ok(update('n1', 4))).toEqual([
        { type: 'node_updated', nodeId: 'n1', gpuCount: 4 },
        ...fill(2, { bid: 'x', ask: 'a1', node: 'n1', gpus: [2, 3], price: 2000 }),
        filled('x'),
        book(A1),
      ]);
    });

    it('a lease ended early', () => {
      ok(bid('x', 2, 2000));
      expect(ok(endLease('l1', T0 + 10 * 60_000))).toEqual([
        { type: 'lease_ended', leaseId: 'l1', atMs: T0 + 10 * 60_000, reason: 'buyer' },
        ...fill(2, { bid: 'x', ask: 'a1', node: 'n1', gpus: [0, 1], price: 2000, start: T0 + 10 * 60_000 }),
        filled('x'),
        book(A1),
      ]);
    });

    it('a lease ended naturally (time passes)', () => {
      ok(bid('x', 2, 2000));
      expect(ok(expire(T0 + H - 1))).toEqual([]);
      expect(ok(expire(T0 + H))).toEqual([
        ...fill(2, { bid: 'x', ask: 'a1', node: 'n1', gpus: [0, 1], price: 2000, start: T0 + H }),
        filled('x'),
        book(A1),
      ]);
    });

    it('a node of a whole-node ask shrunk to what a resting bid needs', () => {
      // A whole-node ask sells a node only to a bid needing at least all its GPUs, so shrinking a
      // listed node can make it usable: updateNode retries on any change, not only growth.
      okAll([node('n3', { gpuCount: 4, providerId: 'p2' }), bid('x', 3, 2000), ask('w', ['n3'], 1000, { unit: 'node', providerId: 'p2' })]);
      expect(ok(update('n3', 3, T0, 'p2'))).toEqual([
        { type: 'node_updated', nodeId: 'n3', gpuCount: 3 },
        ...fill(2, { bid: 'x', ask: 'w', node: 'n3', gpus: [0, 1, 2], price: 1000, provider: 'p2' }), // t1 is the beforeEach's
        filled('x'),
        book(A1),
      ]);
    });

    it('retry order: best limit first, then time; compute bids by their scaled limit', () => {
      okAll([
        bid('bA', 1, 2100), // seq 1
        bid('bB', 1, 2500),
        bid('bC', 1, 2500),
        computeBid('bD', 3120, 8000), // 8000/P-h on a100 = 2496/GPU-h
        computeBid('bE', 3120, 8050), // 2511.6/GPU-h
      ]);
      expect(eng.depth(A1).bids).toEqual([
        { priceFenPerGpuHour: 2511, gpus: 1 },
        { priceFenPerGpuHour: 2500, gpus: 2 },
        { priceFenPerGpuHour: 2496, gpus: 1 },
        { priceFenPerGpuHour: 2100, gpus: 1 },
      ]);
      const order: string[] = [];
      let t = T0;
      // each step frees one GPU: end the lease of the previous winner
      const first = ok(endLease('l1', (t += 60_000)));
      for (const e of tradesOf(first)) order.push(e.bidId);
      expect(order).toEqual(['bE', 'bB']); // l1 had 2 GPUs
      for (let i = 0; i < 3; i++) {
        const lease = `l${i + 2}`;
        const ev = ok(endLease(lease, (t += 60_000)));
        for (const e of tradesOf(ev)) order.push(e.bidId);
      }
      expect(order).toEqual(['bE', 'bB', 'bC', 'bD', 'bA']);
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('allocation and packing', () => {
    it('single-GPU leases go to a partly used node before a free node', () => {
      okAll([node('n1'), node('n2'), ask('a0', ['n2'], 1000), bid('x0', 1, 1000), cancel('a0', 'p1'), ask('a1', ['n1', 'n2'], 1000)]);
      // n2 has 7 free, n1 8: the partly used n2 takes the next single GPU although n1 comes first in the ask
      expect(leasesOf(ok(bid('x1', 1, 1000)))).toMatchObject([{ nodeId: 'n2', gpuIndices: [1] }]);
      expect(leasesOf(ok(bid('x2', 2, 1000)))).toMatchObject([{ nodeId: 'n2', gpuIndices: [2, 3] }]);
      // a whole-node bid still finds n1 free
      expect(leasesOf(ok(bid('x3', 8, 1000)))).toMatchObject([{ nodeId: 'n1', gpuIndices: range(0, 8) }]);
      expect(eng.depth(A1).asks).toEqual([{ priceFenPerGpuHour: 1000, gpus: 4 }]);
    });

    it('a big bid takes the largest node first, then the best fit', () => {
      okAll([node('n1', { gpuCount: 4 }), node('n2'), node('n3', { gpuCount: 8 }), ask('a1', ['n1', 'n2', 'n3'], 1000)]);
      expect(ok(bid('x', 12, 1000))).toEqual([
        accepted('x', 'bid'),
        ...fill(1, { bid: 'x', ask: 'a1', node: 'n2', gpus: range(0, 8), price: 1000 }),
        ...fill(2, { bid: 'x', ask: 'a1', node: 'n1', gpus: range(0, 4), price: 1000 }),
        filled('x'),
        book(A1),
      ]);
    });

    it('gpusPerNode takes groups of that size on one node', () => {
      okAll([node('n1', { gpuCount: 5 }), node('n2', { gpuCount: 6 }), ask('a1', ['n1', 'n2'], 1000)]);
      // groups of 4: n1 can host one group, n2 one group
      expect(ok(bid('x', 8, 1000, { gpusPerNode: 4 }))).toEqual([
        accepted('x', 'bid'),
        ...fill(1, { bid: 'x', ask: 'a1', node: 'n1', gpus: range(0, 4), price: 1000 }),
        ...fill(2, { bid: 'x', ask: 'a1', node: 'n2', gpus: range(0, 4), price: 1000 }),
        filled('x'),
        book(A1),
      ]);
      // 3 GPUs left: 1 on n1, 2 on n2; a pair fits only on n2
      expect(leasesOf(ok(bid('y', 2, 1000, { gpusPerNode: 2 })))).toMatchObject([{ nodeId: 'n2', gpuIndices: [4, 5] }]);
      expect(ok(bid('z', 2, 1000, { gpusPerNode: 2 }))).toEqual([accepted('z', 'bid'), rested('z', 'bid', 2), book(A1)]);
      expect(eng.depth(A1).asks).toEqual([{ priceFenPerGpuHour: 1000, gpus: 1 }]);
    });

    it('an ask with unit node leases only whole free nodes, never more than a GPU bid wants', () => {
      okAll([node('n1'), node('n2', { gpuCount: 4 }), ask('a1', ['n1', 'n2'], 1000, { unit: 'node' })]);
      expect(ok(bid('x2', 2, 1000))).toEqual([accepted('x2', 'bid'), rested('x2', 'bid', 2), book(A1)]);
      expect(leasesOf(ok(bid('x4', 4, 1000)))).toMatchObject([{ nodeId: 'n2', gpuIndices: range(0, 4) }]);
      expect(leasesOf(ok(bid('x8', 8, 1000)))).toMatchObject([{ nodeId: 'n1', gpuIndices: range(0, 8) }]);
    });

    it('an ask with unit node does not sell a partly used node', () => {
      okAll([node('n1', { gpuCount: 4 }), ask('a0', ['n1'], 1000), bid('x0', 1, 1000), cancel('a0', 'p1')]);
      ok(ask('a1', ['n1'], 1000, { unit: 'node' }));
      expect(tradesOf(ok(bid('x3', 3, 1000, { allowPartial: true })))).toEqual([]);
      // depth still shows the free GPUs now
      expect(eng.depth(A1).asks).toEqual([{ priceFenPerGpuHour: 1000, gpus: 3 }]);
    });

    it('greedy walk: an all-or-none bid misses a fill that only a whole-node ask could give, and is not retried when the cheaper ask goes', () => {
      // Documented limitation (see report). The cheaper per-GPU ask a1 is taken first (2 GPUs), leaving a
      // need of 2 that the 4-GPU node of the whole-node ask cannot serve; the 4-GPU node alone would fill it.
      okAll([node('n1', { gpuCount: 2 }), node('n2', { gpuCount: 4 }), ask('a1', ['n1'], 1000), ask('w', ['n2'], 1100, { unit: 'node' })]);
      expect(ok(bid('x', 4, 2000))).toEqual([accepted('x', 'bid'), rested('x', 'bid', 4), book(A1)]);
      // a1 goes away: nothing retries x
      expect(tradesOf(ok(cancel('a1', 'p1')))).toEqual([]);
      // a re-match (amend to the same limit keeps priority) finds the fill
      expect(tradesOf(ok(amend('x', 'b1', { priceFen: 2000 })))).toMatchObject([{ askId: 'w', gpus: 4 }]);
    });

    it('a partial bid takes whole nodes it can from a node ask', () => {
      okAll([node('n1'), node('n2'), ask('a1', ['n1', 'n2'], 1000, { unit: 'node' })]);
      expect(ok(bid('x', 12, 1000, { allowPartial: true }))).toEqual([
        accepted('x', 'bid'),
        ...fill(1, { bid: 'x', ask: 'a1', node: 'n1', gpus: range(0, 8), price: 1000 }),
        rested('x', 'bid', 4),
        book(A1),
      ]);
    });

    it('compute-amount bid: 2.5 P of a100 is ceil(25000 / 3120) = 9 GPUs', () => {
      okAll([node('n1'), node('n2'), ask('a1', ['n1', 'n2'], 1000)]);
      expect(ok(computeBid('x', 25_000, 4000))).toEqual([
        accepted('x', 'bid'),
        ...fill(1, { bid: 'x', ask: 'a1', node: 'n1', gpus: range(0, 8), price: 1000 }),
        ...fill(2, { bid: 'x', ask: 'a1', node: 'n2', gpus: [0], price: 1000 }),
        filled('x'),
        book(A1),
      ]);
    });

    it('compute-amount bid never takes more GPUs than it needs from a node ask (no overshoot)', () => {
      okAll([node('n1'), node('n2'), ask('a1', ['n1', 'n2'], 1000, { unit: 'node' })]);
      // 9 GPUs wanted: one whole node fits, the second would oversell: all-or-none rests
      expect(ok(computeBid('x', 25_000, 4000))).toEqual([accepted('x', 'bid'), rested('x', 'bid', 25_000), book(A1)]);
      expect(ok(computeBid('p', 25_000, 4000, { allowPartial: true }))).toEqual([
        accepted('p', 'bid'),
        ...fill(1, { bid: 'p', ask: 'a1', node: 'n1', gpus: range(0, 8), price: 1000 }),
        rested('p', 'bid', 25_000 - 8 * 3120),
        book(A1),
      ]);
      expect(leasesOf(ok(computeBid('y', 8 * 3120, 4000)))).toMatchObject([{ nodeId: 'n2', gpuIndices: range(0, 8) }]);
    });

    it('compute-amount bid with allowPartial rests its remainder in deci-TFLOPS', () => {
      okAll([node('n1', { gpuCount: 4 }), ask('a1', ['n1'], 1000)]);
      expect(ok(computeBid('x', 25_000, 4000, { allowPartial: true }))).toEqual([
        accepted('x', 'bid'),
        ...fill(1, { bid: 'x', ask: 'a1', node: 'n1', gpus: range(0, 4), price: 1000 }),
        rested('x', 'bid', 25_000 - 4 * 3120),
        book(A1),
      ]);
      // depth: ceil(12520 / 3120) = 5 GPUs at floor(4000 * 3120 / 10000) = 1248
      expect(eng.depth(A1).bids).toEqual([{ priceFenPerGpuHour: 1248, gpus: 5 }]);
    });

    it('offline and draining nodes are not offered, and leave the depth', () => {
      okAll([node('n1', { gpuCount: 4 }), node('n2', { gpuCount: 4 }), ask('a1', ['n1', 'n2'], 1000)]);
      expect(ok(status('n1', 'offline'))).toEqual([{ type: 'node_status_changed', nodeId: 'n1', status: 'offline' }, book(A1)]);
      expect(eng.depth(A1).asks).toEqual([{ priceFenPerGpuHour: 1000, gpus: 4 }]);
      ok(status('n2', 'draining'));
      expect(eng.depth(A1).asks).toEqual([]);
      expect(eng.summary(A1).freeGpus).toBe(0);
      expect(ok(bid('x', 2, 1000))).toEqual([accepted('x', 'bid'), rested('x', 'bid', 2), book(A1)]);
      expect(leasesOf(ok(status('n2', 'online')))).toMatchObject([{ nodeId: 'n2', gpuIndices: [0, 1] }]);
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('amend', () => {
    beforeEach(() => okAll([node('n1', { gpuCount: 2 }), ask('a1', ['n1'], 2000), bid('full', 2, 2000)])); // l1 holds n1 for 1h

    it('quantity decrease keeps time priority', () => {
      okAll([bid('bA', 2, 2000), bid('bB', 1, 2000), amend('bA', 'b1', { remaining: 1 })]);
      okAll([node('n2', { gpuCount: 1 })]);
      expect(tradesOf(ok(ask('a2', ['n2'], 1000)))).toMatchObject([{ bidId: 'bA', gpus: 1 }]);
    });

    it('price change loses time priority (even back to the same price)', () => {
      okAll([bid('bA', 1, 2000), bid('bB', 1, 2000), amend('bA', 'b1', { priceFen: 2100 }), amend('bA', 'b1', { priceFen: 2000 })]);
      okAll([node('n2', { gpuCount: 1 })]);
      expect(tradesOf(ok(ask('a2', ['n2'], 1000)))).toMatchObject([{ bidId: 'bB' }]);
    });

    it('quantity increase loses time priority', () => {
      okAll([bid('bA', 1, 2000), bid('bB', 1, 2000), amend('bA', 'b1', { remaining: 2 }), node('n2', { gpuCount: 2 })]);
      expect(tradesOf(ok(ask('a2', ['n2'], 1000)))).toMatchObject([{ bidId: 'bB', gpus: 1 }]);
    });

    it('raising a bid limit re-matches at once', () => {
      okAll([node('n2', { gpuCount: 2 }), ask('a2', ['n2'], 1800), bid('x', 2, 1500)]);
      expect(ok(amend('x', 'b1', { priceFen: 1900 }))).toEqual([
        amended('x', 1900, 2),
        ...fill(2, { bid: 'x', ask: 'a2', node: 'n2', gpus: [0, 1], price: 1800 }),
        filled('x'),
        book(A1),
      ]);
    });

    it('lowering an all-or-none bid quantity to what is free re-matches at once', () => {
      okAll([node('n2', { gpuCount: 2 }), ask('a2', ['n2'], 1800), bid('x', 3, 2000)]);
      expect(ok(amend('x', 'b1', { remaining: 2 }))).toEqual([
        amended('x', 2000, 2),
        ...fill(2, { bid: 'x', ask: 'a2', node: 'n2', gpus: [0, 1], price: 1800 }),
        filled('x'),
        book(A1),
      ]);
    });

    it('amending an expiry only sets the expiry; null clears it', () => {
      ok(bid('x', 2, 1500, { timeInForce: 'GTD', expiresAt: T0 + H }));
      expect(ok(amend('x', 'b1', { expiresAt: T0 + 3 * H }))).toEqual([amended('x', 1500, 2, T0 + 3 * H), book(A1)]);
      expect(nonBook(ok(expire(T0 + 2 * H)))).toEqual([]); // l1 ended at T0+1h
      expect(ok(amend('x', 'b1', { expiresAt: null }, T0 + 2 * H))).toEqual([amended('x', 1500, 2, null), book(A1)]);
      expect(ok(expire(T0 + 10 * H))).toEqual([]);
      expect(ok(amend('a1', 'p1', { expiresAt: T0 + 11 * H }, T0 + 10 * H))).toEqual([amended('a1', 2000, null, T0 + 11 * H), book(A1)]);
      expect(ok(expire(T0 + 11 * H))).toEqual([expired('a1', 'expires_at'), book(A1)]);
    });

    it('amend caps a compute bid\'s remaining like placement does (1,000,000 P)', () => {
      ok(computeBid('c', 3120, 100));
      expect(apply(amend('c', 'b1', { remaining: 1_000_000 * 10_000 + 1 }))).toMatchObject({ ok: false, code: 'INVALID_QUANTITY' });
    });

    it('amending a GTC bid\'s expiry is accepted (placement would reject expiresAt on GTC)', () => {
      // Documents current behaviour; see the report: placement says "expiresAt is only for GTD".
      ok(bid('x', 2, 1500));
      expect(ok(amend('x', 'b1', { expiresAt: T0 + H }))).toEqual([amended('x', 1500, 2, T0 + H), book(A1)]);
      expect(ok(expire(T0 + H))).toEqual([expired('x', 'expires_at'), book(A1)]);
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('depth, summary and book_changed', () => {
    it('depth: asks by price ascending (free now), bids by limit descending; compute bids converted per market', () => {
      okAll([
        node('n1', { gpuCount: 4 }),
        node('n2', { gpuCount: 2 }),
        node('n3', { gpuCount: 2 }),
        node('m1', { acceleratorId: 'h100', gpuCount: 2 }),
        ask('a1', ['n1'], 1500),
        ask('a2', ['n2'], 1200),
        ask('a3', ['n3'], 1500),
        ask('h1', ['m1'], 9000),
        bid('x', 1, 1600), // takes n2 GPU 0 (cheapest)
        bid('y', 9, 1100),
        bid('z', 2, 1100),
        bid('w', 3, 1000),
        computeBid('c', 25_000, 4000, { acceleratorIds: ['a100', 'h100'] }),
      ]);
      expect(eng.depth(A1)).toEqual({
        market: A1,
        asks: [{ priceFenPerGpuHour: 1200, gpus: 1 }, { priceFenPerGpuHour: 1500, gpus: 6 }],
        bids: [
          { priceFenPerGpuHour: 1248, gpus: 9 }, // 4000 * 3120 / 10000
          { priceFenPerGpuHour: 1100, gpus: 11 },
          { priceFenPerGpuHour: 1000, gpus: 3 },
        ],
      });
      expect(eng.depth(H1)).toEqual({
        market: H1,
        asks: [{ priceFenPerGpuHour: 9000, gpus: 2 }],
        bids: [{ priceFenPerGpuHour: 3957, gpus: 3 }], // floor(4000 * 9894 / 10000), ceil(25000 / 9894)
      });
      expect(eng.summary(A1)).toEqual({ market: A1, bestAskFen: 1200, bestBidFen: 1248, lastTradeFen: 1200, freeGpus: 7 });
      expect(eng.summary(H1)).toEqual({ market: H1, bestAskFen: 9000, bestBidFen: 3957, lastTradeFen: null, freeGpus: 2 });
    });

    it('depth counts a future lease only once it has started', () => {
      okAll([node('n1', { gpuCount: 2 }), ask('a1', ['n1'], 1000), bid('x', 1, 1000, { startAt: T0 + H })]);
      expect(eng.depth(A1).asks).toEqual([{ priceFenPerGpuHour: 1000, gpus: 2 }]);
      ok(expire(T0 + H));
      expect(eng.depth(A1).asks).toEqual([{ priceFenPerGpuHour: 1000, gpus: 1 }]);
      ok(expire(T0 + 2 * H));
      expect(eng.depth(A1).asks).toEqual([{ priceFenPerGpuHour: 1000, gpus: 2 }]);
    });

    it('a lease ending naturally gives its GPUs back to the depth', () => {
      okAll([node('n1', { gpuCount: 2 }), ask('a1', ['n1'], 1000), bid('x', 1, 1000)]);
      expect(eng.depth(A1).asks).toEqual([{ priceFenPerGpuHour: 1000, gpus: 1 }]);
      ok(expire(T0 + H));
      expect(eng.depth(A1).asks).toEqual([{ priceFenPerGpuHour: 1000, gpus: 2 }]);
    });

    // Subscribers of book:<market> must see the depth change when a lease ends because time passed.
    it('a lease ending naturally emits book_changed for its market', () => {
      okAll([node('n1', { gpuCount: 2 }), ask('a1', ['n1'], 1000), bid('x', 1, 1000)]);
      expect(ok(expire(T0 + H))).toEqual([book(A1)]);
    });

    it('a future lease starting emits book_changed: free GPUs now drop', () => {
      okAll([node('n1', { gpuCount: 2 }), ask('a1', ['n1'], 1000), bid('x', 1, 1000, { startAt: T0 + 2 * H })]);
      expect(eng.depth(A1).asks).toEqual([{ priceFenPerGpuHour: 1000, gpus: 2 }]);
      expect(ok(expire(T0 + H))).toEqual([]);
      expect(ok(expire(T0 + 2 * H))).toEqual([book(A1)]);
      expect(eng.depth(A1).asks).toEqual([{ priceFenPerGpuHour: 1000, gpus: 1 }]);
    });

    it('book_changed: once per market per command, sorted by market', () => {
      okAll([
        node('h', { acceleratorId: 'h100', regionId: 'r3' }),
        node('a', { regionId: 'r2' }),
        node('b', { regionId: 'r1' }),
      ]);
      expect(ok(bid('x', 20, 1000, { acceleratorIds: ['a100', 'h100'] }))).toEqual([
        accepted('x', 'bid'),
        rested('x', 'bid', 20),
        book(A1),
        book(A2),
        book('h100@r3'),
      ]);
      // a bid with allowPartial that trades in two markets and rests: each market once
      okAll([ask('aa', ['a'], 500), ask('ab', ['b'], 600)]);
      const ev = ok(bid('y', 20, 1000, { regionIds: ['r1', 'r2'], allowPartial: true }));
      expect(ev.filter((e) => e.type === 'book_changed')).toEqual([book(A1), book(A2)]);
      expect(ev.at(-3)).toEqual(rested('y', 'bid', 4));
    });

    it('a bid resting before its market exists joins the market when the first node registers', () => {
      expect(ok(bid('x', 1, 2000, { acceleratorIds: ['ascend'], regionIds: ['r3'] }))).toEqual([accepted('x', 'bid'), rested('x', 'bid', 1)]);
      expect(ok(node('n1', { acceleratorId: 'ascend', regionId: 'r3' }))).toEqual([registered('n1', 'ascend@r3', 8), book('ascend@r3')]);
      expect(eng.depth('ascend@r3').bids).toEqual([{ priceFenPerGpuHour: 2000, gpus: 1 }]);
      expect(ok(ask('a1', ['n1'], 1999))).toEqual([
        accepted('a1', 'ask'),
        rested('a1', 'ask', 8),
        ...fill(1, { bid: 'x', ask: 'a1', node: 'n1', gpus: [0], price: 1999, market: 'ascend@r3' }),
        filled('x'),
        book('ascend@r3'),
      ]);
    });

    it('a compute class selects markets by spec', () => {
      okAll([
        node('n1'), // a100: 312 TF, 40 GiB
        node('m1', { acceleratorId: 'ascend' }), // 320 TF, 64 GiB, cann
        node('l1', { acceleratorId: 'l40s' }), // 362.05 TF, 48 GiB
        ask('a1', ['n1'], 100),
        ask('s1', ['m1'], 200),
        ask('c1', ['l1'], 300),
      ]);
      const by = (cls: PlaceBid['computeClass']): unknown => leasesOf(ok(bid(`x${JSON.stringify(cls)}`, 1, 1000, { acceleratorIds: undefined, computeClass: cls })))[0]?.nodeId;
      expect(by({ minMemoryGiB: 48 })).toBe('m1');
      expect(by({ minMemoryGiB: 48, stacks: ['cuda'] })).toBe('l1');
      expect(by({ minFp16Tflops: 330 })).toBe('l1');
      expect(by({})).toBe('n1');
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('market halts', () => {
    const halt = (market: string, halted: boolean, now = T0): Command => ({ type: 'setMarketHalted', now, market, halted });

    it('a halted market trades with nobody; bids use other markets; resuming retries resting bids', () => {
      okAll([node('n1'), node('n2', { regionId: 'r2' }), ask('a1', ['n1'], 1000), ask('a2', ['n2'], 1500)]);
      expect(ok(halt(A1, true))).toEqual([{ type: 'market_halted', market: A1, halted: true }, book(A1)]);
      // the cheaper r1 ask is skipped: the bid trades in r2
      const ev = ok(bid('x', 2, 2000, { allowPartial: true }));
      expect(tradesOf(ev).map((t) => t.market)).toEqual([A2]);
      // a bid that only accepts r1 rests while r1 is halted ...
      expect(nonBook(ok(bid('y', 2, 2000, { regionIds: ['r1'] })))).toEqual([accepted('y', 'bid'), rested('y', 'bid', 2)]);
      // ... and trades the moment it resumes
      const resumed = ok(halt(A1, false));
      expect(resumed[0]).toEqual({ type: 'market_halted', market: A1, halted: false });
      expect(tradesOf(resumed).map((t) => [t.bidId, t.askId, t.priceFenPerGpuHour])).toEqual([['y', 'a1', 1000]]);
    });

    it('halting a market with no nodes yet holds when its first node and ask arrive', () => {
      ok(halt('h100@r3', true));
      okAll([node('h', { acceleratorId: 'h100', regionId: 'r3' }), ask('ah', ['h'], 1000)]);
      expect(tradesOf(ok(bid('x', 1, 5000, { acceleratorIds: ['h100'] })))).toEqual([]);
    });

    it('rejects a malformed or unknown market', () => {
      expect(apply(halt('a100', true))).toMatchObject({ ok: false, code: 'INVALID_COMMAND' });
      expect(apply(halt('nope@r1', true))).toMatchObject({ ok: false, code: 'UNKNOWN_ACCELERATOR' });
      expect(apply(halt('a100@mars', true))).toMatchObject({ ok: false, code: 'UNKNOWN_REGION' });
    });
  });

  describe('determinism', () => {
    it('the same commands in two fresh engines give identical events', () => {
      const run = (): string => {
        const e = make(TEST_CATALOG);
        const stream = new MarketStream(42);
        const out: CommandResult[] = [];
        for (let i = 0; i < 400; i++) {
          const r = applyChecked(e, stream.next());
          stream.observe(r.events);
          out.push(r);
        }
        return JSON.stringify(out) + JSON.stringify(e.markets().map((m) => e.depth(m)));
      };
      const first = run();
      expect(first).toContain('"trade"');
      expect(run()).toBe(first);
    });
  });
});
