/**
 * Matching: a bid's walk over the asks it accepts, best price first, and the trades and leases
 * it makes; and retries of resting bids when capacity appears. The walk plans into scratch arrays
 * held here (no allocation per ask) and books only once the plan fills what must be filled.
 */
import { bitCount, bitsOf, busyBits, countFree, exactIndicesOfBits, freeIndices, freeNow, insertBooking } from './engine-capacity.js';
import { allAsleep, askFits, bidAccepts, BIT_GPUS, Cursor, siftCursors, type FAsk, type FBid, type FMarket, type FNode } from './engine-model.js';
import { EngineBooks } from './engine-books.js';
import { allocateInAsk, gpusWanted, type NodeFree, withinLimit } from './rules.js';
import { type LevelIndex, lowerBound } from './structures.js';
import { DECI_TFLOPS_PER_P, MS_PER_HOUR } from './types.js';

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
  /** Cursors of `matchBid`'s walk over several markets, reused (see there). */
  private readonly cursors: Cursor[] = [];
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
    if (ask.nodes.length === 1 && ask.unit === 'gpu') {
      // One node selling single GPUs (the common case, and every offline-capacity block):
      // the allocation rule reduces to "the lowest free indices, in whole groups".
      const node = ask.nodes[0]!;
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
    const nodes = ask.nodes;
    const wholeNodes = ask.unit === 'node';
    let usableTotal = 0;
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!;
      if (node.status !== 'online') continue;
      const f = countFree(node, s, e);
      usableTotal += wholeNodes ? (f === node.gpuCount ? f : 0) : gpn ? f - (f % gpn) : f;
    }
    this.mUsable += isCompute ? usableTotal * dt : usableTotal;
    if (usableTotal === 0) {
      if (useAwake && freeNow(ask, this.lastNow) === 0) this.addSleepy(ask);
      return;
    }
    const free: NodeFree[] = [];
    const online: FNode[] = [];
    for (const node of nodes) {
      if (node.status !== 'online') continue;
      online.push(node);
      free.push({ nodeId: node.id, gpuCount: node.gpuCount, free: freeIndices(node, s, e) });
    }
    const allocs = allocateInAsk(free, ask.unit, need, gpn);
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
      // One cursor per market, from a pool (the walk is never re-entered), kept as a binary
      // min-heap in cursors[0..live) by (normalised price, seq) of their current ask: a bid open
      // to dozens of markets picks each next ask in log time, not by a scan of every market.
      // The order is total (no two asks share a seq), so the walk is the same as a scan's.
      const cursors = this.cursors;
      let live = 0;
      for (let j = 0; j < markets.length; j++) {
        const m = markets[j]!;
        if (live === cursors.length) cursors.push(new Cursor());
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
      this.touch(market);
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
   * How much of the capacity on `asks` (which just gained some) `bid` could use: an upper bound
   * on how much more the bid can reach now, in its own units. Zero means a retry finds nothing.
   */
  private gainFor(bid: FBid, asks: readonly FAsk[]): number {
    const s = bid.startAt ?? this.lastNow;
    const e = s + bid.hours * MS_PER_HOUR;
    let gain = 0;
    for (let k = 0; k < asks.length; k++) {
      const ask = asks[k]!;
      if (!ask.active || ask.market.halted || !bidAccepts(bid, ask.market) || !withinLimit(bid.isCompute, bid.limit, ask.price, ask.market.deciTflops) || !askFits(bid, ask, e)) continue;
      if (s === this.lastNow && ask.asleep) continue;
      let gpus = 0;
      const nodes = ask.nodes;
      for (let i = 0; i < nodes.length; i++) {
        const node = nodes[i]!;
        if (node.status !== 'online') continue;
        const free = countFree(node, s, e);
        if (ask.unit === 'node') gpus += free === node.gpuCount ? free : 0;
        else gpus += bid.gpusPerNode ? free - (free % bid.gpusPerNode) : free;
      }
      gain += bid.isCompute ? gpus * ask.market.deciTflops : gpus;
    }
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
    if (minPrice === Infinity || (open.bids.size === 0 && local.bids.size === 0) || m.halted) return;
    const threshold = minPrice * DECI_TFLOPS_PER_P;
    // Walk every resting bid, best first, while start-now bids can still use the capacity; once
    // it is all taken for now (every ask asleep), only future-start bids can: continue in their
    // index from the same place. Skipping start-now bids then is exact (they cannot match).
    const from = this.retryIn(open.bids, local.bids, asks, gained, threshold, -Infinity, 0, true);
    if (from && (open.future.size > 0 || local.future.size > 0)) {
      this.retryIn(open.future, local.future, asks, gained, threshold, this.fromKey, this.fromSeq, false);
    }
  }

  /** Where `retryIn` stopped when every ask went to sleep (the next bid not yet tried). */
  private fromKey = 0;
  private fromSeq = 0;

  /**
   * Retries the bids of indexes `a` and `b` (a market's open and regional bids: no bid is in
   * both), merged in (key, seq) order, from position (key, seq) on. With `stopWhenAsleep`,
   * returns true when every ask went to sleep, the position in `fromKey`/`fromSeq`.
   */
  private retryIn(
    a: LevelIndex<FBid>,
    b: LevelIndex<FBid>,
    asks: readonly FAsk[],
    gained: readonly FAsk[],
    threshold: number,
    fromKey: number,
    fromSeq: number,
    stopWhenAsleep: boolean,
  ): boolean {
    const keysA = a.keys;
    const keysB = b.keys;
    let ka = lowerBound(keysA, fromKey);
    let kb = lowerBound(keysB, fromKey);
    for (;;) {
      const keyA = ka < keysA.length ? keysA[ka]! : Infinity;
      const keyB = kb < keysB.length ? keysB[kb]! : Infinity;
      const key = keyA < keyB ? keyA : keyB;
      if (key === Infinity || -key < threshold) break;
      // Matching only marks entries dead or compacts into new arrays, so walking the captured
      // arrays stays valid; the next level is found by key because emptied levels leave `keys`.
      const la = keyA === key ? a.levelAt(ka) : null;
      const lb = keyB === key ? b.levelAt(kb) : null;
      const itemsA = la !== null ? la.items : null;
      const seqsA = la !== null ? la.seqs : null;
      const stampsA = la !== null ? la.stamps : null;
      const itemsB = lb !== null ? lb.items : null;
      const seqsB = lb !== null ? lb.seqs : null;
      const stampsB = lb !== null ? lb.stamps : null;
      const endA = itemsA !== null ? itemsA.length : 0;
      const endB = itemsB !== null ? itemsB.length : 0;
      let i = la !== null ? la.head : 0;
      let j = lb !== null ? lb.head : 0;
      while (i < endA || j < endB) {
        let bid: FBid;
        let seq: number;
        let live: boolean;
        if (j >= endB || (i < endA && seqsA![i]! < seqsB![j]!)) {
          bid = itemsA![i]!;
          seq = seqsA![i]!;
          live = a.isLive(bid, stampsA![i]!);
          i++;
        } else {
          bid = itemsB![j]!;
          seq = seqsB![j]!;
          live = b.isLive(bid, stampsB![j]!);
          j++;
        }
        if (key === fromKey && seq < fromSeq) continue;
        if (!live) continue;
        if (stopWhenAsleep && allAsleep(asks)) {
          this.fromKey = key;
          this.fromSeq = seq;
          return true;
        }
        this.retryBid(bid, asks, gained);
      }
      ka = lowerBound(keysA, key + 1);
      kb = lowerBound(keysB, key + 1);
    }
    return false;
  }

  /** One resting bid of a retry: walk it again unless the new capacity cannot be of use to it. */
  private retryBid(bid: FBid, asks: readonly FAsk[], gained: readonly FAsk[]): void {
    const here = this.gainFor(bid, asks);
    if (here === 0) return;
    if (!bid.allowPartial) {
      const gain = gained === asks ? here : this.gainFor(bid, gained);
      if (bid.reach + gain < bid.remaining) {
        bid.reach += gain; // still cannot fill all-or-none: no walk needed
        return;
      }
    }
    this.matchBid(bid);
    if (bid.remaining === 0) this.events.push({ type: 'order_filled', orderId: bid.id });
  }
}
