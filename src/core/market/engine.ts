/**
 * The fast market engine. Same rules and same events as the reference engine (reference.ts),
 * with indexes instead of scans:
 * - per market, asks by (price, seq) in two chunked ask indexes (engine-askindex.ts): all active
 *   asks, and the "awake" ones (some online GPU free now). An ask whose GPUs are all busy now
 *   sleeps until a booking on one of its nodes ends, so start-now bids never walk sold-out asks;
 * - per accelerator, resting GPU-count bids by (limit in its units desc, seq) for retries, in
 *   chunked bid indexes (engine-bidindex.ts): those open to any region, and per region those
 *   limited to regions; compute-amount bids the same way in one compute book (limit per P-hour,
 *   scaled to a market's accelerator when read), not once per accelerator of their class. A
 *   retry in one market merges the four, passes compute bids of other accelerators, and never
 *   another region's bids; it only runs a bid that could use the capacity that appeared (an
 *   exact pre-check);
 * - per market, a profile of the GPUs free for the next hour by price (rebuilt when the book
 *   changes): a start-now walk that could not gather its need within its limit is skipped;
 * - per node, its bookings in start order (chained rows of one table of typed-array pages); heaps
 *   of lease ends and order deadlines.
 * Live state is kept lean (it is most of the heap, and the GC copies what survives): a lease is a
 * row of numbers in the booking table plus a map entry, not an object; a node keeps no arrays of
 * its own, nor a one-node ask (see FNode and FAsk in engine-model.ts).
 *
 * The code is in layers, each a file read in one sitting:
 * - engine-model.ts: the live records (markets, nodes, asks, bids) and pure helpers over them;
 * - engine-capacity.ts: the booking table of nodes and the free-GPU queries over it;
 * - engine-books.ts (EngineBooks): the engine's state and the upkeep of its indexes;
 * - engine-match.ts (EngineMatcher): a bid's walk, its trades and leases, and retries;
 * - engine-inspect.ts: depth and the invariant check, read-only;
 * - this file (Engine): `apply` and the command paths, and the queries of MarketEngine.
 */
import { AT, bookedFrom, bookingRow, freeNow } from './engine-capacity.js';
import { depthOf, validateEngineState } from './engine-inspect.js';
import { EngineMatcher } from './engine-match.js';
import { byRank, deadlineOf, DEFAULT_TERMS, type FAsk, type FBid, type FMarket, type FNode, newAsk, newNode, type FOrder, leaseNumber, sortByRank } from './engine-model.js';
import { type BidFields, fail, newBidFields, readBid, Rejected, type Rejection, validateBidAmend, validateBidFields, validateStatic } from './rules.js';
import {
  type AmendOrder,
  type CancelOrder,
  type Command,
  type CommandResult,
  type Depth,
  type EndLease,
  type MarketEngine,
  type MarketSummary,
  type PlaceAsk,
  type PlaceBid,
  type RegisterNode,
  type SetMarketHalted,
  type SetNodeStatus,
  type UpdateNode,
} from './types.js';

