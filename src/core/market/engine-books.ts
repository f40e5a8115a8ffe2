/**
 * The fast engine's state and the upkeep of its indexes (see engine.ts for the design): markets
 * and their ask indexes, bid books, which bids accept which markets, order deadlines, the set of
 * markets touched by the current command. The matcher (engine-match.ts) and the command paths
 * (engine.ts) build on this class: subclassing keeps every field a plain `this.x` load on the hot
 * path, as it was when all of it was one class.
 */
import { AskIndex } from './engine-askindex.js';
import { BidIndex } from './engine-bidindex.js';
import { BookingTable, removeBooking } from './engine-capacity.js';
import { askNode, askNodeCount, bidAccepts, type Choice, deadlineOf, type RestTarget, type FAsk, type FBid, type FBidBook, type FBidIndex, type FMarket, type FNode, type FOrder } from './engine-model.js';
import { type BidFields, type CatalogIndex, compatibleAcceleratorList, deciTflopsOf, indexCatalog, scaledLimit } from './rules.js';
import { MinHeap } from '../heap.js';
import { DenseIdMap, ShardedMap, TimeHeap } from './structures.js';
import { type EngineCatalog, type EngineEvent, marketKey } from './types.js';

/** A node of the choice cache (see `EngineBooks.choices`). */
interface RegionTrie {
  choice: Choice | undefined;
  next: Map<string, RegionTrie> | null;
}

export class EngineBooks {
  protected readonly catalog: CatalogIndex;
  protected readonly marketMap = new Map<string, FMarket>();
  /** Markets by accelerator id, then region id: no key string built per command. */
  protected readonly marketGrid = new Map<string, Map<string, FMarket>>();
  private readonly marketsByAccelerator = new Map<string, FMarket[]>();
  /** Live nodes and orders by id (sharded: no long pause when one grows). */
  protected readonly nodes = new ShardedMap<FNode>();
  protected readonly orders = new ShardedMap<FOrder>();
  /** The bookings of every node (shared by all markets: `FMarket.bookings`). */
  protected readonly bookingTable = new BookingTable();
  /** Live leases (not yet ended) by number (lease `l7` is number 7): the node that holds the booking. */
  protected readonly leases = new DenseIdMap<FNode>();
  /** (end, lease number) of every lease as created; an entry whose lease is gone ended early. */
  protected readonly leaseEnds = new TimeHeap();
  /** Leases that start in the future: their start changes the depth (free GPUs now). */
  protected readonly leaseStarts = new TimeHeap();
  protected readonly deadlines = new MinHeap<{ at: number; order: FOrder }>((a, b) => a.at < b.at);
  protected lastNow = -1;
  protected seq = 0;
  protected tradeSeq = 0;
  /** Source of index stamps (see Stamped in structures.ts). */
  protected stampSeq = 0;
  protected events: EngineEvent[] = [];
  /** Markets whose book changed in this command: `touched` lists those with `touchedAt === touchEpoch`. */
  protected touchEpoch = 0;
  protected readonly touched: FMarket[] = [];
  /** Entries of `touched` in use (a length set by hand is a runtime call). */
  protected touchedCount = 0;

  constructor(catalog: EngineCatalog) {
    this.catalog = indexCatalog(catalog);
  }

  private readonly acceleratorSets = new Map<readonly string[], ReadonlySet<string>>();
  /**
   * Choices by accelerator list, then by the bid's region ids in order along a trie (the root's
   * `choice`: any region). Walking a trie hashes the ids themselves (their hashes are cached in
   * the strings), where a joined key would be a new string to build and hash for every bid.
   */
  private readonly choices = new Map<readonly string[], RegionTrie>();
  private choiceCount = 0;
  protected readonly bidBooks = new Map<string, FBidBook>();
  /** Resting compute-amount bids (see FMarket.computeBook); `deciTflops` 1: keys are minus the limit per P-hour. */
  protected readonly computeBook: FBidBook = { deciTflops: 1, bids: new BidIndex(false), future: new BidIndex(true), byRegion: new Map() };
  /** Keys of halted markets, kept by key so that a market made later starts halted too. */
  protected readonly haltedMarkets = new Set<string>();

  /**
   * Record that market `m`'s book changed in this command (`apply` reports it once, in key order).
   * Every change of its asks' capacity (bookings, leases starting or ending, nodes, asks placed,
   * repriced, cancelled or expired, halts) comes here, after or just before the change and before
   * any matching: it also invalidates the market's capacity profile (`capVersion`).
   */
  protected touch(m: FMarket): void {
    m.capVersion++;
    this.touchBook(m);
  }

