/**
 * Property tests of the market engine (fast-check). Command sequences come from two sources:
 * MarketStream driven by a generated seed (realistic mix, many rejections) and commands built
 * from small arbitraries (few nodes and orders, close prices, so they collide and shrink well).
 * An auditor replays every result and checks, from the events alone:
 *   (a) no GPU is booked twice for overlapping windows;
 *   (b) no trade above the bid's limit (per GPU-hour, or per P-hour for compute bids) and every
 *       trade at the ask's current price;
 *   (c) conservation: a bid never gets more than it asked for, an all-or-none bid trades all or
 *       nothing in one command, a node never has more GPUs leased at once than it has;
 *   plus the ask's hours, availability, expiry and node status, and the order lifecycle;
 *   (d) replaying the same commands in a fresh engine gives the same events.
 * SUANLI_PROP_RUNS multiplies the number of runs; SUANLI_PROP_SEED and SUANLI_PROP_PATH replay a
 * failure with the seed and path fast-check printed.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { MarketStream, TEST_CATALOG } from '../../sim/market-stream.js';
import { Engine } from './engine.js';
import { ReferenceEngine } from './reference.js';
import {
  type Command,
  type CommandResult,
  DECI_TFLOPS_PER_P,
  type EndLease,
  type EngineEvent,
  type MarketEngine,
  MS_PER_HOUR,
  type NodeStatus,
  type PlaceAsk,
  type PlaceBid,
  type TimeInForce,
} from './types.js';

const H = MS_PER_HOUR;
const T0 = 1_767_225_600_000;
const RUNS = Number(process.env.SUANLI_PROP_RUNS ?? 1);
const runs = (n: number): number => Math.max(1, Math.round(n * RUNS));
if (process.env.SUANLI_PROP_SEED) fc.configureGlobal({ seed: Number(process.env.SUANLI_PROP_SEED), ...(process.env.SUANLI_PROP_PATH ? { path: process.env.SUANLI_PROP_PATH } : {}) });

const accById = new Map(TEST_CATALOG.accelerators.map((a) => [a.id, a]));
const deciTflopsOfMarket = (market: string): number => Math.round(accById.get(market.split('@')[0]!)!.fp16Tflops * 10);

// ---- the auditor ----------------------------------------------------------------------------

interface ANode {
  gpuCount: number;
  status: NodeStatus;
  readonly market: string;
  /** Leases that may still overlap a new one (pruned once ended). */
  leases: ALease[];
}
interface ALease {
  readonly id: string;
  readonly nodeId: string;
  readonly gpuIndices: readonly number[];
  readonly start: number;
  end: number;
}
interface AAsk {
  readonly cmd: PlaceAsk;
  readonly market: string;
  price: number;
  expiresAt: number | undefined;
}
interface ABid {
  readonly cmd: PlaceBid;
  readonly isCompute: boolean;
  readonly allOrNone: boolean;
  limit: number;
  remaining: number;
  expiresAt: number | undefined;
}

class Violation extends Error {}

/** Whether a bid accepts a market (its accelerator list, compute class and regions). */
function accepts(bid: PlaceBid, market: string): boolean {
  const [accId, regionId] = market.split('@') as [string, string];
  const acc = accById.get(accId)!;
  const cls = bid.computeClass;
  return (
    (bid.acceleratorIds === undefined || bid.acceleratorIds.includes(accId)) &&
    (bid.regionIds === undefined || bid.regionIds.includes(regionId)) &&
    (cls === undefined ||
      ((cls.minFp16Tflops === undefined || acc.fp16Tflops >= cls.minFp16Tflops) &&
        (cls.minMemoryGiB === undefined || acc.memoryGiB >= cls.minMemoryGiB) &&
        (cls.stacks === undefined || cls.stacks.includes(acc.stack))))
  );
}

/** Tracks engine state from commands and events only, and checks the market's promises. */
class Auditor {
  private readonly nodes = new Map<string, ANode>();
  private readonly asks = new Map<string, AAsk>();
  private readonly bids = new Map<string, ABid>();
  private readonly leases = new Map<string, ALease>();
  /** Markets an operator halted: their asks must not trade. */
  private readonly halted = new Set<string>();
  trades = 0;
  private index = 0;

  /** The unit of an active ask. */
  askUnit(askId: string): 'gpu' | 'node' | undefined {
    const a = this.asks.get(askId);
    return a ? (a.cmd.unit ?? 'gpu') : undefined;
  }

  /** Bids still active after the last command (so resting), with what a same-price amend needs. */
  restingBids(): { orderId: string; ownerId: string; limit: number }[] {
    return [...this.bids.values()].map((b) => ({ orderId: b.cmd.orderId, ownerId: b.cmd.buyerId, limit: b.limit }));
  }

