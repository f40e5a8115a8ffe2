/**
 * The shapes resources leave in, shared by several routes: users, nodes, orders, trades,
 * leases. Times become ISO strings, ledger amounts decimal strings; internal fields
 * (password hashes, other users' ids) never leave.
 */
import { z } from '@hono/zod-openapi';
import type { ExchangeCore } from '../exchange/core.js';
import { accruedChargeFen } from '../core/lease/lease.js';
import type { PlaceAsk, PlaceBid } from '../core/market/types.js';
import type { AttestationVerdict, LeaseRow, NodeAttestationRow, NodeRow, OrderRow, TradeRow, UserRow } from '../store/port.js';
import type { NodeView } from '../exchange/agent-hub.js';
import { FenSchema, iso, isoOrNull, pOfDeciTflops } from './schemas.js';

export const UserSchema = z
  .object({
    id: z.string(), email: z.string(), role: z.enum(['buyer', 'provider', 'admin']), displayName: z.string(), createdAt: z.string(),
    disabledAt: z.string().nullable().openapi({ description: 'set: the account cannot log in or use its keys' }),
  })
  .openapi('User');
export type UserJson = z.infer<typeof UserSchema>;

export const presentUser = (u: UserRow): UserJson => ({
  id: u.id, email: u.email, role: u.role, displayName: u.displayName, createdAt: iso(u.createdAtMs), disabledAt: u.disabledAtMs === null ? null : iso(u.disabledAtMs),
});

export const NodeSchema = z
  .object({
    id: z.string(),
    providerId: z.string(),
    acceleratorId: z.string(),
    regionId: z.string(),
    market: z.string(),
    gpuCount: z.int(),
    kind: z.string(),
    status: z.string(),
    spec: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
    updatedAt: z.string(),
    attestation: z.enum(['verified', 'unverified', 'mismatch']).nullable().openapi({ description: 'agent nodes: what enrollment found; mismatch = not traded' }),
    attestationReasons: z.array(z.string()),
    unverified: z.boolean().openapi({ description: 'agent nodes not attested real: fake GPUs (--fake-gpus, traded but flagged) or a mismatch (not traded)' }),
    online: z.boolean().nullable().openapi({ description: 'agent nodes: connected and online now' }),
    lastHeartbeatAt: z.string().nullable(),
    gpus: z
      .array(z.object({ index: z.int(), healthy: z.boolean(), utilizationPct: z.number().nullable(), memoryUsedMiB: z.number().nullable(), temperatureC: z.number().nullable() }))
      .nullable()
      .openapi({ description: 'agent nodes: per-GPU health from the last heartbeat (kept in memory, not stored)' }),
  })
  .openapi('Node');
export type NodeJson = z.infer<typeof NodeSchema>;

export function presentNode(n: NodeRow, attestation?: NodeAttestationRow, live?: NodeView): NodeJson {
  let spec: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(n.specJson);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) spec = parsed as Record<string, unknown>;
  } catch {
    // an unreadable spec shows as empty rather than failing the listing
  }
  return {
    id: n.id, providerId: n.providerId, acceleratorId: n.acceleratorId, regionId: n.regionId, market: `${n.acceleratorId}@${n.regionId}`,
    gpuCount: n.gpuCount, kind: n.kind, status: n.status, spec, createdAt: iso(n.createdAtMs), updatedAt: iso(n.updatedAtMs),
    attestation: attestation?.verdict ?? (n.kind === 'agent' ? 'unverified' : null), attestationReasons: [...(attestation?.reasons ?? [])],
    unverified: n.kind === 'agent' && attestation?.verdict !== 'verified',
    online: n.kind === 'agent' ? (live?.online ?? false) : null, lastHeartbeatAt: isoOrNull(live?.lastHeartbeatAtMs ?? null),
    gpus: n.kind === 'agent' ? (live?.gpus ?? []).map((g) => ({ ...g })) : null,
  };
}

