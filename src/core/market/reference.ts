/**
 * The reference engine: slow and obviously right. Every match scans every active ask, every
 * free-GPU check scans the node's leases, every retry re-tries every resting bid. The fast engine
 * (engine.ts) must produce byte-identical events for any command stream.
 */
import {
  allocateInAsk,
  type CatalogIndex,
  compareNormalised,
  compatibleAccelerators,
  deciTflopsOf,
  fail,
  gpusWanted,
  indexCatalog,
  limitPerGpuHour,
  type NodeFree,
  Rejected,
  type Rejection,
  scaledLimit,
  validateBidAmend,
  validateStatic,
  withinLimit,
} from './rules.js';
import {
  type AmendOrder,
  type AskUnit,
  type CancelOrder,
  type Command,
  type CommandResult,
  type Depth,
  type DepthLevel,
  type EndLease,
  type EngineCatalog,
  type EngineEvent,
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

interface RNode {
  readonly id: string;
  readonly providerId: string;
  readonly market: string;
  readonly acceleratorId: string;
  gpuCount: number;
  status: NodeStatus;
  readonly leases: RLease[];
}
interface RLease {
  readonly id: string;
  readonly nodeId: string;
  readonly market: string;
  readonly gpuIndices: readonly number[];
  readonly startMs: number;
  endMs: number;
}
interface RAsk {
  readonly side: 'ask';
  readonly id: string;
  readonly ownerId: string;
  readonly market: string;
  readonly acceleratorId: string;
  readonly nodeIds: readonly string[];
  price: number;
  readonly unit: AskUnit;
  readonly minHours: number;
  readonly maxHours: number | undefined;
  readonly availableUntil: number | undefined;
  expiresAt: number | undefined;
  seq: number;
  active: boolean;
}
interface RBid {
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
}
type ROrder = RAsk | RBid;

export class ReferenceEngine implements MarketEngine {
  private readonly catalog: CatalogIndex;
  private readonly nodes = new Map<string, RNode>();
  private readonly orders = new Map<string, ROrder>();
  private readonly leases = new Map<string, RLease>();
  private readonly lastTrade = new Map<string, number>();
  private lastNow = -1;
  private seq = 0;
  private tradeSeq = 0;
  private events: EngineEvent[] = [];
  private touched = new Set<string>();

  constructor(catalog: EngineCatalog) {
    this.catalog = indexCatalog(catalog);
  }

  apply(cmd: Command): CommandResult {
    if (typeof cmd.now !== 'number' || !Number.isSafeInteger(cmd.now) || cmd.now < 0) {
      return { ok: false, code: 'INVALID_COMMAND', message: 'now must be epoch milliseconds', events: [] };
    }
    if (cmd.now < this.lastNow) return { ok: false, code: 'CLOCK_BACKWARDS', message: 'time went backwards', events: [] };
    this.events = [];
    this.touched = new Set();
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
    for (const m of [...this.touched].sort()) this.events.push({ type: 'book_changed', market: m });
    this.forgetFinished();
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
      case 'setMarketHalted': return this.setMarketHalted(cmd);
    }
  }

  // ---- time ----------------------------------------------------------------------------

  private advanceTime(now: number): void {
    const prev = this.lastNow;
    this.lastNow = now;
    const expired = [...this.orders.values()].filter((o) => o.active && deadlineOf(o) <= now).sort((a, b) => a.seq - b.seq);
    for (const o of expired) {
      o.active = false;
      const reason = o.expiresAt !== undefined && o.expiresAt <= now ? 'expires_at' : o.side === 'ask' ? 'available_until' : 'start_passed';
      this.events.push({ type: 'order_expired', orderId: o.id, reason });
      this.touchOrder(o);
    }
    const gained = new Map<string, RAsk[]>();
    for (const l of this.leases.values()) {
      if (l.endMs === l.startMs) continue;
      const ask = this.listingOf(l.nodeId);
      if (!ask) continue;
      // A listed node's free GPUs change when a lease starts or ends: its book changes.
      if (l.startMs > prev && l.startMs <= now) this.touched.add(ask.market);
      if (l.endMs <= prev || l.endMs > now) continue;
      this.touched.add(ask.market);
      const list = gained.get(ask.market) ?? [];
      if (!list.includes(ask)) list.push(ask);
      gained.set(ask.market, list);
    }
    for (const m of [...gained.keys()].sort()) this.retry(m, gained.get(m)!);
  }

  /**
   * Live state only, like the fast engine: finished orders and ended leases are dropped (naming
   * one is ORDER_NOT_FOUND / LEASE_NOT_FOUND either way). Keeps every scan here small.
   */
  private forgetFinished(): void {
    for (const [id, o] of this.orders) if (!o.active) this.orders.delete(id);
    for (const [id, l] of this.leases) if (l.endMs <= this.lastNow || l.endMs === l.startMs) this.leases.delete(id);
    for (const n of this.nodes.values()) {
      const live = n.leases.filter((l) => l.endMs > this.lastNow && l.endMs > l.startMs);
      if (live.length !== n.leases.length) n.leases.splice(0, n.leases.length, ...live);
    }
  }

  // ---- markets -------------------------------------------------------------------------

  private readonly halted = new Set<string>();

  private setMarketHalted(cmd: SetMarketHalted): void {
    const was = this.halted.has(cmd.market);
    if (cmd.halted) this.halted.add(cmd.market);
    else this.halted.delete(cmd.market);
    this.events.push({ type: 'market_halted', market: cmd.market, halted: cmd.halted });
    if (!this.markets().includes(cmd.market)) return;
    this.touched.add(cmd.market);
    if (was && !cmd.halted) {
      const asks = [...this.orders.values()].filter((o): o is RAsk => o.active && o.side === 'ask' && o.market === cmd.market);
      if (asks.length > 0) this.retry(cmd.market, asks);
    }
  }

  // ---- nodes ---------------------------------------------------------------------------

  private registerNode(cmd: RegisterNode): void {
    if (this.nodes.has(cmd.nodeId)) fail('DUPLICATE_ID', `node ${cmd.nodeId} exists`);
    const market = marketKey(cmd.acceleratorId, cmd.regionId);
    const isNew = !this.markets().includes(market);
    this.nodes.set(cmd.nodeId, {
      id: cmd.nodeId, providerId: cmd.providerId, market, acceleratorId: cmd.acceleratorId, gpuCount: cmd.gpuCount, status: 'online', leases: [],
    });
    this.events.push({ type: 'node_registered', nodeId: cmd.nodeId, market, gpuCount: cmd.gpuCount });
    if (isNew) this.touched.add(market);
  }

  private ownNode(nodeId: string, providerId: string | null): RNode {
    const n = this.nodes.get(nodeId);
    if (!n || (providerId !== null && n.providerId !== providerId)) return fail('NODE_NOT_FOUND', `no node ${nodeId}`);
    return n;
  }

  private listingOf(nodeId: string): RAsk | undefined {
    for (const o of this.orders.values()) if (o.active && o.side === 'ask' && o.nodeIds.includes(nodeId)) return o;
    return undefined;
  }

  private updateNode(cmd: UpdateNode): void {
    const n = this.ownNode(cmd.nodeId, cmd.providerId);
    if (cmd.gpuCount < n.gpuCount) {
      for (const l of n.leases) {
        if (l.endMs > cmd.now && l.endMs > l.startMs && l.gpuIndices.some((i) => i >= cmd.gpuCount)) {
          fail('NODE_GPUS_BOOKED', 'GPUs beyond the new count are leased');
        }
      }
    }
    n.gpuCount = cmd.gpuCount;
    this.events.push({ type: 'node_updated', nodeId: n.id, gpuCount: n.gpuCount });
    const ask = this.listingOf(n.id);
    if (ask) {
      // Growing adds GPUs; shrinking can make a whole-node ask fit a bid that was too small for it.
      this.touched.add(n.market);
      this.retry(n.market, [ask]);
    }
  }

  private setNodeStatus(cmd: SetNodeStatus): void {
    const n = this.ownNode(cmd.nodeId, null);
    const cameOnline = n.status !== 'online' && cmd.status === 'online';
    n.status = cmd.status;
    this.events.push({ type: 'node_status_changed', nodeId: n.id, status: n.status });
    const ask = this.listingOf(n.id);
    if (ask) {
      this.touched.add(n.market);
      if (cameOnline) this.retry(n.market, [ask]);
    }
  }

  // ---- orders --------------------------------------------------------------------------

  private placeAsk(cmd: PlaceAsk): void {
    if (this.orders.get(cmd.orderId)?.active) fail('DUPLICATE_ID', `order ${cmd.orderId} is active`);
    const nodes = cmd.nodeIds.map((id) => this.ownNode(id, cmd.providerId));
    const market = nodes[0]!.market;
    if (nodes.some((n) => n.market !== market)) fail('NODE_MARKET_MISMATCH', 'all nodes of an ask must be in one market');
    for (const n of nodes) if (this.listingOf(n.id)) fail('NODE_ALREADY_LISTED', `node ${n.id} is already in an active ask`);
    const ask: RAsk = {
      side: 'ask', id: cmd.orderId, ownerId: cmd.providerId, market, acceleratorId: nodes[0]!.acceleratorId,
      nodeIds: [...cmd.nodeIds], price: cmd.priceFenPerGpuHour, unit: cmd.unit ?? 'gpu', minHours: cmd.minHours ?? 1,
      maxHours: cmd.maxHours, availableUntil: cmd.availableUntil, expiresAt: cmd.expiresAt, seq: ++this.seq, active: true,
    };
    this.orders.set(ask.id, ask);
    this.events.push({ type: 'order_accepted', orderId: ask.id, side: 'ask' });
    this.events.push({ type: 'order_rested', orderId: ask.id, side: 'ask', remaining: this.freeNowOfAsk(ask) });
    this.touched.add(market);
    this.retry(market, [ask]);
  }

  private placeBid(cmd: PlaceBid): void {
    if (this.orders.get(cmd.orderId)?.active) fail('DUPLICATE_ID', `order ${cmd.orderId} is active`);
    const isCompute = cmd.quantity.kind === 'compute';
    const bid: RBid = {
      side: 'bid', id: cmd.orderId, ownerId: cmd.buyerId,
      accelerators: new Set(compatibleAccelerators(cmd, this.catalog)),
      regions: cmd.regionIds ? new Set(cmd.regionIds) : null,
      isCompute,
      remaining: cmd.quantity.kind === 'compute' ? cmd.quantity.deciTflops : cmd.quantity.gpus,
      gpusPerNode: cmd.gpusPerNode, hours: cmd.hours, startAt: cmd.startAt, limit: cmd.limitFen,
      tif: cmd.timeInForce ?? 'GTC', expiresAt: cmd.expiresAt, allowPartial: cmd.allowPartial ?? false,
      seq: ++this.seq, active: true,
    };
    this.orders.set(bid.id, bid);
    this.events.push({ type: 'order_accepted', orderId: bid.id, side: 'bid' });
    this.matchBid(bid);
    if (bid.remaining === 0) {
      bid.active = false;
      this.events.push({ type: 'order_filled', orderId: bid.id });
    } else if (bid.tif === 'IOC' || bid.tif === 'FOK') {
      bid.active = false;
      this.events.push({ type: 'order_cancelled', orderId: bid.id, reason: bid.tif === 'IOC' ? 'ioc_remainder' : 'fok_unfilled' });
    } else {
      this.events.push({ type: 'order_rested', orderId: bid.id, side: 'bid', remaining: bid.remaining });
      this.touchOrder(bid);
    }
  }

  private ownOrder(orderId: string, ownerId: string): ROrder {
    const o = this.orders.get(orderId);
    if (!o || !o.active || o.ownerId !== ownerId) return fail('ORDER_NOT_FOUND', `no active order ${orderId}`);
    return o;
  }

  private cancel(cmd: CancelOrder): void {
    const o = this.ownOrder(cmd.orderId, cmd.ownerId);
    o.active = false;
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
      }
      if (cmd.expiresAt !== undefined) o.expiresAt = cmd.expiresAt ?? undefined;
      this.events.push({ type: 'order_amended', orderId: o.id, priceFen: o.price, remaining: null, expiresAt: o.expiresAt ?? null });
      this.touched.add(o.market);
      if (lowered) this.retry(o.market, [o]);
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
    }
    if (cmd.priceFen !== undefined) o.limit = cmd.priceFen;
    if (cmd.remaining !== undefined) o.remaining = cmd.remaining;
    if (cmd.expiresAt !== undefined) o.expiresAt = cmd.expiresAt ?? undefined;
    this.events.push({ type: 'order_amended', orderId: o.id, priceFen: o.limit, remaining: o.remaining, expiresAt: o.expiresAt ?? null });
    this.touchOrder(o);
    if (rematch) {
      this.matchBid(o);
      if (o.remaining === 0) {
        o.active = false;
        this.events.push({ type: 'order_filled', orderId: o.id });
      }
    }
  }

  private endLease(cmd: EndLease): void {
    const l = this.leases.get(cmd.leaseId);
    if (!l || l.endMs <= cmd.now || l.endMs === l.startMs) return fail('LEASE_NOT_FOUND', `no running or future lease ${cmd.leaseId}`);
    l.endMs = Math.max(l.startMs, cmd.now);
    this.events.push({ type: 'lease_ended', leaseId: l.id, atMs: l.endMs, reason: cmd.reason });
    const ask = this.listingOf(l.nodeId);
    if (ask) {
      this.touched.add(l.market);
      this.retry(l.market, [ask]);
    }
  }

  // ---- matching ------------------------------------------------------------------------

  private bidAccepts(bid: RBid, market: string): boolean {
    const [acc, region] = market.split('@') as [string, string];
    return bid.accelerators.has(acc) && (bid.regions === null || bid.regions.has(region));
  }

  private freeIndices(node: RNode, s: number, e: number): number[] {
    const busy = new Set<number>();
    for (const l of node.leases) {
      if (l.endMs > l.startMs && l.startMs < e && s < l.endMs) for (const i of l.gpuIndices) busy.add(i);
    }
    const out: number[] = [];
    for (let i = 0; i < node.gpuCount; i++) if (!busy.has(i)) out.push(i);
    return out;
  }

  private freeNowOfAsk(ask: RAsk): number {
    let n = 0;
    for (const id of ask.nodeIds) {
      const node = this.nodes.get(id)!;
      if (node.status === 'online') n += this.freeIndices(node, this.lastNow, this.lastNow + 1).length;
    }
    return n;
  }

  private matchBid(bid: RBid): void {
    const now = this.lastNow;
    const s = bid.startAt ?? now;
    const e = s + bid.hours * MS_PER_HOUR;
    const dtOf = (a: RAsk): number => deciTflopsOf(this.catalog.accelerators.get(a.acceleratorId)!);
    const candidates: RAsk[] = [];
    for (const o of this.orders.values()) {
      if (!o.active || o.side !== 'ask' || this.halted.has(o.market) || !this.bidAccepts(bid, o.market)) continue;
      if (!withinLimit(bid.isCompute, bid.limit, o.price, dtOf(o))) continue;
      if (bid.hours < o.minHours || (o.maxHours !== undefined && bid.hours > o.maxHours)) continue;
      if (o.availableUntil !== undefined && e > o.availableUntil) continue;
      candidates.push(o);
    }
    candidates.sort((a, b) => compareNormalised(bid.isCompute, a.price, dtOf(a), b.price, dtOf(b)) || a.seq - b.seq);
    let remaining = bid.remaining;
    const plan: { ask: RAsk; nodeId: string; gpuIndices: readonly number[] }[] = [];
    for (const ask of candidates) {
      if (remaining <= 0) break;
      const dt = dtOf(ask);
      const need = gpusWanted(bid.isCompute, remaining, dt, bid.gpusPerNode);
      const free: NodeFree[] = [];
      for (const id of ask.nodeIds) {
        const node = this.nodes.get(id)!;
        if (node.status === 'online') free.push({ nodeId: id, gpuCount: node.gpuCount, free: this.freeIndices(node, s, e) });
      }
      for (const a of allocateInAsk(free, ask.unit, need, bid.gpusPerNode)) {
        plan.push({ ask, nodeId: a.nodeId, gpuIndices: a.gpuIndices });
        remaining -= bid.isCompute ? a.gpuIndices.length * dt : a.gpuIndices.length;
      }
    }
    const allOrNone = !bid.allowPartial || bid.tif === 'FOK';
    if (plan.length === 0 || (allOrNone && remaining > 0)) return;
    for (const p of plan) {
      const n = ++this.tradeSeq;
      const tradeId = `t${n}`;
      const leaseId = `l${n}`;
      this.events.push({
        type: 'trade', tradeId, bidId: bid.id, askId: p.ask.id, buyerId: bid.ownerId, providerId: p.ask.ownerId,
        market: p.ask.market, gpus: p.gpuIndices.length, priceFenPerGpuHour: p.ask.price, startMs: s, endMs: e,
      });
      this.events.push({
        type: 'lease_created', leaseId, tradeId, nodeId: p.nodeId, gpuIndices: p.gpuIndices,
        priceFenPerGpuHour: p.ask.price, startMs: s, endMs: e,
      });
      const lease: RLease = { id: leaseId, nodeId: p.nodeId, market: p.ask.market, gpuIndices: p.gpuIndices, startMs: s, endMs: e };
      this.leases.set(leaseId, lease);
      this.nodes.get(p.nodeId)!.leases.push(lease);
      this.lastTrade.set(p.ask.market, p.ask.price);
      this.touched.add(p.ask.market);
    }
    bid.remaining = Math.max(0, remaining);
    this.touchOrder(bid);
  }

  /**
   * Capacity appeared on `asks` (all in `market`): retry, best limit first, every resting bid
   * that accepts the market and could use some of that capacity (price, hours, a free node).
   */
  private retry(market: string, asks: readonly RAsk[]): void {
    if (this.halted.has(market)) return; // a halted market's asks trade with nobody
    const dt = deciTflopsOf(this.catalog.accelerators.get(market.split('@')[0]!)!);
    const bids = [...this.orders.values()]
      .filter((o): o is RBid => o.active && o.side === 'bid' && this.bidAccepts(o, market))
      .sort((a, b) => scaledLimit(b.isCompute, b.limit, dt) - scaledLimit(a.isCompute, a.limit, dt) || a.seq - b.seq);
    for (const bid of bids) {
      if (!bid.active || !this.couldUse(bid, asks)) continue;
      this.matchBid(bid);
      if (bid.remaining === 0) {
        bid.active = false;
        this.events.push({ type: 'order_filled', orderId: bid.id });
      }
    }
  }

  private couldUse(bid: RBid, asks: readonly RAsk[]): boolean {
    const s = bid.startAt ?? this.lastNow;
    const e = s + bid.hours * MS_PER_HOUR;
    return asks.some((ask) => {
      const dt = deciTflopsOf(this.catalog.accelerators.get(ask.acceleratorId)!);
      if (!ask.active || !withinLimit(bid.isCompute, bid.limit, ask.price, dt)) return false;
      if (bid.hours < ask.minHours || (ask.maxHours !== undefined && bid.hours > ask.maxHours)) return false;
      if (ask.availableUntil !== undefined && e > ask.availableUntil) return false;
      return ask.nodeIds.some((id) => {
        const node = this.nodes.get(id)!;
        if (node.status !== 'online') return false;
        const free = this.freeIndices(node, s, e).length;
        return ask.unit === 'node' ? free === node.gpuCount : free >= (bid.gpusPerNode ?? 1);
      });
    });
  }

  private touchOrder(o: ROrder): void {
    if (o.side === 'ask') this.touched.add(o.market);
    else for (const m of this.markets()) if (this.bidAccepts(o, m)) this.touched.add(m);
  }

  // ---- queries -------------------------------------------------------------------------

  markets(): readonly string[] {
    return [...new Set([...this.nodes.values()].map((n) => n.market))].sort();
  }

  depth(market: string): Depth {
    const asks = new Map<number, number>();
    const bids = new Map<number, number>();
    const dt = this.catalog.accelerators.has(market.split('@')[0]!) ? deciTflopsOf(this.catalog.accelerators.get(market.split('@')[0]!)!) : 0;
    for (const o of this.orders.values()) {
      if (!o.active) continue;
      if (o.side === 'ask' && o.market === market) {
        const free = this.freeNowOfAsk(o);
        if (free > 0) asks.set(o.price, (asks.get(o.price) ?? 0) + free);
      } else if (o.side === 'bid' && dt > 0 && this.markets().includes(market) && this.bidAccepts(o, market)) {
        const p = limitPerGpuHour(o.isCompute, o.limit, dt);
        bids.set(p, (bids.get(p) ?? 0) + gpusWanted(o.isCompute, o.remaining, dt, o.gpusPerNode));
      }
    }
    const levels = (m: Map<number, number>, dir: number): DepthLevel[] =>
      [...m.entries()].sort((a, b) => dir * (a[0] - b[0])).map(([priceFenPerGpuHour, gpus]) => ({ priceFenPerGpuHour, gpus }));
    return { market, asks: levels(asks, 1), bids: levels(bids, -1) };
  }

  summary(market: string): MarketSummary {
    const d = this.depth(market);
    return {
      market,
      bestAskFen: d.asks[0]?.priceFenPerGpuHour ?? null,
      bestBidFen: d.bids[0]?.priceFenPerGpuHour ?? null,
      lastTradeFen: this.lastTrade.get(market) ?? null,
      freeGpus: d.asks.reduce((s, l) => s + l.gpus, 0),
    };
  }

  validateInternalState(): void {
    for (const n of this.nodes.values()) {
      const leases = n.leases.filter((l) => l.endMs > l.startMs && l.endMs > this.lastNow);
      for (let i = 0; i < leases.length; i++) {
        for (let j = i + 1; j < leases.length; j++) {
          const a = leases[i]!;
          const b = leases[j]!;
          if (a.startMs < b.endMs && b.startMs < a.endMs && a.gpuIndices.some((g) => b.gpuIndices.includes(g))) {
            throw new Error(`GPU double-booked on ${n.id}: ${a.id} and ${b.id}`);
          }
        }
      }
    }
  }
}

function deadlineOf(o: ROrder): number {
  const a = o.expiresAt ?? Infinity;
  const b = o.side === 'ask' ? (o.availableUntil ?? Infinity) : (o.startAt ?? Infinity);
  return Math.min(a, b);
}