  private fail(cmd: Command, msg: string): never {
    throw new Violation(`command #${this.index} ${JSON.stringify(cmd)}: ${msg}`);
  }

  /**
   * Price priority, checked as a trade is emitted (the trades of one match come in walk order, and
   * the leases of its earlier trades are already recorded): no cheaper compatible per-GPU ask may
   * still have a usable GPU for the window. Whole-node asks and gpusPerNode bids may leave free GPUs
   * that this bid cannot use: skipped.
   */
  private checkPricePriority(cmd: Command, b: ABid, price: number, dt: number, start: number, end: number): void {
    if (b.cmd.gpusPerNode !== undefined) return;
    for (const a of this.asks.values()) {
      if ((a.cmd.unit ?? 'gpu') !== 'gpu' || this.halted.has(a.market) || !accepts(b.cmd, a.market)) continue;
      const dtA = deciTflopsOfMarket(a.market);
      const cheaper = b.isCompute ? a.price * dt < price * dtA : a.price < price;
      if (!cheaper) continue;
      if (b.cmd.hours < (a.cmd.minHours ?? 1) || (a.cmd.maxHours !== undefined && b.cmd.hours > a.cmd.maxHours)) continue;
      if (a.cmd.availableUntil !== undefined && end > a.cmd.availableUntil) continue;
      for (const nodeId of a.cmd.nodeIds) {
        const n = this.nodes.get(nodeId)!;
        if (n.status !== 'online') continue;
        const busy = new Set<number>();
        for (const l of n.leases) if (l.end > l.start && l.start < end && start < l.end) for (const g of l.gpuIndices) busy.add(g);
        const free = Array.from({ length: n.gpuCount }, (_, g) => g).filter((g) => !busy.has(g));
        if (free.length > 0) {
          this.fail(cmd, `bid ${b.cmd.orderId} traded at ${price} (dt ${dt}) while cheaper ask ${a.cmd.orderId} at ${a.price} had free GPUs ${JSON.stringify(free)} on ${nodeId}`);
        }
      }
    }
  }