const AskTermsSchema = z.object({
  nodeIds: z.array(z.string()),
  unit: z.enum(['gpu', 'node']),
  minHours: z.int().nullable(),
  maxHours: z.int().nullable(),
  availableUntil: z.string().nullable(),
  expiresAt: z.string().nullable(),
});
const BidTermsSchema = z.object({
  acceleratorIds: z.array(z.string()).nullable(),
  computeClass: z.object({ minFp16Tflops: z.number().optional(), minMemoryGiB: z.number().optional(), stacks: z.array(z.string()).optional() }).nullable(),
  regionIds: z.array(z.string()).nullable(),
  gpus: z.int().nullable(),
  computeP: z.string().nullable(),
  gpusPerNode: z.int().nullable(),
  hours: z.int(),
  startAt: z.string().nullable(),
  timeInForce: z.enum(['GTC', 'GTD', 'IOC', 'FOK']),
  expiresAt: z.string().nullable(),
  allowPartial: z.boolean(),
});

export const OrderSchema = z
  .object({
    id: z.string(),
    side: z.enum(['ask', 'bid']),
    status: z.enum(['active', 'filled', 'cancelled', 'expired', 'rejected']),
    markets: z.array(z.string()),
    priceFen: z.int().openapi({ description: 'ask price or bid limit, per GPU-hour (per P-hour for compute-amount bids)' }),
    priceUnit: z.enum(['fen_per_gpu_hour', 'fen_per_p_hour']),
    remaining: z.int().openapi({ description: 'GPUs, or deci-TFLOPS for compute-amount bids (asks: 0, their size is their free GPUs)' }),
    remainingUnit: z.enum(['gpus', 'deci_tflops']),
    holdFen: FenSchema.nullable().openapi({ description: 'money held for an active bid' }),
    createdAt: z.string(),
    updatedAt: z.string(),
    ask: AskTermsSchema.nullable(),
    bid: BidTermsSchema.nullable(),
  })
  .openapi('Order');
export type OrderJson = z.infer<typeof OrderSchema>;

function askTerms(a: PlaceAsk): z.infer<typeof AskTermsSchema> {
  return {
    nodeIds: [...a.nodeIds], unit: a.unit ?? 'gpu', minHours: a.minHours ?? null, maxHours: a.maxHours ?? null,
    availableUntil: isoOrNull(a.availableUntil), expiresAt: isoOrNull(a.expiresAt),
  };
}

function bidTerms(b: PlaceBid): z.infer<typeof BidTermsSchema> {
  return {
    acceleratorIds: b.acceleratorIds ? [...b.acceleratorIds] : null,
    computeClass: b.computeClass
      ? {
          ...(b.computeClass.minFp16Tflops === undefined ? {} : { minFp16Tflops: b.computeClass.minFp16Tflops }),
          ...(b.computeClass.minMemoryGiB === undefined ? {} : { minMemoryGiB: b.computeClass.minMemoryGiB }),
          ...(b.computeClass.stacks === undefined ? {} : { stacks: [...b.computeClass.stacks] }),
        }
      : null,
    regionIds: b.regionIds ? [...b.regionIds] : null,
    gpus: b.quantity.kind === 'gpus' ? b.quantity.gpus : null,
    computeP: b.quantity.kind === 'compute' ? pOfDeciTflops(b.quantity.deciTflops) : null,
    gpusPerNode: b.gpusPerNode ?? null,
    hours: b.hours,
    startAt: isoOrNull(b.startAt),
    timeInForce: b.timeInForce ?? 'GTC',
    expiresAt: isoOrNull(b.expiresAt),
    allowPartial: b.allowPartial ?? false,
  };
}

export function presentOrder(o: OrderRow, core: ExchangeCore): OrderJson {
  const spec = JSON.parse(o.specJson) as PlaceAsk | PlaceBid;
  const compute = spec.type === 'placeBid' && spec.quantity.kind === 'compute';
  const hold = o.side === 'bid' && o.status === 'active' ? core.bidHoldFen(o.id) : undefined;
  return {
    id: o.id, side: o.side, status: o.status, markets: [...o.markets], priceFen: o.priceFen,
    priceUnit: compute ? 'fen_per_p_hour' : 'fen_per_gpu_hour', remaining: o.remaining, remainingUnit: compute ? 'deci_tflops' : 'gpus',
    holdFen: hold === undefined ? null : hold.toString(), createdAt: iso(o.createdAtMs), updatedAt: iso(o.updatedAtMs),
    ask: spec.type === 'placeAsk' ? askTerms(spec) : null,
    bid: spec.type === 'placeBid' ? bidTerms(spec) : null,
  };
}

/** A trade as the market sees it: no parties. */
export const MarketTradeSchema = z
  .object({ id: z.string(), market: z.string(), gpus: z.int(), priceFenPerGpuHour: z.int(), hours: z.number(), startAt: z.string(), endAt: z.string(), at: z.string() })
  .openapi('MarketTrade');

