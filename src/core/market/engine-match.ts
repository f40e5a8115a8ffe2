/**
 * Matching: a bid's walk over the asks it accepts, best price first, and the trades and leases
 * it makes; and retries of resting bids when capacity appears. The walk plans into scratch arrays
 * held here (no allocation per ask) and books only once the plan fills what must be filled.
 */
import { bitCount, bitsOf, busyBits, countFree, exactIndicesOfBits, freeIndices, freeNow, insertBooking } from './engine-capacity.js';
import { askFits, askNode, askNodeCount, bidAccepts, BIT_GPUS, siftCursors, type FAsk, type FBid, type FMarket, type FNode } from './engine-model.js';
import { EngineBooks } from './engine-books.js';
import { AskCursor } from './engine-askindex.js';
import { BidCursor, type BidIndex } from './engine-bidindex.js';
import { allocateInAsk, gpusWanted, type NodeFree, scaledLimit, withinLimit } from './rules.js';
import { lowerBound } from './structures.js';
import { DECI_TFLOPS_PER_P, MS_PER_HOUR } from './types.js';

/**
 * Size classes of whole nodes in a capacity profile: class k holds nodes of more than 2^(k-1)
 * and at most 2^k GPUs, the last class all larger ones. A bid that can be sold whole nodes of up
 * to w GPUs counts the classes up to w's: every node it could take, and maybe a few more.
 */
const SIZE_CLASSES = 8;
/** Numbers per price of a profile: GPUs free on single-GPU asks, then whole-node GPUs by class (cumulated). */
const PROFILE_STRIDE = 1 + SIZE_CLASSES;
/** Most awake asks a market may have and still keep a capacity profile (see `buildProfile`). */
const MAX_PROFILE_ASKS = 256;

function sizeClass(gpus: number): number {
  let k = 0;
  while (k < SIZE_CLASSES - 1 && 1 << k < gpus) k++;
  return k;
}

export class EngineMatcher extends EngineBooks {
  /** Scratch state of `matchBid` (never re-entered): the walk's remaining need, what it saw, its plan. */
  private mRemaining = 0;
  private mUsable = 0;
  private readonly planAsks: FAsk[] = [];
  private readonly planNodes: FNode[] = [];
  /** Per plan item, its GPU indices; null where `planBits` holds them all (built when booked). */
  private readonly planGpus: (readonly number[] | null)[] = [];
  /** Per plan item, its GPU indices as bits, or -1 when one is BIT_GPUS or more. */
  private readonly planBits: number[] = [];
  private readonly sleepy: FAsk[] = [];
  /** Entries in use of the plan arrays and of `sleepy` (stale ones beyond are overwritten). */
  private planCount = 0;
  private sleepyCount = 0;
  /** The cursor of `matchBid`'s walk in one market. */
  private readonly walkCursor = new AskCursor();
  /** Cursors of `matchBid`'s walk over several markets, reused (see there). */
  private readonly cursors: AskCursor[] = [];
  /** The cursors of `retryIn` over a market's open and regional bids, GPU-count and compute. */
  private readonly retryCursors: BidCursor[] = [new BidCursor(), new BidCursor(), new BidCursor(), new BidCursor()];
  /** A one-ask list for `retry` (never re-entered). */
  private readonly oneAsk: FAsk[] = [];