  observe(cmd: Command, result: CommandResult): void {
    const now = cmd.now;
    const tradedThisCommand = new Map<ABid, number>();
    let pendingTrade: Extract<EngineEvent, { type: 'trade' }> | null = null;
    const check = (ok: boolean, msg: () => string): void => {
      if (!ok) this.fail(cmd, msg());
    };
    for (const e of result.events) {
      check(pendingTrade === null || e.type === 'lease_created', () => `trade not followed by its lease: ${JSON.stringify(e)}`);
      switch (e.type) {
        case 'market_halted': {
          check(cmd.type === 'setMarketHalted' && cmd.market === e.market && cmd.halted === e.halted, () => 'unexpected market_halted');
          if (e.halted) this.halted.add(e.market);
          else this.halted.delete(e.market);
          break;
        }
        case 'node_registered': {
          check(result.ok && cmd.type === 'registerNode' && cmd.nodeId === e.nodeId, () => 'unexpected node_registered');
          if (cmd.type === 'registerNode') this.nodes.set(e.nodeId, { gpuCount: e.gpuCount, status: 'online', market: e.market, leases: [] });
          break;
        }
        case 'node_updated': {
          const n = this.nodes.get(e.nodeId)!;
          // (c) shrinking never strands a running or future lease
          for (const l of n.leases) {
            if (l.end > now && l.end > l.start) check(l.gpuIndices.every((i) => i < e.gpuCount), () => `node ${e.nodeId} shrunk to ${e.gpuCount} under lease ${l.id}`);
          }
          n.gpuCount = e.gpuCount;
          break;
        }
        case 'node_status_changed':
          this.nodes.get(e.nodeId)!.status = e.status;
          break;
        case 'order_accepted': {
          check(cmd.type === (e.side === 'ask' ? 'placeAsk' : 'placeBid') && cmd.orderId === e.orderId, () => 'unexpected order_accepted');
          check(!this.asks.has(e.orderId) && !this.bids.has(e.orderId), () => `order id ${e.orderId} accepted while active`);
          if (cmd.type === 'placeAsk') {
            const market = this.nodes.get(cmd.nodeIds[0]!)!.market;
            this.asks.set(e.orderId, { cmd, market, price: cmd.priceFenPerGpuHour, expiresAt: cmd.expiresAt });
          } else if (cmd.type === 'placeBid') {
            const isCompute = cmd.quantity.kind === 'compute';
            this.bids.set(e.orderId, {
              cmd, isCompute,
              allOrNone: !(cmd.allowPartial ?? false) || cmd.timeInForce === 'FOK',
              limit: cmd.limitFen,
              remaining: cmd.quantity.kind === 'compute' ? cmd.quantity.deciTflops : cmd.quantity.gpus,
              expiresAt: cmd.expiresAt,
            });
          }
          break;
        }
        case 'order_amended': {
          if (e.remaining === null) {
            const a = this.asks.get(e.orderId);
            check(a !== undefined, () => `amended unknown ask ${e.orderId}`);
            a!.price = e.priceFen;
            a!.expiresAt = e.expiresAt ?? undefined;
          } else {
            const b = this.bids.get(e.orderId);
            check(b !== undefined, () => `amended unknown bid ${e.orderId}`);
            b!.limit = e.priceFen;
            b!.remaining = e.remaining;
            b!.expiresAt = e.expiresAt ?? undefined;
          }
          break;
        }
        case 'trade': {
          pendingTrade = e;
          this.trades++;
          const bid = this.bids.get(e.bidId);
          const ask = this.asks.get(e.askId);
          check(bid !== undefined && ask !== undefined, () => `trade of an inactive order: ${JSON.stringify(e)}`);
          const b = bid!;
          const a = ask!;
          const dt = deciTflopsOfMarket(e.market);
          // (b) at the ask's current price, within the bid's limit
          check(e.priceFenPerGpuHour === a.price, () => `trade at ${e.priceFenPerGpuHour}, ask ${e.askId} is at ${a.price}`);
          const within = b.isCompute ? e.priceFenPerGpuHour * DECI_TFLOPS_PER_P <= b.limit * dt : e.priceFenPerGpuHour <= b.limit;
          check(within, () => `trade at ${e.priceFenPerGpuHour} above limit ${b.limit}${b.isCompute ? '/P-h' : ''} of ${e.bidId}`);
          check(!this.halted.has(e.market), () => `trade in halted market ${e.market}`);
          check(e.market === a.market && e.buyerId === b.cmd.buyerId && e.providerId === a.cmd.providerId, () => 'trade parties or market wrong');
          check(accepts(b.cmd, e.market), () => `bid ${e.bidId} does not accept ${e.market}`);
          // the window: the bid's hours from its start (or now); the ask's hours and availability
          check(e.startMs === (b.cmd.startAt ?? now) && e.endMs - e.startMs === b.cmd.hours * H, () => `trade window wrong: ${JSON.stringify(e)}`);
          check(e.startMs >= now, () => 'lease starts in the past');
          check(b.cmd.hours >= (a.cmd.minHours ?? 1) && (a.cmd.maxHours === undefined || b.cmd.hours <= a.cmd.maxHours), () => 'ask hours not respected');
          check(a.cmd.availableUntil === undefined || e.endMs <= a.cmd.availableUntil, () => 'ask availableUntil not respected');
          check((a.expiresAt === undefined || now < a.expiresAt) && (b.expiresAt === undefined || now < b.expiresAt), () => 'expired order traded');
          // (c) never more than asked: a trade only while something is still wanted; GPU bids never go below zero
          check(b.remaining > 0, () => `bid ${e.bidId} traded with nothing remaining`);
          b.remaining -= b.isCompute ? e.gpus * dt : e.gpus;
          check(b.isCompute || b.remaining >= 0, () => `bid ${e.bidId} got more GPUs than it asked for`);
          tradedThisCommand.set(b, (tradedThisCommand.get(b) ?? 0) + 1);
          this.checkPricePriority(cmd, b, e.priceFenPerGpuHour, dt, e.startMs, e.endMs);
          break;
        }
        case 'lease_created': {
          const t = pendingTrade;
          pendingTrade = null;
          check(t !== null && t.tradeId === e.tradeId && t.gpus === e.gpuIndices.length && t.priceFenPerGpuHour === e.priceFenPerGpuHour && t.startMs === e.startMs && t.endMs === e.endMs, () => 'lease does not match its trade');
          const n = this.nodes.get(e.nodeId);
          check(n !== undefined, () => `lease on unknown node ${e.nodeId}`);
          const node = n!;
          const ask = this.asks.get(t!.askId)!;
          check(ask.cmd.nodeIds.includes(e.nodeId), () => `lease on node ${e.nodeId} outside ask ${t!.askId}`);
          check(node.status === 'online', () => `lease on ${node.status} node ${e.nodeId}`);
          const bid = this.bids.get(t!.bidId)!;
          const gpn = bid.cmd.gpusPerNode;
          check(gpn === undefined || e.gpuIndices.length % gpn === 0, () => `lease of ${e.gpuIndices.length} GPUs for gpusPerNode ${gpn}`);
          check((ask.cmd.unit ?? 'gpu') === 'gpu' || e.gpuIndices.length === node.gpuCount, () => 'whole-node ask sold part of a node');
          check(e.gpuIndices.every((g, k) => Number.isInteger(g) && g >= 0 && g < node.gpuCount && (k === 0 || g > e.gpuIndices[k - 1]!)), () => `bad GPU indices ${JSON.stringify(e.gpuIndices)} on a ${node.gpuCount}-GPU node`);
          // (a) no GPU booked twice for overlapping windows
          node.leases = node.leases.filter((l) => l.end > now && l.end > l.start);
          for (const l of node.leases) {
            if (l.start < e.endMs && e.startMs < l.end) {
              check(!l.gpuIndices.some((g) => e.gpuIndices.includes(g)), () => `GPU double-booked on ${e.nodeId}: ${l.id} [${l.start},${l.end}) and ${e.leaseId} [${e.startMs},${e.endMs})`);
            }
          }
          const lease: ALease = { id: e.leaseId, nodeId: e.nodeId, gpuIndices: e.gpuIndices, start: e.startMs, end: e.endMs };
          node.leases.push(lease);
          this.leases.set(e.leaseId, lease);
          // (c) GPUs leased at once on the node never exceed its count (peak is at some lease start)
          for (const p of node.leases) {
            if (p.start >= e.endMs || p.start < e.startMs) continue;
            let busy = 0;
            for (const l of node.leases) if (l.start <= p.start && p.start < l.end) busy += l.gpuIndices.length;
            check(busy <= node.gpuCount, () => `${busy} GPUs leased at once on ${node.gpuCount}-GPU node ${e.nodeId}`);
          }
          break;
        }
        case 'lease_ended': {
          const l = this.leases.get(e.leaseId);
          check(l !== undefined && cmd.type === 'endLease' && cmd.leaseId === e.leaseId && cmd.reason === e.reason, () => 'unexpected lease_ended');
          check(l!.end > now, () => `lease ${e.leaseId} ended twice`);
          check(e.atMs === Math.max(now, l!.start) && e.atMs <= l!.end, () => `lease ${e.leaseId} ended at ${e.atMs}`);
          l!.end = e.atMs;
          break;
        }
        case 'order_filled': {
          const b = this.bids.get(e.orderId);
          check(b !== undefined, () => `filled unknown bid ${e.orderId}`);
          check(b!.isCompute ? b!.remaining <= 0 : b!.remaining === 0, () => `bid ${e.orderId} filled with ${b!.remaining} remaining`);
          this.bids.delete(e.orderId);
          break;
        }
        case 'order_rested': {
          if (e.side === 'bid') {
            const b = this.bids.get(e.orderId);
            check(b !== undefined && b.remaining === e.remaining && e.remaining > 0, () => `bid ${e.orderId} rested with ${e.remaining}`);
          } else {
            check(this.asks.has(e.orderId) && e.remaining >= 0, () => 'bad ask rest');
          }
          break;
        }
        case 'order_cancelled': {
          if (e.reason === 'user') {
            check(cmd.type === 'cancel' && cmd.orderId === e.orderId, () => 'unexpected user cancel');
          } else {
            const b = this.bids.get(e.orderId);
            check(b !== undefined && cmd.type === 'placeBid' && cmd.orderId === e.orderId, () => `unexpected ${e.reason}`);
            check(e.reason === (b!.cmd.timeInForce === 'IOC' ? 'ioc_remainder' : 'fok_unfilled') && (b!.cmd.timeInForce === 'IOC' || b!.cmd.timeInForce === 'FOK'), () => `${e.reason} for ${b!.cmd.timeInForce}`);
            if (e.reason === 'fok_unfilled') check(!tradedThisCommand.has(b!), () => 'FOK traded and was cancelled');
          }
          this.asks.delete(e.orderId);
          this.bids.delete(e.orderId);
          break;
        }
        case 'order_expired': {
          const a = this.asks.get(e.orderId);
          const b = this.bids.get(e.orderId);
          check(a !== undefined || b !== undefined, () => `expired unknown order ${e.orderId}`);
          if (e.reason === 'expires_at') check((a ?? b)!.expiresAt !== undefined && (a ?? b)!.expiresAt! <= now, () => 'expired early (expires_at)');
          if (e.reason === 'available_until') check(a?.cmd.availableUntil !== undefined && a.cmd.availableUntil <= now, () => 'expired early (available_until)');
          if (e.reason === 'start_passed') check(b?.cmd.startAt !== undefined && b.cmd.startAt <= now, () => 'expired early (start_passed)');
          this.asks.delete(e.orderId);
          this.bids.delete(e.orderId);
          break;
        }
        case 'book_changed':
          break;
      }
    }
    check(pendingTrade === null, () => 'trade without lease');
    // (c) all-or-none: a bid that traded in this command must be done with it
    for (const [b] of tradedThisCommand) {
      if (b.allOrNone) check(!this.bids.has(b.cmd.orderId) || this.bids.get(b.cmd.orderId) !== b, () => `all-or-none bid ${b.cmd.orderId} traded partly (${b.remaining} left)`);
    }
    // book_changed: sorted, unique, last
    const books = result.events.filter((e) => e.type === 'book_changed').map((e) => (e as { market: string }).market);
    check(books.every((m, i) => i === 0 || books[i - 1]! < m), () => `book_changed not sorted/unique: ${books.join(',')}`);
    const firstBook = result.events.findIndex((e) => e.type === 'book_changed');
    check(firstBook < 0 || result.events.slice(firstBook).every((e) => e.type === 'book_changed'), () => 'book_changed not at the end');
    this.index++;
  }
}

