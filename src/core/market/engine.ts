/**
 * The fast market engine. Same rules and same events as the reference engine (reference.ts),
 * with indexes instead of scans:
 * - per market, asks by (price, seq) in two level indexes: all active asks, and the "awake" ones
 *   (some online GPU free now). An ask whose GPUs are all busy now sleeps until a booking on one
 *   of its nodes ends, so start-now bids never walk sold-out asks;
 * - per market, resting bids by (limit in that market's units desc, seq) for retries; a retry only
 *   runs a bid that could use the capacity that appeared (an exact pre-check);
 * - per node, its bookings in start order; heaps of lease ends and order deadlines.
 * Live state is kept lean (it is most of the heap, and the GC copies what survives): a lease is a
 * row of numbers in its node's booking table plus a map entry, not an object.
 */
import {
  allocateInAsk,
  type CatalogIndex,
  compareNormalised,
  type BidFields,
  compatibleAcceleratorList,
  deciTflopsOf,
  gpusWanted,
  indexCatalog,
  newBidFields,
  readBid,
  limitPerGpuHour,
  type NodeFree,
  type Rejection,
  scaledLimit,
  validateBidFields,
  validateStatic,
  withinLimit,
} from './rules.js';
import { DenseIdMap, LevelIndex, lowerBound, MinHeap, ShardedMap, TimeHeap } from './structures.js';
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
  type SetMarketHalted,
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
  /**
   * The future-start bids of `bids` again, in the same order (stamp slot B). Once the capacity a
   * retry is offering is all taken for now, only these can still use it: the retry continues here.
   */
  readonly future: LevelIndex<FBid>;
  futureBids: number;
}
interface FMarket {
  readonly key: string;
  readonly acceleratorId: string;
  readonly regionId: string;
  readonly deciTflops: number;
  /** All active asks (slot A of the asks' stamps). */
  readonly all: LevelIndex<FAsk>;
  /** Active asks with some GPU free now (slot B). */
  readonly awake: LevelIndex<FAsk>;
  readonly book: FBidBook;
  lastTrade: number | null;
  /** Halted by an operator: its asks trade with nobody until resumed. */
  halted: boolean;
  /** The `touchEpoch` of the last command that changed this book (see `touch`). */
  touchedAt: number;
  /** Place of `key` among all market keys sorted (default string order). */
  rank: number;
}
/**
 * A node's bookings: rows of BOOKING_ROW numbers [startMs, endMs, gpuBits, leaseNo] in start
 * order. `gpuBits` holds the lease's GPU indices as bits when they are all below BIT_GPUS;
 * otherwise it is -1 and the indices are in the node's `bookingGpus` at the same row.
 */
const BOOKING_ROW = 4;
const BIT_GPUS = 30;
class FNode {
  status: NodeStatus = 'online';
  listedBy: FAsk | null = null;
  /** Bookings not yet ended (see BOOKING_ROW); a GPU index is never in two overlapping ones. Null: none. */
  bookings: number[] | null = null;
  /** Per booking row, its GPU indices when they do not fit in bits (else null); null while none needs it. */
  bookingGpus: (readonly number[] | null)[] | null = null;
  constructor(
    readonly id: string,
    readonly providerId: string,
    readonly market: FMarket,
    public gpuCount: number,
  ) {}
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
  /** Stamp of its entry in `market.all` (0: none). */
  stampA: number;
  /** Stamp of its entry in `market.awake` (0: none, i.e. asleep or inactive). */
  stampB: number;
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
  /** Compatible existing markets. */
  readonly markets: FMarket[];
  /** While resting: in the bid book of each accelerator it accepts, keyed by this limit. */
  resting: boolean;
  restLimit: number;
  /** Stamp of its entries in the bid books (0: none). */
  stampA: number;
  stampB: number;
}
type FOrder = FAsk | FBid;

/** What a bid accepts (shared by bids with the same accelerators and regions; see `choiceOf`). */
interface Choice {
  readonly accelerators: ReadonlySet<string>;
  readonly regions: ReadonlySet<string> | null;
  readonly markets: FMarket[];
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
  /** Markets by accelerator id, then region id: no key string built per command. */
  private readonly marketGrid = new Map<string, Map<string, FMarket>>();
  private readonly marketsByAccelerator = new Map<string, FMarket[]>();
  /** Live nodes and orders by id (sharded: no long pause when one grows). */
  private readonly nodes = new ShardedMap<FNode>();
  private readonly orders = new ShardedMap<FOrder>();
  private readonly restingBids = new Set<FBid>();
  /** Live leases (not yet ended) by number (lease `l7` is number 7): the node that holds the booking. */
  private readonly leases = new DenseIdMap<FNode>();
  /** (end, lease number) of every lease as created; an entry whose lease is gone ended early. */
  private readonly leaseEnds = new TimeHeap();
  /** Leases that start in the future: their start changes the depth (free GPUs now). */
  private readonly leaseStarts = new TimeHeap();
  private readonly deadlines = new MinHeap<{ at: number; order: FOrder }>((a, b) => a.at < b.at);
  private lastNow = -1;
  private seq = 0;
  private tradeSeq = 0;
  /** Source of index stamps (see LevelIndex). */
  private stampSeq = 0;
  private events: EngineEvent[] = [];
  /** Markets whose book changed in this command: `touched` lists those with `touchedAt === touchEpoch`. */
  private touchEpoch = 0;
  private readonly touched: FMarket[] = [];
  /** Entries of `touched` in use (a length set by hand is a runtime call). */
  private touchedCount = 0;
  /** Scratch state of `matchBid` (never re-entered): the walk's remaining need, what it saw, its plan. */
  private mRemaining = 0;
  private mUsable = 0;
  private readonly planAsks: FAsk[] = [];
  private readonly planNodes: FNode[] = [];
  private readonly planGpus: (readonly number[])[] = [];
  /** Per plan item, its GPU indices as bits, or -1 when one is BIT_GPUS or more. */
  private readonly planBits: number[] = [];
  private readonly sleepy: FAsk[] = [];
  /** Entries in use of the plan arrays and of `sleepy` (stale ones beyond are overwritten). */
  private planCount = 0;
  private sleepyCount = 0;
  /** A one-ask list for `retry` (never re-entered). */
  private readonly oneAsk: FAsk[] = [];