  /**
   * One ask of a bid's walk: add what it could give to the plan (scratch arrays), lower
   * `mRemaining`, add what it could use to `mUsable`.
   */
  private take(bid: FBid, ask: FAsk, s: number, e: number, useAwake: boolean): void {
    if (ask.market.halted || !askFits(bid, ask, e)) return;
    const dt = ask.market.deciTflops;
    const gpn = bid.gpusPerNode;
    const isCompute = bid.isCompute;
    const need = gpusWanted(isCompute, this.mRemaining, dt, gpn);
    if (ask.more === null && ask.terms.unit === 'gpu') {
      // One node selling single GPUs (the common case, and every offline-capacity block):
      // the allocation rule reduces to "the lowest free indices, in whole groups".
      const node = ask.node;
      const count = node.gpuCount;
      let freeCount = 0;
      let busy = 0;
      let free: number[] | null = null;
      if (node.status === 'online') {
        if (count <= BIT_GPUS) {
          busy = busyBits(node, s, e);
          freeCount = count - bitCount(busy);
        } else {
          free = freeIndices(node, s, e);
          freeCount = free.length;
        }
      }
      const usable = gpn ? freeCount - (freeCount % gpn) : freeCount;
      this.mUsable += isCompute ? usable * dt : usable;
      const n = Math.min(usable, need);
      if (n <= 0) {
        if (useAwake && freeNow(ask, this.lastNow) === 0) this.addSleepy(ask);
        return;
      }
      let gpus: number[] | null = null;
      let bits = 0;
      if (free !== null) {
        gpus = n === free.length ? free : free.slice(0, n);
        bits = bitsOf(gpus);
      } else {
        // The lowest n free indices, as bits: the array is built only if the plan is booked
        // (an all-or-none walk that falls short books nothing).
        for (let i = 0, k = 0; k < n; i++) {
          if ((busy & (1 << i)) === 0) {
            bits |= 1 << i;
            k++;
          }
        }
      }
      this.addPlan(ask, node, gpus, bits);
      this.mRemaining -= isCompute ? n * dt : n;
      return;
    }
    // Several nodes, or whole-node units. Count what each online node could give first, without
    // allocating: most asks a walk passes give nothing (busy, or too small for an all-or-none
    // need), and then the allocation rule, which never takes more than these counts, finds none.
    const nodeCount = askNodeCount(ask);
    const wholeNodes = ask.terms.unit === 'node';
    // A whole node larger than the bid's whole need (or not in groups of gpusPerNode) is never
    // taken (see `allocateInAsk`): it does not count as usable.
    const wholeMax = wholeNodes ? gpusWanted(isCompute, bid.remaining, dt, gpn) : 0;
    let usableTotal = 0;
    for (let i = 0; i < nodeCount; i++) {
      const node = askNode(ask, i);
      if (node.status !== 'online') continue;
      if (wholeNodes) {
        const c = node.gpuCount;
        if (c <= wholeMax && (!gpn || c % gpn === 0) && countFree(node, s, e) === c) usableTotal += c;
      } else {
        const f = countFree(node, s, e);
        usableTotal += gpn ? f - (f % gpn) : f;
      }
    }
    this.mUsable += isCompute ? usableTotal * dt : usableTotal;
    if (usableTotal === 0) {
      if (useAwake && freeNow(ask, this.lastNow) === 0) this.addSleepy(ask);
      return;
    }
    const free: NodeFree[] = [];
    const online: FNode[] = [];
    for (let i = 0; i < nodeCount; i++) {
      const node = askNode(ask, i);
      if (node.status !== 'online') continue;
      online.push(node);
      free.push({ nodeId: node.id, gpuCount: node.gpuCount, free: freeIndices(node, s, e) });
    }
    const allocs = allocateInAsk(free, ask.terms.unit, need, gpn);
    if (allocs.length === 0 && useAwake && freeNow(ask, this.lastNow) === 0) this.addSleepy(ask);
    for (const a of allocs) {
      this.addPlan(ask, online[a.index]!, a.gpuIndices, bitsOf(a.gpuIndices));
      this.mRemaining -= isCompute ? a.gpuIndices.length * dt : a.gpuIndices.length;
    }
  }