// ---- command sources ------------------------------------------------------------------------

/** Commands from MarketStream(seed), fed back with a fresh fast engine's results. */
function streamCommands(seed: number, length: number): Command[] {
  const engine = new Engine(TEST_CATALOG);
  const stream = new MarketStream(seed);
  const out: Command[] = [];
  for (let i = 0; i < length; i++) {
    const cmd = stream.next();
    stream.observe(engine.apply(cmd).events);
    out.push(cmd);
  }
  return out;
}

/** Each node id has one owner and market, so asks are mostly valid; a few commands get them wrong. */
const NODE_TABLE: Record<string, { providerId: string; acceleratorId: string; regionId: string }> = {
  n1: { providerId: 'p1', acceleratorId: 'a100', regionId: 'r1' },
  n2: { providerId: 'p1', acceleratorId: 'a100', regionId: 'r1' },
  n3: { providerId: 'p2', acceleratorId: 'a100', regionId: 'r1' },
  n4: { providerId: 'p1', acceleratorId: 'h100', regionId: 'r1' },
  n5: { providerId: 'p2', acceleratorId: 'a100', regionId: 'r2' },
  n6: { providerId: 'p1', acceleratorId: 'a100', regionId: 'r1' },
};
const NODES = Object.keys(NODE_TABLE);
const ASKS = ['a1', 'a2', 'a3', 'a4', 'a5'];
const BIDS = Array.from({ length: 16 }, (_, i) => `o${i + 1}`);
const ORDERS = [...ASKS, ...BIDS];
const PROVIDERS = ['p1', 'p2'];
const BUYERS = ['b1', 'b2'];
/** What earlier generated commands placed (whether or not the engine accepted them). */
interface GenContext {
  readonly placed: { readonly orderId: string; readonly ownerId: string }[];
}
type Make = (now: number, ctx: GenContext) => Command;
const opt = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined, freq: 2 });
const rarely = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 });

