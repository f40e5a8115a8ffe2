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

/** Thrown inside a command to reject it; each engine's `apply` catches it. Not an Error: no stack to capture. */
export class Rejected {
  constructor(readonly rejection: Rejection) {}
}
export const fail = (code: RejectCode, message: string): never => {
  throw new Rejected({ code, message });
};

export function deciTflopsOf(acc: EngineAccelerator): number {
  return Math.round(acc.fp16Tflops * 10);
}

const isPosInt = (n: unknown, max: number): n is number =>
  typeof n === 'number' && Number.isSafeInteger(n) && n > 0 && n <= max;
const isTime = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const isId = (s: unknown): s is string => typeof s === 'string' && s.length > 0 && s.length <= MAX_ID_LENGTH;

function allIds(ids: readonly unknown[]): boolean {
  for (let i = 0; i < ids.length; i++) if (!isId(ids[i])) return false;
  return true;
}

/** Whether a list of ids repeats one (pairwise for short lists: no Set per command). */
function hasRepeats(ids: readonly string[]): boolean {
  const n = ids.length;
  if (n <= 8) {
    for (let i = 1; i < n; i++) for (let j = 0; j < i; j++) if (ids[i] === ids[j]) return true;
    return false;
  }
  return new Set(ids).size !== n;
}

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
      if (!Array.isArray(cmd.nodeIds) || cmd.nodeIds.length === 0 || !allIds(cmd.nodeIds)) return reject('INVALID_ID', 'nodeIds must list at least one node');
      if (cmd.nodeIds.length > MAX_ASK_NODES) return reject('TOO_MANY_NODES', `an ask lists at most ${MAX_ASK_NODES} nodes`);
      if (hasRepeats(cmd.nodeIds)) return reject('INVALID_ID', 'nodeIds must not repeat');
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
    case 'setMarketHalted': {
      if (typeof cmd.halted !== 'boolean') return reject('INVALID_COMMAND', 'halted must be true or false');
      const [acc, region, extra] = typeof cmd.market === 'string' ? cmd.market.split('@') : [];
      if (acc === undefined || region === undefined || extra !== undefined) return reject('INVALID_COMMAND', 'market must be acceleratorId@regionId');
      if (!catalog.accelerators.has(acc)) return reject('UNKNOWN_ACCELERATOR', `unknown accelerator ${acc}`);
      if (!catalog.regions.has(region)) return reject('UNKNOWN_REGION', `unknown region ${region}`);
      return null;
    }
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

