/**
 * Market engine types: commands in, results and events out.
 * Every command carries `now` (epoch ms); the engine has no clock of its own.
 * Prices are integer fen (safe integers). Compute amounts are integer deci-TFLOPS
 * (0.1 dense FP16 TFLOPS) so that sums are exact: 1 P = 1000 TFLOPS = 10_000 deci-TFLOPS.
 */

export const DECI_TFLOPS_PER_P = 10_000;
export const MS_PER_HOUR = 3_600_000;
/** Longest lease and furthest future start the engine accepts (limits on everything). */
export const MAX_LEASE_HOURS = 3 * 8_784;
export const MAX_START_AHEAD_MS = 366 * 24 * MS_PER_HOUR;
export const MAX_PRICE_FEN = 100_000_000; // 1,000,000 CNY per GPU-hour (or per P-hour)
export const MAX_NODE_GPUS = 100_000; // offline capacity can be large
export const MAX_BID_GPUS = 1_000_000;
export const MAX_BID_DECI_TFLOPS = 1_000_000 * 10_000; // 1,000,000 P
export const MAX_ASK_NODES = 1_000;
export const MAX_ID_LENGTH = 128;

export type NodeKind = 'agent' | 'manual' | 'offline';
export type NodeStatus = 'online' | 'offline' | 'draining';
export type TimeInForce = 'GTC' | 'GTD' | 'IOC' | 'FOK';
/** An ask sells single GPUs, or only whole nodes. */
export type AskUnit = 'gpu' | 'node';

export interface ComputeClass {
  readonly minFp16Tflops?: number;
  readonly minMemoryGiB?: number;
  readonly stacks?: readonly string[];
}

export type BidQuantity =
  | { readonly kind: 'gpus'; readonly gpus: number }
  /** Compute amount in deci-TFLOPS (2.5 P = 25_000). */
  | { readonly kind: 'compute'; readonly deciTflops: number };

export interface RegisterNode {
  readonly type: 'registerNode';
  readonly now: number;
  readonly nodeId: string;
  readonly providerId: string;
  readonly acceleratorId: string;
  readonly regionId: string;
  readonly gpuCount: number;
  readonly kind: NodeKind;
}
export interface UpdateNode {
  readonly type: 'updateNode';
  readonly now: number;
  readonly nodeId: string;
  readonly providerId: string;
  readonly gpuCount: number;
}
export interface SetNodeStatus {
  readonly type: 'setNodeStatus';
  readonly now: number;
  readonly nodeId: string;
  readonly status: NodeStatus;
}
export interface PlaceAsk {
  readonly type: 'placeAsk';
  readonly now: number;
  readonly orderId: string;
  readonly providerId: string;
  readonly nodeIds: readonly string[];
  readonly priceFenPerGpuHour: number;
  readonly unit?: AskUnit;
  readonly minHours?: number;
  readonly maxHours?: number;
  /** Leases must end by this time (epoch ms). */
  readonly availableUntil?: number;
  /** GTD: the ask stops matching at this time. */
  readonly expiresAt?: number;
}
export interface PlaceBid {
  readonly type: 'placeBid';
  readonly now: number;
  readonly orderId: string;
  readonly buyerId: string;
  /** Accelerator ids; with a compute class, both must hold. At least one of the two. */
  readonly acceleratorIds?: readonly string[];
  readonly computeClass?: ComputeClass;
  /** Region ids; absent = any region. */
  readonly regionIds?: readonly string[];
  readonly quantity: BidQuantity;
  readonly gpusPerNode?: number;
  readonly hours: number;
  /** Absent = start when matched. */
  readonly startAt?: number;
  /** Fen per GPU-hour for GPU-count bids, fen per P-hour for compute-amount bids. */
  readonly limitFen: number;
  readonly timeInForce?: TimeInForce;
  readonly expiresAt?: number;
  /** Default false: all-or-none. */
  readonly allowPartial?: boolean;
}
export interface CancelOrder {
  readonly type: 'cancel';
  readonly now: number;
  readonly orderId: string;
  readonly ownerId: string;
}
export interface AmendOrder {
  readonly type: 'amend';
  readonly now: number;
  readonly orderId: string;
  readonly ownerId: string;
  /** New price (ask) or limit (bid). */
  readonly priceFen?: number;
  /** Bids only: new remaining quantity, in the bid's own unit (GPUs or deci-TFLOPS). */
  readonly remaining?: number;
  /** New GTD expiry; null clears it. */
  readonly expiresAt?: number | null;
}
export interface EndLease {
  readonly type: 'endLease';
  readonly now: number;
  readonly leaseId: string;
  readonly reason: 'buyer' | 'job_exited' | 'provider' | 'node_lost' | 'admin';
}
export interface Expire {
  readonly type: 'expire';
  readonly now: number;
}
/** An operator halts or resumes a market: while halted its asks trade with nobody. */
export interface SetMarketHalted {
  readonly type: 'setMarketHalted';
  readonly now: number;
  /** `acceleratorId@regionId`; it need not have nodes yet. */
  readonly market: string;
  readonly halted: boolean;
}

export type Command =
  | RegisterNode
  | UpdateNode
  | SetNodeStatus
  | PlaceAsk
  | PlaceBid
  | CancelOrder
  | AmendOrder
  | EndLease
  | Expire
  | SetMarketHalted;

/**
 * Stable rejection codes. Never reuse or rename one.
 * The engine holds live state only: finished orders and ended leases are forgotten (the store
 * keeps history), so naming one gives ORDER_NOT_FOUND / LEASE_NOT_FOUND here; the exchange layer,
 * which has the history, answers ORDER_NOT_ACTIVE / LEASE_ALREADY_ENDED instead. Order ids must
 * be unique among active orders (DUPLICATE_ID); the exchange assigns ids that never repeat.
 */
