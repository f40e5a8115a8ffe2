/**
 * The fast market engine. Same rules and same events as the reference engine (reference.ts),
 * with indexes instead of scans:
 * - per market, asks by (price, seq) in two level indexes: all active asks, and the "awake" ones
 *   (some online GPU free now). An ask whose GPUs are all busy now sleeps until a booking on one
 *   of its nodes ends, so start-now bids never walk sold-out asks;
 * - per market, resting bids by (limit in that market's units desc, seq) for retries; a retry only
 *   runs a bid that could use the capacity that appeared (an exact pre-check);
 * - per GPU, its bookings in start order; heaps of lease ends and order deadlines.
 */
import {
  allocateInAsk,
  type CatalogIndex,
  compareNormalised,
  compatibleAccelerators,
  deciTflopsOf,
  gpusWanted,
  indexCatalog,
  limitPerGpuHour,
  type NodeFree,
  type Rejection,
  scaledLimit,
  validateStatic,
  withinLimit,
} from './rules.js';
import { type Entry, LevelIndex, lowerBound, MinHeap } from './structures.js';
import {
  type AmendOrder,
  type AskUnit,
  type CancelOrder,
  type Command,
  type CommandResult,
  DECI_TFLOPS_PER_P,
  type Depth,
  type DepthLevel,
  type EndLease,
  type EngineCatalog,
  type EngineEvent,
  MAX_BID_DECI_TFLOPS,
  MAX_BID_GPUS,
  type MarketEngine,
  type MarketSummary,
  MS_PER_HOUR,
  marketKey,
  type NodeStatus,
  type PlaceAsk,
  type PlaceBid,
  type RegisterNode,
  type SetNodeStatus,
  type TimeInForce,
  type UpdateNode,
} from './types.js';

/**
 * Resting bids per accelerator (not per market: a bid open to any region would otherwise sit in
 * dozens of indexes). A bid's limit scales the same way in every region of one accelerator, so
 * the order within a market is this order filtered by region.
 */
interface FBidBook {
  readonly deciTflops: number;
  /** Keyed by minus the scaled limit, so ascending order is best bid first. */
  readonly bids: LevelIndex<FBid>;
  futureBids: number;
}
interface FMarket {
  readonly key: string;
  readonly acceleratorId: string;
  readonly regionId: string;
  readonly deciTflops: number;
  readonly all: LevelIndex<FAsk>;
  readonly awake: LevelIndex<FAsk>;
  readonly book: FBidBook;
  lastTrade: number | null;
}
interface FLease {
  readonly id: string;
  readonly node: FNode;
  readonly gpuIndices: readonly number[];
  readonly startMs: number;
  endMs: number;
  /** The end this lease was queued under in `leaseEnds`; differs from endMs once ended early. */
  readonly queuedEndMs: number;
}
interface FNode {
  readonly id: string;
  readonly providerId: string;
  readonly market: FMarket;
  gpuCount: number;
  status: NodeStatus;
  listedBy: FAsk | null;
  /** Bookings not yet ended, in start order; a GPU index is never in two overlapping ones. */
  readonly bookings: FLease[];
}
interface FAsk {
  readonly side: 'ask';
  readonly id: string;
  readonly ownerId: string;
  readonly market: FMarket;
  readonly nodes: readonly FNode[];
  price: number;
  readonly unit: AskUnit;
  readonly minHours: number;
  readonly maxHours: number | undefined;
  readonly availableUntil: number | undefined;
  expiresAt: number | undefined;
  seq: number;
  active: boolean;
  asleep: boolean;
  allEntry: Entry<FAsk> | null;
  awakeEntry: Entry<FAsk> | null;
}
interface FBid {
  readonly side: 'bid';
  readonly id: string;
  readonly ownerId: string;
  readonly accelerators: ReadonlySet<string>;
  readonly regions: ReadonlySet<string> | null;
  readonly isCompute: boolean;
  remaining: number;
  readonly gpusPerNode: number | undefined;
  readonly hours: number;
  readonly startAt: number | undefined;
  limit: number;
  readonly tif: TimeInForce;
  expiresAt: number | undefined;
  readonly allowPartial: boolean;
  seq: number;
  active: boolean;
  /**
   * An upper bound on what this bid could gather now (GPUs, or deci-TFLOPS for compute bids):
   * what its last walk found, plus every gain since that it was not retried for. An all-or-none
   * bid whose reach stays below its remaining quantity cannot match, so retries skip it.
   */
  reach: number;
  /** Compatible existing markets; while resting, its entry in each compatible accelerator's bid book. */
  readonly markets: FMarket[];
  entries: Entry<FBid>[] | null;
  books: FBidBook[] | null;
}
type FOrder = FAsk | FBid;

interface PlanItem {
  readonly ask: FAsk;
  readonly node: FNode;
  readonly gpuIndices: readonly number[];
}

/** Thrown inside a command to reject it; caught in `apply`. Not an Error: no stack to capture. */
class Rejected {
  constructor(readonly rejection: Rejection) {}
}
const fail = (code: Rejection['code'], message: string): never => {
  throw new Rejected({ code, message });
};

