/**
 * Nodes' bookings (in the engine's BookingTable) and the free-GPU queries over them. Plain
 * functions of the node: they need no engine state, and as module functions they cost the hot
 * path (take, gainFor) nothing over the methods they were. Nodes of up to BIT_GPUS GPUs are
 * answered with bit masks, without allocating.
 */
import { askNode, askNodeCount, BIT_GPUS, type FAsk, type FNode } from './engine-model.js';

/**
 * Where a booking row's numbers are (ROW numbers a row): startMs, endMs; the lease's GPU indices
 * as bits when all are below BIT_GPUS, else -1 and they are in `wideGpus`; the lease number; the
 * node's next row in start order, -1 after its last (on the free list: the next free row).
 */
export const AT = { start: 0, end: 1, bits: 2, lease: 3, next: 4 } as const;
const ROW = 5;
const PAGE_BITS = 10;
const PAGE_ROWS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_ROWS - 1;

/**
 * Every booking of an engine's nodes, as rows of numbers in typed-array pages, each node's rows
 * chained in start order from `FNode.firstBooking`. It replaced a number array per node (and a
 * second one for wide GPU indices): with half a million live nodes those arrays were a million
 * small objects for every GC to mark and every scavenge to copy; the pages hold no pointers, the
 * GC never looks inside them, and growing adds a page rather than copying the rows. Freed rows
 * are reused (a free list), so the table stays as large as the most bookings live at once.
 */
export class BookingTable {
  readonly pages: Float64Array[] = [];
  /** Rows handed out from the pages so far (the next fresh row), and the first freed row (-1: none). */
  private fresh = 0;
  private freeRow = -1;
  /** Rows in use. */
  live = 0;
  /** The GPU indices of the rows whose bits are -1 (a GPU index of BIT_GPUS or more: rare). */
  readonly wideGpus = new Map<number, readonly number[]>();

  /** Number `k` (AT.start...) of row `r`. */
  get(r: number, k: number): number {
    return this.pages[r >> PAGE_BITS]![(r & PAGE_MASK) * ROW + k]!;
  }
  set(r: number, k: number, v: number): void {
    this.pages[r >> PAGE_BITS]![(r & PAGE_MASK) * ROW + k] = v;
  }

  /** A row for a new booking (its numbers to be set by the caller). */
  alloc(): number {
    this.live++;
    const r = this.freeRow;
    if (r >= 0) {
      this.freeRow = this.get(r, AT.next);
      return r;
    }
    if (this.fresh === this.pages.length * PAGE_ROWS) this.pages.push(new Float64Array(PAGE_ROWS * ROW));
    return this.fresh++;
  }

  release(r: number): void {
    this.live--;
    if (this.get(r, AT.bits) < 0) this.wideGpus.delete(r);
    this.set(r, AT.next, this.freeRow);
    this.freeRow = r;
  }
}

/** Insert a booking after every one of the node's bookings that starts no later. */
export function insertBooking(node: FNode, s: number, e: number, bits: number, gpus: readonly number[] | null, leaseNo: number): void {
  const table = node.market.bookings;
  const r = table.alloc();
  table.set(r, AT.start, s);
  table.set(r, AT.end, e);
  table.set(r, AT.bits, bits);
  table.set(r, AT.lease, leaseNo);
  if (gpus !== null) table.wideGpus.set(r, gpus);
  let prev = -1;
  let at = node.firstBooking;
  while (at >= 0 && table.get(at, AT.start) <= s) {
    prev = at;
    at = table.get(at, AT.next);
  }
  table.set(r, AT.next, at);
  if (prev < 0) node.firstBooking = r;
  else table.set(prev, AT.next, r);
}

/** The row of lease `leaseNo` among the node's bookings, or -1. */
export function bookingRow(node: FNode, leaseNo: number): number {
  const table = node.market.bookings;
  for (let r = node.firstBooking; r >= 0; r = table.get(r, AT.next)) if (table.get(r, AT.lease) === leaseNo) return r;
  return -1;
}

/** The GPU indices of booking row `r` (a new array). */
export function bookingGpus(table: BookingTable, r: number): readonly number[] {
  const bits = table.get(r, AT.bits);
  return bits >= 0 ? indicesOfBits(bits) : table.wideGpus.get(r)!;
}

/** Whether any booking of the node uses a GPU index `from` or above. */
export function bookedFrom(node: FNode, from: number): boolean {
  const table = node.market.bookings;
  for (let r = node.firstBooking; r >= 0; r = table.get(r, AT.next)) {
    const bits = table.get(r, AT.bits);
    if (bits >= 0) {
      if (from < BIT_GPUS && bits >> from !== 0) return true;
    } else if (table.wideGpus.get(r)!.some((i) => i >= from)) return true;
  }
  return false;
}

