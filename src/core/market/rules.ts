/**
 * Rules shared by the fast engine and the reference engine: stateless validation, the price
 * rules and the allocation rule inside one ask. What differs between the two engines is how they
 * find candidates and free GPUs (indexes versus full scans); that is what the comparison tests.
 */
import {
  type AmendOrder,
  type BidQuantity,
  type Command,
  type ComputeClass,
  DECI_TFLOPS_PER_P,
  type EngineAccelerator,
  type EngineCatalog,
  MAX_ASK_NODES,
  MAX_BID_DECI_TFLOPS,
  MAX_BID_GPUS,
  MAX_ID_LENGTH,
  MAX_LEASE_HOURS,
  MAX_NODE_GPUS,
  MAX_PRICE_FEN,
  MAX_START_AHEAD_MS,
  type PlaceBid,
  type RejectCode,
} from './types.js';

export interface Rejection {
  readonly code: RejectCode;
  readonly message: string;
}

const reject = (code: RejectCode, message: string): Rejection => ({ code, message });

export function deciTflopsOf(acc: EngineAccelerator): number {
  return Math.round(acc.fp16Tflops * 10);
}

const isPosInt = (n: unknown, max: number): n is number =>
  typeof n === 'number' && Number.isSafeInteger(n) && n > 0 && n <= max;
const isTime = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const isId = (s: unknown): s is string => typeof s === 'string' && s.length > 0 && s.length <= MAX_ID_LENGTH;

/** Field checks that need no state. Both engines run this first, so codes agree. */
export function validateStatic(cmd: Command, catalog: CatalogIndex): Rejection | null {
  const now = cmd.now;
  switch (cmd.type) {
    case 'registerNode':
      if (!isId(cmd.nodeId) || !isId(cmd.providerId)) return reject('INVALID_ID', 'nodeId and providerId must be 1-128 characters');
      if (!isPosInt(cmd.gpuCount, MAX_NODE_GPUS)) return reject('INVALID_GPU_COUNT', `gpuCount must be an integer in 1..${MAX_NODE_GPUS}`);
      if (cmd.kind !== 'agent' && cmd.kind !== 'manual' && cmd.kind !== 'offline') return reject('INVALID_NODE_KIND', 'kind must be agent, manual or offline');
      if (!catalog.accelerators.has(cmd.acceleratorId)) return reject('UNKNOWN_ACCELERATOR', `unknown accelerator ${String(cmd.acceleratorId)}`);
      if (!catalog.regions.has(cmd.regionId)) return reject('UNKNOWN_REGION', `unknown region ${String(cmd.regionId)}`);
      return null;
    case 'updateNode':
      if (!isId(cmd.nodeId) || !isId(cmd.providerId)) return reject('INVALID_ID', 'nodeId and providerId must be 1-128 characters');
      if (!isPosInt(cmd.gpuCount, MAX_NODE_GPUS)) return reject('INVALID_GPU_COUNT', `gpuCount must be an integer in 1..${MAX_NODE_GPUS}`);
      return null;
    case 'setNodeStatus':
      if (!isId(cmd.nodeId)) return reject('INVALID_ID', 'nodeId must be 1-128 characters');
      if (cmd.status !== 'online' && cmd.status !== 'offline' && cmd.status !== 'draining') return reject('INVALID_STATUS', 'status must be online, offline or draining');
      return null;
    case 'placeAsk': {
      if (!isId(cmd.orderId) || !isId(cmd.providerId)) return reject('INVALID_ID', 'orderId and providerId must be 1-128 characters');
      if (!Array.isArray(cmd.nodeIds) || cmd.nodeIds.length === 0 || !cmd.nodeIds.every(isId)) return reject('INVALID_ID', 'nodeIds must list at least one node');
      if (cmd.nodeIds.length > MAX_ASK_NODES) return reject('TOO_MANY_NODES', `an ask lists at most ${MAX_ASK_NODES} nodes`);
      if (new Set(cmd.nodeIds).size !== cmd.nodeIds.length) return reject('INVALID_ID', 'nodeIds must not repeat');
      if (!isPosInt(cmd.priceFenPerGpuHour, MAX_PRICE_FEN)) return reject('INVALID_PRICE', 'price must be a positive integer number of fen');
      if (cmd.unit !== undefined && cmd.unit !== 'gpu' && cmd.unit !== 'node') return reject('INVALID_COMMAND', 'unit must be gpu or node');
      const minH = cmd.minHours ?? 1;
      if (!isPosInt(minH, MAX_LEASE_HOURS)) return reject('INVALID_HOURS', 'minHours must be a positive integer');
      if (cmd.maxHours !== undefined && (!isPosInt(cmd.maxHours, MAX_LEASE_HOURS) || cmd.maxHours < minH)) return reject('INVALID_HOURS', 'maxHours must be an integer >= minHours');
      if (cmd.availableUntil !== undefined && (!isTime(cmd.availableUntil) || cmd.availableUntil <= now)) return reject('AVAILABLE_UNTIL_IN_PAST', 'availableUntil must be in the future');
      if (cmd.expiresAt !== undefined && (!isTime(cmd.expiresAt) || cmd.expiresAt <= now)) return reject('EXPIRY_IN_PAST', 'expiresAt must be in the future');
      return null;
    }
    case 'placeBid':
      return validateBid(cmd, catalog);
    case 'cancel':
      if (!isId(cmd.orderId) || !isId(cmd.ownerId)) return reject('INVALID_ID', 'orderId and ownerId must be 1-128 characters');
      return null;
    case 'amend':
      return validateAmend(cmd);
    case 'endLease':
      if (!isId(cmd.leaseId)) return reject('INVALID_ID', 'leaseId must be 1-128 characters');
      return null;
    case 'expire':
      return null;
    default:
      return reject('INVALID_COMMAND', 'unknown command type');
  }
}