  private addPlan(ask: FAsk, node: FNode, gpus: readonly number[] | null, bits: number): void {
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

  protected matchBid(bid: FBid): void {
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
    const allOrNone = !bid.allowPartial || bid.tif === 'FOK';
    if (useAwake) {
      // A walk that cannot gather what it must books nothing: skip it when even every GPU free
      // for the next hour within the limit falls short (all of it for all-or-none, any for a
      // partial bid). What it would have done besides is put sold-out asks to sleep, which is
      // only an index.
      const bound = this.reachBound(bid, allOrNone ? bid.remaining : 1);
      if (bound >= 0) {
        bid.reach = bound;
        return;
      }
    }
    if (markets.length === 1) {
      const m = markets[0]!;
      const c = this.walkCursor.reset(useAwake ? m.awake : m.all);
      // The limit is checked once per price (many asks share one).
      let within = NaN;
      for (let ask = c.current; ask !== null && this.mRemaining > 0; c.next(), ask = c.current) {
        const key = c.key;
        if (key !== within) {
          if (!withinLimit(isCompute, limit, key, m.deciTflops)) break;
          within = key;
        }
        this.take(bid, ask, s, e, useAwake);
      }
      c.release();
    } else if (markets.length > 1) {
      // One cursor per market, from a pool (the walk is never re-entered), kept as a binary
      // min-heap in cursors[0..live) by (normalised price, seq) of their current ask: a bid open
      // to dozens of markets picks each next ask in log time, not by a scan of every market.
      // The order is total (no two asks share a seq), so the walk is the same as a scan's.
      const cursors = this.cursors;
      let live = 0;
      for (let j = 0; j < markets.length; j++) {
        const m = markets[j]!;
        // A start-now walk takes nothing in a market whose current capacity profile has no GPU
        // free for the next hour within the limit (as `reachBound`): no cursor there.
        if (useAwake && m.capBuilt === m.capVersion && m.capCount >= 0) {
          if (m.capCount === 0 || !withinLimit(isCompute, limit, m.capPrices[0]!, m.deciTflops)) continue;
        }
        if (live === cursors.length) cursors.push(new AskCursor());
        const c = cursors[live]!.reset(useAwake ? m.awake : m.all);
        if (c.current && withinLimit(isCompute, limit, c.current.price, m.deciTflops)) live++;
      }
      for (let i = (live >> 1) - 1; i >= 0; i--) siftCursors(cursors, live, i, isCompute);
      while (this.mRemaining > 0 && live > 0) {
        const cur = cursors[0]!;
        this.take(bid, cur.current!, s, e, useAwake);
        cur.next();
        const nxt = cur.current;
        if (!nxt || !withinLimit(isCompute, limit, nxt.price, nxt.market.deciTflops)) {
          // Spent: swap it behind the heap (it stays in the pool).
          live--;
          cursors[0] = cursors[live]!;
          cursors[live] = cur;
        }
        siftCursors(cursors, live, 0, isCompute);
      }
      for (let i = 0; i < cursors.length; i++) cursors[i]!.release();
    }
    for (let i = 0; i < this.sleepyCount; i++) this.sleep(sleepy[i]!);
    const remaining = this.mRemaining;
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
      const bits = planBits[k]!;
      const gpuIndices = planGpus[k] ?? exactIndicesOfBits(bits);
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
      insertBooking(node, s, e, bits, bits < 0 ? gpuIndices : null, n);
      market.lastTrade = price;
      // A trade only takes capacity, so the market's capacity profile stays a bound without a
      // rebuild: a start-now lease takes GPUs that are free for the next hour, which the profile
      // counts (see `profileTaken`); a later one leaves it overstating, which keeps it a bound.
      if (s === now) this.profileTaken(market, ask, node, gpuIndices.length);
      this.touchBook(market);
      if (ask !== lastAsk) {
        lastAsk = ask;
        if (!ask.asleep && freeNow(ask, this.lastNow) === 0) this.sleep(ask);
      }
    }
    bid.remaining = Math.max(0, remaining);
    if (bid.remaining === 0) this.deactivate(bid);
    this.touchOrder(bid);
  }