export function indicesOfBits(bits: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < BIT_GPUS; i++) if ((bits & (1 << i)) !== 0) out.push(i);
  return out;
}

/** The indices of `bits` ascending, in an array of exact size (it goes out in a lease event). */
export function exactIndicesOfBits(bits: number): number[] {
  const out = new Array<number>(bitCount(bits));
  for (let i = 0, k = 0; k < out.length; i++) if ((bits & (1 << i)) !== 0) out[k++] = i;
  return out;
}

/** GPU indices as bits, or -1 when one does not fit (BIT_GPUS or more). */
export function bitsOf(gpus: readonly number[]): number {
  let bits = 0;
  for (let i = 0; i < gpus.length; i++) {
    const g = gpus[i]!;
    if (g >= BIT_GPUS) return -1;
    bits |= 1 << g;
  }
  return bits;
}

/** Remove lease `leaseNo`'s booking from the node (the engine forgets the lease itself). */
export function removeBooking(node: FNode, leaseNo: number): void {
  const table = node.market.bookings;
  let prev = -1;
  for (let r = node.firstBooking; r >= 0; prev = r, r = table.get(r, AT.next)) {
    if (table.get(r, AT.lease) !== leaseNo) continue;
    const next = table.get(r, AT.next);
    if (prev < 0) node.firstBooking = next;
    else table.set(prev, AT.next, next);
    table.release(r);
    return;
  }
}

/** GPUs of `node` not booked anywhere in [s, e), ascending. */
export function freeIndices(node: FNode, s: number, e: number): number[] {
  const out: number[] = [];
  const n = node.gpuCount;
  if (n <= BIT_GPUS) {
    const busy = busyBits(node, s, e);
    for (let i = 0; i < n; i++) if ((busy & (1 << i)) === 0) out.push(i);
    return out;
  }
  const busy = busyArray(node, s, e);
  for (let i = 0; i < n; i++) if (busy === null || busy[i] === 0) out.push(i);
  return out;
}

export function countFree(node: FNode, s: number, e: number): number {
  const n = node.gpuCount;
  if (node.firstBooking < 0) return n;
  if (n <= BIT_GPUS) return n - bitCount(busyBits(node, s, e));
  const busy = busyArray(node, s, e);
  if (busy === null) return n;
  let free = 0;
  for (let i = 0; i < n; i++) if (busy[i] === 0) free++;
  return free;
}

/**
 * Busy GPUs in [s, e) as bits (nodes of up to BIT_GPUS GPUs: no allocation on the hot path). The
 * scan stops once every GPU is busy: a walk for a later window passes many fully booked nodes.
 */
export function busyBits(node: FNode, s: number, e: number): number {
  let r = node.firstBooking;
  if (r < 0) return 0;
  const table = node.market.bookings;
  const pages = table.pages;
  const all = (1 << node.gpuCount) - 1;
  let busy = 0;
  while (r >= 0) {
    const page = pages[r >> PAGE_BITS]!;
    const o = (r & PAGE_MASK) * ROW;
    if (page[o + AT.start]! >= e) break;
    if (page[o + AT.end]! > s) {
      const bits = page[o + AT.bits]!;
      if (bits >= 0) busy |= bits;
      else for (const i of table.wideGpus.get(r)!) busy |= 1 << i;
      if ((busy & all) === all) break;
    }
    r = page[o + AT.next]!;
  }
  return busy;
}

/** Busy GPUs in [s, e) as a byte per GPU (nodes of more than BIT_GPUS GPUs), or null when none is busy. */
function busyArray(node: FNode, s: number, e: number): Uint8Array | null {
  const table = node.market.bookings;
  let busy: Uint8Array | null = null;
  for (let r = node.firstBooking; r >= 0; r = table.get(r, AT.next)) {
    if (table.get(r, AT.start) >= e) break;
    if (table.get(r, AT.end) <= s) continue;
    busy ??= new Uint8Array(node.gpuCount);
    const bits = table.get(r, AT.bits);
    if (bits >= 0) {
      for (let i = 0; i < BIT_GPUS; i++) if ((bits & (1 << i)) !== 0) busy[i] = 1;
    } else for (const i of table.wideGpus.get(r)!) busy[i] = 1;
  }
  return busy;
}

/** GPUs of the ask free at `now` on its online nodes. */
export function freeNow(ask: FAsk, now: number): number {
  let n = 0;
  const count = askNodeCount(ask);
  for (let i = 0; i < count; i++) {
    const node = askNode(ask, i);
    if (node.status === 'online') n += countFree(node, now, now + 1);
  }
  return n;
}

export function bitCount(x: number): number {
  let c = 0;
  while (x !== 0) {
    x &= x - 1;
    c++;
  }
  return c;
}