export class Engine implements MarketEngine {
  private readonly catalog: CatalogIndex;
  private readonly marketMap = new Map<string, FMarket>();
  private readonly marketsByAccelerator = new Map<string, FMarket[]>();
  private readonly nodes = new Map<string, FNode>();
  private readonly orders = new Map<string, FOrder>();
  private readonly restingBids = new Set<FBid>();
  private readonly leases = new Map<string, FLease>();
  private readonly leaseEnds = new MinHeap<FLease>((a, b) => a.queuedEndMs < b.queuedEndMs);
  /** Leases that start in the future: their start changes the depth (free GPUs now). */
  private readonly leaseStarts = new MinHeap<FLease>((a, b) => a.startMs < b.startMs);
  private readonly deadlines = new MinHeap<{ at: number; order: FOrder }>((a, b) => a.at < b.at);
  private lastNow = -1;
  private seq = 0;
  private tradeSeq = 0;
  private events: EngineEvent[] = [];
  private touched = new Set<FMarket>();

  constructor(catalog: EngineCatalog) {
    this.catalog = indexCatalog(catalog);
  }

  apply(cmd: Command): CommandResult {
    if (typeof cmd.now !== 'number' || !Number.isSafeInteger(cmd.now) || cmd.now < 0) {
      return { ok: false, code: 'INVALID_COMMAND', message: 'now must be epoch milliseconds', events: [] };
    }
    if (cmd.now < this.lastNow) return { ok: false, code: 'CLOCK_BACKWARDS', message: 'time went backwards', events: [] };
    this.events = [];
    this.touched.clear();
    this.advanceTime(cmd.now);
    let rejection: Rejection | null = validateStatic(cmd, this.catalog);
    if (!rejection) {
      try {
        this.execute(cmd);
      } catch (e) {
        if (!(e instanceof Rejected)) throw e;
        rejection = e.rejection;
      }
    }
    if (this.touched.size === 1) {
      for (const m of this.touched) this.events.push({ type: 'book_changed', market: m.key });
    } else if (this.touched.size > 1) {
      const keys: string[] = [];
      for (const m of this.touched) keys.push(m.key);
      keys.sort();
      for (const market of keys) this.events.push({ type: 'book_changed', market });
    }
    const events = this.events;
    if (rejection) return { ok: false, code: rejection.code, message: rejection.message, events };
    return { ok: true, events };
  }

  private execute(cmd: Command): void {
    switch (cmd.type) {
      case 'registerNode': return this.registerNode(cmd);
      case 'updateNode': return this.updateNode(cmd);
      case 'setNodeStatus': return this.setNodeStatus(cmd);
      case 'placeAsk': return this.placeAsk(cmd);
      case 'placeBid': return this.placeBid(cmd);
      case 'cancel': return this.cancel(cmd);
      case 'amend': return this.amend(cmd);
      case 'endLease': return this.endLease(cmd);
      case 'expire': return;
    }
  }

  // ---- time ----------------------------------------------------------------------------

  private advanceTime(now: number): void {
    this.lastNow = now;
    let expired: FOrder[] | null = null;
    for (let top = this.deadlines.peek(); top && top.at <= now; top = this.deadlines.peek()) {
      this.deadlines.pop();
      if (top.order.active && deadlineOf(top.order) === top.at) (expired ??= []).push(top.order);
    }
    if (expired) {
      expired = [...new Set(expired)].sort((a, b) => a.seq - b.seq);
      for (const o of expired) {
        const reason = o.expiresAt !== undefined && o.expiresAt <= now ? 'expires_at' : o.side === 'ask' ? 'available_until' : 'start_passed';
        this.deactivate(o);
        this.events.push({ type: 'order_expired', orderId: o.id, reason });
        this.touchOrder(o);
      }
    }
    for (let lease = this.leaseStarts.peek(); lease && lease.startMs <= now; lease = this.leaseStarts.peek()) {
      this.leaseStarts.pop();
      const ask = lease.node.listedBy;
      if (ask && this.leases.get(lease.id) === lease) this.touched.add(ask.market);
    }
    let triggers: Map<FMarket, FAsk[]> | null = null;
    for (let lease = this.leaseEnds.peek(); lease && lease.queuedEndMs <= now; lease = this.leaseEnds.peek()) {
      this.leaseEnds.pop();
      if (lease.endMs !== lease.queuedEndMs) continue; // ended early: that command already retried
      this.dropBooking(lease);
      const ask = lease.node.listedBy;
      if (!ask) continue;
      this.touched.add(ask.market);
      this.wake(ask);
      triggers ??= new Map();
      const list = triggers.get(ask.market);
      if (!list) triggers.set(ask.market, [ask]);
      else if (!list.includes(ask)) list.push(ask);
    }
    if (triggers) {
      const all = [...triggers.values()].flat();
      for (const m of [...triggers.keys()].sort((a, b) => (a.key < b.key ? -1 : 1))) this.retry(m, triggers.get(m)!, all);
    }
  }

  private pushDeadline(o: FOrder): void {
    const at = deadlineOf(o);
    if (at !== Infinity) this.deadlines.push({ at, order: o });
  }

  // ---- nodes ---------------------------------------------------------------------------

  private marketOf(acceleratorId: string, regionId: string): FMarket {
    const key = marketKey(acceleratorId, regionId);
    let m = this.marketMap.get(key);
    if (m) return m;
    m = {
      key, acceleratorId, regionId, deciTflops: deciTflopsOf(this.catalog.accelerators.get(acceleratorId)!),
      all: new LevelIndex(), awake: new LevelIndex(), book: this.bookOf(acceleratorId), lastTrade: null,
    };
    this.marketMap.set(key, m);
    const list = this.marketsByAccelerator.get(acceleratorId);
    if (list) list.push(m);
    else this.marketsByAccelerator.set(acceleratorId, [m]);
    for (const bid of this.restingBids) if (this.bidAccepts(bid, m)) bid.markets.push(m);
    this.touched.add(m);
    return m;
  }