const registerArb: fc.Arbitrary<Make> = fc
  .record({ nodeId: fc.constantFrom(...NODES), gpuCount: fc.integer({ min: 1, max: 8 }) })
  .map((r) => (now) => ({ type: 'registerNode', now, kind: 'agent', nodeId: r.nodeId, gpuCount: r.gpuCount, ...NODE_TABLE[r.nodeId]! }));
const updateArb: fc.Arbitrary<Make> = fc
  // sometimes across 30 GPUs, where the fast engine switches from a bitmask to an array
  .record({ nodeId: fc.constantFrom(...NODES), providerId: fc.constantFrom(...PROVIDERS), gpuCount: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 10 }), weight: 4 }, { arbitrary: fc.integer({ min: 28, max: 34 }), weight: 1 }) })
  .map((r) => (now) => ({ type: 'updateNode', now, ...r }));
const statusArb: fc.Arbitrary<Make> = fc
  .record({ nodeId: fc.constantFrom(...NODES), status: fc.constantFrom<NodeStatus>('online', 'online', 'online', 'offline', 'draining') })
  .map((r) => (now) => ({ type: 'setNodeStatus', now, ...r }));
const askArb: fc.Arbitrary<Make> = fc
  .record({
    orderId: fc.constantFrom(...ASKS),
    wrongOwner: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))).chain((b) => (b ? fc.boolean() : fc.constant(false))),
    nodeIds: fc.subarray(NODES, { minLength: 1, maxLength: 3 }),
    price: fc.integer({ min: 10, max: 20 }),
    unit: fc.constantFrom<'gpu' | 'node'>('gpu', 'gpu', 'gpu', 'node'),
    minHours: rarely(fc.integer({ min: 1, max: 3 })),
    extraHours: rarely(fc.integer({ min: 0, max: 3 })),
    availableHours: rarely(fc.integer({ min: 1, max: 12 })),
    expiresHours: rarely(fc.integer({ min: 1, max: 12 })),
  })
  .map((r) => (now) => ({
    type: 'placeAsk', now, orderId: r.orderId,
    // mostly the owner of the first node, and only the nodes of its market and owner
    providerId: r.wrongOwner ? 'p9' : NODE_TABLE[r.nodeIds[0]!]!.providerId,
    nodeIds: r.wrongOwner ? r.nodeIds : r.nodeIds.filter((id) => JSON.stringify(NODE_TABLE[id]) === JSON.stringify(NODE_TABLE[r.nodeIds[0]!])),
    priceFenPerGpuHour: r.price, unit: r.unit,
    minHours: r.minHours,
    maxHours: r.extraHours === undefined ? undefined : (r.minHours ?? 1) + r.extraHours,
    availableUntil: r.availableHours === undefined ? undefined : now + r.availableHours * H,
    expiresAt: r.expiresHours === undefined ? undefined : now + r.expiresHours * H,
  }));