export class Engine extends EngineMatcher implements MarketEngine {
  /** Where `readBid` reads a placeBid's fields, reused by every command (see BidFields). */
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
      this.events.push(touched[0]!.changed);
    } else if (touchedCount > 1) {
      // In key order: `rank` is a market's place among all keys sorted as strings.
      sortByRank(touched, touchedCount);
      for (let i = 0; i < touchedCount; i++) this.events.push(touched[i]!.changed);
    }
    const events = this.events;
    if (rejection) return { ok: false, code: rejection.code, message: rejection.message, events };
    return { ok: true, events };
  }

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

  /** Execute a valid command (or the placeBid of `fields`); its rejection, if any. */
  private run(cmd: Exclude<Command, PlaceBid> | null, fields: BidFields | null): Rejection | null {
    try {
      if (fields !== null) this.placeBid(fields);
      else this.execute(cmd!);
      return null;
    } catch (e) {
      if (!(e instanceof Rejected)) throw e;
      return e.rejection;
    }
  }

  private execute(cmd: Exclude<Command, PlaceBid>): void {
    switch (cmd.type) {
      case 'registerNode': return this.registerNode(cmd);
      case 'updateNode': return this.updateNode(cmd);
      case 'setNodeStatus': return this.setNodeStatus(cmd);
      case 'placeAsk': return this.placeAsk(cmd);
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

  // ---- nodes ---------------------------------------------------------------------------

  private registerNode(cmd: RegisterNode): void {
    if (this.nodes.has(cmd.nodeId)) fail('DUPLICATE_ID', `node ${cmd.nodeId} exists`);
    const market = this.marketOf(cmd.acceleratorId, cmd.regionId);
    this.nodes.set(newNode(cmd.nodeId, cmd.providerId, market, cmd.gpuCount));
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
    // The first node, and the others in an array built at its final size (a pushed-to array
    // keeps spare capacity for as long as the ask lives); none for a one-node ask.
    const first = this.ownNode(ids[0]!, cmd.providerId);
    let more: FNode[] | null = null;
    if (ids.length > 1) {
      more = new Array<FNode>(ids.length - 1);
      for (let i = 1; i < ids.length; i++) more[i - 1] = this.ownNode(ids[i]!, cmd.providerId);
    }
    const market = first.market;
    if (more !== null) for (const n of more) if (n.market !== market) fail('NODE_MARKET_MISMATCH', 'all nodes of an ask must be in one market');
    if (first.listedBy) fail('NODE_ALREADY_LISTED', `node ${first.id} is already in an active ask`);
    if (more !== null) for (const n of more) if (n.listedBy) fail('NODE_ALREADY_LISTED', `node ${n.id} is already in an active ask`);
    const unit = cmd.unit ?? 'gpu';
    const minHours = cmd.minHours ?? 1;
    const terms =
      unit === 'gpu' && minHours === 1 && cmd.maxHours === undefined && cmd.availableUntil === undefined
        ? DEFAULT_TERMS
        : { unit, minHours, maxHours: cmd.maxHours, availableUntil: cmd.availableUntil };
    const ask = newAsk(cmd.orderId, first, more, terms, cmd.priceFenPerGpuHour, cmd.expiresAt, ++this.seq);
    first.listedBy = ask;
    if (more !== null) for (const n of more) n.listedBy = ask;
    this.orders.set(ask);
    ask.stampA = ++this.stampSeq;
    market.all.insert(ask, ask.price, ask.seq, ask.stampA);
    this.pushDeadline(ask);
    const free = freeNow(ask, this.lastNow);
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
      seq: ++this.seq, active: true, reach: 0, markets, choice, resting: false, restLimit: 0, stampA: 0, stampB: 0,
    };
    this.events.push({ type: 'order_accepted', orderId: bid.id, side: 'bid' });
    this.matchBid(bid);
    if (bid.remaining === 0) {
      this.events.push({ type: 'order_filled', orderId: bid.id });
    } else if (bid.tif === 'IOC' || bid.tif === 'FOK') {
      this.deactivate(bid);
      this.events.push({ type: 'order_cancelled', orderId: bid.id, reason: bid.tif === 'IOC' ? 'ioc_remainder' : 'fok_unfilled' });
    } else {
      this.orders.set(bid);
      this.rest(bid);
      this.pushDeadline(bid);
      this.events.push({ type: 'order_rested', orderId: bid.id, side: 'bid', remaining: bid.remaining });
      this.touchOrder(bid);
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
      const bad = validateBidAmend(o.isCompute, o.gpusPerNode, cmd.remaining);
      if (bad) throw new Rejected(bad);
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
    const startMs = this.bookingTable.get(bookingRow(node, leaseNo), AT.start);
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

  // ---- queries -------------------------------------------------------------------------

  markets(): readonly string[] {
    return [...this.marketMap.keys()].sort();
  }

  depth(market: string): Depth {
    return depthOf(this.marketMap.get(market), market, this.lastNow);
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
    validateEngineState({
      lastNow: this.lastNow, marketMap: this.marketMap, marketGrid: this.marketGrid, nodes: this.nodes, orders: this.orders,
      leases: this.leases, bookingTable: this.bookingTable, bidBooks: this.bidBooks, computeBook: this.computeBook,
    });
    this.validateProfiles();
  }
}