  private registerNode(cmd: RegisterNode): void {
    if (this.nodes.has(cmd.nodeId)) fail('DUPLICATE_ID', `node ${cmd.nodeId} exists`);
    const market = this.marketOf(cmd.acceleratorId, cmd.regionId);
    this.nodes.set(cmd.nodeId, {
      id: cmd.nodeId, providerId: cmd.providerId, market, gpuCount: cmd.gpuCount, status: 'online', listedBy: null, bookings: [],
    });
    this.events.push({ type: 'node_registered', nodeId: cmd.nodeId, market: market.key, gpuCount: cmd.gpuCount });
  }

  private ownNode(nodeId: string, providerId: string | null): FNode {
    const n = this.nodes.get(nodeId);
    if (!n || (providerId !== null && n.providerId !== providerId)) return fail('NODE_NOT_FOUND', `no node ${nodeId}`);
    return n;
  }

  private updateNode(cmd: UpdateNode): void {
    const n = this.ownNode(cmd.nodeId, cmd.providerId);
    if (cmd.gpuCount < n.gpuCount && n.bookings.some((l) => l.gpuIndices.some((i) => i >= cmd.gpuCount))) {
      fail('NODE_GPUS_BOOKED', 'GPUs beyond the new count are leased');
    }
    n.gpuCount = cmd.gpuCount;
    this.events.push({ type: 'node_updated', nodeId: n.id, gpuCount: n.gpuCount });
    if (n.listedBy) {
      // Growing adds GPUs; shrinking can make a whole-node ask fit a bid that was too small for it.
      this.touched.add(n.market);
      this.capacityAppeared(n.listedBy);
    }
  }

  private setNodeStatus(cmd: SetNodeStatus): void {
    const n = this.ownNode(cmd.nodeId, null);
    const cameOnline = n.status !== 'online' && cmd.status === 'online';
    n.status = cmd.status;
    this.events.push({ type: 'node_status_changed', nodeId: n.id, status: n.status });
    if (n.listedBy) {
      this.touched.add(n.market);
      if (cameOnline) this.capacityAppeared(n.listedBy);
    }
  }

  private capacityAppeared(ask: FAsk): void {
    this.wake(ask);
    this.retry(ask.market, [ask]);
  }

  // ---- orders --------------------------------------------------------------------------

  private placeAsk(cmd: PlaceAsk): void {
    if (this.orders.has(cmd.orderId)) fail('DUPLICATE_ID', `order ${cmd.orderId} is active`);
    const nodes = cmd.nodeIds.map((id) => this.ownNode(id, cmd.providerId));
    const market = nodes[0]!.market;
    if (nodes.some((n) => n.market !== market)) fail('NODE_MARKET_MISMATCH', 'all nodes of an ask must be in one market');
    for (const n of nodes) if (n.listedBy) fail('NODE_ALREADY_LISTED', `node ${n.id} is already in an active ask`);
    const ask: FAsk = {
      side: 'ask', id: cmd.orderId, ownerId: cmd.providerId, market, nodes, price: cmd.priceFenPerGpuHour,
      unit: cmd.unit ?? 'gpu', minHours: cmd.minHours ?? 1, maxHours: cmd.maxHours, availableUntil: cmd.availableUntil,
      expiresAt: cmd.expiresAt, seq: ++this.seq, active: true, asleep: false, allEntry: null, awakeEntry: null,
    };
    for (const n of nodes) n.listedBy = ask;
    this.orders.set(ask.id, ask);
    ask.allEntry = market.all.insert(ask, ask.price, ask.seq);
    ask.awakeEntry = market.awake.insert(ask, ask.price, ask.seq);
    this.pushDeadline(ask);
    const free = this.freeNow(ask);
    if (free === 0) this.sleep(ask);
    this.events.push({ type: 'order_accepted', orderId: ask.id, side: 'ask' });
    this.events.push({ type: 'order_rested', orderId: ask.id, side: 'ask', remaining: free });
    this.touched.add(market);
    this.retry(market, [ask]);
  }

  private placeBid(cmd: PlaceBid): void {
    if (this.orders.has(cmd.orderId)) fail('DUPLICATE_ID', `order ${cmd.orderId} is active`);
    const accelerators = this.acceleratorSet(cmd);
    const regions = cmd.regionIds ? new Set(cmd.regionIds) : null;
    const markets: FMarket[] = [];
    for (const acc of accelerators) {
      for (const m of this.marketsByAccelerator.get(acc) ?? []) if (regions === null || regions.has(m.regionId)) markets.push(m);
    }
    const bid: FBid = {
      side: 'bid', id: cmd.orderId, ownerId: cmd.buyerId, accelerators, regions,
      isCompute: cmd.quantity.kind === 'compute',
      remaining: cmd.quantity.kind === 'compute' ? cmd.quantity.deciTflops : cmd.quantity.gpus,
      gpusPerNode: cmd.gpusPerNode, hours: cmd.hours, startAt: cmd.startAt, limit: cmd.limitFen,
      tif: cmd.timeInForce ?? 'GTC', expiresAt: cmd.expiresAt, allowPartial: cmd.allowPartial ?? false,
      seq: ++this.seq, active: true, reach: 0, markets, entries: null, books: null,
    };
    this.events.push({ type: 'order_accepted', orderId: bid.id, side: 'bid' });
    this.matchBid(bid);
    if (bid.remaining === 0) {
      this.events.push({ type: 'order_filled', orderId: bid.id });
    } else if (bid.tif === 'IOC' || bid.tif === 'FOK') {
      this.deactivate(bid);
      this.events.push({ type: 'order_cancelled', orderId: bid.id, reason: bid.tif === 'IOC' ? 'ioc_remainder' : 'fok_unfilled' });
    } else {
      this.orders.set(bid.id, bid);
      this.rest(bid);
      this.pushDeadline(bid);
      this.events.push({ type: 'order_rested', orderId: bid.id, side: 'bid', remaining: bid.remaining });
      this.touchOrder(bid);
    }
  }