  constructor(catalog: EngineCatalog) {
    this.catalog = indexCatalog(catalog);
    this.plainRegionIds = [...this.catalog.regions].every((r) => typeof r === 'string' && !r.includes('\n'));
  }

  private readonly bidFields = newBidFields();

  apply(cmd: Command): CommandResult {
    const now = cmd.now;
    if (typeof now !== 'number' || !Number.isSafeInteger(now) || now < 0) {
      return { ok: false, code: 'INVALID_COMMAND', message: 'now must be epoch milliseconds', events: [] };
    }
    if (now < this.lastNow) return { ok: false, code: 'CLOCK_BACKWARDS', message: 'time went backwards', events: [] };
    this.events = [];
    this.touchEpoch++;
    this.touchedCount = 0;
    this.advanceTime(now);
    let rejection: Rejection | null;
    if (cmd.type === 'placeBid') {
      // Read the bid's fields once for validation and execution (see BidFields).
      const fields = readBid(cmd, this.bidFields);
      rejection = validateBidFields(fields, this.catalog);
      if (!rejection) rejection = this.run(null, fields);
    } else {
      rejection = validateStatic(cmd, this.catalog);
      if (!rejection) rejection = this.run(cmd, null);
    }
    const touched = this.touched;
    const touchedCount = this.touchedCount;
    if (touchedCount === 1) {
      this.events.push({ type: 'book_changed', market: touched[0]!.key });
    } else if (touchedCount > 1) {
      // In key order: `rank` is a market's place among all keys sorted as strings.
      sortByRank(touched, touchedCount);
      for (let i = 0; i < touchedCount; i++) this.events.push({ type: 'book_changed', market: touched[i]!.key });
    }
    const events = this.events;
    if (rejection) return { ok: false, code: rejection.code, message: rejection.message, events };
    return { ok: true, events };
  }

  private readonly haltedMarkets = new Set<string>();

  /** Halting takes the market's asks out of every match; resuming offers them all again. */
  private setMarketHalted(cmd: SetMarketHalted): void {
    const was = this.haltedMarkets.has(cmd.market);
    if (cmd.halted) this.haltedMarkets.add(cmd.market);
    else this.haltedMarkets.delete(cmd.market);
    this.events.push({ type: 'market_halted', market: cmd.market, halted: cmd.halted });
    const m = this.marketMap.get(cmd.market);
    if (!m) return;
    m.halted = cmd.halted;
    this.touch(m);
    if (was && !cmd.halted) {
      const asks = [...m.all.entries()];
      if (asks.length > 0) this.retry(m, asks);
    }
  }

  private touch(m: FMarket): void {
    if (m.touchedAt === this.touchEpoch) return;
    m.touchedAt = this.touchEpoch;
    if (this.touchedCount < this.touched.length) this.touched[this.touchedCount] = m;
    else this.touched.push(m);
    this.touchedCount++;
  }

  /** Execute a valid command (or the placeBid of `fields`); its rejection, if any. */
  private run(cmd: Command | null, fields: BidFields | null): Rejection | null {
    try {
      if (fields !== null) this.placeBid(fields);
      else this.execute(cmd!);
      return null;
    } catch (e) {
      if (!(e instanceof Rejected)) throw e;
      return e.rejection;
    }
  }