function validateAmend(cmd: AmendOrder): Rejection | null {
  if (!isId(cmd.orderId) || !isId(cmd.ownerId)) return reject('INVALID_ID', 'orderId and ownerId must be 1-128 characters');
  if (cmd.priceFen === undefined && cmd.remaining === undefined && cmd.expiresAt === undefined) return reject('NOTHING_TO_AMEND', 'give priceFen, remaining or expiresAt');
  if (cmd.priceFen !== undefined && !isPosInt(cmd.priceFen, MAX_PRICE_FEN)) return reject('INVALID_PRICE', 'price must be a positive integer number of fen');
  if (cmd.remaining !== undefined && !isPosInt(cmd.remaining, Number.MAX_SAFE_INTEGER)) return reject('INVALID_QUANTITY', 'remaining must be a positive integer');
  if (cmd.expiresAt !== undefined && cmd.expiresAt !== null && (!isTime(cmd.expiresAt) || cmd.expiresAt <= cmd.now)) return reject('EXPIRY_IN_PAST', 'expiresAt must be in the future');
  return null;
}

function validateQuantity(q: BidQuantity, gpn: number | undefined): Rejection | null {
  if (q === null || typeof q !== 'object') return reject('INVALID_QUANTITY', 'quantity is required');
  if (q.kind === 'gpus') {
    if (!isPosInt(q.gpus, MAX_BID_GPUS)) return reject('INVALID_QUANTITY', `gpus must be an integer in 1..${MAX_BID_GPUS}`);
    if (gpn !== undefined && q.gpus % gpn !== 0) return reject('INVALID_GPUS_PER_NODE', 'gpus must be a multiple of gpusPerNode');
    return null;
  }
  if (q.kind === 'compute') {
    if (!isPosInt(q.deciTflops, MAX_BID_DECI_TFLOPS)) return reject('INVALID_QUANTITY', 'compute amount must be a positive number of 0.1 TFLOPS, at most 1,000,000 P');
    return null;
  }
  return reject('INVALID_QUANTITY', 'quantity kind must be gpus or compute');
}