  private readonly acceleratorSets = new Map<string, ReadonlySet<string>>();

  /** The accelerators a bid accepts; bids naming the same accelerators share one set. */
  private acceleratorSet(cmd: PlaceBid): ReadonlySet<string> {
    if (cmd.computeClass !== undefined || cmd.acceleratorIds === undefined) return new Set(compatibleAccelerators(cmd, this.catalog));
    const key = cmd.acceleratorIds.length === 1 ? cmd.acceleratorIds[0]! : cmd.acceleratorIds.join('\n');
    let set = this.acceleratorSets.get(key);
    if (!set) {
      set = new Set(compatibleAccelerators(cmd, this.catalog));
      if (this.acceleratorSets.size < 10_000) this.acceleratorSets.set(key, set);
    }
    return set;
  }

  private readonly bidBooks = new Map<string, FBidBook>();

  private bookOf(acceleratorId: string): FBidBook {
    let book = this.bidBooks.get(acceleratorId);
    if (!book) {
      book = { deciTflops: deciTflopsOf(this.catalog.accelerators.get(acceleratorId)!), bids: new LevelIndex(), futureBids: 0 };
      this.bidBooks.set(acceleratorId, book);
    }
    return book;
  }

  private rest(bid: FBid): void {
    this.restingBids.add(bid);
    const books: FBidBook[] = [];
    const entries: Entry<FBid>[] = [];
    for (const acc of bid.accelerators) {
      const book = this.bookOf(acc);
      if (bid.startAt !== undefined) book.futureBids++;
      books.push(book);
      entries.push(book.bids.insert(bid, -scaledLimit(bid.isCompute, bid.limit, book.deciTflops), bid.seq));
    }
    bid.books = books;
    bid.entries = entries;
  }

  private unindexBid(bid: FBid): void {
    if (!bid.entries || !bid.books) return;
    for (let i = 0; i < bid.books.length; i++) {
      const book = bid.books[i]!;
      book.bids.remove(bid.entries[i]!);
      if (bid.startAt !== undefined) book.futureBids--;
    }
    bid.entries = null;
    bid.books = null;
  }

  /** The order is finished (filled, cancelled, expired): drop it from every index and forget it. */
  private deactivate(o: FOrder): void {
    o.active = false;
    this.orders.delete(o.id);
    if (o.side === 'bid') {
      this.unindexBid(o);
      this.restingBids.delete(o);
      return;
    }
    o.market.all.remove(o.allEntry!);
    if (o.awakeEntry) o.market.awake.remove(o.awakeEntry);
    o.allEntry = o.awakeEntry = null;
    for (const n of o.nodes) n.listedBy = null;
  }

  private ownOrder(orderId: string, ownerId: string): FOrder {
    const o = this.orders.get(orderId);
    if (!o || o.ownerId !== ownerId) return fail('ORDER_NOT_FOUND', `no active order ${orderId}`);
    return o;
  }

  private cancel(cmd: CancelOrder): void {
    const o = this.ownOrder(cmd.orderId, cmd.ownerId);
    this.deactivate(o);
    this.events.push({ type: 'order_cancelled', orderId: o.id, reason: 'user' });
    this.touchOrder(o);
  }

  private amend(cmd: AmendOrder): void {
    const o = this.ownOrder(cmd.orderId, cmd.ownerId);
    if (o.side === 'ask') {
      if (cmd.remaining !== undefined) fail('INVALID_QUANTITY', "an ask's quantity is its nodes' free GPUs; change the nodes instead");
      const lowered = cmd.priceFen !== undefined && cmd.priceFen < o.price;
      if (cmd.priceFen !== undefined && cmd.priceFen !== o.price) {
        o.price = cmd.priceFen;
        o.seq = ++this.seq;
        o.market.all.remove(o.allEntry!);
        o.allEntry = o.market.all.insert(o, o.price, o.seq);
        if (o.awakeEntry) {
          o.market.awake.remove(o.awakeEntry);
          o.awakeEntry = o.market.awake.insert(o, o.price, o.seq);
        }
      }
      if (cmd.expiresAt !== undefined) {
        o.expiresAt = cmd.expiresAt ?? undefined;
        this.pushDeadline(o);
      }
      this.events.push({ type: 'order_amended', orderId: o.id, priceFen: o.price, remaining: null, expiresAt: o.expiresAt ?? null });
      this.touched.add(o.market);
      if (lowered) this.retry(o.market, [o]);
      return;
    }
    if (cmd.remaining !== undefined) {
      if (!o.isCompute && cmd.remaining > MAX_BID_GPUS) fail('INVALID_QUANTITY', `gpus must be at most ${MAX_BID_GPUS}`);
      if (o.isCompute && cmd.remaining > MAX_BID_DECI_TFLOPS) fail('INVALID_QUANTITY', 'a compute amount is at most 1,000,000 P');
      if (!o.isCompute && o.gpusPerNode !== undefined && cmd.remaining % o.gpusPerNode !== 0) {
        fail('INVALID_GPUS_PER_NODE', 'remaining must be a multiple of gpusPerNode');
      }
    }
    // Any change of limit or quantity re-runs matching: a smaller all-or-none bid may now fit.
    const rematch = cmd.priceFen !== undefined || cmd.remaining !== undefined;
    if ((cmd.priceFen !== undefined && cmd.priceFen !== o.limit) || (cmd.remaining !== undefined && cmd.remaining > o.remaining)) {
      o.seq = ++this.seq;
      if (cmd.priceFen !== undefined) o.limit = cmd.priceFen;
      this.unindexBid(o);
      this.rest(o);
    }
    if (cmd.remaining !== undefined) o.remaining = cmd.remaining;
    if (cmd.expiresAt !== undefined) {
      o.expiresAt = cmd.expiresAt ?? undefined;
      this.pushDeadline(o);
    }
    this.events.push({ type: 'order_amended', orderId: o.id, priceFen: o.limit, remaining: o.remaining, expiresAt: o.expiresAt ?? null });
    this.touchOrder(o);
    if (rematch) {
      this.matchBid(o);
      if (o.remaining === 0) {
        this.deactivate(o);
        this.events.push({ type: 'order_filled', orderId: o.id });
      }
    }
  }