/** The checks of an amend's new `remaining` that depend on the bid it amends (its kind and gpusPerNode). */
export function validateBidAmend(isCompute: boolean, gpusPerNode: number | undefined, remaining: number): Rejection | null {
  if (!isCompute && remaining > MAX_BID_GPUS) return reject('INVALID_QUANTITY', `gpus must be at most ${MAX_BID_GPUS}`);
  if (isCompute && remaining > MAX_BID_DECI_TFLOPS) return reject('INVALID_QUANTITY', 'a compute amount is at most 1,000,000 P');
  if (!isCompute && gpusPerNode !== undefined && remaining % gpusPerNode !== 0) return reject('INVALID_GPUS_PER_NODE', 'remaining must be a multiple of gpusPerNode');
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

/**
 * A placeBid's fields, read once: commands come in many shapes, so every read of a command's field
 * is a slow (megamorphic) lookup, and validation and execution would each read them all.
 */
export interface BidFields {
  now: number;
  orderId: string;
  buyerId: string;
  acceleratorIds: readonly string[] | undefined;
  computeClass: ComputeClass | undefined;
  regionIds: readonly string[] | undefined;
  quantity: BidQuantity;
  gpusPerNode: number | undefined;
  hours: number;
  startAt: number | undefined;
  limitFen: number;
  timeInForce: PlaceBid['timeInForce'];
  expiresAt: number | undefined;
  allowPartial: boolean | undefined;
  /** The accelerators it accepts, once `validateBidFields` has worked them out (a compute class); else null. */
  compatible: readonly string[] | null;
}

export function newBidFields(): BidFields {
  return {
    now: 0, orderId: '', buyerId: '', acceleratorIds: undefined, computeClass: undefined, regionIds: undefined,
    quantity: { kind: 'gpus', gpus: 0 }, gpusPerNode: undefined, hours: 0, startAt: undefined, limitFen: 0,
    timeInForce: undefined, expiresAt: undefined, allowPartial: undefined, compatible: null,
  };
}

/** Copy a placeBid's fields into `into` (reused: no allocation). */
export function readBid(cmd: PlaceBid, into: BidFields): BidFields {
  into.now = cmd.now;
  into.orderId = cmd.orderId;
  into.buyerId = cmd.buyerId;
  into.acceleratorIds = cmd.acceleratorIds;
  into.computeClass = cmd.computeClass;
  into.regionIds = cmd.regionIds;
  into.quantity = cmd.quantity;
  into.gpusPerNode = cmd.gpusPerNode;
  into.hours = cmd.hours;
  into.startAt = cmd.startAt;
  into.limitFen = cmd.limitFen;
  into.timeInForce = cmd.timeInForce;
  into.expiresAt = cmd.expiresAt;
  into.allowPartial = cmd.allowPartial;
  into.compatible = null;
  return into;
}

const scratchBid = newBidFields();

function validateBid(cmd: PlaceBid, catalog: CatalogIndex): Rejection | null {
  return validateBidFields(readBid(cmd, scratchBid), catalog);
}

/** The placeBid checks of `validateStatic`, on fields already read. */
export function validateBidFields(b: BidFields, catalog: CatalogIndex): Rejection | null {
  const now = b.now;
  if (!isId(b.orderId) || !isId(b.buyerId)) return reject('INVALID_ID', 'orderId and buyerId must be 1-128 characters');
  const gpusPerNode = b.gpusPerNode;
  if (gpusPerNode !== undefined && !isPosInt(gpusPerNode, 64)) return reject('INVALID_GPUS_PER_NODE', 'gpusPerNode must be an integer in 1..64');
  const q = validateQuantity(b.quantity, gpusPerNode);
  if (q) return q;
  if (!isPosInt(b.hours, MAX_LEASE_HOURS)) return reject('INVALID_HOURS', `hours must be an integer in 1..${MAX_LEASE_HOURS}`);
  if (!isPosInt(b.limitFen, MAX_PRICE_FEN)) return reject('INVALID_PRICE', 'limit must be a positive integer number of fen');
  const tif = b.timeInForce ?? 'GTC';
  if (tif !== 'GTC' && tif !== 'GTD' && tif !== 'IOC' && tif !== 'FOK') return reject('INVALID_TIME_IN_FORCE', 'timeInForce must be GTC, GTD, IOC or FOK');
  const expiresAt = b.expiresAt;
  if (tif === 'GTD' && expiresAt === undefined) return reject('EXPIRY_REQUIRED', 'GTD bids need expiresAt');
  if (tif !== 'GTD' && expiresAt !== undefined) return reject('INVALID_TIME_IN_FORCE', 'expiresAt is only for GTD');
  if (expiresAt !== undefined && (!isTime(expiresAt) || expiresAt <= now)) return reject('EXPIRY_IN_PAST', 'expiresAt must be in the future');
  const startAt = b.startAt;
  if (startAt !== undefined) {
    if (!isTime(startAt) || startAt < now) return reject('START_IN_PAST', 'startAt must not be in the past');
    if (startAt - now > MAX_START_AHEAD_MS) return reject('START_TOO_FAR', 'startAt is more than 366 days ahead');
  }
  const acceleratorIds = b.acceleratorIds;
  const computeClass = b.computeClass;
  if (acceleratorIds === undefined && computeClass === undefined) return reject('NO_COMPATIBLE_MARKET', 'give acceleratorIds or a computeClass');
  if (acceleratorIds !== undefined) {
    if (!Array.isArray(acceleratorIds) || acceleratorIds.length === 0) return reject('UNKNOWN_ACCELERATOR', 'acceleratorIds must not be empty');
    for (let i = 0; i < acceleratorIds.length; i++) {
      const a = acceleratorIds[i];
      if (!catalog.accelerators.has(a)) return reject('UNKNOWN_ACCELERATOR', `unknown accelerator ${String(a)}`);
    }
  }
  const regionIds = b.regionIds;
  if (regionIds !== undefined) {
    if (!Array.isArray(regionIds) || regionIds.length === 0) return reject('UNKNOWN_REGION', 'regionIds must not be empty (leave it out for any region)');
    for (let i = 0; i < regionIds.length; i++) {
      const r = regionIds[i];
      if (!catalog.regions.has(r)) return reject('UNKNOWN_REGION', `unknown region ${String(r)}`);
    }
  }
  // Listed accelerators all exist (checked above), so only a compute class can leave none.
  if (computeClass !== undefined) {
    const list = compatibleAcceleratorList(b, catalog);
    if (list.length === 0) return reject('NO_COMPATIBLE_MARKET', 'no accelerator satisfies the bid');
    b.compatible = list;
  }
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
  return compatibleAcceleratorList(bid, catalog).slice();
}

/** A node of a catalog's trie of accelerator-id lists (see CompatCache). */
interface IdTrie {
  list: readonly string[] | undefined;
  next: Map<string, IdTrie> | null;
}

/**
 * Remembered accelerator lists of one catalog: bids that name accelerators along a trie of the
 * ids in order (each step hashes an id, cached in the string; no key is built), compute classes
 * by a JSON key. At most CACHE_LIMIT of each are kept.
 */
interface CompatCache {
  readonly ids: IdTrie;
  idNodes: number;
  readonly byKey: Map<string, readonly string[]>;
  /**
   * Every list the cache handed out, by its ids as JSON: the same accelerators named in another
   * order (or another class with the same members) get the same array. The engine keys its
   * per-bid choices by the list's identity, so equal lists must be one array.
   */
  readonly lists: Map<string, readonly string[]>;
}
const CACHE_LIMIT = 10_000;
const compatCaches = new WeakMap<CatalogIndex, CompatCache>();
/** The last catalog asked about and its cache: an engine asks with one catalog every time. */
let lastCatalog: CatalogIndex | null = null;
let lastCache: CompatCache | null = null;

function cacheOf(catalog: CatalogIndex): CompatCache {
  if (catalog === lastCatalog) return lastCache!;
  let cache = compatCaches.get(catalog);
  if (cache === undefined) {
    cache = { ids: { list: undefined, next: null }, idNodes: 0, byKey: new Map(), lists: new Map() };
    compatCaches.set(catalog, cache);
  }
  lastCatalog = catalog;
  lastCache = cache;
  return cache;
}

/**
 * The cache key of a bid's compute class (with its accelerator ids, if any), or null when it is
 * not plain data (finite numbers, strings): the answer depends only on these fields, and JSON
 * tells such values apart.
 */
function classKey(bid: Pick<PlaceBid, 'acceleratorIds' | 'computeClass'>): string | null {
  const ids = bid.acceleratorIds;
  if (ids !== undefined && (!Array.isArray(ids) || ids.length > 64 || !ids.every((x) => typeof x === 'string'))) return null;
  const cls = bid.computeClass;
  if (cls === null || typeof cls !== 'object') return null;
  const okNum = (x: unknown): boolean => x === undefined || (typeof x === 'number' && Number.isFinite(x));
  if (!okNum(cls.minFp16Tflops) || !okNum(cls.minMemoryGiB)) return null;
  const st = cls.stacks;
  if (st !== undefined && (!Array.isArray(st) || st.length > 64 || !st.every((x) => typeof x === 'string'))) return null;
  return JSON.stringify([ids ?? null, cls.minFp16Tflops ?? null, cls.minMemoryGiB ?? null, st ?? null]);
}

/** `compatibleAccelerators`, remembered per catalog for plain-data bids: a shared list, never to be mutated. */
export function compatibleAcceleratorList(bid: Pick<PlaceBid, 'acceleratorIds' | 'computeClass'>, catalog: CatalogIndex): readonly string[] {
  const ids = bid.acceleratorIds;
  if (bid.computeClass === undefined) {
    if (ids === undefined || !Array.isArray(ids) || ids.length > 64) return computeCompatible(bid, catalog);
    const cache = cacheOf(catalog);
    let at = cache.ids;
    for (let i = 0; i < ids.length; i++) {
      const id: unknown = ids[i];
      if (typeof id !== 'string') return computeCompatible(bid, catalog);
      let child = at.next?.get(id);
      if (child === undefined) {
        if (cache.idNodes >= CACHE_LIMIT) return computeCompatible(bid, catalog);
        child = { list: undefined, next: null };
        (at.next ??= new Map()).set(id, child);
        cache.idNodes++;
      }
      at = child;
    }
    return (at.list ??= interned(cache, computeCompatible(bid, catalog)));
  }
  const key = classKey(bid);
  if (key === null) return computeCompatible(bid, catalog);
  const cache = cacheOf(catalog);
  const byKey = cache.byKey;
  let list = byKey.get(key);
  if (list === undefined) {
    list = interned(cache, computeCompatible(bid, catalog));
    if (byKey.size < CACHE_LIMIT) byKey.set(key, list);
  }
  return list;
}

/** The cache's one array equal to `list` (which becomes it when there is none and room is left). */
function interned(cache: CompatCache, list: readonly string[]): readonly string[] {
  const key = JSON.stringify(list);
  const known = cache.lists.get(key);
  if (known !== undefined) return known;
  if (cache.lists.size < CACHE_LIMIT) cache.lists.set(key, list);
  return list;
}

function computeCompatible(bid: Pick<PlaceBid, 'acceleratorIds' | 'computeClass'>, catalog: CatalogIndex): string[] {
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

/** What `allocateInAsk` could take from node `n` towards `need` (0: nothing). */
function usableIn(n: NodeFree, unit: 'gpu' | 'node', need: number, gpusPerNode: number | undefined): number {
  if (unit === 'node') {
    if (n.free.length !== n.gpuCount) return 0;
    if (gpusPerNode !== undefined && n.gpuCount % gpusPerNode !== 0) return 0;
    return n.gpuCount > need ? 0 : n.gpuCount;
  }
  return gpusPerNode ? Math.floor(n.free.length / gpusPerNode) * gpusPerNode : n.free.length;
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
  // Nodes already picked (a byte each: cheaper than a Set, and no closure over `need`).
  const used = new Uint8Array(nodes.length);
  while (need > 0) {
    let fit = -1;
    let fitUsable = Infinity;
    let big = -1;
    let bigUsable = 0;
    for (let i = 0; i < nodes.length; i++) {
      if (used[i] === 1) continue;
      const u = usableIn(nodes[i]!, unit, need, gpusPerNode);
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
    used[pick] = 1;
    out.push({ index: pick, nodeId: node.nodeId, gpuIndices: node.free.slice(0, take) });
    need -= take;
  }
  return out;
}
