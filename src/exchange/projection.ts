/**
 * Projection: turns each command and its core result into the rows the store keeps for queries
 * (orders, trades, leases, nodes, transfers). It keeps just enough state to write whole rows
 * (upserts), and is rebuilt at start by replaying the journal through it, like the core.
 */
import { type CatalogIndex, compatibleAcceleratorList, deciTflopsOf, indexCatalog } from '../core/market/rules.js';
import { FirstSeen } from '../core/first-seen.js';
import type { EngineAccelerator, PlaceAsk, PlaceBid, RegisterNode } from '../core/market/types.js';
import type { LeaseRow, NodeRow, OrderRow, TradeRow, TransferRow } from '../store/port.js';
import type { CoreCommand, CoreResult } from './core.js';

export interface ProjectedRows {
  readonly orders: OrderRow[];
  readonly trades: TradeRow[];
  readonly leases: LeaseRow[];
  readonly nodes: NodeRow[];
  readonly transfers: TransferRow[];
}

export function emptyRows(): ProjectedRows {
  return { orders: [], trades: [], leases: [], nodes: [], transfers: [] };
}

/**
 * A node's descriptive spec (CPU, RAM, disk, PUE…) rides on its registerNode command as an extra
 * `spec` field: the engine ignores it, the journal keeps it, and replay rebuilds the same row.
 */
function nodeSpecJson(cmd: RegisterNode): string {
  const spec = 'spec' in cmd ? cmd.spec : undefined;
  return spec !== null && typeof spec === 'object' && !Array.isArray(spec) ? JSON.stringify(spec) : '{}';
}

/**
 * A bid's workload (agent protocol `Workload`) rides on its placeBid command as an extra
 * `workload` field, like a node's spec: the engine and the ledger ignore it, the journal keeps
 * it, and each lease the bid makes copies it.
 */
function bidWorkloadJson(cmd: PlaceBid): string | null {
  const w = 'workload' in cmd ? cmd.workload : undefined;
  return w !== null && typeof w === 'object' && !Array.isArray(w) ? JSON.stringify(w) : null;
}

/** Patches a known row (stamping `updatedAtMs`) and marks it to be written. */
function patch1<R extends { readonly updatedAtMs: number }>(rows: Map<string, R>, touched: FirstSeen<string>, id: string, patch: Partial<R>, now: number): void {
  const row = rows.get(id);
  if (!row) return;
  rows.set(id, { ...row, ...patch, updatedAtMs: now });
  touched.add(id);
}

/**
 * An active order's row as the projection keeps it: patched in place by the events of a command
 * (a trade and the fill that follows it change a bid twice) and written once, at the command's end.
 */
type LiveOrder = { -readonly [K in keyof OrderRow]: OrderRow[K] };

/** A copy of an order's row, spelled out: V8 builds `{ ...row }` several times slower. */
function copyOrder(o: OrderRow): OrderRow {
  return {
    id: o.id, userId: o.userId, side: o.side, markets: o.markets, specJson: o.specJson, status: o.status, remaining: o.remaining, priceFen: o.priceFen,
    createdAtMs: o.createdAtMs, updatedAtMs: o.updatedAtMs,
  };
}

const ANY_REGION: readonly string[] = ['*'];

export class Projection {
  private readonly orders = new Map<string, LiveOrder>();
  /** Workloads of active bids that carry one. */
  private readonly workloads = new Map<string, string>();
  /** Active bids for an amount of compute (their remaining is in deci-TFLOPS, not GPUs). */
  private readonly computeBids = new Set<string>();
  private readonly leases = new Map<string, LeaseRow>();
  private readonly nodes = new Map<string, NodeRow>();
  private readonly catalog: CatalogIndex;

  constructor(accelerators: readonly EngineAccelerator[]) {
    this.catalog = indexCatalog({ accelerators, regions: [] });
  }

  // Reused by every `project` call (it runs once per command on the hot path).
  private readonly touchedOrders = new FirstSeen<string>();
  private readonly touchedLeases = new FirstSeen<string>();
  private readonly touchedNodes = new FirstSeen<string>();