  private endLease(cmd: EndLease): void {
    const l = this.leases.get(cmd.leaseId);
    if (!l) return fail('LEASE_NOT_FOUND', `no running or future lease ${cmd.leaseId}`);
    l.endMs = Math.max(l.startMs, cmd.now);
    this.dropBooking(l);
    this.events.push({ type: 'lease_ended', leaseId: l.id, atMs: l.endMs, reason: cmd.reason });
    const ask = l.node.listedBy;
    if (ask) {
      this.touched.add(ask.market);
      this.capacityAppeared(ask);
    }
  }

  // ---- capacity ------------------------------------------------------------------------

  /** The lease has ended (or was cut to nothing): forget it and free its GPUs. */
  private dropBooking(lease: FLease): void {
    this.leases.delete(lease.id);
    const list = lease.node.bookings;
    const at = list.indexOf(lease);
    if (at >= 0) list.splice(at, 1);
  }

  /** GPUs of `node` not booked anywhere in [s, e), ascending. */
  private freeIndices(node: FNode, s: number, e: number): number[] {
    const out: number[] = [];
    const n = node.gpuCount;
    if (n <= 30) {
      const busy = this.busyBits(node, s, e);
      for (let i = 0; i < n; i++) if ((busy & (1 << i)) === 0) out.push(i);
      return out;
    }
    const busy = this.busyArray(node, s, e);
    for (let i = 0; i < n; i++) if (busy === null || busy[i] === 0) out.push(i);
    return out;
  }

  private countFree(node: FNode, s: number, e: number): number {
    const n = node.gpuCount;
    if (node.bookings.length === 0) return n;
    if (n <= 30) {
      let busy = this.busyBits(node, s, e);
      let c = 0;
      while (busy !== 0) {
        busy &= busy - 1;
        c++;
      }
      return n - c;
    }
    const busy = this.busyArray(node, s, e);
    if (busy === null) return n;
    let free = 0;
    for (let i = 0; i < n; i++) if (busy[i] === 0) free++;
    return free;
  }

  /** Busy GPUs in [s, e) as bits (nodes of up to 30 GPUs: no allocation on the hot path). */
  private busyBits(node: FNode, s: number, e: number): number {
    let busy = 0;
    for (const b of node.bookings) {
      if (b.startMs >= e) break;
      if (b.endMs <= s) continue;
      for (const i of b.gpuIndices) busy |= 1 << i;
    }
    return busy;
  }

  private busyArray(node: FNode, s: number, e: number): Uint8Array | null {
    let busy: Uint8Array | null = null;
    for (const b of node.bookings) {
      if (b.startMs >= e) break;
      if (b.endMs <= s) continue;
      busy ??= new Uint8Array(node.gpuCount);
      for (const i of b.gpuIndices) busy[i] = 1;
    }
    return busy;
  }

  private freeNow(ask: FAsk): number {
    let n = 0;
    const now = this.lastNow;
    for (const node of ask.nodes) if (node.status === 'online') n += this.countFree(node, now, now + 1);
    return n;
  }

  private sleep(ask: FAsk): void {
    if (ask.asleep) return;
    ask.asleep = true;
    if (ask.awakeEntry) ask.market.awake.remove(ask.awakeEntry);
    ask.awakeEntry = null;
  }

  private wake(ask: FAsk): void {
    if (!ask.asleep || !ask.active) return;
    ask.asleep = false;
    ask.awakeEntry = ask.market.awake.insert(ask, ask.price, ask.seq);
  }

  // ---- matching ------------------------------------------------------------------------

  private bidAccepts(bid: FBid, m: FMarket): boolean {
    return bid.accelerators.has(m.acceleratorId) && (bid.regions === null || bid.regions.has(m.regionId));
  }

  /** Whether `ask` can take part in a lease for this bid and window, on price, hours and availability. */
  private askFits(bid: FBid, ask: FAsk, e: number): boolean {
    if (bid.hours < ask.minHours || (ask.maxHours !== undefined && bid.hours > ask.maxHours)) return false;
    return ask.availableUntil === undefined || e <= ask.availableUntil;
  }