  /**
   * An upper bound on what start-now bid `bid` could gather (in its units) when that is below
   * `need`, else -1 (without finishing the sum). The bound: from each market's capacity profile,
   * the GPUs on its awake asks within the bid's limit that are free for the next hour (a lease
   * lasts an hour at least, so a GPU it could take is among them; an asleep ask has none free),
   * whole nodes only up to the size the bid could be sold.
   *
   * A profile is rebuilt when its market's `capVersion` moved. Everything that can add capacity
   * moves it (a lease ending, a node online or grown, an ask placed, repriced or resumed, see
   * `touch`); what only takes capacity may leave an old profile in place, which then overstates
   * and stays a bound (time passing alone only brings bookings into the hour).
   */
  private reachBound(bid: FBid, need: number): number {
    const markets = bid.markets;
    const isCompute = bid.isCompute;
    let total = 0;
    for (let j = 0; j < markets.length; j++) {
      const m = markets[j]!;
      if (m.capBuilt !== m.capVersion) this.buildProfile(m);
      const n = m.capCount;
      if (n < 0) return -1; // too deep to profile (see `buildProfile`): no bound
      if (n === 0) continue;
      // The most it may pay per GPU-hour here: price × 10_000 ≤ scaled limit (all integers).
      const maxPrice = Math.floor(scaledLimit(isCompute, bid.limit, m.deciTflops) / DECI_TFLOPS_PER_P);
      // The last price within it.
      const lo = lowerBound(m.capPrices, maxPrice + 1, n) - 1;
      if (lo < 0) continue;
      // Whole nodes count only up to the size the bid could be sold (see `take`), by size class.
      const wholeMax = gpusWanted(isCompute, bid.remaining, m.deciTflops, bid.gpusPerNode);
      const at = lo * PROFILE_STRIDE;
      const gpus = m.capCum[at]! + m.capCum[at + 1 + sizeClass(wholeMax)]!;
      total += isCompute ? gpus * m.deciTflops : gpus;
      if (total >= need) return -1;
    }
    return total;
  }

  /**
   * A start-now lease took `gpus` GPUs of `node` on `ask`: take them out of the market's capacity
   * profile too, if it is current. They were free for the next hour (a lease lasts an hour at
   * least), so the profile counts them at the ask's price: every GPU free for the next hour now
   * was counted when the profile was built, as whatever frees a GPU, wakes an ask, adds a node or
   * moves a price invalidates it (`touch`). If the price is not in the profile (it cannot be, but
   * a bound must not rest on that alone), the profile is dropped and rebuilt when next needed.
   */
  private profileTaken(m: FMarket, ask: FAsk, node: FNode, gpus: number): void {
    const n = m.capCount;
    if (m.capBuilt !== m.capVersion || n <= 0) return;
    const lo = lowerBound(m.capPrices, ask.price, n);
    if (lo === n || m.capPrices[lo] !== ask.price) {
      m.capVersion++;
      return;
    }
    const cum = m.capCum;
    if (ask.terms.unit === 'gpu') {
      for (let i = lo; i < n; i++) cum[i * PROFILE_STRIDE] = cum[i * PROFILE_STRIDE]! - gpus;
    } else {
      // A whole node: counted in its size class, and in every class above (cumulated).
      const k = sizeClass(node.gpuCount);
      for (let i = lo; i < n; i++) {
        const at = i * PROFILE_STRIDE + 1;
        for (let b = k; b < SIZE_CLASSES; b++) cum[at + b] = cum[at + b]! - gpus;
      }
    }
  }

  /** A cursor for `buildProfile` (never re-entered). */
  private readonly profileCursor = new AskCursor();
  /** Scratch of `buildProfile`: whole-node GPUs free so far per size class. */
  private readonly wholeRun: number[] = new Array<number>(SIZE_CLASSES).fill(0);

