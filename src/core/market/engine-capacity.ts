/**
 * A node's booking table (see BOOKING_ROW in engine-model.ts) and the free-GPU queries over it.
 * Plain functions of the node: they need no engine state, and as module functions they cost the
 * hot path (take, gainFor) nothing over the methods they were. Nodes of up to BIT_GPUS GPUs are
 * answered with bit masks, without allocating.
 */
import { BIT_GPUS, BOOKING_ROW, type FAsk, type FNode } from './engine-model.js';

/** Insert a booking in start order. Small tables are copied at their exact size (they live long). */
export function insertBooking(node: FNode, s: number, e: number, bits: number, gpus: readonly number[] | null, leaseNo: number): void {
  const list = node.bookings;
  if (list === null) {
    node.bookings = [s, e, bits, leaseNo];
    if (gpus !== null) node.bookingGpus = [gpus];
    return;
  }
  const len = list.length;
  let at = len;
  while (at > 0 && list[at - BOOKING_ROW]! > s) at -= BOOKING_ROW;
  if (at === len && len < 64) {
    const grown = new Array<number>(len + BOOKING_ROW);
    for (let i = 0; i < len; i++) grown[i] = list[i]!;
    grown[len] = s;
    grown[len + 1] = e;
    grown[len + 2] = bits;
    grown[len + 3] = leaseNo;
    node.bookings = grown;
  } else list.splice(at, 0, s, e, bits, leaseNo);
  if (gpus !== null || node.bookingGpus !== null) {
    node.bookingGpus ??= new Array<readonly number[] | null>(len / BOOKING_ROW).fill(null);
    node.bookingGpus.splice(at / BOOKING_ROW, 0, gpus);
  }
}

/** The row of lease `leaseNo` in the node's bookings, or -1. */
export function bookingRow(node: FNode, leaseNo: number): number {
  const list = node.bookings;
  if (list === null) return -1;
  for (let k = 3; k < list.length; k += BOOKING_ROW) if (list[k] === leaseNo) return (k - 3) / BOOKING_ROW;
  return -1;
}

/** Whether any booking of the node uses a GPU index `from` or above. */
export function bookedFrom(node: FNode, from: number): boolean {
  const list = node.bookings;
  if (list === null) return false;
  for (let k = 0; k < list.length; k += BOOKING_ROW) {
    const bits = list[k + 2]!;
    if (bits >= 0) {
      if (from < BIT_GPUS && bits >> from !== 0) return true;
    } else if (node.bookingGpus![k / BOOKING_ROW]!.some((i) => i >= from)) return true;
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

/**
 * Remove lease `leaseNo`'s row from the node's bookings (the engine forgets the lease itself).
 * A table left empty becomes null again (nothing kept alive for a node with no bookings).
 */
export function removeBooking(node: FNode, leaseNo: number): void {
  const list = node.bookings;
  if (list === null) return;
  const r = bookingRow(node, leaseNo);
  if (r < 0) return;
  if (list.length === BOOKING_ROW) {
    node.bookings = null;
    node.bookingGpus = null;
    return;
  }
  list.splice(r * BOOKING_ROW, BOOKING_ROW);
  if (node.bookingGpus !== null) node.bookingGpus.splice(r, 1);
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
  if (node.bookings === null) return n;
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
  const list = node.bookings;
  if (list === null) return 0;
  const all = (1 << node.gpuCount) - 1;
  let busy = 0;
  for (let k = 0; k < list.length; k += BOOKING_ROW) {
    if (list[k]! >= e) break;
    if (list[k + 1]! <= s) continue;
    const bits = list[k + 2]!;
    if (bits >= 0) busy |= bits;
    else for (const i of node.bookingGpus![k / BOOKING_ROW]!) busy |= 1 << i;
    if ((busy & all) === all) break;
  }
  return busy;
}

/** Busy GPUs in [s, e) as a byte per GPU (nodes of more than BIT_GPUS GPUs), or null when none is busy. */
function busyArray(node: FNode, s: number, e: number): Uint8Array | null {
  const list = node.bookings;
  if (list === null) return null;
  let busy: Uint8Array | null = null;
  for (let k = 0; k < list.length; k += BOOKING_ROW) {
    if (list[k]! >= e) break;
    if (list[k + 1]! <= s) continue;
    busy ??= new Uint8Array(node.gpuCount);
    const bits = list[k + 2]!;
    if (bits >= 0) {
      for (let i = 0; i < BIT_GPUS; i++) if ((bits & (1 << i)) !== 0) busy[i] = 1;
    } else for (const i of node.bookingGpus![k / BOOKING_ROW]!) busy[i] = 1;
  }
  return busy;
}

/** GPUs of the ask free at `now` on its online nodes. */
export function freeNow(ask: FAsk, now: number): number {
  let n = 0;
  const nodes = ask.nodes;
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
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