  /**
   * `touch` for a change that leaves the asks' capacity profile a bound: of bids only, or a trade
   * (it only takes capacity; a start-now one is subtracted from the profile, see
   * `EngineMatcher.profileTaken`). Anything that frees, adds or reprices capacity must `touch`.
   */
  protected touchBook(m: FMarket): void {
    if (m.touchedAt === this.touchEpoch) return;
    m.touchedAt = this.touchEpoch;
    if (this.touchedCount < this.touched.length) this.touched[this.touchedCount] = m;
    else this.touched.push(m);
    this.touchedCount++;
  }

  protected touchOrder(o: FOrder): void {
    if (o.side === 'ask') this.touch(o.market);
    else {
      const markets = o.markets;
      for (let i = 0; i < markets.length; i++) this.touchBook(markets[i]!);
    }
  }

  protected pushDeadline(o: FOrder): void {
    const at = deadlineOf(o);
    if (at !== Infinity) this.deadlines.push({ at, order: o });
  }

  // ---- markets and bid choices ---------------------------------------------------------

  /** The market of (accelerator, region), made on first use: indexed, ranked, offered to resting bids. */
  protected marketOf(acceleratorId: string, regionId: string): FMarket {
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
      all: new AskIndex(false), awake: new AskIndex(true), book: this.bookOf(acceleratorId), lastTrade: null,
      regionBids: this.regionIndexOf(this.bookOf(acceleratorId), regionId),
      computeBook: this.computeBook, computeRegionBids: this.regionIndexOf(this.computeBook, regionId),
      touchedAt: 0, rank: 0, changed: Object.freeze({ type: 'book_changed', market: key }), halted: this.haltedMarkets.has(key),
      capVersion: 0, capBuilt: -1, capCount: 0, capPrices: [], capCum: [], bookings: this.bookingTable,
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
    // The resting bids are the bids among the active orders (a bid that does not rest is done).
    for (const bid of this.orders.values()) {
      if (bid.side !== 'bid' || extended.has(bid.markets) || !bidAccepts(bid, m)) continue;
      bid.markets.push(m);
      extended.add(bid.markets);
    }
    this.choices.clear();
    this.choiceCount = 0;
    this.touch(m);
    return m;
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
  protected choiceOf(cmd: BidFields): Choice {
    const list = cmd.compatible ?? compatibleAcceleratorList(cmd, this.catalog);
    const regionIds = cmd.regionIds;
    const found = this.choiceNode(list, regionIds, false)?.choice;
    if (found !== undefined) return found;
    const cacheable = (regionIds === undefined || regionIds.length <= 64) && this.choiceCount < 10_000;
    // The same regions named in another order are the same choice: found under the regions
    // sorted, and remembered under this order too.
    const sorted = regionIds !== undefined && regionIds.length > 1 ? regionIds.slice().sort() : undefined;
    if (sorted !== undefined) {
      const same = this.choiceNode(list, sorted, false)?.choice;
      if (same !== undefined) {
        if (cacheable) this.remember(list, regionIds, same);
        return same;
      }
    }
    let accelerators = this.acceleratorSets.get(list);
    if (!accelerators) {
      accelerators = new Set(list);
      if (this.acceleratorSets.size < 10_000) this.acceleratorSets.set(list, accelerators);
    }
    const regions = regionIds ? new Set(regionIds) : null;
    const choice: Choice = { accelerators, regions, markets: this.compatibleMarkets(accelerators, regions), targets: null, computeTargets: null };
    if (cacheable) {
      this.remember(list, regionIds, choice);
      if (sorted !== undefined) this.remember(list, sorted, choice);
    }
    return choice;
  }

  /** Keep `choice` in the cache under (list, regionIds); every path counts against the cache's limit. */
  private remember(list: readonly string[], regionIds: readonly string[] | undefined, choice: Choice): void {
    const node = this.choiceNode(list, regionIds, true)!;
    if (node.choice === undefined) this.choiceCount++;
    node.choice = choice;
  }

  /** The choice cache's node of (accelerator list, region ids), made on the way with `make`; else undefined where the path ends. */
  private choiceNode(list: readonly string[], regionIds: readonly string[] | undefined, make: boolean): RegionTrie | undefined {
    let at: RegionTrie | undefined = this.choices.get(list);
    if (at === undefined) {
      if (!make) return undefined;
      at = { choice: undefined, next: null };
      this.choices.set(list, at);
    }
    if (regionIds === undefined) return at;
    for (let i = 0; i < regionIds.length; i++) {
      let child: RegionTrie | undefined = at.next?.get(regionIds[i]!);
      if (child === undefined) {
        if (!make) return undefined;
        child = { choice: undefined, next: null };
        (at.next ??= new Map()).set(regionIds[i]!, child);
      }
      at = child;
    }
    return at;
  }

  private bookOf(acceleratorId: string): FBidBook {
    let book = this.bidBooks.get(acceleratorId);
    if (!book) {
      book = {
        deciTflops: deciTflopsOf(this.catalog.accelerators.get(acceleratorId)!),
        bids: new BidIndex(false),
        future: new BidIndex(true),
        byRegion: new Map(),
      };
      this.bidBooks.set(acceleratorId, book);
    }
    return book;
  }

  /** The index of `book` for bids limited to regions that include `regionId`, made on first use. */
  private regionIndexOf(book: FBidBook, regionId: string): FBidIndex {
    let index = book.byRegion.get(regionId);
    if (index === undefined) {
      index = { bids: new BidIndex(false), future: new BidIndex(true) };
      book.byRegion.set(regionId, index);
    }
    return index;
  }

  // ---- indexes ---------------------------------------------------------------------------

  /**
   * The bid indexes a bid rests in with the deciTflops that scales its key there: each
   * accelerator's book (or its index for each region the bid names) for a GPU-count bid; the
   * compute book (or its regions' indexes) for a compute-amount bid, unscaled. The same for every
   * bid of one choice, so kept on the choice.
   */
  private targetsOf(bid: FBid): RestTarget[] {
    const choice = bid.choice;
    const known = bid.isCompute ? choice.computeTargets : choice.targets;
    if (known !== null) return known;
    const targets: RestTarget[] = [];
    const regions = bid.regions;
    if (bid.isCompute) {
      const book = this.computeBook;
      if (regions === null) targets.push({ index: book, deciTflops: 1 });
      else for (const r of regions) targets.push({ index: this.regionIndexOf(book, r), deciTflops: 1 });
      choice.computeTargets = targets;
      return targets;
    }
    for (const acc of bid.accelerators) {
      const book = this.bookOf(acc);
      if (regions === null) targets.push({ index: book, deciTflops: book.deciTflops });
      else for (const r of regions) targets.push({ index: this.regionIndexOf(book, r), deciTflops: book.deciTflops });
    }
    choice.targets = targets;
    return targets;
  }

  protected rest(bid: FBid): void {
    const stamp = ++this.stampSeq;
    bid.stampA = stamp;
    const future = bid.startAt !== undefined;
    if (future) bid.stampB = stamp;
    bid.restLimit = bid.limit;
    bid.resting = true;
    const targets = this.targetsOf(bid);
    const isCompute = bid.isCompute;
    const limit = bid.limit;
    const seq = bid.seq;
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      const key = -scaledLimit(isCompute, limit, t.deciTflops);
      t.index.bids.insert(bid, key, seq, stamp);
      if (future) t.index.future.insert(bid, key, seq, stamp);
    }
  }

