/**
 * The answer to placing an order, built from the command and its result (inside the loop's
 * batch, so an idempotent replay returns exactly this): the order as the store now holds it,
 * the trades it made and the leases they opened.
 */
import { z } from '@hono/zod-openapi';
import { deciTflopsOf } from '../core/market/rules.js';
import type { PlaceAsk, PlaceBid } from '../core/market/types.js';
import type { LeaseRow, OrderRow, OrderStatus, TradeRow } from '../store/port.js';
import type { Runtime } from './context.js';
import type { OkResult } from './execute.js';
import { LeaseSchema, OrderSchema, presentLease, presentOrder, presentTrade, TradeSchema } from './present.js';
import { FenSchema } from './schemas.js';

export const PlacementSchema = z
  .object({
    order: OrderSchema,
    holdFen: FenSchema.nullable().openapi({ description: 'held for the rest of an active bid' }),
    trades: z.array(TradeSchema),
    leases: z.array(LeaseSchema),
  })
  .openapi('Placement');
export type PlacementJson = z.infer<typeof PlacementSchema>;

export function placementResponse(rt: Runtime, cmd: PlaceAsk | PlaceBid, markets: readonly string[], result: OkResult): PlacementJson {
  const nowMs = rt.ctx.loop.now(); // the time the loop stamped on this command (its clock only moves forward)
  const { core } = rt.ctx;
  const isBid = cmd.type === 'placeBid';
  const userId = isBid ? cmd.buyerId : cmd.providerId;
  // As the projection decides: a workload on an agent node is provisioning until its agent says ready.
  const workload = isBid && 'workload' in cmd ? cmd.workload : undefined;
  const workloadJson = workload === undefined ? null : JSON.stringify(workload);
  const startedState = (nodeId: string): 'active' | 'provisioning' => (workloadJson !== null && rt.ctx.agents?.view(nodeId) ? 'provisioning' : 'active');
  let status: OrderStatus = 'active';
  let remaining = isBid ? (cmd.quantity.kind === 'gpus' ? cmd.quantity.gpus : cmd.quantity.deciTflops) : 0;
  const trades: TradeRow[] = [];
  const leases = new Map<string, LeaseRow>();
  let lastTrade: TradeRow | null = null;
  for (const e of result.events) {
    if (e.type === 'trade') {
      lastTrade = null;
      if ((isBid ? e.bidId : e.askId) !== cmd.orderId) continue;
      lastTrade = { ...e, id: e.tradeId, atMs: nowMs, seq: 0 };
      trades.push(lastTrade);
      if (isBid) {
        const acc = cmd.quantity.kind === 'compute' ? rt.catalog.accelerators.get(e.market.split('@')[0]!) : undefined;
        remaining = Math.max(0, remaining - e.gpus * (acc ? deciTflopsOf(acc) : 1));
      }
    } else if (e.type === 'lease_created' && lastTrade) {
      const t: TradeRow = lastTrade;
      leases.set(e.leaseId, {
        id: e.leaseId, tradeId: e.tradeId, nodeId: e.nodeId, buyerId: t.buyerId, providerId: t.providerId, market: t.market, gpuIndices: e.gpuIndices,
        priceFenPerGpuHour: e.priceFenPerGpuHour, startMs: e.startMs, endMs: e.endMs, state: e.startMs <= nowMs ? startedState(e.nodeId) : 'pending',
        endedAtMs: null, endReason: null, createdAtMs: nowMs, updatedAtMs: nowMs, workloadJson, accessJson: null,
      });
    } else if (e.type === 'lease_unfunded') {
      const l = leases.get(e.leaseId);
      if (l) leases.set(e.leaseId, { ...l, state: 'failed', endedAtMs: nowMs, endReason: `unfunded: ${e.code}` });
    } else if ('orderId' in e && e.orderId === cmd.orderId) {
      if (e.type === 'order_rested') remaining = e.remaining;
      else if (e.type === 'order_filled') [status, remaining] = ['filled', 0];
      else if (e.type === 'order_cancelled') status = 'cancelled';
      else if (e.type === 'order_expired') status = 'expired';
    }
  }
  const row: OrderRow = {
    id: cmd.orderId, userId, side: isBid ? 'bid' : 'ask', markets, specJson: JSON.stringify(cmd), status, remaining,
    priceFen: isBid ? cmd.limitFen : cmd.priceFenPerGpuHour, createdAtMs: nowMs, updatedAtMs: nowMs,
  };
  const order = presentOrder(row, core);
  return {
    order,
    holdFen: order.holdFen,
    trades: trades.map((t) => presentTrade(t, userId)),
    leases: [...leases.values()].map((l) => presentLease(l, userId, core, nowMs)),
  };
}