const bidArb: fc.Arbitrary<Make> = fc
  .record({
    orderId: fc.constantFrom(...BIDS),
    buyerId: fc.constantFrom(...BUYERS),
    accs: fc.constantFrom<string[] | undefined>(['a100'], ['a100'], ['h100'], ['a100', 'h100'], undefined),
    regionIds: fc.constantFrom<string[] | undefined>(undefined, undefined, ['r1'], ['r2']),
    compute: fc.constantFrom(false, false, false, true),
    gpus: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 8 })),
    deciTflops: fc.integer({ min: 1_000, max: 30_000 }),
    gpn: opt(fc.constantFrom(1, 2, 4)),
    hours: fc.integer({ min: 1, max: 4 }),
    startHalfHours: opt(fc.integer({ min: 0, max: 8 })),
    limit: fc.integer({ min: 8, max: 30 }),
    computeLimit: fc.integer({ min: 10, max: 70 }),
    tif: fc.constantFrom<TimeInForce>('GTC', 'GTC', 'GTD', 'IOC', 'FOK'),
    expiresHours: fc.integer({ min: 1, max: 6 }),
    allowPartial: fc.boolean(),
  })
  .map((r) => (now) => ({
    type: 'placeBid', now, orderId: r.orderId, buyerId: r.buyerId,
    acceleratorIds: r.accs,
    computeClass: r.accs === undefined ? { minMemoryGiB: 40 } : undefined,
    regionIds: r.regionIds,
    quantity: r.compute ? { kind: 'compute', deciTflops: r.deciTflops } : { kind: 'gpus', gpus: r.gpn ? r.gpn * Math.ceil(r.gpus / r.gpn) : r.gpus },
    gpusPerNode: r.gpn,
    hours: r.hours,
    startAt: r.startHalfHours === undefined ? undefined : now + (r.startHalfHours * H) / 2,
    limitFen: r.compute ? r.computeLimit : r.limit,
    timeInForce: r.tif,
    expiresAt: r.tif === 'GTD' ? now + r.expiresHours * H : undefined,
    allowPartial: r.allowPartial,
  }));
/** Mostly one of the last few placed orders with its owner; sometimes any id, or a stranger. */
const orderOwnerArb = fc
  .record({ recent: fc.integer({ min: 0, max: 5 }), any: fc.constantFrom(...ORDERS), mode: fc.integer({ min: 0, max: 9 }) })
  .map((r) => (ctx: GenContext): { orderId: string; ownerId: string } => {
    const p = ctx.placed;
    const pick = p[p.length - 1 - Math.min(r.recent, p.length - 1)];
    if (!pick || r.mode === 0) return { orderId: r.any, ownerId: r.any.startsWith('a') ? 'p1' : 'b1' };
    return r.mode === 1 ? { orderId: pick.orderId, ownerId: 'x9' } : pick;
  });
const cancelArb: fc.Arbitrary<Make> = orderOwnerArb.map((who) => (now, ctx) => ({ type: 'cancel', now, ...who(ctx) }));
const amendArb: fc.Arbitrary<Make> = fc
  .record({
    who: orderOwnerArb,
    priceFen: opt(fc.integer({ min: 8, max: 25 })),
    remaining: opt(fc.integer({ min: 1, max: 10 })),
    expiresHours: opt(fc.option(fc.integer({ min: 1, max: 6 }), { nil: null })),
  })
  .map((r) => (now, ctx) => ({
    type: 'amend', now, ...r.who(ctx), priceFen: r.priceFen, remaining: r.remaining,
    expiresAt: r.expiresHours === undefined ? undefined : r.expiresHours === null ? null : now + r.expiresHours * H,
  }));
