/**
 * The fast engine's state and the upkeep of its indexes (see engine.ts for the design): markets
 * and their ask indexes, bid books, which bids accept which markets, order deadlines, the set of
 * markets touched by the current command. The matcher (engine-match.ts) and the command paths
 * (engine.ts) build on this class: subclassing keeps every field a plain `this.x` load on the hot
 * path, as it was when all of it was one class.
 */
import { removeBooking } from './engine-capacity.js';
import { bidAccepts, type Choice, deadlineOf, type FAsk, type FBid, type FBidBook, type FBidIndex, type FMarket, type FNode, type FOrder } from './engine-model.js';
import { type BidFields, type CatalogIndex, compatibleAcceleratorList, deciTflopsOf, indexCatalog, scaledLimit } from './rules.js';
import { MinHeap } from '../heap.js';
import { DenseIdMap, LevelIndex, ShardedMap, TimeHeap } from './structures.js';
import { type EngineCatalog, type EngineEvent, marketKey } from './types.js';

export class EngineBooks {
  protected readonly catalog: CatalogIndex;
  protected readonly marketMap = new Map<string, FMarket>();
  /** Markets by accelerator id, then region id: no key string built per command. */
  protected readonly marketGrid = new Map<string, Map<string, FMarket>>();
  private readonly marketsByAccelerator = new Map<string, FMarket[]>();
  /** Live nodes and orders by id (sharded: no long pause when one grows). */
  protected readonly nodes = new ShardedMap<FNode>();
  protected readonly orders = new ShardedMap<FOrder>();
  protected readonly restingBids = new Set<FBid>();
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
  /** Source of index stamps (see LevelIndex). */
  protected stampSeq = 0;
  protected events: EngineEvent[] = [];
  /** Markets whose book changed in this command: `touched` lists those with `touchedAt === touchEpoch`. */
  protected touchEpoch = 0;
  protected readonly touched: FMarket[] = [];
  /** Entries of `touched` in use (a length set by hand is a runtime call). */
  protected touchedCount = 0;

  constructor(catalog: EngineCatalog) {
    this.catalog = indexCatalog(catalog);
    this.plainRegionIds = [...this.catalog.regions].every((r) => typeof r === 'string' && !r.includes('\n'));
  }

  private readonly acceleratorSets = new Map<readonly string[], ReadonlySet<string>>();
  private readonly choices = new Map<readonly string[], Map<string, Choice>>();
  private choiceCount = 0;
  /** Region ids joined by a newline name the list exactly (no catalog region id has one). */
  private readonly plainRegionIds: boolean;

  protected readonly bidBooks = new Map<string, FBidBook>();
  /** Keys of halted markets, kept by key so that a market made later starts halted too. */
  protected readonly haltedMarkets = new Set<string>();

  /** Record that market `m`'s book changed in this command (`apply` reports it once, in key order). */
  protected touch(m: FMarket): void {
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
      for (let i = 0; i < markets.length; i++) this.touch(markets[i]!);
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
      all: new LevelIndex<FAsk>(false), awake: new LevelIndex<FAsk>(true), book: this.bookOf(acceleratorId), lastTrade: null,
      regionBids: this.regionIndexOf(this.bookOf(acceleratorId), regionId),
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
      if (extended.has(bid.markets) || !bidAccepts(bid, m)) continue;
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


  private bookOf(acceleratorId: string): FBidBook {
    let book = this.bidBooks.get(acceleratorId);
    if (!book) {
      book = {
        deciTflops: deciTflopsOf(this.catalog.accelerators.get(acceleratorId)!),
        bids: new LevelIndex<FBid>(false),
        future: new LevelIndex<FBid>(true),
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
      index = { bids: new LevelIndex<FBid>(false), future: new LevelIndex<FBid>(true) };
      book.byRegion.set(regionId, index);
    }
    return index;
  }

  // ---- indexes ---------------------------------------------------------------------------

  protected rest(bid: FBid): void {
    this.restingBids.add(bid);
    const stamp = ++this.stampSeq;
    bid.stampA = stamp;
    const future = bid.startAt !== undefined;
    if (future) bid.stampB = stamp;
    bid.restLimit = bid.limit;
    bid.resting = true;
    const regions = bid.regions;
    for (const acc of bid.accelerators) {
      const book = this.bookOf(acc);
      const key = -scaledLimit(bid.isCompute, bid.limit, book.deciTflops);
      if (regions === null) {
        book.bids.insert(bid, key, bid.seq, stamp);
        if (future) book.future.insert(bid, key, bid.seq, stamp);
      } else {
        for (const r of regions) {
          const index = this.regionIndexOf(book, r);
          index.bids.insert(bid, key, bid.seq, stamp);
          if (future) index.future.insert(bid, key, bid.seq, stamp);
        }
      }
    }
  }

  protected unindexBid(bid: FBid): void {
    if (!bid.resting) return;
    bid.stampA = 0;
    bid.resting = false;
    const future = bid.startAt !== undefined;
    if (future) bid.stampB = 0;
    const regions = bid.regions;
    for (const acc of bid.accelerators) {
      const book = this.bidBooks.get(acc)!;
      const key = -scaledLimit(bid.isCompute, bid.restLimit, book.deciTflops);
      if (regions === null) {
        book.bids.remove(key);
        if (future) book.future.remove(key);
      } else {
        for (const r of regions) {
          const index = book.byRegion.get(r)!;
          index.bids.remove(key);
          if (future) index.future.remove(key);
        }
      }
    }
  }

  /** The order is finished (filled, cancelled, expired): drop it from every index and forget it. */
  protected deactivate(o: FOrder): void {
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
  protected unindexAsk(o: FAsk): void {
    if (o.stampA !== 0) {
      o.stampA = 0;
      o.market.all.remove(o.price);
    }
    if (o.stampB !== 0) {
      o.stampB = 0;
      o.market.awake.remove(o.price);
    }
  }

  protected sleep(ask: FAsk): void {
    if (ask.asleep) return;
    ask.asleep = true;
    if (ask.stampB !== 0) {
      ask.stampB = 0;
      ask.market.awake.remove(ask.price);
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