export const RejectCodes = [
  'CLOCK_BACKWARDS',
  'INVALID_ID',
  'DUPLICATE_ID',
  'INVALID_GPU_COUNT',
  'INVALID_PRICE',
  'INVALID_QUANTITY',
  'INVALID_HOURS',
  'INVALID_GPUS_PER_NODE',
  'INVALID_TIME_IN_FORCE',
  'INVALID_STATUS',
  'INVALID_NODE_KIND',
  'START_IN_PAST',
  'START_TOO_FAR',
  'EXPIRY_IN_PAST',
  'EXPIRY_REQUIRED',
  'AVAILABLE_UNTIL_IN_PAST',
  'UNKNOWN_ACCELERATOR',
  'UNKNOWN_REGION',
  'NO_COMPATIBLE_MARKET',
  'NODE_NOT_FOUND',
  'NODE_ALREADY_LISTED',
  'NODE_MARKET_MISMATCH',
  'NODE_GPUS_BOOKED',
  'TOO_MANY_NODES',
  'ORDER_NOT_FOUND',
  'ORDER_NOT_ACTIVE',
  'NOTHING_TO_AMEND',
  'LEASE_NOT_FOUND',
  'LEASE_ALREADY_ENDED',
  'INVALID_COMMAND',
] as const;
export type RejectCode = (typeof RejectCodes)[number];

export type OrderSide = 'ask' | 'bid';

export type EngineEvent =
  | { readonly type: 'node_registered'; readonly nodeId: string; readonly market: string; readonly gpuCount: number }
  | { readonly type: 'node_updated'; readonly nodeId: string; readonly gpuCount: number }
  | { readonly type: 'node_status_changed'; readonly nodeId: string; readonly status: NodeStatus }
  | { readonly type: 'order_accepted'; readonly orderId: string; readonly side: OrderSide }
  | { readonly type: 'order_rested'; readonly orderId: string; readonly side: OrderSide; readonly remaining: number }
  | { readonly type: 'order_filled'; readonly orderId: string }
  | {
      readonly type: 'order_cancelled';
      readonly orderId: string;
      readonly reason: 'user' | 'ioc_remainder' | 'fok_unfilled';
    }
  | { readonly type: 'order_expired'; readonly orderId: string; readonly reason: 'expires_at' | 'available_until' | 'start_passed' }
  | {
      readonly type: 'order_amended';
      readonly orderId: string;
      readonly priceFen: number;
      readonly remaining: number | null;
      readonly expiresAt: number | null;
    }
  | {
      readonly type: 'trade';
      readonly tradeId: string;
      readonly bidId: string;
      readonly askId: string;
      readonly buyerId: string;
      readonly providerId: string;
      readonly market: string;
      readonly gpus: number;
      readonly priceFenPerGpuHour: number;
      readonly startMs: number;
      readonly endMs: number;
    }
  | {
      readonly type: 'lease_created';
      readonly leaseId: string;
      readonly tradeId: string;
      readonly nodeId: string;
      readonly gpuIndices: readonly number[];
      readonly priceFenPerGpuHour: number;
      readonly startMs: number;
      readonly endMs: number;
    }
  | { readonly type: 'lease_ended'; readonly leaseId: string; readonly atMs: number; readonly reason: EndLease['reason'] }
  | { readonly type: 'market_halted'; readonly market: string; readonly halted: boolean }
  | { readonly type: 'book_changed'; readonly market: string };

/**
 * Every command first lets time pass up to its `now` (orders expire, leases end, resting bids
 * retry on the capacity that returns), then runs. A rejected command changes nothing itself, but
 * its result still carries the events of that time passing: callers must apply and persist the
 * events of every result, accepted or not.
 */
export type CommandResult =
  | { readonly ok: true; readonly events: readonly EngineEvent[] }
  | { readonly ok: false; readonly code: RejectCode; readonly message: string; readonly events: readonly EngineEvent[] };

export interface DepthLevel {
  readonly priceFenPerGpuHour: number;
  readonly gpus: number;
}
export interface Depth {
  readonly market: string;
  /** Ascending price: free GPUs (free at `now`, online nodes, active asks). */
  readonly asks: readonly DepthLevel[];
  /** Descending price: GPUs wanted by resting bids, at their limit in this market's units. */
  readonly bids: readonly DepthLevel[];
}
export interface MarketSummary {
  readonly market: string;
  readonly bestAskFen: number | null;
  readonly bestBidFen: number | null;
  readonly lastTradeFen: number | null;
  readonly freeGpus: number;
}

/** What the engine needs to know about an accelerator (a subset of the catalog's record). */
export interface EngineAccelerator {
  readonly id: string;
  readonly fp16Tflops: number;
  readonly memoryGiB: number;
  readonly stack: string;
}
export interface EngineRegion {
  readonly id: string;
}
export interface EngineCatalog {
  readonly accelerators: readonly EngineAccelerator[];
  readonly regions: readonly EngineRegion[];
}

/** The interface both engines (fast and reference) implement; tests run against both. */
export interface MarketEngine {
  apply(command: Command): CommandResult;
  depth(market: string): Depth;
  summary(market: string): MarketSummary;
  markets(): readonly string[];
  /** Throws if internal indexes disagree with the ground truth (tests only). */
  validateInternalState(): void;
}

export function marketKey(acceleratorId: string, regionId: string): string {
  return `${acceleratorId}@${regionId}`;
}