const endLeaseArb: fc.Arbitrary<Make> = fc
  .record({ k: fc.integer({ min: 1, max: 8 }), reason: fc.constantFrom<EndLease['reason']>('buyer', 'job_exited', 'provider', 'node_lost', 'admin') })
  .map((r) => (now) => ({ type: 'endLease', now, leaseId: `l${r.k}`, reason: r.reason }));
const expireArb: fc.Arbitrary<Make> = fc.constant((now: number) => ({ type: 'expire', now }));

const stepArb = fc.record({
  dt: fc.oneof(
    { arbitrary: fc.constant(0), weight: 3 },
    { arbitrary: fc.integer({ min: 1, max: 30 * 60_000 }), weight: 4 },
    { arbitrary: fc.constantFrom(H / 2, H, 2 * H, 3 * H), weight: 2 },
  ),
  make: fc.oneof(
    { arbitrary: registerArb, weight: 1 },
    { arbitrary: updateArb, weight: 1 },
    { arbitrary: statusArb, weight: 1 },
    { arbitrary: askArb, weight: 5 },
    { arbitrary: bidArb, weight: 8 },
    { arbitrary: cancelArb, weight: 1 },
    { arbitrary: amendArb, weight: 2 },
    { arbitrary: endLeaseArb, weight: 2 },
    { arbitrary: expireArb, weight: 1 },
  ),
});
/** Small-universe command lists; time never goes back. */
const commandsArb: fc.Arbitrary<Command[]> = fc
  .tuple(fc.array(fc.integer({ min: 1, max: 8 }), { minLength: NODES.length, maxLength: NODES.length }), fc.array(stepArb, { minLength: 1, maxLength: 80, size: 'max' }))
  .map(([gpuCounts, steps]) => {
    let now = T0;
    // every node registered first (a few steps register again: DUPLICATE_ID)
    const out: Command[] = NODES.map((nodeId, i) => ({ type: 'registerNode', now, kind: 'agent', nodeId, gpuCount: gpuCounts[i]!, ...NODE_TABLE[nodeId]! }));
    const ctx: GenContext = { placed: [] };
    for (const s of steps) {
      now += s.dt;
      const cmd = s.make(now, ctx);
      if (cmd.type === 'placeAsk') ctx.placed.push({ orderId: cmd.orderId, ownerId: cmd.providerId });
      if (cmd.type === 'placeBid') ctx.placed.push({ orderId: cmd.orderId, ownerId: cmd.buyerId });
      out.push(cmd);
    }
    return out;
  });

// ---- running ---------------------------------------------------------------------------------

function audit(commands: readonly Command[], engine: MarketEngine = new Engine(TEST_CATALOG)): { results: CommandResult[]; trades: number; auditor: Auditor } {
  const auditor = new Auditor();
  const results: CommandResult[] = [];
  for (const cmd of commands) {
    const r = engine.apply(cmd);
    engine.validateInternalState();
    auditor.observe(cmd, r);
    results.push(r);
  }
  return { results, trades: auditor.trades, auditor };
}

/**
 * Resting bids are retried whenever capacity appears, so at any moment no resting bid can trade
 * on what is already there. Re-matching each one (an amend to its own limit keeps its priority and
 * changes nothing else) in a replayed engine at the same time must produce no trade.
 *
 * Known exception (reported): whole-node asks make the greedy walk non-monotone: when a cheaper
 * per-GPU ask that used up part of an all-or-none bid's need goes away, a whole-node ask can fill
 * the bid, and nothing retries it. A re-match that trades on a whole-node ask is tolerated when the
 * `oracle` (the reference engine, replayed and amended the same way) gives the identical result:
 * then it is the rule, not an engine bug. Without an oracle it is tolerated as such. With per-GPU
 * asks only, fill is monotone in capacity, so any trade there is a missed retry.
 */
