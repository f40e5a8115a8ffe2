/**
 * The fast engine's live records (markets, nodes, orders) and the small pure helpers over them
 * that need none of the engine's state. Split from engine.ts so each file reads in one sitting;
 * the engine classes (engine-books.ts, engine-match.ts, engine.ts) share these types.
 */
import type { AskCursor, AskIndex } from './engine-askindex.js';
import type { BookingTable } from './engine-capacity.js';
import type { BidIndex } from './engine-bidindex.js';
import { compareNormalised } from './rules.js';
import type { AskUnit, EngineEvent, NodeStatus, TimeInForce } from './types.js';

/**
 * Resting bids by limit (keyed by minus the limit scaled to one accelerator, so ascending order
 * is best bid first, then by seq).
 */
export interface FBidIndex {
  readonly bids: BidIndex;
  /**
   * The future-start bids of `bids` again, in the same order (stamp slot B). Once no start-now bid
   * can use the capacity a retry is offering (`EngineMatcher.nowUsable`), only these can: the retry
   * continues here.
   */
  readonly future: BidIndex;
}
/**
 * Resting bids per accelerator: those open to any region here, those limited to some regions in
 * `byRegion` under each region they accept. Not per market: a bid open to any region would
 * otherwise sit in dozens of indexes; and not one index per accelerator: a retry in one market
 * would walk (and skip one by one) every other region's bids. A bid's limit scales the same way
 * in every region of one accelerator, so a market's bids in order are its accelerator's open
 * index and its region's index merged (with the compute book's two, see FMarket.computeBook).
 * GPU-count bids only: compute-amount bids rest in the one compute book.
 */
export interface FBidBook extends FBidIndex {
  readonly deciTflops: number;
  readonly byRegion: Map<string, FBidIndex>;
}
export interface FMarket {
  readonly key: string;
  readonly acceleratorId: string;
  readonly regionId: string;
  readonly deciTflops: number;
  /** All active asks (slot A of the asks' stamps). */
  readonly all: AskIndex;
  /** Active asks with some GPU free now (slot B). */
  readonly awake: AskIndex;
  readonly book: FBidBook;
  /** `book.byRegion` of this market's region: the bids limited to regions that include it. */
  readonly regionBids: FBidIndex;
  /**
   * The engine's one book of compute-amount bids (keyed by minus the limit per P-hour: times a
   * market's deciTflops it is the key the bid would have in that accelerator's book), and its
   * index for this market's region. A compute bid accepts every accelerator of its class, often
   * a dozen: one entry here (per region it names) instead of one in each accelerator's book.
   * Those that do not accept this market's accelerator are passed over when read.
   */
  readonly computeBook: FBidBook;
  readonly computeRegionBids: FBidIndex;
  lastTrade: number | null;
  /** Halted by an operator: its asks trade with nobody until resumed. */
  halted: boolean;
  /** The `touchEpoch` of the last command that changed this book (see `touch`). */
  touchedAt: number;
  /** Place of `key` among all market keys sorted (default string order). */
  rank: number;
  /**
   * Its `book_changed` event: one frozen object per market, shared by every command that changes
   * the book (most events of a busy engine are these; a new object each time was most of what
   * it allocated).
   */
  readonly changed: EngineEvent;
  /**
   * Bumped by every change that can add or move free capacity of its asks (see `touch`; a bid
   * resting or leaving changes none). `capBuilt` is its value when the capacity profile below was
   * built: GPUs of the awake asks free for the next hour, cumulated over distinct prices ascending
   * (`capPrices[0..capCount)`; `capCum` has PROFILE_STRIDE numbers per price; capCount -1: none, the book is too deep), the bound of
   * `EngineMatcher.reachBound`.
   */
  capVersion: number;
  capBuilt: number;
  capCount: number;
  readonly capPrices: number[];
  readonly capCum: number[];
  /** The engine's booking rows (one table shared by all its markets), where its nodes' bookings are. */
  readonly bookings: BookingTable;
}
/** GPU indices below this are kept as bits in a booking row (see BookingTable in engine-capacity.ts). */
export const BIT_GPUS = 30;
/**
 * A node. Its bookings are rows of the engine's BookingTable (engine-capacity.ts), reached
 * through `market.bookings`: a node holds only the number of its first row, not arrays of its
 * own. Nodes and their bookings are most of a busy engine's heap, and every major GC marks
 * each object in it (half a million nodes with a booking table each were two million objects).
 * A plain object made by `newNode` (an object literal), not a class instance: V8 tracks where
 * literals are allocated and, once nearly all objects from one site outlive their first minor
 * GCs (nodes live as long as their provider keeps them), allocates them in the old generation
 * directly, so scavenges no longer copy every new node twice on its way there. Instances of a
 * class get no such tracking.
 */