function validateBid(cmd: PlaceBid, catalog: CatalogIndex): Rejection | null {
  const now = cmd.now;
  if (!isId(cmd.orderId) || !isId(cmd.buyerId)) return reject('INVALID_ID', 'orderId and buyerId must be 1-128 characters');
  if (cmd.gpusPerNode !== undefined && !isPosInt(cmd.gpusPerNode, 64)) return reject('INVALID_GPUS_PER_NODE', 'gpusPerNode must be an integer in 1..64');
  const q = validateQuantity(cmd.quantity, cmd.gpusPerNode);
  if (q) return q;
  if (!isPosInt(cmd.hours, MAX_LEASE_HOURS)) return reject('INVALID_HOURS', `hours must be an integer in 1..${MAX_LEASE_HOURS}`);
  if (!isPosInt(cmd.limitFen, MAX_PRICE_FEN)) return reject('INVALID_PRICE', 'limit must be a positive integer number of fen');
  const tif = cmd.timeInForce ?? 'GTC';
  if (tif !== 'GTC' && tif !== 'GTD' && tif !== 'IOC' && tif !== 'FOK') return reject('INVALID_TIME_IN_FORCE', 'timeInForce must be GTC, GTD, IOC or FOK');
  if (tif === 'GTD' && cmd.expiresAt === undefined) return reject('EXPIRY_REQUIRED', 'GTD bids need expiresAt');
  if (tif !== 'GTD' && cmd.expiresAt !== undefined) return reject('INVALID_TIME_IN_FORCE', 'expiresAt is only for GTD');
  if (cmd.expiresAt !== undefined && (!isTime(cmd.expiresAt) || cmd.expiresAt <= now)) return reject('EXPIRY_IN_PAST', 'expiresAt must be in the future');
  if (cmd.startAt !== undefined) {
    if (!isTime(cmd.startAt) || cmd.startAt < now) return reject('START_IN_PAST', 'startAt must not be in the past');
    if (cmd.startAt - now > MAX_START_AHEAD_MS) return reject('START_TOO_FAR', 'startAt is more than 366 days ahead');
  }
  if (cmd.acceleratorIds === undefined && cmd.computeClass === undefined) return reject('NO_COMPATIBLE_MARKET', 'give acceleratorIds or a computeClass');
  if (cmd.acceleratorIds !== undefined) {
    if (!Array.isArray(cmd.acceleratorIds) || cmd.acceleratorIds.length === 0) return reject('UNKNOWN_ACCELERATOR', 'acceleratorIds must not be empty');
    for (const a of cmd.acceleratorIds) if (!catalog.accelerators.has(a)) return reject('UNKNOWN_ACCELERATOR', `unknown accelerator ${String(a)}`);
  }
  if (cmd.regionIds !== undefined) {
    if (!Array.isArray(cmd.regionIds) || cmd.regionIds.length === 0) return reject('UNKNOWN_REGION', 'regionIds must not be empty (leave it out for any region)');
    for (const r of cmd.regionIds) if (!catalog.regions.has(r)) return reject('UNKNOWN_REGION', `unknown region ${String(r)}`);
  }
  // Listed accelerators all exist (checked above), so only a compute class can leave none.
  if (cmd.computeClass !== undefined && compatibleAccelerators(cmd, catalog).length === 0) return reject('NO_COMPATIBLE_MARKET', 'no accelerator satisfies the bid');
  return null;
}

export interface CatalogIndex {
  readonly accelerators: ReadonlyMap<string, EngineAccelerator>;
  readonly regions: ReadonlySet<string>;
  /** Catalog order, for deterministic iteration. */
  readonly acceleratorList: readonly EngineAccelerator[];
}

export function indexCatalog(catalog: EngineCatalog): CatalogIndex {
  return {
    accelerators: new Map(catalog.accelerators.map((a) => [a.id, a])),
    regions: new Set(catalog.regions.map((r) => r.id)),
    acceleratorList: catalog.accelerators,
  };
}

function satisfiesClass(acc: EngineAccelerator, cls: ComputeClass | undefined): boolean {
  if (!cls) return true;
  if (cls.minFp16Tflops !== undefined && acc.fp16Tflops < cls.minFp16Tflops) return false;
  if (cls.minMemoryGiB !== undefined && acc.memoryGiB < cls.minMemoryGiB) return false;
  if (cls.stacks !== undefined && !cls.stacks.includes(acc.stack)) return false;
  return true;
}

/** The accelerator ids a bid accepts, in catalog order. */
export function compatibleAccelerators(bid: Pick<PlaceBid, 'acceleratorIds' | 'computeClass'>, catalog: CatalogIndex): string[] {
  const listed = bid.acceleratorIds ? new Set(bid.acceleratorIds) : null;
  const out: string[] = [];
  for (const acc of catalog.acceleratorList) {
    if (listed && !listed.has(acc.id)) continue;
    if (satisfiesClass(acc, bid.computeClass)) out.push(acc.id);
  }
  return out;
}

/** A bid's limit scaled so it compares with `price × 10_000` in a market whose GPU has `gpuDeciTflops`. */
export function scaledLimit(isCompute: boolean, limitFen: number, gpuDeciTflops: number): number {
  return isCompute ? limitFen * gpuDeciTflops : limitFen * DECI_TFLOPS_PER_P;
}

/** True when an ask price is within the bid's limit (per GPU-hour, or per P-hour for compute bids). */
export function withinLimit(isCompute: boolean, limitFen: number, priceFen: number, gpuDeciTflops: number): boolean {
  return priceFen * DECI_TFLOPS_PER_P <= scaledLimit(isCompute, limitFen, gpuDeciTflops);
}

/** Normalised price order of two asks for one bid: per GPU-hour, or per P-hour for compute bids. */
export function compareNormalised(isCompute: boolean, priceA: number, dtA: number, priceB: number, dtB: number): number {
  return isCompute ? priceA * dtB - priceB * dtA : priceA - priceB;
}

/** Limit of a bid in a market's units (fen per GPU-hour), rounded down: for depth. */
export function limitPerGpuHour(isCompute: boolean, limitFen: number, gpuDeciTflops: number): number {
  return isCompute ? Math.floor((limitFen * gpuDeciTflops) / DECI_TFLOPS_PER_P) : limitFen;
}