  private matchBid(bid: FBid): void {
    const now = this.lastNow;
    const s = bid.startAt ?? now;
    const e = s + bid.hours * MS_PER_HOUR;
    const useAwake = s === now;
    let remaining = bid.remaining;
    // Everything usable this walk saw, whatever the need (whole-node asks make what an allocation
    // takes non-monotonic in capacity; this total is a bound that is monotonic).
    let usableTotal = 0;
    const plan: PlanItem[] = [];
    let sleepy: FAsk[] | null = null;
    const take = (ask: FAsk): void => {
      if (!this.askFits(bid, ask, e)) return;
      const dt = ask.market.deciTflops;
      const need = gpusWanted(bid.isCompute, remaining, dt, bid.gpusPerNode);
      if (ask.nodes.length === 1 && ask.unit === 'gpu') {
        // One node selling single GPUs (the common case, and every offline-capacity block):
        // the allocation rule reduces to "the lowest free indices, in whole groups".
        const node = ask.nodes[0]!;
        const free = node.status === 'online' ? this.freeIndices(node, s, e) : [];
        const usable = bid.gpusPerNode ? free.length - (free.length % bid.gpusPerNode) : free.length;
        usableTotal += bid.isCompute ? usable * dt : usable;
        const n = Math.min(usable, need);
        if (n <= 0) {
          if (useAwake && this.freeNow(ask) === 0) (sleepy ??= []).push(ask);
          return;
        }
        plan.push({ ask, node, gpuIndices: n === free.length ? free : free.slice(0, n) });
        remaining -= bid.isCompute ? n * dt : n;
        return;
      }
      const free: NodeFree[] = [];
      const online: FNode[] = [];
      for (const node of ask.nodes) {
        if (node.status !== 'online') continue;
        online.push(node);
        const f = this.freeIndices(node, s, e);
        free.push({ nodeId: node.id, gpuCount: node.gpuCount, free: f });
        const usable = ask.unit === 'node' ? (f.length === node.gpuCount ? f.length : 0) : bid.gpusPerNode ? f.length - (f.length % bid.gpusPerNode) : f.length;
        usableTotal += bid.isCompute ? usable * dt : usable;
      }
      const allocs = allocateInAsk(free, ask.unit, need, bid.gpusPerNode);
      if (allocs.length === 0 && useAwake && this.freeNow(ask) === 0) (sleepy ??= []).push(ask);
      for (const a of allocs) {
        plan.push({ ask, node: online[a.index]!, gpuIndices: a.gpuIndices });
        remaining -= bid.isCompute ? a.gpuIndices.length * dt : a.gpuIndices.length;
      }
    };
    const markets = bid.markets;
    if (markets.length === 1) {
      const m = markets[0]!;
      const index = useAwake ? m.awake : m.all;
      for (const key of index.keys) {
        if (remaining <= 0 || !withinLimit(bid.isCompute, bid.limit, key, m.deciTflops)) break;
        const level = index.level(key)!;
        const items = level.items;
        for (let i = level.head; i < items.length && remaining > 0; i++) if (!items[i]!.dead) take(items[i]!.item);
      }
    } else if (markets.length > 1) {
      const cursors: Cursor[] = [];
      for (const m of markets) {
        const c = new Cursor(useAwake ? m.awake : m.all);
        if (c.current && withinLimit(bid.isCompute, bid.limit, c.current.price, m.deciTflops)) cursors.push(c);
      }
      while (remaining > 0 && cursors.length > 0) {
        let best = 0;
        for (let i = 1; i < cursors.length; i++) {
          const a = cursors[i]!.current!;
          const b = cursors[best]!.current!;
          const c = compareNormalised(bid.isCompute, a.price, a.market.deciTflops, b.price, b.market.deciTflops);
          if (c < 0 || (c === 0 && a.seq < b.seq)) best = i;
        }
        const cur = cursors[best]!;
        take(cur.current!);
        cur.next();
        const nxt = cur.current;
        if (!nxt || !withinLimit(bid.isCompute, bid.limit, nxt.price, nxt.market.deciTflops)) cursors.splice(best, 1);
      }
    }
    if (sleepy) for (const a of sleepy as FAsk[]) this.sleep(a);
    const allOrNone = !bid.allowPartial || bid.tif === 'FOK';
    if (plan.length === 0 || (allOrNone && remaining > 0)) {
      bid.reach = usableTotal;
      return;
    }
    bid.reach = 0; // a partial fill took everything it could reach
    let lastAsk: FAsk | null = null;
    for (const p of plan) {
      const n = ++this.tradeSeq;
      const tradeId = `t${n}`;
      const leaseId = `l${n}`;
      const market = p.ask.market;
      this.events.push({
        type: 'trade', tradeId, bidId: bid.id, askId: p.ask.id, buyerId: bid.ownerId, providerId: p.ask.ownerId,
        market: market.key, gpus: p.gpuIndices.length, priceFenPerGpuHour: p.ask.price, startMs: s, endMs: e,
      });
      this.events.push({
        type: 'lease_created', leaseId, tradeId, nodeId: p.node.id, gpuIndices: p.gpuIndices,
        priceFenPerGpuHour: p.ask.price, startMs: s, endMs: e,
      });
      const lease: FLease = { id: leaseId, node: p.node, gpuIndices: p.gpuIndices, startMs: s, endMs: e, queuedEndMs: e };
      this.leases.set(leaseId, lease);
      this.leaseEnds.push(lease);
      if (s > now) this.leaseStarts.push(lease);
      insertBooking(p.node.bookings, lease);
      market.lastTrade = p.ask.price;
      this.touched.add(market);
      if (p.ask !== lastAsk) {
        lastAsk = p.ask;
        if (!p.ask.asleep && this.freeNow(p.ask) === 0) this.sleep(p.ask);
      }
    }
    bid.remaining = Math.max(0, remaining);
    if (bid.remaining === 0) this.deactivate(bid);
    this.touchOrder(bid);
  }