export interface FNode {
  status: NodeStatus;
  listedBy: FAsk | null;
  /** Row of its earliest-starting booking not yet ended (the rows are chained in start order), -1: none. */
  firstBooking: number;
  readonly id: string;
  readonly providerId: string;
  readonly market: FMarket;
  gpuCount: number;
}

/** A new node, online, unlisted, without bookings (see FNode). */
export function newNode(id: string, providerId: string, market: FMarket, gpuCount: number): FNode {
  return { status: 'online', listedBy: null, firstBooking: -1, id, providerId, market, gpuCount };
}
/** What an ask sells on besides its price (see FAsk.terms). */
export interface AskTerms {
  readonly unit: AskUnit;
  readonly minHours: number;
  readonly maxHours: number | undefined;
  readonly availableUntil: number | undefined;
}
/** The terms of an ask that names none (most asks: they all share this one object). */
export const DEFAULT_TERMS: AskTerms = Object.freeze({ unit: 'gpu', minHours: 1, maxHours: undefined, availableUntil: undefined });

/**
 * An active ask (or a finished one still referenced). Asks live as long as their nodes are
 * offered, so they are much of a busy engine's heap: an ask keeps little besides what is its
 * own; its rarely set terms sit in a shared object. A plain object made by `newAsk` (an object
 * literal), not a class instance, for the reason given at FNode: V8 can allocate long-lived
 * asks in the old generation directly. Its market and owner are its first node's (an ask's
 * nodes are its owner's, in one market), copied in as fields: a literal has no prototype
 * getters, and both are read on every walk and trade.
 */
export interface FAsk {
  readonly side: 'ask';
  active: boolean;
  asleep: boolean;
  /** Stamp of its entry in `market.all` (0: none). */
  stampA: number;
  /** Stamp of its entry in `market.awake` (0: none, i.e. asleep or inactive). */
  stampB: number;
  readonly id: string;
  /**
   * Its first node, and the others in order (null for a one-node ask, the usual kind: no array
   * per ask). Read them as `askNodeCount` and `askNode` do.
   */
  readonly node: FNode;
  readonly more: readonly FNode[] | null;
  /** Its unit, lease hours and availability (DEFAULT_TERMS for most asks). */
  readonly terms: AskTerms;
  price: number;
  expiresAt: number | undefined;
  seq: number;
  /** `node.market` and `node.providerId`. */
  readonly market: FMarket;
  readonly ownerId: string;
}

/** A new active ask, awake, in no index yet (see FAsk). */
export function newAsk(id: string, node: FNode, more: readonly FNode[] | null, terms: AskTerms, price: number, expiresAt: number | undefined, seq: number): FAsk {
  return {
    side: 'ask', active: true, asleep: false, stampA: 0, stampB: 0, id, node, more, terms, price, expiresAt, seq,
    market: node.market, ownerId: node.providerId,
  };
}
export interface FBid {
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
   * what its last walk found usable (or the capacity-profile bound that let it skip the walk, see
   * `EngineMatcher.reachBound`), plus every gain since that it was not walked for. Whole nodes
   * count only up to the size the bid could be sold. An all-or-none bid whose reach stays below
   * its remaining quantity cannot match, nor can a partial one whose reach is 0: retries skip them.
   */
  reach: number;
  /** Compatible existing markets. */
  readonly markets: FMarket[];
  /** What it accepts (its `accelerators`, `regions` and `markets` are this choice's). */
  readonly choice: Choice;
  /** While resting: in the bid book of each accelerator it accepts (per region if it names regions), keyed by this limit. */
  resting: boolean;
  restLimit: number;
  /** Stamp of its entries in the bid books (0: none). */
  stampA: number;
  stampB: number;
}
export type FOrder = FAsk | FBid;