  /** Rebuild market `m`'s capacity profile (see FMarket.capVersion and `reachBound`). */
  private buildProfile(m: FMarket): void {
    m.capBuilt = m.capVersion;
    if (m.awake.size > MAX_PROFILE_ASKS) {
      // Rebuilt after nearly every command, a profile of a deep book would cost more than the
      // walks it saves (one market of 50,000 asks made each bid a full scan): no bound there.
      m.capCount = -1;
      return;
    }
    m.capCount = this.fillProfile(m, m.capPrices, m.capCum);
  }

  /** Write market `m`'s capacity profile as it is now into `prices` and `cum`; its number of prices. */
  private fillProfile(m: FMarket, prices: number[], cum: number[]): number {
    let n = 0;
    if (!m.halted && m.awake.size > 0) {
      const run = this.wholeRun;
      run.fill(0);
      const now = this.lastNow;
      let gpuTotal = 0;
      const c = this.profileCursor.reset(m.awake);
      for (let ask = c.current; ask !== null; c.next(), ask = c.current) {
        let added = false;
        const nodeCount = askNodeCount(ask);
        for (let i = 0; i < nodeCount; i++) {
          const node = askNode(ask, i);
          if (node.status !== 'online') continue;
          const f = countFree(node, now, now + MS_PER_HOUR);
          if (f === 0) continue;
          if (ask.terms.unit === 'gpu') gpuTotal += f;
          else if (f === node.gpuCount) {
            const k = sizeClass(f);
            run[k] = run[k]! + f;
          } else continue;
          added = true;
        }
        if (!added) continue;
        if (n === 0 || prices[n - 1] !== ask.price) {
          prices[n] = ask.price;
          n++;
        }
        const at = (n - 1) * PROFILE_STRIDE;
        cum[at] = gpuTotal;
        let whole = 0;
        for (let b = 0; b < SIZE_CLASSES; b++) {
          whole += run[b]!;
          cum[at + 1 + b] = whole;
        }
      }
      c.release();
    }
    return n;
  }

  /**
   * Check that every current capacity profile is still a bound: at each price of a profile built
   * now, the kept one counts at least as many GPUs in every column (part of
   * `validateInternalState`; slow).
   */
  protected validateProfiles(): void {
    const prices: number[] = [];
    const cum: number[] = [];
    for (const m of this.marketMap.values()) {
      if (m.capBuilt !== m.capVersion || m.capCount < 0) continue;
      const n = this.fillProfile(m, prices, cum);
      let i = -1;
      for (let j = 0; j < n; j++) {
        while (i + 1 < m.capCount && m.capPrices[i + 1]! <= prices[j]!) i++;
        for (let c = 0; c < PROFILE_STRIDE; c++) {
          const kept = i < 0 ? 0 : m.capCum[i * PROFILE_STRIDE + c]!;
          if (kept < cum[j * PROFILE_STRIDE + c]!) {
            throw new Error(`market ${m.key}: capacity profile counts ${kept} at ${prices[j]} (column ${c}), ${cum[j * PROFILE_STRIDE + c]} are free`);
          }
        }
      }
    }
  }

  /** Set by `gainFor`: whether `bid` could use some capacity on the asks (the reference's `couldUse`). */
  private gCould = false;