  /**
   * How much of the capacity on `asks` (which just gained some) `bid` could use: an upper bound
   * on how much more the bid can reach now, in its own units. Zero means a retry finds nothing.
   */
  private gainFor(bid: FBid, asks: readonly FAsk[]): number {
    const s = bid.startAt ?? this.lastNow;
    const e = s + bid.hours * MS_PER_HOUR;
    let gain = 0;
    for (const ask of asks) {
      if (!ask.active || !this.bidAccepts(bid, ask.market) || !withinLimit(bid.isCompute, bid.limit, ask.price, ask.market.deciTflops) || !this.askFits(bid, ask, e)) continue;
      if (s === this.lastNow && ask.asleep) continue;
      let gpus = 0;
      for (const node of ask.nodes) {
        if (node.status !== 'online') continue;
        const free = this.countFree(node, s, e);
        if (ask.unit === 'node') gpus += free === node.gpuCount ? free : 0;
        else gpus += bid.gpusPerNode ? free - (free % bid.gpusPerNode) : free;
      }
      gain += bid.isCompute ? gpus * ask.market.deciTflops : gpus;
    }
    return gain;
  }

  /**
   * Capacity appeared on `asks` (all in market `m`): retry resting bids that accept `m`, best
   * first. `gained` is every ask that gained capacity in this command (several markets when time
   * passes): an all-or-none bid is skipped only if its reach plus all of that cannot fill it.
   */
  private retry(m: FMarket, asks: readonly FAsk[], gained: readonly FAsk[] = asks): void {
    let minPrice = Infinity;
    for (const a of asks) if (a.active && a.price < minPrice) minPrice = a.price;
    const book = m.book;
    if (minPrice === Infinity || book.bids.size === 0) return;
    const threshold = minPrice * DECI_TFLOPS_PER_P;
    const keys = book.bids.keys;
    // Matching only marks entries dead or compacts into a new array, so walking the captured
    // arrays stays valid; the next level is found by key because emptied levels leave `keys`.
    for (let ki = 0; ki < keys.length; ) {
      const key = keys[ki]!;
      if (-key < threshold) break;
      const level = book.bids.level(key)!;
      const items = level.items;
      for (let i = level.head; i < items.length; i++) {
        const entry = items[i]!;
        if (entry.dead) continue;
        if (book.futureBids === 0 && allAsleep(asks)) return;
        const bid = entry.item;
        if (bid.regions !== null && !bid.regions.has(m.regionId)) continue;
        if (this.gainFor(bid, asks) === 0) continue;
        if (!bid.allowPartial) {
          const gain = gained === asks ? this.gainFor(bid, asks) : this.gainFor(bid, gained);
          if (bid.reach + gain < bid.remaining) {
            bid.reach += gain; // still cannot fill all-or-none: no walk needed
            continue;
          }
        }
        this.matchBid(bid);
        if (bid.remaining === 0) this.events.push({ type: 'order_filled', orderId: bid.id });
      }
      ki = lowerBound(keys, key + 1);
    }
  }

  private touchOrder(o: FOrder): void {
    if (o.side === 'ask') this.touched.add(o.market);
    else for (const m of o.markets) this.touched.add(m);
  }

  // ---- queries -------------------------------------------------------------------------

  markets(): readonly string[] {
    return [...this.marketMap.keys()].sort();
  }

  depth(market: string): Depth {
    const m = this.marketMap.get(market);
    if (!m) return { market, asks: [], bids: [] };
    const asks: DepthLevel[] = [];
    for (const entry of m.all.entries()) {
      const free = this.freeNow(entry.item);
      if (free === 0) continue;
      const last = asks[asks.length - 1];
      if (last && last.priceFenPerGpuHour === entry.item.price) asks[asks.length - 1] = { priceFenPerGpuHour: last.priceFenPerGpuHour, gpus: last.gpus + free };
      else asks.push({ priceFenPerGpuHour: entry.item.price, gpus: free });
    }
    const bids = new Map<number, number>();
    for (const entry of m.book.bids.entries()) {
      const b = entry.item;
      if (b.regions !== null && !b.regions.has(m.regionId)) continue;
      const p = limitPerGpuHour(b.isCompute, b.limit, m.deciTflops);
      bids.set(p, (bids.get(p) ?? 0) + gpusWanted(b.isCompute, b.remaining, m.deciTflops, b.gpusPerNode));
    }
    const bidLevels = [...bids.entries()].sort((a, b) => b[0] - a[0]).map(([priceFenPerGpuHour, gpus]) => ({ priceFenPerGpuHour, gpus }));
    return { market, asks, bids: bidLevels };
  }