/** One bid index a bid rests in, and the deciTflops of its accelerator (see `EngineBooks.targetsOf`). */
export interface RestTarget {
  readonly index: FBidIndex;
  readonly deciTflops: number;
}

/** What a bid accepts (shared by bids with the same accelerators and regions; see `choiceOf`). */
export interface Choice {
  readonly accelerators: ReadonlySet<string>;
  readonly regions: ReadonlySet<string> | null;
  readonly markets: FMarket[];
  /** The bid indexes its bids rest in, for GPU-count and compute-amount bids, made on first use (see `EngineBooks.targetsOf`). */
  targets: RestTarget[] | null;
  computeTargets: RestTarget[] | null;
}

/** The number of nodes of `ask`. */
export function askNodeCount(ask: FAsk): number {
  return ask.more === null ? 1 : 1 + ask.more.length;
}

/** Node `i` of `ask` (0 ≤ i < askNodeCount(ask)). */
export function askNode(ask: FAsk, i: number): FNode {
  return i === 0 ? ask.node : ask.more![i - 1]!;
}

export function bidAccepts(bid: FBid, m: FMarket): boolean {
  return bid.accelerators.has(m.acceleratorId) && (bid.regions === null || bid.regions.has(m.regionId));
}

/** Whether `ask` can take part in a lease for this bid and window, on price, hours and availability. */
export function askFits(bid: FBid, ask: FAsk, e: number): boolean {
  const t = ask.terms;
  if (bid.hours < t.minHours || (t.maxHours !== undefined && bid.hours > t.maxHours)) return false;
  return t.availableUntil === undefined || e <= t.availableUntil;
}

/** Whether cursor `a`'s ask comes before `b`'s in a walk: cheaper per GPU (or per P), then older. */
function before(a: AskCursor, b: AskCursor, isCompute: boolean): boolean {
  const x = a.current!;
  const y = b.current!;
  const c = compareNormalised(isCompute, x.price, x.market.deciTflops, y.price, y.market.deciTflops);
  return c < 0 || (c === 0 && x.seq < y.seq);
}

/** Restore the min-heap order (see `before`) of cursors heap[0..n) below position i. */
export function siftCursors(heap: AskCursor[], n: number, i: number, isCompute: boolean): void {
  const item = heap[i]!;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const m = r < n && before(heap[r]!, heap[l]!, isCompute) ? r : l;
    if (!before(heap[m]!, item, isCompute)) break;
    heap[i] = heap[m]!;
    i = m;
  }
  heap[i] = item;
}

export function deadlineOf(o: FOrder): number {
  const a = o.expiresAt ?? Infinity;
  const b = o.side === 'ask' ? (o.terms.availableUntil ?? Infinity) : (o.startAt ?? Infinity);
  return Math.min(a, b);
}

/** The number of a lease id as the engine issues them (`l` and a positive integer, no leading zero), else 0. */
export function leaseNumber(id: string): number {
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

/**
 * Slots by rank for `sortByRank` (all empty between calls). A scratch buffer, not state: the core
 * is single-threaded, and every call leaves it as it found it.
 */
const rankSlots: (FMarket | undefined)[] = [];

/**
 * Sort markets by rank: insertion sort for the usual few; many (a bid open to dozens of markets
 * touches them all) are placed by rank into slots and read back in order, as ranks are distinct
 * small integers (the library sort when two entries share a rank).
 */
export function sortByRank(list: FMarket[], n: number): void {
  if (n > 16) {
    let max = 0;
    for (let i = 0; i < n; i++) if (list[i]!.rank > max) max = list[i]!.rank;
    const slots = rankSlots;
    while (slots.length <= max) slots.push(undefined);
    let placed = 0;
    for (let i = 0; i < n; i++) {
      const m = list[i]!;
      if (slots[m.rank] !== undefined) break;
      slots[m.rank] = m;
      placed++;
    }
    if (placed === n) {
      for (let r = 0, k = 0; k < n; r++) {
        const m = slots[r];
        if (m !== undefined) {
          list[k++] = m;
          slots[r] = undefined;
        }
      }
      return;
    }
    for (let i = 0; i < placed; i++) slots[list[i]!.rank] = undefined;
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

export function byRank(a: FMarket, b: FMarket): number {
  return a.rank - b.rank;
}