  /**
   * How much of the capacity on `asks` (which just gained some) `bid` could use: an upper bound
   * on how much more the bid can reach now, in its own units. Also sets `gCould`: whether a retry
   * must walk the bid at all, exactly as the reference engine decides it (a free whole node
   * counts there even when the bid could never be sold it; the walk may then fill from other
   * capacity, see `retryBid`). The bound is tighter: it leaves out such nodes.
   */
  private gainFor(bid: FBid, asks: readonly FAsk[]): number {
    const s = bid.startAt ?? this.lastNow;
    const e = s + bid.hours * MS_PER_HOUR;
    const gpn = bid.gpusPerNode;
    let could = false;
    let gain = 0;
    for (let k = 0; k < asks.length; k++) {
      const ask = asks[k]!;
      if (!ask.active || ask.market.halted || !bidAccepts(bid, ask.market) || !withinLimit(bid.isCompute, bid.limit, ask.price, ask.market.deciTflops) || !askFits(bid, ask, e)) continue;
      if (s === this.lastNow && ask.asleep) continue;
      let gpus = 0;
      const nodeCount = askNodeCount(ask);
      if (ask.terms.unit === 'node') {
        // Only whole nodes the bid could ever be sold count towards the bound (see `take`).
        const wholeMax = gpusWanted(bid.isCompute, bid.remaining, ask.market.deciTflops, gpn);
        for (let i = 0; i < nodeCount; i++) {
          const node = askNode(ask, i);
          const c = node.gpuCount;
          if (node.status !== 'online' || countFree(node, s, e) !== c) continue;
          could = true;
          if (c <= wholeMax && (!gpn || c % gpn === 0)) gpus += c;
        }
      } else {
        for (let i = 0; i < nodeCount; i++) {
          const node = askNode(ask, i);
          if (node.status !== 'online') continue;
          const free = countFree(node, s, e);
          gpus += gpn ? free - (free % gpn) : free;
        }
        if (gpus > 0) could = true;
      }
      gain += bid.isCompute ? gpus * ask.market.deciTflops : gpus;
    }
    this.gCould = could;
    return gain;
  }