  private execute(cmd: Command): void {
    switch (cmd.type) {
      case 'registerNode': return this.registerNode(cmd);
      case 'updateNode': return this.updateNode(cmd);
      case 'setNodeStatus': return this.setNodeStatus(cmd);
      case 'placeAsk': return this.placeAsk(cmd);
      case 'placeBid': return this.placeBid(readBid(cmd, this.bidFields));
      case 'cancel': return this.cancel(cmd);
      case 'amend': return this.amend(cmd);
      case 'endLease': return this.endLease(cmd);
      case 'expire': return;
      case 'setMarketHalted': return this.setMarketHalted(cmd);
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
    const starts = this.leaseStarts;
    while (starts.peekTime() <= now) {
      const node = this.leases.get(starts.peekId());
      starts.pop();
      if (node !== undefined && node.listedBy) this.touch(node.listedBy.market);
    }
    let triggers: Map<FMarket, FAsk[]> | null = null;
    const ends = this.leaseEnds;
    while (ends.peekTime() <= now) {
      const leaseNo = ends.peekId();
      ends.pop();
      const node = this.leases.get(leaseNo);
      if (node === undefined) continue; // ended early: that command already retried
      this.dropBooking(node, leaseNo);
      const ask = node.listedBy;
      if (!ask) continue;
      this.touch(ask.market);
      this.wake(ask);
      triggers ??= new Map();
      const list = triggers.get(ask.market);
      if (!list) triggers.set(ask.market, [ask]);
      else if (!list.includes(ask)) list.push(ask);
    }
    if (triggers) {
      const all = [...triggers.values()].flat();
      for (const m of [...triggers.keys()].sort(byRank)) this.retry(m, triggers.get(m)!, all);
    }
  }

  private pushDeadline(o: FOrder): void {
    const at = deadlineOf(o);
    if (at !== Infinity) this.deadlines.push({ at, order: o });
  }

  // ---- nodes ---------------------------------------------------------------------------

  private marketOf(acceleratorId: string, regionId: string): FMarket {
    let byRegion = this.marketGrid.get(acceleratorId);
    if (byRegion === undefined) {
      byRegion = new Map();
      this.marketGrid.set(acceleratorId, byRegion);
    }
    let m = byRegion.get(regionId);
    if (m !== undefined) return m;
    const key = marketKey(acceleratorId, regionId);
    m = {
      key, acceleratorId, regionId, deciTflops: deciTflopsOf(this.catalog.accelerators.get(acceleratorId)!),
      all: new LevelIndex<FAsk>(false), awake: new LevelIndex<FAsk>(true), book: this.bookOf(acceleratorId), lastTrade: null,
      touchedAt: 0, rank: 0, halted: this.haltedMarkets.has(key),
    };
    byRegion.set(regionId, m);
    this.marketMap.set(key, m);
    const sorted = [...this.marketMap.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (let i = 0; i < sorted.length; i++) sorted[i]!.rank = i;
    const list = this.marketsByAccelerator.get(acceleratorId);
    if (list) list.push(m);
    else this.marketsByAccelerator.set(acceleratorId, [m]);
    // Resting bids that accept the new market gain it (once per shared array); new bids choose afresh.
    const extended = new Set<FMarket[]>();
    for (const bid of this.restingBids) {
      if (extended.has(bid.markets) || !this.bidAccepts(bid, m)) continue;
      bid.markets.push(m);
      extended.add(bid.markets);
    }
    this.choices.clear();
    this.choiceCount = 0;
    this.touch(m);
    return m;
  }

  private registerNode(cmd: RegisterNode): void {
    if (this.nodes.has(cmd.nodeId)) fail('DUPLICATE_ID', `node ${cmd.nodeId} exists`);
    const market = this.marketOf(cmd.acceleratorId, cmd.regionId);
    this.nodes.set(cmd.nodeId, new FNode(cmd.nodeId, cmd.providerId, market, cmd.gpuCount));
    this.events.push({ type: 'node_registered', nodeId: cmd.nodeId, market: market.key, gpuCount: cmd.gpuCount });
  }

  private ownNode(nodeId: string, providerId: string | null): FNode {
    const n = this.nodes.get(nodeId);
    if (!n || (providerId !== null && n.providerId !== providerId)) return fail('NODE_NOT_FOUND', `no node ${nodeId}`);
    return n;
  }

  private updateNode(cmd: UpdateNode): void {
    const n = this.ownNode(cmd.nodeId, cmd.providerId);
    if (cmd.gpuCount < n.gpuCount && bookedFrom(n, cmd.gpuCount)) {
      fail('NODE_GPUS_BOOKED', 'GPUs beyond the new count are leased');
    }
    n.gpuCount = cmd.gpuCount;
    this.events.push({ type: 'node_updated', nodeId: n.id, gpuCount: n.gpuCount });
    if (n.listedBy) {
      // Growing adds GPUs; shrinking can make a whole-node ask fit a bid that was too small for it.
      this.touch(n.market);
      this.capacityAppeared(n.listedBy);
    }
  }

  private setNodeStatus(cmd: SetNodeStatus): void {
    const n = this.ownNode(cmd.nodeId, null);
    const cameOnline = n.status !== 'online' && cmd.status === 'online';
    n.status = cmd.status;
    this.events.push({ type: 'node_status_changed', nodeId: n.id, status: n.status });
    if (n.listedBy) {
      this.touch(n.market);
      if (cameOnline) this.capacityAppeared(n.listedBy);
    }
  }

  private capacityAppeared(ask: FAsk): void {
    this.wake(ask);
    this.retryOne(ask);
  }

  // ---- orders --------------------------------------------------------------------------

  private placeAsk(cmd: PlaceAsk): void {
    if (this.orders.has(cmd.orderId)) fail('DUPLICATE_ID', `order ${cmd.orderId} is active`);
    const ids = cmd.nodeIds;
    // Built at its final size (a pushed-to array keeps spare capacity for as long as the ask lives).
    let nodes: FNode[];
    if (ids.length === 1) nodes = [this.ownNode(ids[0]!, cmd.providerId)];
    else {
      nodes = new Array<FNode>(ids.length);
      for (let i = 0; i < ids.length; i++) nodes[i] = this.ownNode(ids[i]!, cmd.providerId);
    }
    const market = nodes[0]!.market;
    for (let i = 1; i < nodes.length; i++) if (nodes[i]!.market !== market) fail('NODE_MARKET_MISMATCH', 'all nodes of an ask must be in one market');
    for (let i = 0; i < nodes.length; i++) if (nodes[i]!.listedBy) fail('NODE_ALREADY_LISTED', `node ${nodes[i]!.id} is already in an active ask`);
    const ask: FAsk = {
      side: 'ask', id: cmd.orderId, ownerId: cmd.providerId, market, nodes, price: cmd.priceFenPerGpuHour,
      unit: cmd.unit ?? 'gpu', minHours: cmd.minHours ?? 1, maxHours: cmd.maxHours, availableUntil: cmd.availableUntil,
      expiresAt: cmd.expiresAt, seq: ++this.seq, active: true, asleep: false, stampA: 0, stampB: 0,
    };
    for (let i = 0; i < nodes.length; i++) nodes[i]!.listedBy = ask;
    this.orders.set(ask.id, ask);
    ask.stampA = ++this.stampSeq;
    market.all.insert(ask, ask.price, ask.seq, ask.stampA);
    this.pushDeadline(ask);
    const free = this.freeNow(ask);
    // Only an ask with a GPU free now enters the awake index.
    if (free === 0) ask.asleep = true;
    else {
      ask.stampB = ++this.stampSeq;
      market.awake.insert(ask, ask.price, ask.seq, ask.stampB);
    }
    this.events.push({ type: 'order_accepted', orderId: ask.id, side: 'ask' });
    this.events.push({ type: 'order_rested', orderId: ask.id, side: 'ask', remaining: free });
    this.touch(market);
    this.retryOne(ask);
  }

  private placeBid(cmd: BidFields): void {
    if (this.orders.has(cmd.orderId)) fail('DUPLICATE_ID', `order ${cmd.orderId} is active`);
    const choice = this.choiceOf(cmd);
    const accelerators = choice.accelerators;
    const regions = choice.regions;
    const markets = choice.markets;
    const q = cmd.quantity;
    const isCompute = q.kind === 'compute';
    const bid: FBid = {
      side: 'bid', id: cmd.orderId, ownerId: cmd.buyerId, accelerators, regions,
      isCompute,
      remaining: q.kind === 'compute' ? q.deciTflops : q.gpus,
      gpusPerNode: cmd.gpusPerNode, hours: cmd.hours, startAt: cmd.startAt, limit: cmd.limitFen,
      tif: cmd.timeInForce ?? 'GTC', expiresAt: cmd.expiresAt, allowPartial: cmd.allowPartial ?? false,
      seq: ++this.seq, active: true, reach: 0, markets, resting: false, restLimit: 0, stampA: 0, stampB: 0,
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

  /** Existing markets a bid accepts, in a new array of its exact size. */
  private compatibleMarkets(accelerators: ReadonlySet<string>, regions: ReadonlySet<string> | null): FMarket[] {
    if (regions === null && accelerators.size === 1) {
      for (const acc of accelerators) {
        const list = this.marketsByAccelerator.get(acc);
        return list === undefined ? [] : list.slice();
      }
    }
    const found: FMarket[] = [];
    for (const acc of accelerators) {
      const list = this.marketsByAccelerator.get(acc);
      if (list === undefined) continue;
      for (let i = 0; i < list.length; i++) {
        const m = list[i]!;
        if (regions === null || regions.has(m.regionId)) found.push(m);
      }
    }
    return found.slice();
  }

  /**
   * What a bid accepts: accelerators, regions, existing markets. Bids with the same choice share
   * one record (its sets and array are never mutated by a bid; a new market is appended to the
   * arrays of resting bids and the cache starts over, see `marketOf`).
   */
  private choiceOf(cmd: BidFields): Choice {
    const list = compatibleAcceleratorList(cmd, this.catalog);
    const regionIds = cmd.regionIds;
    const regionKey = regionIds === undefined ? '*' : this.plainRegionIds && regionIds.length <= 64 ? `=${regionIds.join('\n')}` : null;
    let byRegion = this.choices.get(list);
    let choice = byRegion !== undefined && regionKey !== null ? byRegion.get(regionKey) : undefined;
    if (choice !== undefined) return choice;
    let accelerators = this.acceleratorSets.get(list);
    if (!accelerators) {
      accelerators = new Set(list);
      if (this.acceleratorSets.size < 10_000) this.acceleratorSets.set(list, accelerators);
    }
    const regions = regionIds ? new Set(regionIds) : null;
    choice = { accelerators, regions, markets: this.compatibleMarkets(accelerators, regions) };
    if (regionKey !== null && this.choiceCount < 10_000) {
      if (byRegion === undefined) {
        byRegion = new Map();
        this.choices.set(list, byRegion);
      }
      byRegion.set(regionKey, choice);
      this.choiceCount++;
    }
    return choice;
  }

  /** Accelerator sets by the (shared, cached) list they were made from; bids share them (never mutated). */
  private readonly acceleratorSets = new Map<readonly string[], ReadonlySet<string>>();
  private readonly choices = new Map<readonly string[], Map<string, Choice>>();
  private choiceCount = 0;
  /** Region ids joined by a newline name the list exactly (no catalog region id has one). */
  private readonly plainRegionIds: boolean;

  private readonly bidBooks = new Map<string, FBidBook>();

  private bookOf(acceleratorId: string): FBidBook {
    let book = this.bidBooks.get(acceleratorId);
    if (!book) {
      book = {
        deciTflops: deciTflopsOf(this.catalog.accelerators.get(acceleratorId)!),
        bids: new LevelIndex<FBid>(false),
        future: new LevelIndex<FBid>(true),
        futureBids: 0,
      };
      this.bidBooks.set(acceleratorId, book);
    }
    return book;
  }

  private rest(bid: FBid): void {
    this.restingBids.add(bid);
    const stamp = ++this.stampSeq;
    bid.stampA = stamp;
    const future = bid.startAt !== undefined;
    if (future) bid.stampB = stamp;
    bid.restLimit = bid.limit;
    bid.resting = true;
    for (const acc of bid.accelerators) {
      const book = this.bookOf(acc);
      const key = -scaledLimit(bid.isCompute, bid.limit, book.deciTflops);
      book.bids.insert(bid, key, bid.seq, stamp);
      if (future) {
        book.futureBids++;
        book.future.insert(bid, key, bid.seq, stamp);
      }
    }
  }

  private unindexBid(bid: FBid): void {
    if (!bid.resting) return;
    bid.stampA = 0;
    bid.resting = false;
    const future = bid.startAt !== undefined;
    if (future) bid.stampB = 0;
    for (const acc of bid.accelerators) {
      const book = this.bidBooks.get(acc)!;
      const key = -scaledLimit(bid.isCompute, bid.restLimit, book.deciTflops);
      book.bids.remove(key);
      if (future) {
        book.futureBids--;
        book.future.remove(key);
      }
    }
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
    this.unindexAsk(o);
    for (const n of o.nodes) n.listedBy = null;
  }

  /** Drop an ask from both indexes (keyed by its current price). */
  private unindexAsk(o: FAsk): void {
    if (o.stampA !== 0) {
      o.stampA = 0;
      o.market.all.remove(o.price);
    }
    if (o.stampB !== 0) {
      o.stampB = 0;
      o.market.awake.remove(o.price);
    }
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
        const awake = o.stampB !== 0;
        this.unindexAsk(o);
        o.price = cmd.priceFen;
        o.seq = ++this.seq;
        o.stampA = ++this.stampSeq;
        o.market.all.insert(o, o.price, o.seq, o.stampA);
        if (awake) {
          o.stampB = ++this.stampSeq;
          o.market.awake.insert(o, o.price, o.seq, o.stampB);
        }
      }
      if (cmd.expiresAt !== undefined) {
        o.expiresAt = cmd.expiresAt ?? undefined;
        this.pushDeadline(o);
      }
      this.events.push({ type: 'order_amended', orderId: o.id, priceFen: o.price, remaining: null, expiresAt: o.expiresAt ?? null });
      this.touch(o.market);
      if (lowered) this.retryOne(o);
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
    const leaseNo = leaseNumber(cmd.leaseId);
    const node = leaseNo > 0 ? this.leases.get(leaseNo) : undefined;
    if (node === undefined) return fail('LEASE_NOT_FOUND', `no running or future lease ${cmd.leaseId}`);
    const startMs = node.bookings![bookingRow(node, leaseNo) * BOOKING_ROW]!;
    const endMs = Math.max(startMs, cmd.now);
    this.dropBooking(node, leaseNo);
    // The string equals `l${leaseNo}` (leaseNumber accepts only that form).
    this.events.push({ type: 'lease_ended', leaseId: cmd.leaseId, atMs: endMs, reason: cmd.reason });
    const ask = node.listedBy;
    if (ask) {
      this.touch(ask.market);
      this.capacityAppeared(ask);
    }
  }

  // ---- capacity ------------------------------------------------------------------------

  /** The lease has ended (or was cut to nothing): forget it and free its GPUs. */
  private dropBooking(node: FNode, leaseNo: number): void {
    this.leases.delete(leaseNo);
    const list = node.bookings;
    if (list === null) return;
    const r = bookingRow(node, leaseNo);
    if (r < 0) return;
    if (list.length === BOOKING_ROW) {
      node.bookings = null;
      node.bookingGpus = null;
      return;
    }
    list.splice(r * BOOKING_ROW, BOOKING_ROW);
    if (node.bookingGpus !== null) node.bookingGpus.splice(r, 1);
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
    if (node.bookings === null) return n;
    if (n <= 30) return n - bitCount(this.busyBits(node, s, e));
    const busy = this.busyArray(node, s, e);
    if (busy === null) return n;
    let free = 0;
    for (let i = 0; i < n; i++) if (busy[i] === 0) free++;
    return free;
  }

  /** Busy GPUs in [s, e) as bits (nodes of up to 30 GPUs: no allocation on the hot path). */
  private busyBits(node: FNode, s: number, e: number): number {
    const list = node.bookings;
    if (list === null) return 0;
    let busy = 0;
    for (let k = 0; k < list.length; k += BOOKING_ROW) {
      if (list[k]! >= e) break;
      if (list[k + 1]! <= s) continue;
      const bits = list[k + 2]!;
      if (bits >= 0) busy |= bits;
      else for (const i of node.bookingGpus![k / BOOKING_ROW]!) busy |= 1 << i;
    }
    return busy;
  }

  private busyArray(node: FNode, s: number, e: number): Uint8Array | null {
    const list = node.bookings;
    if (list === null) return null;
    let busy: Uint8Array | null = null;
    for (let k = 0; k < list.length; k += BOOKING_ROW) {
      if (list[k]! >= e) break;
      if (list[k + 1]! <= s) continue;
      busy ??= new Uint8Array(node.gpuCount);
      const bits = list[k + 2]!;
      if (bits >= 0) {
        for (let i = 0; i < BIT_GPUS; i++) if ((bits & (1 << i)) !== 0) busy[i] = 1;
      } else for (const i of node.bookingGpus![k / BOOKING_ROW]!) busy[i] = 1;
    }
    return busy;
  }

  private freeNow(ask: FAsk): number {
    let n = 0;
    const now = this.lastNow;
    const nodes = ask.nodes;
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!;
      if (node.status === 'online') n += this.countFree(node, now, now + 1);
    }
    return n;
  }

  private sleep(ask: FAsk): void {
    if (ask.asleep) return;
    ask.asleep = true;
    if (ask.stampB !== 0) {
      ask.stampB = 0;
      ask.market.awake.remove(ask.price);
    }
  }

  private wake(ask: FAsk): void {
    if (!ask.asleep || !ask.active) return;
    ask.asleep = false;
    ask.stampB = ++this.stampSeq;
    ask.market.awake.insert(ask, ask.price, ask.seq, ask.stampB);
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

  /**
   * One ask of a bid's walk: add what it could give to the plan (scratch arrays), lower
   * `mRemaining`, add what it could use to `mUsable`.
   */
  private take(bid: FBid, ask: FAsk, s: number, e: number, useAwake: boolean): void {
    if (ask.market.halted || !this.askFits(bid, ask, e)) return;
    const dt = ask.market.deciTflops;
    const gpn = bid.gpusPerNode;
    const isCompute = bid.isCompute;
    const need = gpusWanted(isCompute, this.mRemaining, dt, gpn);
    if (ask.nodes.length === 1 && ask.unit === 'gpu') {
      // One node selling single GPUs (the common case, and every offline-capacity block):
      // the allocation rule reduces to "the lowest free indices, in whole groups".
      const node = ask.nodes[0]!;
      const count = node.gpuCount;
      let freeCount = 0;
      let busy = 0;
      let free: number[] | null = null;
      if (node.status === 'online') {
        if (count <= 30) {
          busy = this.busyBits(node, s, e);
          freeCount = count - bitCount(busy);
        } else {
          free = this.freeIndices(node, s, e);
          freeCount = free.length;
        }
      }
      const usable = gpn ? freeCount - (freeCount % gpn) : freeCount;
      this.mUsable += isCompute ? usable * dt : usable;
      const n = Math.min(usable, need);
      if (n <= 0) {
        if (useAwake && this.freeNow(ask) === 0) this.addSleepy(ask);
        return;
      }
      let gpus: number[];
      let bits = 0;
      if (free !== null) {
        gpus = n === free.length ? free : free.slice(0, n);
        bits = bitsOf(gpus);
      } else {
        // The lowest n free indices, built at their final size.
        gpus = new Array<number>(n);
        for (let i = 0, k = 0; k < n; i++) {
          if ((busy & (1 << i)) === 0) {
            gpus[k++] = i;
            bits |= 1 << i;
          }
        }
      }
      this.addPlan(ask, node, gpus, bits);
      this.mRemaining -= isCompute ? n * dt : n;
      return;
    }
    const free: NodeFree[] = [];
    const online: FNode[] = [];
    for (const node of ask.nodes) {
      if (node.status !== 'online') continue;
      online.push(node);
      const f = this.freeIndices(node, s, e);
      free.push({ nodeId: node.id, gpuCount: node.gpuCount, free: f });
      const usable = ask.unit === 'node' ? (f.length === node.gpuCount ? f.length : 0) : gpn ? f.length - (f.length % gpn) : f.length;
      this.mUsable += isCompute ? usable * dt : usable;
    }
    const allocs = allocateInAsk(free, ask.unit, need, gpn);
    if (allocs.length === 0 && useAwake && this.freeNow(ask) === 0) this.addSleepy(ask);
    for (const a of allocs) {
      this.addPlan(ask, online[a.index]!, a.gpuIndices, bitsOf(a.gpuIndices));
      this.mRemaining -= isCompute ? a.gpuIndices.length * dt : a.gpuIndices.length;
    }
  }

  private addPlan(ask: FAsk, node: FNode, gpus: readonly number[], bits: number): void {
    const k = this.planCount++;
    if (k < this.planAsks.length) {
      this.planAsks[k] = ask;
      this.planNodes[k] = node;
      this.planGpus[k] = gpus;
      this.planBits[k] = bits;
    } else {
      this.planAsks.push(ask);
      this.planNodes.push(node);
      this.planGpus.push(gpus);
      this.planBits.push(bits);
    }
  }

  private addSleepy(ask: FAsk): void {
    const k = this.sleepyCount++;
    if (k < this.sleepy.length) this.sleepy[k] = ask;
    else this.sleepy.push(ask);
  }

  private matchBid(bid: FBid): void {
    const now = this.lastNow;
    const s = bid.startAt ?? now;
    const e = s + bid.hours * MS_PER_HOUR;
    const useAwake = s === now;
    this.mRemaining = bid.remaining;
    // Everything usable this walk saw, whatever the need (whole-node asks make what an allocation
    // takes non-monotonic in capacity; this total is a bound that is monotonic).
    this.mUsable = 0;
    const planAsks = this.planAsks;
    const planNodes = this.planNodes;
    const planGpus = this.planGpus;
    const planBits = this.planBits;
    const sleepy = this.sleepy;
    this.planCount = 0;
    this.sleepyCount = 0;
    const markets = bid.markets;
    const isCompute = bid.isCompute;
    const limit = bid.limit;
    if (markets.length === 1) {
      const m = markets[0]!;
      const index = useAwake ? m.awake : m.all;
      const keys = index.keys;
      // Matching only marks entries dead or compacts into new arrays, so walking the captured
      // arrays stays valid.
      for (let ki = 0; ki < keys.length; ki++) {
        const key = keys[ki]!;
        if (this.mRemaining <= 0 || !withinLimit(isCompute, limit, key, m.deciTflops)) break;
        const level = index.levelAt(ki);
        const items = level.items;
        const stamps = level.stamps;
        for (let i = level.head; i < items.length && this.mRemaining > 0; i++) {
          const ask = items[i]!;
          if (index.isLive(ask, stamps[i]!)) this.take(bid, ask, s, e, useAwake);
        }
      }
    } else if (markets.length > 1) {
      const cursors: Cursor[] = [];
      for (const m of markets) {
        const c = new Cursor(useAwake ? m.awake : m.all);
        if (c.current && withinLimit(isCompute, limit, c.current.price, m.deciTflops)) cursors.push(c);
      }
      while (this.mRemaining > 0 && cursors.length > 0) {
        let best = 0;
        for (let i = 1; i < cursors.length; i++) {
          const a = cursors[i]!.current!;
          const b = cursors[best]!.current!;
          const c = compareNormalised(isCompute, a.price, a.market.deciTflops, b.price, b.market.deciTflops);
          if (c < 0 || (c === 0 && a.seq < b.seq)) best = i;
        }
        const cur = cursors[best]!;
        this.take(bid, cur.current!, s, e, useAwake);
        cur.next();
        const nxt = cur.current;
        if (!nxt || !withinLimit(isCompute, limit, nxt.price, nxt.market.deciTflops)) cursors.splice(best, 1);
      }
    }
    for (let i = 0; i < this.sleepyCount; i++) this.sleep(sleepy[i]!);
    const remaining = this.mRemaining;
    const allOrNone = !bid.allowPartial || bid.tif === 'FOK';
    const planLength = this.planCount;
    if (planLength === 0 || (allOrNone && remaining > 0)) {
      bid.reach = this.mUsable;
      return;
    }
    bid.reach = 0; // a partial fill took everything it could reach
    let lastAsk: FAsk | null = null;
    const events = this.events;
    for (let k = 0; k < planLength; k++) {
      const ask = planAsks[k]!;
      const node = planNodes[k]!;
      const gpuIndices = planGpus[k]!;
      const n = ++this.tradeSeq;
      const tradeId = `t${n}`;
      const leaseId = `l${n}`;
      const market = ask.market;
      const price = ask.price;
      events.push({
        type: 'trade', tradeId, bidId: bid.id, askId: ask.id, buyerId: bid.ownerId, providerId: ask.ownerId,
        market: market.key, gpus: gpuIndices.length, priceFenPerGpuHour: price, startMs: s, endMs: e,
      });
      events.push({
        type: 'lease_created', leaseId, tradeId, nodeId: node.id, gpuIndices,
        priceFenPerGpuHour: price, startMs: s, endMs: e,
      });
      this.leases.set(n, node);
      this.leaseEnds.push(e, n);
      if (s > now) this.leaseStarts.push(s, n);
      const bits = planBits[k]!;
      insertBooking(node, s, e, bits, bits < 0 ? gpuIndices : null, n);
      market.lastTrade = price;
      this.touch(market);
      if (ask !== lastAsk) {
        lastAsk = ask;
        if (!ask.asleep && this.freeNow(ask) === 0) this.sleep(ask);
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
    for (let k = 0; k < asks.length; k++) {
      const ask = asks[k]!;
      if (!ask.active || ask.market.halted || !this.bidAccepts(bid, ask.market) || !withinLimit(bid.isCompute, bid.limit, ask.price, ask.market.deciTflops) || !this.askFits(bid, ask, e)) continue;
      if (s === this.lastNow && ask.asleep) continue;
      let gpus = 0;
      const nodes = ask.nodes;
      for (let i = 0; i < nodes.length; i++) {
        const node = nodes[i]!;
        if (node.status !== 'online') continue;
        const free = this.countFree(node, s, e);
        if (ask.unit === 'node') gpus += free === node.gpuCount ? free : 0;
        else gpus += bid.gpusPerNode ? free - (free % bid.gpusPerNode) : free;
      }
      gain += bid.isCompute ? gpus * ask.market.deciTflops : gpus;
    }
    return gain;
  }

  /** Capacity appeared on one ask: retry its market's resting bids. */
  private retryOne(ask: FAsk): void {
    const one = this.oneAsk;
    if (one.length === 0) one.push(ask);
    else one[0] = ask;
    this.retry(ask.market, one);
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
    if (minPrice === Infinity || book.bids.size === 0 || m.halted) return;
    const threshold = minPrice * DECI_TFLOPS_PER_P;
    // Walk every resting bid, best first, while start-now bids can still use the capacity; once
    // it is all taken for now (every ask asleep), only future-start bids can: continue in their
    // index from the same place. Skipping start-now bids then is exact (they cannot match).
    const from = this.retryIn(m, book.bids, asks, gained, threshold, -Infinity, 0, true);
    if (from !== null && book.futureBids > 0) this.retryIn(m, book.future, asks, gained, threshold, from.key, from.seq, false);
  }

  /**
   * Retries the bids of `index` from position (key, seq) on. With `stopWhenAsleep`, returns the
   * position where every ask went to sleep (the next bid not yet tried), else null.
   */
  private retryIn(
    m: FMarket,
    bids: LevelIndex<FBid>,
    asks: readonly FAsk[],
    gained: readonly FAsk[],
    threshold: number,
    fromKey: number,
    fromSeq: number,
    stopWhenAsleep: boolean,
  ): { key: number; seq: number } | null {
    const keys = bids.keys;
    // Matching only marks entries dead or compacts into new arrays, so walking the captured
    // arrays stays valid; the next level is found by key because emptied levels leave `keys`.
    for (let ki = lowerBound(keys, fromKey); ki < keys.length; ) {
      const key = keys[ki]!;
      if (-key < threshold) break;
      const level = bids.levelAt(ki);
      const items = level.items;
      const stamps = level.stamps;
      const seqs = level.seqs;
      for (let i = level.head; i < items.length; i++) {
        const bid = items[i]!;
        if (key === fromKey && seqs[i]! < fromSeq) continue;
        if (!bids.isLive(bid, stamps[i]!)) continue;
        if (stopWhenAsleep && allAsleep(asks)) return { key, seq: seqs[i]! };
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
    return null;
  }

  private touchOrder(o: FOrder): void {
    if (o.side === 'ask') this.touch(o.market);
    else {
      const markets = o.markets;
      for (let i = 0; i < markets.length; i++) this.touch(markets[i]!);
    }
  }

  // ---- queries -------------------------------------------------------------------------

  markets(): readonly string[] {
    return [...this.marketMap.keys()].sort();
  }

  depth(market: string): Depth {
    const m = this.marketMap.get(market);
    if (!m) return { market, asks: [], bids: [] };
    const asks: DepthLevel[] = [];
    for (const ask of m.all.entries()) {
      const free = this.freeNow(ask);
      if (free === 0) continue;
      const last = asks[asks.length - 1];
      if (last && last.priceFenPerGpuHour === ask.price) asks[asks.length - 1] = { priceFenPerGpuHour: last.priceFenPerGpuHour, gpus: last.gpus + free };
      else asks.push({ priceFenPerGpuHour: ask.price, gpus: free });
    }
    const bids = new Map<number, number>();
    for (const b of m.book.bids.entries()) {
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
    let bookings = 0;
    for (const n of this.nodes.values()) {
      const rows = n.bookings ?? [];
      check(n.bookings === null || (n.bookings.length > 0 && n.bookings.length % BOOKING_ROW === 0), `${n.id} bookings table`);
      check(n.bookingGpus === null || n.bookingGpus.length * BOOKING_ROW === rows.length, `${n.id} bookingGpus rows`);
      const list: { id: string; startMs: number; endMs: number; gpuIndices: readonly number[] }[] = [];
      for (let k = 0; k < rows.length; k += BOOKING_ROW) {
        const bits = rows[k + 2]!;
        const extra = n.bookingGpus?.[k / BOOKING_ROW] ?? null;
        check(bits >= 0 ? extra === null && bits < 2 ** BIT_GPUS : extra !== null && extra.some((i) => i >= BIT_GPUS), `${n.id} booking gpus`);
        const gpuIndices = bits >= 0 ? indicesOfBits(bits) : extra!;
        check(gpuIndices.length > 0, `${n.id} booking without GPUs`);
        const leaseNo = rows[k + 3]!;
        check(this.leases.get(leaseNo) === n, `${n.id} booking l${leaseNo} not a live lease`);
        list.push({ id: `l${leaseNo}`, startMs: rows[k]!, endMs: rows[k + 1]!, gpuIndices });
      }
      bookings += list.length;
      for (let k = 0; k < list.length; k++) {
        const b = list[k]!;
        check(b.endMs > b.startMs && b.endMs > this.lastNow, `${n.id} ended booking ${b.id}`);
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
    check(bookings === this.leases.size, 'every live lease has its booking');
    for (const m of this.marketMap.values()) {
      check(this.marketGrid.get(m.acceleratorId)?.get(m.regionId) === m, `${m.key} market grid`);
      for (const index of [m.all, m.awake]) {
        let prevKey = -Infinity;
        for (const key of index.keys) {
          check(key > prevKey, `${m.key} ask keys sorted`);
          prevKey = key;
          const level = index.level(key);
          check(level !== undefined && level.live > 0, `${m.key} level ${key} empty`);
          let live = 0;
          for (let i = level!.head; i < level!.items.length; i++) {
            if (i > level!.head) check(level!.seqs[i - 1]! <= level!.seqs[i]!, `${m.key} level ${key} seq order`);
            if (index.liveAt(level!, i)) {
              live++;
              check(level!.items[i]!.price === key && level!.items[i]!.seq === level!.seqs[i], `${m.key} entry key`);
            }
          }
          check(live === level!.live, `${m.key} level ${key} live count`);
        }
      }
      const all = [...m.all.entries()];
      const awake = [...m.awake.entries()];
      check(all.length === m.all.size && awake.length === m.awake.size, `${m.key} index sizes`);
      for (const a of all) {
        check(a.active && a.stampA !== 0, `${a.id} in index but inactive`);
        check(a.asleep === (a.stampB === 0), `${a.id} awake entry`);
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
      const bids = [...book.bids.entries()];
      check(bids.length === book.bids.size, `${acc} bid index size`);
      check(new Set(bids).size === bids.length, `${acc} bid listed twice`);
      check(bids.every((b) => b.active && b.resting && this.restingBids.has(b) && b.accelerators.has(acc)), `${acc} stray bid indexed`);
      check(book.futureBids === bids.filter((b) => b.startAt !== undefined).length, `${acc} future bid count`);
      const future = [...book.future.entries()];
      const expected = bids.filter((b) => b.startAt !== undefined);
      check(future.length === expected.length && future.every((b, i) => b === expected[i]), `${acc} future index differs from the book`);
    }
    for (const o of this.orders.values()) {
      check(o.active, `${o.id} finished but remembered`);
      if (o.side === 'ask') check(o.stampA !== 0, `${o.id} missing from index`);
      else check(o.resting || !this.restingBids.has(o), `${o.id} resting but unindexed`);
    }
    for (const b of this.restingBids) {
      check(b.active && b.resting && b.stampA !== 0 && b.restLimit === b.limit, `${b.id} entries`);
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
    const level = index.keys.length > 0 ? index.levelAt(0) : undefined;
    this.ii = level ? level.head - 1 : 0;
    this.next();
  }
  next(): void {
    const index = this.index;
    const keys = index.keys;
    this.ii++;
    while (this.ki < keys.length) {
      const level = index.levelAt(this.ki);
      const items = level.items;
      while (this.ii < items.length) {
        if (index.liveAt(level, this.ii)) {
          this.current = items[this.ii]!;
          return;
        }
        this.ii++;
      }
      this.ki++;
      const nl = this.ki < keys.length ? index.levelAt(this.ki) : undefined;
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

/** Insert a booking in start order. Small tables are copied at their exact size (they live long). */
function insertBooking(node: FNode, s: number, e: number, bits: number, gpus: readonly number[] | null, leaseNo: number): void {
  const list = node.bookings;
  if (list === null) {
    node.bookings = [s, e, bits, leaseNo];
    if (gpus !== null) node.bookingGpus = [gpus];
    return;
  }
  const len = list.length;
  let at = len;
  while (at > 0 && list[at - BOOKING_ROW]! > s) at -= BOOKING_ROW;
  if (at === len && len < 64) {
    const grown = new Array<number>(len + BOOKING_ROW);
    for (let i = 0; i < len; i++) grown[i] = list[i]!;
    grown[len] = s;
    grown[len + 1] = e;
    grown[len + 2] = bits;
    grown[len + 3] = leaseNo;
    node.bookings = grown;
  } else list.splice(at, 0, s, e, bits, leaseNo);
  if (gpus !== null || node.bookingGpus !== null) {
    node.bookingGpus ??= new Array<readonly number[] | null>(len / BOOKING_ROW).fill(null);
    node.bookingGpus.splice(at / BOOKING_ROW, 0, gpus);
  }
}

/** The row of lease `leaseNo` in the node's bookings, or -1. */
function bookingRow(node: FNode, leaseNo: number): number {
  const list = node.bookings;
  if (list === null) return -1;
  for (let k = 3; k < list.length; k += BOOKING_ROW) if (list[k] === leaseNo) return (k - 3) / BOOKING_ROW;
  return -1;
}

/** Whether any booking of the node uses a GPU index `from` or above. */
function bookedFrom(node: FNode, from: number): boolean {
  const list = node.bookings;
  if (list === null) return false;
  for (let k = 0; k < list.length; k += BOOKING_ROW) {
    const bits = list[k + 2]!;
    if (bits >= 0) {
      if (from < BIT_GPUS && bits >> from !== 0) return true;
    } else if (node.bookingGpus![k / BOOKING_ROW]!.some((i) => i >= from)) return true;
  }
  return false;
}

function indicesOfBits(bits: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < BIT_GPUS; i++) if ((bits & (1 << i)) !== 0) out.push(i);
  return out;
}

/** GPU indices as bits, or -1 when one does not fit (BIT_GPUS or more). */
function bitsOf(gpus: readonly number[]): number {
  let bits = 0;
  for (let i = 0; i < gpus.length; i++) {
    const g = gpus[i]!;
    if (g >= BIT_GPUS) return -1;
    bits |= 1 << g;
  }
  return bits;
}

/** The number of a lease id as the engine issues them (`l` and a positive integer, no leading zero), else 0. */
function leaseNumber(id: string): number {
  const len = id.length;
  if (len < 2 || len > 16 || id.charCodeAt(0) !== 108 /* l */ || id.charCodeAt(1) === 48 /* 0 */) return 0;
  let n = 0;
  for (let i = 1; i < len; i++) {
    const c = id.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return 0;
    n = n * 10 + c;
  }
  return Number.isSafeInteger(n) ? n : 0;
}

function allAsleep(asks: readonly FAsk[]): boolean {
  for (const a of asks) if (a.active && !a.asleep) return false;
  return true;
}

/** Sort markets by rank: insertion sort for the usual few, else the library sort. */
function sortByRank(list: FMarket[], n: number): void {
  if (n > 32) {
    const sorted = list.slice(0, n).sort(byRank);
    for (let i = 0; i < n; i++) list[i] = sorted[i]!;
    return;
  }
  for (let i = 1; i < n; i++) {
    const m = list[i]!;
    const r = m.rank;
    let j = i - 1;
    while (j >= 0 && list[j]!.rank > r) {
      list[j + 1] = list[j]!;
      j--;
    }
    list[j + 1] = m;
  }
}

function byRank(a: FMarket, b: FMarket): number {
  return a.rank - b.rank;
}

function bitCount(x: number): number {
  let c = 0;
  while (x !== 0) {
    x &= x - 1;
    c++;
  }
  return c;
}