const tolerated = { count: 0 };
function noMissedMatch(commands: readonly Command[], auditor: Auditor, make: () => MarketEngine, oracle?: () => MarketEngine): boolean {
  const resting = auditor.restingBids();
  if (resting.length === 0 || commands.length === 0) return true;
  const replay = (m: () => MarketEngine): MarketEngine => {
    const e = m();
    for (const c of commands) e.apply(c);
    return e;
  };
  const engine = replay(make);
  let ref: MarketEngine | null = null;
  const now = commands[commands.length - 1]!.now;
  const amends: Command[] = [];
  for (const b of resting) {
    const amend: Command = { type: 'amend', now, orderId: b.orderId, ownerId: b.ownerId, priceFen: b.limit };
    amends.push(amend);
    const r = engine.apply(amend);
    const refResult = ref?.apply(amend);
    const trades = r.events.filter((e) => e.type === 'trade');
    if (trades.length === 0) continue; // nothing changed (same price, no trade)
    // The oracle is replayed only when needed, with the same amends before this one (they traded
    // nothing, but time passing in the first may have expired orders).
    let same = true;
    if (oracle) {
      let last = refResult;
      if (ref === null) {
        ref = replay(oracle);
        for (const a of amends) last = ref.apply(a);
      }
      same = JSON.stringify(last) === JSON.stringify(r);
    }
    if (same && trades.some((t) => auditor.askUnit(t.askId) === 'node')) {
      tolerated.count++;
      if (!oracle) break; // the state changed: later checks would not be about the replayed moment
      continue;
    }
    throw new Violation(`resting bid ${b.orderId} trades on capacity that was already there (missed retry${same ? '' : '; the reference engine does not'}): ${JSON.stringify(trades[0])}`);
  }
  return true;
}

function replaySame(commands: readonly Command[], first: readonly CommandResult[]): boolean {
  const engine = new Engine(TEST_CATALOG);
  const again = JSON.stringify(commands.map((c) => engine.apply(c)));
  if (again !== JSON.stringify(first)) throw new Violation('replay in a fresh engine gave different events');
  return true;
}

describe('market engine properties (fast engine)', () => {
  it('MarketStream commands: (a) no double booking, (b) prices, (c) conservation, (d) replay', () => {
    let trades = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 50, max: 600 }), (seed, length) => {
        const commands = streamCommands(seed, length);
        const { results, trades: t, auditor } = audit(commands);
        trades += t;
        return replaySame(commands, results) && noMissedMatch(commands, auditor, () => new Engine(TEST_CATALOG), () => new ReferenceEngine(TEST_CATALOG));
      }),
      { numRuns: runs(150) },
    );
    if (trades === 0) throw new Error('the streams made no trades: the properties tested nothing');
  });

  it('small-universe commands: (a) no double booking, (b) prices, (c) conservation, (d) replay', () => {
    let trades = 0;
    const accepted = new Map<string, number>();
    fc.assert(
      fc.property(commandsArb, (commands) => {
        const { results, trades: t, auditor } = audit(commands);
        trades += t;
        noMissedMatch(commands, auditor, () => new Engine(TEST_CATALOG), () => new ReferenceEngine(TEST_CATALOG));
        results.forEach((r, i) => {
          if (r.ok) accepted.set(commands[i]!.type, (accepted.get(commands[i]!.type) ?? 0) + 1);
        });
        return replaySame(commands, results);
      }),
      { numRuns: runs(1500) },
    );
    // The generator must exercise the engine, not just its rejections.
    if (trades < runs(1500) * 3) throw new Error(`only ${trades} trades: the generator hardly exercises matching`);
    for (const type of ['placeAsk', 'placeBid', 'cancel', 'amend', 'endLease', 'updateNode']) {
      if ((accepted.get(type) ?? 0) < runs(1500) / 10) throw new Error(`too few accepted ${type}: ${JSON.stringify([...accepted])}`);
    }
    if (process.env.SUANLI_PROP_STATS) console.log({ trades, accepted: Object.fromEntries(accepted), toleratedWholeNodeMisses: tolerated.count });
  });

  it('small-universe commands: the reference engine keeps the same promises (no missed match included) and gives the same events', () => {
    fc.assert(
      fc.property(commandsArb, (commands) => {
        const fast = new Engine(TEST_CATALOG);
        const ref = new ReferenceEngine(TEST_CATALOG);
        const { results, auditor } = audit(commands, ref);
        noMissedMatch(commands, auditor, () => new ReferenceEngine(TEST_CATALOG));
        for (let i = 0; i < commands.length; i++) {
          const a = JSON.stringify(fast.apply(commands[i]!));
          fast.validateInternalState();
          const b = JSON.stringify(results[i]);
          if (a !== b) throw new Violation(`command #${i} ${JSON.stringify(commands[i])}\n fast: ${a}\n  ref: ${b}`);
        }
        for (const m of ref.markets()) {
          if (JSON.stringify(fast.depth(m)) !== JSON.stringify(ref.depth(m))) throw new Violation(`depth of ${m} differs`);
        }
        return true;
      }),
      { numRuns: runs(600) },
    );
  });
});