  /** Capacity appeared on one ask: retry its market's resting bids. */
  protected retryOne(ask: FAsk): void {
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
  protected retry(m: FMarket, asks: readonly FAsk[], gained: readonly FAsk[] = asks): void {
    let minPrice = Infinity;
    for (const a of asks) if (a.active && a.price < minPrice) minPrice = a.price;
    const open = m.book;
    const local = m.regionBids;
    const cOpen = m.computeBook;
    const cLocal = m.computeRegionBids;
    if (minPrice === Infinity || m.halted) return;
    if (open.bids.size === 0 && local.bids.size === 0 && cOpen.bids.size === 0 && cLocal.bids.size === 0) return;
    const threshold = minPrice * DECI_TFLOPS_PER_P;
    // Walk every resting bid, best first, while start-now bids can still use the capacity; once
    // none can (see `nowUsable`), only future-start bids can: continue in their index from the
    // same place. Skipping start-now bids then is exact: the reference engine's `couldUse` is
    // false for each of them, and stays so (the walk only takes capacity).
    let from = true;
    this.fromKey = -Infinity;
    this.fromSeq = 0;
    if (this.nowUsable(asks)) from = this.retryIn(m, open.bids, local.bids, cOpen.bids, cLocal.bids, asks, gained, threshold, -Infinity, 0, true);
    if (from && (open.future.size > 0 || local.future.size > 0 || cOpen.future.size > 0 || cLocal.future.size > 0)) {
      this.retryIn(m, open.future, local.future, cOpen.future, cLocal.future, asks, gained, threshold, this.fromKey, this.fromSeq, false);
    }
  }

  /**
   * Whether any start-now bid could use capacity on `asks`: some awake ask with a node that has
   * a GPU free (a whole node free, for a whole-node ask) for the next hour, the shortest lease.
   * A GPU free for a longer window is free for that one, so false means `couldUse` is false for
   * every start-now bid. Asks can be awake and still give nothing: a future lease may start
   * within the hour on every GPU free now.
   */
  private nowUsable(asks: readonly FAsk[]): boolean {
    const s = this.lastNow;
    const e = s + MS_PER_HOUR;
    for (let k = 0; k < asks.length; k++) {
      const ask = asks[k]!;
      if (!ask.active || ask.asleep || ask.market.halted) continue;
      const nodeCount = askNodeCount(ask);
      const whole = ask.terms.unit === 'node';
      for (let i = 0; i < nodeCount; i++) {
        const node = askNode(ask, i);
        if (node.status !== 'online') continue;
        const f = countFree(node, s, e);
        if (whole ? f === node.gpuCount : f > 0) return true;
      }
    }
    return false;
  }

  /** Where `retryIn` stopped when no start-now bid could use the capacity (the next bid not yet tried). */
  private fromKey = 0;
  private fromSeq = 0;

  /**
   * Retries the bids of market `m` in indexes `a` and `b` (its accelerator's open and regional
   * GPU-count bids) and `c` and `d` (the compute book's open and regional bids, keys scaled to
   * `m`; those not accepting `m`'s accelerator are passed over): no bid is in two of them, merged
   * in (key, seq) order, from position (key, seq) on. With `stopWhenAsleep`, returns true when no
   * start-now bid can use the capacity any more (see `nowUsable`), the position in
   * `fromKey`/`fromSeq`.
   */
  private retryIn(
    m: FMarket,
    a: BidIndex,
    b: BidIndex,
    c: BidIndex,
    d: BidIndex,
    asks: readonly FAsk[],
    gained: readonly FAsk[],
    threshold: number,
    fromKey: number,
    fromSeq: number,
    stopWhenAsleep: boolean,
  ): boolean {
    // Retries never nest (a walk places no bid), so four pooled cursors serve every retry.
    const cursors = this.retryCursors;
    cursors[0]!.start(a, fromKey, fromSeq);
    cursors[1]!.start(b, fromKey, fromSeq);
    cursors[2]!.start(c, fromKey, fromSeq, m.deciTflops);
    cursors[3]!.start(d, fromKey, fromSeq, m.deciTflops);
    const acc = m.acceleratorId;
    // Called with `stopWhenAsleep` only when true; recomputed after each walk that booked.
    let usable = true;
    let stopped = false;
    for (;;) {
      // The cursor at the least (key, seq): no bid is in two indexes, so they never tie.
      let best = -1;
      for (let i = 0; i < 4; i++) {
        const cur = cursors[i]!;
        if (!cur.peek()) continue;
        if (best < 0) best = i;
        else {
          const bc = cursors[best]!;
          if (cur.key < bc.key || (cur.key === bc.key && cur.seq < bc.seq)) best = i;
        }
      }
      if (best < 0) break;
      const cur = cursors[best]!;
      const key = cur.key;
      if (-key < threshold) break;
      const bid = cur.item!;
      const seq = cur.seq;
      cur.step();
      if (best >= 2 && !bid.accelerators.has(acc)) continue;
      if (stopWhenAsleep && !usable) {
        this.fromKey = key;
        this.fromSeq = seq;
        stopped = true;
        break;
      }
      const booked = this.tradeSeq;
      this.retryBid(bid, asks, gained);
      if (stopWhenAsleep && this.tradeSeq !== booked) usable = this.nowUsable(asks);
    }
    for (let i = 0; i < 4; i++) cursors[i]!.release();
    return stopped;
  }

  /** One resting bid of a retry: walk it again unless the new capacity cannot be of use to it. */
  private retryBid(bid: FBid, asks: readonly FAsk[], gained: readonly FAsk[]): void {
    const here = this.gainFor(bid, asks);
    if (!this.gCould) return;
    // The reference walks the bid now. Skip the walk where it provably books nothing: an
    // all-or-none bid whose reach cannot fill it, or a partial one that can reach nothing at all
    // (a walk that booked part took all it could use, and one that booked nothing saw nothing
    // usable: either way its reach was left 0 by the walk, see `matchBid`).
    const gain = gained === asks ? here : this.gainFor(bid, gained);
    if (bid.reach + gain < (bid.allowPartial ? 1 : bid.remaining)) {
      bid.reach += gain;
      return;
    }
    this.matchBid(bid);
    if (bid.remaining === 0) this.events.push({ type: 'order_filled', orderId: bid.id });
  }
}