  summary(market: string): MarketSummary {
    const d = this.depth(market);
    return {
      market,
      bestAskFen: d.asks[0]?.priceFenPerGpuHour ?? null,
      bestBidFen: d.bids[0]?.priceFenPerGpuHour ?? null,
      lastTradeFen: this.marketMap.get(market)?.lastTrade ?? null,
      freeGpus: d.asks.reduce((s, l) => s + l.gpus, 0),
    };
  }

  validateInternalState(): void {
    const check = (ok: boolean, msg: string): void => {
      if (!ok) throw new Error(`engine state invalid: ${msg}`);
    };
    for (const n of this.nodes.values()) {
      const list = n.bookings;
      for (let k = 0; k < list.length; k++) {
        const b = list[k]!;
        check(b.endMs > b.startMs && b.endMs > this.lastNow, `${n.id} ended booking ${b.id}`);
        check(this.leases.get(b.id) === b, `${n.id} booking ${b.id} not a live lease`);
        check(b.gpuIndices.every((i) => i < n.gpuCount), `${n.id} booking ${b.id} beyond gpuCount`);
        if (k > 0) check(list[k - 1]!.startMs <= b.startMs, `${n.id} bookings out of order`);
        for (let j = 0; j < k; j++) {
          const a = list[j]!;
          if (a.startMs < b.endMs && b.startMs < a.endMs) {
            check(!a.gpuIndices.some((i) => b.gpuIndices.includes(i)), `${n.id} GPU double-booked by ${a.id} and ${b.id}`);
          }
        }
      }
      if (n.listedBy) check(n.listedBy.active && n.listedBy.nodes.includes(n), `${n.id} listedBy`);
    }
    for (const l of this.leases.values()) check(l.node.bookings.includes(l), `lease ${l.id} booking missing`);
    for (const m of this.marketMap.values()) {
      let prevKey = -Infinity;
      for (const key of m.all.keys) {
        check(key > prevKey, `${m.key} ask keys sorted`);
        prevKey = key;
      }
      const all = [...m.all.entries()].map((e) => e.item);
      const awake = [...m.awake.entries()].map((e) => e.item);
      for (const a of all) {
        check(a.active && a.allEntry !== null && !a.allEntry.dead, `${a.id} in index but inactive`);
        check(a.asleep === (a.awakeEntry === null), `${a.id} awake entry`);
        if (a.asleep) check(this.freeNow(a) === 0, `${a.id} asleep with free GPUs`);
        for (const n of a.nodes) check(n.listedBy === a, `${a.id} node listing`);
      }
      check(awake.every((a) => !a.asleep && a.active), `${m.key} awake index`);
      check(awake.length === all.filter((a) => !a.asleep).length, `${m.key} awake count`);
      for (const idx of [all, awake]) {
        for (let i = 1; i < idx.length; i++) {
          const p = idx[i - 1]!;
          const q = idx[i]!;
          check(p.price < q.price || (p.price === q.price && p.seq < q.seq), `${m.key} ask order`);
        }
      }
    }
    for (const [acc, book] of this.bidBooks) {
      const bids = [...book.bids.entries()].map((e) => e.item);
      check(new Set(bids).size === bids.length, `${acc} bid listed twice`);
      check(bids.every((b) => b.active && this.restingBids.has(b) && b.accelerators.has(acc)), `${acc} stray bid indexed`);
      check(book.futureBids === bids.filter((b) => b.startAt !== undefined).length, `${acc} future bid count`);
    }
    for (const o of this.orders.values()) {
      check(o.active, `${o.id} finished but remembered`);
      if (o.side === 'ask') check(o.allEntry !== null, `${o.id} missing from index`);
      else check(o.entries !== null || !this.restingBids.has(o), `${o.id} resting but unindexed`);
    }
    for (const b of this.restingBids) {
      check(b.active && b.entries !== null && b.entries.length === b.accelerators.size, `${b.id} entries`);
      for (const m of this.marketMap.values()) check(b.markets.includes(m) === this.bidAccepts(b, m), `${b.id} markets`);
    }
  }
}

/** Walks one ask index in (price, seq) order, skipping dead entries. */
class Cursor {
  private ki = 0;
  private ii = 0;
  current: FAsk | null = null;
  constructor(private readonly index: LevelIndex<FAsk>) {
    const level = index.keys.length > 0 ? index.level(index.keys[0]!) : undefined;
    this.ii = level ? level.head - 1 : 0;
    this.next();
  }
  next(): void {
    const keys = this.index.keys;
    this.ii++;
    while (this.ki < keys.length) {
      const level = this.index.level(keys[this.ki]!)!;
      const items = level.items;
      while (this.ii < items.length) {
        const e = items[this.ii]!;
        if (!e.dead) {
          this.current = e.item;
          return;
        }
        this.ii++;
      }
      this.ki++;
      const nl = this.ki < keys.length ? this.index.level(keys[this.ki]!) : undefined;
      this.ii = nl ? nl.head : 0;
    }
    this.current = null;
  }
}

function deadlineOf(o: FOrder): number {
  const a = o.expiresAt ?? Infinity;
  const b = o.side === 'ask' ? (o.availableUntil ?? Infinity) : (o.startAt ?? Infinity);
  return Math.min(a, b);
}

/** Insert a booking in start order. */
function insertBooking(list: FLease[], lease: FLease): void {
  let i = list.length;
  while (i > 0 && list[i - 1]!.startMs > lease.startMs) i--;
  list.splice(i, 0, lease);
}

function allAsleep(asks: readonly FAsk[]): boolean {
  for (const a of asks) if (a.active && !a.asleep) return false;
  return true;
}