/**
 * The most compute a compute-amount bid can end up buying. The walk stops as soon as the amount
 * is covered, and its last step takes at most one more GPU (or `gpusPerNode` group) than the
 * rest needs, so the total stays below `remaining + largest group`. Rounding per accelerator
 * (ceil(remaining ÷ size) × size) is not enough when sizes mix: 0.4 on GPUs of 0.3 and 0.5 can
 * buy 0.3 + 0.5. The worst-case hold of such a bid is `limit × this ÷ 10_000 × hours`.
 */
export function worstCaseComputeDeciTflops(remaining: number, acceleratorDeciTflops: readonly number[], gpusPerNode: number | undefined): number {
  if (remaining <= 0) return 0;
  let largestGroup = 0;
  for (const dt of acceleratorDeciTflops) largestGroup = Math.max(largestGroup, dt * (gpusPerNode ?? 1));
  return remaining - 1 + largestGroup;
}

/** GPUs still wanted, in a market whose GPU has `gpuDeciTflops`. */
export function gpusWanted(isCompute: boolean, remaining: number, gpuDeciTflops: number, gpusPerNode: number | undefined): number {
  if (!isCompute) return remaining;
  const g = Math.ceil(remaining / gpuDeciTflops);
  return gpusPerNode ? Math.ceil(g / gpusPerNode) * gpusPerNode : g;
}

export interface NodeFree {
  readonly nodeId: string;
  readonly gpuCount: number;
  /** Free GPU indices for the window, ascending. */
  readonly free: readonly number[];
}
export interface Allocation {
  /** Position of the node in the list given to `allocateInAsk`. */
  readonly index: number;
  readonly nodeId: string;
  readonly gpuIndices: readonly number[];
}

/**
 * Allocation inside one ask. Best fit: the node with the fewest usable GPUs that still covers
 * the need (so single-GPU leases pack onto partly used nodes and whole nodes stay free);
 * otherwise the node with the most usable GPUs, and repeat. Lowest free indices first.
 * A whole-node ask sells a node only to a bid that needs at least all of its GPUs, so no bid is
 * ever sold more than `needGpus` (which bounds a compute bid's worst case, see
 * `worstCaseComputeDeciTflops`).
 */
export function allocateInAsk(
  nodes: readonly NodeFree[],
  unit: 'gpu' | 'node',
  needGpus: number,
  gpusPerNode: number | undefined,
): Allocation[] {
  const out: Allocation[] = [];
  let need = needGpus;
  if (nodes.length === 1) {
    // One node: the general loop below would pick it once; same result without the bookkeeping.
    const n = nodes[0]!;
    let take = 0;
    if (unit === 'node') {
      const whole = n.free.length === n.gpuCount && (gpusPerNode === undefined || n.gpuCount % gpusPerNode === 0);
      if (whole && n.gpuCount <= need) take = n.gpuCount;
    } else {
      const usable = gpusPerNode ? Math.floor(n.free.length / gpusPerNode) * gpusPerNode : n.free.length;
      take = Math.min(usable, need);
    }
    if (take > 0 && need > 0) out.push({ index: 0, nodeId: n.nodeId, gpuIndices: n.free.slice(0, take) });
    return out;
  }
  const used = new Set<number>();
  const usableOf = (n: NodeFree): number => {
    if (unit === 'node') {
      if (n.free.length !== n.gpuCount) return 0;
      if (gpusPerNode !== undefined && n.gpuCount % gpusPerNode !== 0) return 0;
      return n.gpuCount > need ? 0 : n.gpuCount;
    }
    return gpusPerNode ? Math.floor(n.free.length / gpusPerNode) * gpusPerNode : n.free.length;
  };
  while (need > 0) {
    let fit = -1;
    let fitUsable = Infinity;
    let big = -1;
    let bigUsable = 0;
    for (let i = 0; i < nodes.length; i++) {
      if (used.has(i)) continue;
      const u = usableOf(nodes[i]!);
      if (u <= 0) continue;
      if (u >= need && u < fitUsable) {
        fit = i;
        fitUsable = u;
      }
      if (u > bigUsable) {
        big = i;
        bigUsable = u;
      }
    }
    const pick = fit >= 0 ? fit : big;
    if (pick < 0) break;
    const node = nodes[pick]!;
    const take = unit === 'node' ? node.gpuCount : fit >= 0 ? need : bigUsable;
    used.add(pick);
    out.push({ index: pick, nodeId: node.nodeId, gpuIndices: node.free.slice(0, take) });
    need -= take;
  }
  return out;
}