/** A trade as one of its parties sees it. */
export const TradeSchema = MarketTradeSchema.extend({ side: z.enum(['buy', 'sell']), bidId: z.string(), askId: z.string() }).openapi('Trade');

export function presentMarketTrade(t: TradeRow): z.infer<typeof MarketTradeSchema> {
  return {
    id: t.id, market: t.market, gpus: t.gpus, priceFenPerGpuHour: t.priceFenPerGpuHour, hours: (t.endMs - t.startMs) / 3_600_000,
    startAt: iso(t.startMs), endAt: iso(t.endMs), at: iso(t.atMs),
  };
}

export function presentTrade(t: TradeRow, userId: string): z.infer<typeof TradeSchema> {
  return { ...presentMarketTrade(t), side: t.buyerId === userId ? 'buy' : 'sell', bidId: t.bidId, askId: t.askId };
}

export const LeaseSchema = z
  .object({
    id: z.string(),
    tradeId: z.string(),
    nodeId: z.string(),
    market: z.string(),
    role: z.enum(['buyer', 'provider']),
    gpuIndices: z.array(z.int()),
    priceFenPerGpuHour: z.int(),
    startAt: z.string(),
    endAt: z.string(),
    state: z.enum(['pending', 'provisioning', 'active', 'ended', 'failed', 'cancelled']),
    endedAt: z.string().nullable(),
    endReason: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    billing: z
      .object({
        billedUntil: z.string(),
        chargedFen: FenSchema.openapi({ description: 'settled: moved from escrow to the provider, up to billedUntil (once a minute by default, and at the end)' }),
        accruedFen: FenSchema.openapi({ description: 'what it has cost up to now (its end at most), settled or not' }),
      })
      .nullable()
      .openapi({ description: 'while it is being billed' }),
    workload: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: 'what runs on it (agent protocol Workload); its provider sees env names only (`envNames`), never values' }),
    access: z.record(z.string(), z.unknown()).nullable().openapi({ description: 'buyer only, once the agent reported it ready: {kind:"ssh",host,port,user} or {kind:"process",pid}' }),
    attestation: z.enum(['verified', 'unverified', 'mismatch']).nullable().openapi({ description: 'the node’s, for agent nodes; unverified = fake GPUs' }),
  })
  .openapi('Lease');
export type LeaseJson = z.infer<typeof LeaseSchema>;

function parsedObject(json: string | null | undefined): Record<string, unknown> | null {
  if (json === null || json === undefined) return null;
  try {
    const v: unknown = JSON.parse(json);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The workload as `viewer` may see it: the buyer in full; anyone else without env values or keys. */
function workloadFor(json: string | null | undefined, isBuyer: boolean): Record<string, unknown> | null {
  const w = parsedObject(json);
  if (!w || isBuyer) return w;
  const { env, sshPublicKey: _key, ...rest } = w;
  return { ...rest, envNames: env !== null && typeof env === 'object' ? Object.keys(env).sort() : [] };
}

/** A lease as `userId` (its buyer or its provider) sees it at `nowMs` (the loop's clock). */
export function presentLease(l: LeaseRow, userId: string, core: ExchangeCore, nowMs: number, attestation: AttestationVerdict | null = null): LeaseJson {
  const b = core.leaseBilling(l.id);
  const isBuyer = l.buyerId === userId;
  return {
    id: l.id, tradeId: l.tradeId, nodeId: l.nodeId, market: l.market, role: l.buyerId === userId ? 'buyer' : 'provider', gpuIndices: [...l.gpuIndices],
    priceFenPerGpuHour: l.priceFenPerGpuHour, startAt: iso(l.startMs), endAt: iso(l.endMs), state: l.state, endedAt: isoOrNull(l.endedAtMs),
    endReason: l.endReason, createdAt: iso(l.createdAtMs), updatedAt: iso(l.updatedAtMs),
    billing: b
      ? { billedUntil: iso(b.billedUntilMs), chargedFen: (b.settled.cashChargeFen + b.settled.voucherChargeFen).toString(), accruedFen: accruedChargeFen(b, nowMs).toString() }
      : null,
    workload: workloadFor(l.workloadJson, isBuyer),
    access: isBuyer ? parsedObject(l.accessJson) : null,
    attestation,
  };
}