  protected unindexBid(bid: FBid): void {
    if (!bid.resting) return;
    // Every entry of the bid carries this stamp (see `rest`): it finds them.
    const stamp = bid.stampA;
    bid.stampA = 0;
    bid.resting = false;
    const future = bid.startAt !== undefined;
    if (future) bid.stampB = 0;
    const targets = this.targetsOf(bid);
    const isCompute = bid.isCompute;
    const limit = bid.restLimit;
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      const key = -scaledLimit(isCompute, limit, t.deciTflops);
      t.index.bids.remove(key, stamp);
      if (future) t.index.future.remove(key, stamp);
    }
  }

  /** The order is finished (filled, cancelled, expired): drop it from every index and forget it. */
  protected deactivate(o: FOrder): void {
    o.active = false;
    this.orders.delete(o.id);
    if (o.side === 'bid') {
      this.unindexBid(o);
      return;
    }
    this.unindexAsk(o);
    for (let i = 0; i < askNodeCount(o); i++) askNode(o, i).listedBy = null;
  }

  /** Drop an ask from both indexes (keyed by its current price). */
  protected unindexAsk(o: FAsk): void {
    if (o.stampA !== 0) {
      o.stampA = 0;
      o.market.all.remove(o.price, o.seq);
    }
    if (o.stampB !== 0) {
      o.stampB = 0;
      o.market.awake.remove(o.price, o.seq);
    }
  }

  protected sleep(ask: FAsk): void {
    if (ask.asleep) return;
    ask.asleep = true;
    if (ask.stampB !== 0) {
      ask.stampB = 0;
      ask.market.awake.remove(ask.price, ask.seq);
    }
  }

  protected wake(ask: FAsk): void {
    if (!ask.asleep || !ask.active) return;
    ask.asleep = false;
    ask.stampB = ++this.stampSeq;
    ask.market.awake.insert(ask, ask.price, ask.seq, ask.stampB);
  }

  /** The lease has ended (or was cut to nothing): forget it and free its GPUs. */
  protected dropBooking(node: FNode, leaseNo: number): void {
    this.leases.delete(leaseNo);
    removeBooking(node, leaseNo);
  }
}