  /**
   * Rows to write for one applied command (`seq` = its journal sequence number). `commandJson`,
   * when the caller has it, is `JSON.stringify(cmd)` (an order's spec), so it is not built twice.
   */
  project(cmd: CoreCommand, result: CoreResult, seq: number, out: ProjectedRows, commandJson?: string): void {
    const now = cmd.now;
    const touchedOrders = this.touchedOrders;
    const touchedLeases = this.touchedLeases;
    const touchedNodes = this.touchedNodes;
    touchedOrders.clear();
    touchedLeases.clear();
    touchedNodes.clear();
    let lastTrade: TradeRow | null = null;
    const events = result.events;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      switch (e.type) {
        case 'node_registered': {
          if (cmd.type !== 'registerNode') break;
          this.nodes.set(e.nodeId, {
            id: e.nodeId, providerId: cmd.providerId, acceleratorId: cmd.acceleratorId, regionId: cmd.regionId, gpuCount: cmd.gpuCount,
            kind: cmd.kind, status: 'online', specJson: nodeSpecJson(cmd), createdAtMs: now, updatedAtMs: now,
          });
          touchedNodes.add(e.nodeId);
          break;
        }
        case 'node_updated':
          patch1(this.nodes, touchedNodes, e.nodeId, { gpuCount: e.gpuCount }, now);
          break;
        case 'node_status_changed':
          patch1(this.nodes, touchedNodes, e.nodeId, { status: e.status }, now);
          break;
        case 'order_accepted': {
          const placed = cmd.type === 'placeAsk' || cmd.type === 'placeBid' ? cmd : null;
          if (!placed || placed.orderId !== e.orderId) break;
          this.orders.set(e.orderId, this.newOrder(placed, now, commandJson));
          touchedOrders.add(e.orderId);
          break;
        }
        case 'order_rested':
          this.setOrder(e.orderId, undefined, e.remaining, undefined, now);
          break;
        case 'order_amended':
          this.setOrder(e.orderId, undefined, e.remaining === null ? undefined : e.remaining, e.priceFen, now);
          break;
        case 'order_filled':
          this.setOrder(e.orderId, 'filled', 0, undefined, now);
          break;
        case 'order_cancelled':
          this.setOrder(e.orderId, 'cancelled', undefined, undefined, now);
          break;
        case 'order_expired':
          this.setOrder(e.orderId, 'expired', undefined, undefined, now);
          break;
        case 'trade': {
          lastTrade = {
            id: e.tradeId, bidId: e.bidId, askId: e.askId, buyerId: e.buyerId, providerId: e.providerId, market: e.market, gpus: e.gpus,
            priceFenPerGpuHour: e.priceFenPerGpuHour, startMs: e.startMs, endMs: e.endMs, atMs: now, seq,
          };
          out.trades.push(lastTrade);
          const bid = this.orders.get(e.bidId);
          if (bid) {
            const acc = this.computeBids.has(e.bidId) ? this.catalog.accelerators.get(e.market.split('@')[0]!) : undefined;
            const unit = acc ? deciTflopsOf(acc) : 1;
            this.patchOrder(bid, e.bidId, undefined, Math.max(0, bid.remaining - e.gpus * unit), undefined, now);
          }
          break;
        }
        case 'lease_created': {
          const t = lastTrade!;
          const workloadJson = this.workloads.get(t.bidId) ?? null;
          this.leases.set(e.leaseId, {
            id: e.leaseId, tradeId: e.tradeId, nodeId: e.nodeId, buyerId: t.buyerId, providerId: t.providerId, market: t.market,
            gpuIndices: e.gpuIndices, priceFenPerGpuHour: e.priceFenPerGpuHour, startMs: e.startMs, endMs: e.endMs,
            state: e.startMs <= now ? this.startedState(e.nodeId, workloadJson) : 'pending', endedAtMs: null, endReason: null, createdAtMs: now, updatedAtMs: now,
            workloadJson, accessJson: null,
          });
          touchedLeases.add(e.leaseId);
          break;
        }
        case 'lease_ended':
          patch1(this.leases, touchedLeases, e.leaseId, { state: 'ended', endedAtMs: e.atMs, endReason: e.reason }, now);
          break;
        case 'lease_billed':
          if (e.state === 'ended') {
            const l = this.leases.get(e.leaseId);
            patch1(this.leases, touchedLeases, e.leaseId, { state: 'ended', endedAtMs: l?.endedAtMs ?? e.billedUntilMs, endReason: l?.endReason ?? e.endReason }, now);
          }
          break;
        case 'lease_unfunded':
          patch1(this.leases, touchedLeases, e.leaseId, { state: 'failed', endedAtMs: now, endReason: `unfunded: ${e.code}` }, now);
          break;
        case 'lease_ready':
          patch1(this.leases, touchedLeases, e.leaseId, { state: 'active', accessJson: JSON.stringify(e.access ?? null) }, now);
          break;
        case 'lease_failed':
          patch1(this.leases, touchedLeases, e.leaseId, { state: 'failed', endReason: 'provision_failed' }, now);
          break;
        default:
          break;
      }
    }
    // Future leases become active when a tick passes their start.
    if (cmd.type === 'tick') {
      for (const [id, l] of this.leases) if (l.state === 'pending' && l.startMs <= now) patch1(this.leases, touchedLeases, id, { state: this.startedState(l.nodeId, l.workloadJson ?? null) }, now);
    }
    for (const id of touchedOrders.items) {
      const o = this.orders.get(id)!;
      if (o.status === 'active') {
        // Later commands patch this one in place, maybe before the batch carrying its row is
        // committed: write a copy.
        out.orders.push(copyOrder(o));
        continue;
      }
      // Closed and forgotten here, so nothing changes it again: the row itself is written.
      out.orders.push(o);
      this.orders.delete(id);
      this.workloads.delete(id);
      this.computeBids.delete(id);
    }
    for (const id of touchedLeases.items) {
      const l = this.leases.get(id)!;
      out.leases.push(l);
      if (l.state === 'ended' || l.state === 'failed' || l.state === 'cancelled') this.leases.delete(id);
    }
    for (const id of touchedNodes.items) out.nodes.push(this.nodes.get(id)!);
    for (const t of result.transfers) {
      out.transfers.push({
        id: t.id, debitAccountId: t.debitAccountId, creditAccountId: t.creditAccountId, amountFen: t.amountFen, code: t.code, flags: t.flags,
        pendingId: t.pendingId === '' ? null : t.pendingId, userData: t.userData, atMs: t.timestampMs, seq: t.seq,
      });
    }
  }

  /** Patches a known order (undefined: field unchanged), stamping `updatedAtMs`, and marks it to be written. */
  private setOrder(id: string, status: OrderRow['status'] | undefined, remaining: number | undefined, priceFen: number | undefined, now: number): void {
    const o = this.orders.get(id);
    if (o) this.patchOrder(o, id, status, remaining, priceFen, now);
  }

  private patchOrder(o: LiveOrder, id: string, status: OrderRow['status'] | undefined, remaining: number | undefined, priceFen: number | undefined, now: number): void {
    if (status !== undefined) o.status = status;
    if (remaining !== undefined) o.remaining = remaining;
    if (priceFen !== undefined) o.priceFen = priceFen;
    o.updatedAtMs = now;
    this.touchedOrders.add(id);
  }

  /**
   * A started lease on an agent node with a workload is `provisioning` until its agent reports
   * it ready (a `leaseReady` command); anything else is delivered as soon as it starts.
   */
  private startedState(nodeId: string, workloadJson: string | null): 'active' | 'provisioning' {
    return workloadJson !== null && this.nodes.get(nodeId)?.kind === 'agent' ? 'provisioning' : 'active';
  }

  private newOrder(cmd: PlaceAsk | PlaceBid, now: number, commandJson: string | undefined): LiveOrder {
    const specJson = commandJson ?? JSON.stringify(cmd);
    if (cmd.type === 'placeAsk') {
      const node = this.nodes.get(cmd.nodeIds[0] ?? '');
      return {
        id: cmd.orderId, userId: cmd.providerId, side: 'ask', markets: node ? [`${node.acceleratorId}@${node.regionId}`] : [], specJson, status: 'active', remaining: 0,
        priceFen: cmd.priceFenPerGpuHour, createdAtMs: now, updatedAtMs: now,
      };
    }
    const workloadJson = bidWorkloadJson(cmd);
    if (workloadJson !== null) this.workloads.set(cmd.orderId, workloadJson);
    if (cmd.quantity.kind === 'compute') this.computeBids.add(cmd.orderId);
    // A bid's markets: each accepted accelerator in each named region, or `acc@*` for any region.
    const regions = cmd.regionIds ?? ANY_REGION;
    const accs = compatibleAcceleratorList(cmd, this.catalog);
    // Sized up front: an array grown by push gets room for 16 (most bids have one market).
    const markets = new Array<string>(accs.length * regions.length);
    let m = 0;
    for (const a of accs) for (const r of regions) markets[m++] = `${a}@${r}`;
    return {
      id: cmd.orderId, userId: cmd.buyerId, side: 'bid', markets, specJson, status: 'active',
      remaining: cmd.quantity.kind === 'compute' ? cmd.quantity.deciTflops : cmd.quantity.gpus, priceFen: cmd.limitFen, createdAtMs: now, updatedAtMs: now,
    };
  }
}
