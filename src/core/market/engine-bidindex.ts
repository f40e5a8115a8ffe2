/**
 * The index of resting bids (one per accelerator, and per region for bids limited to regions):
 * entries in (key, seq) order in chunks of at most CHUNK entries. A resting bid is in ~5 of these
 * (every accelerator and region it accepts), and nearly every bid limit is a key of its own, so a
 * level index (as the asks had: a level object and three arrays per key, a Map entry, and a
 * sorted key array spliced on every new key) cost most of placing a bid that rests. Here an insert
 * finds its chunk by a binary search over flat arrays, then its place by one over the chunk, and
 * makes room with one `copyWithin` of the chunk's numbers; it allocates nothing in the common case.
 *
 * Removal is lazy: the caller changes the item's stamp, then `remove` counts the entry dead (an
 * entry is live while its stamp equals its item's). Chunks drop dead entries when they fill up
 * or when the dead outnumber the live by half a chunk; `version` changes whenever entries move,
 * and a `BidCursor` re-finds its place by (key, seq) when it does.
 */
import { type Chunk as BaseChunk, CHUNK, ChunkedIndex, ChunkWalk, chunksProblem, ENTRY, newSlots, positionIn, reserve, SMALL } from './engine-chunks.js';
import type { FBid } from './engine-model.js';

/**
 * A chunk of bids (see engine-chunks.ts). In one mixed array (as before) an insert spliced four
 * slots (allocating the splice's result) and a key past the small integers was a heap number per
 * entry; here an insert moves the numbers only. The slots of the n entries are [0, n): an insert
 * takes slot n, compaction puts the bids back in entry order, a split keeps both parts so.
 */
interface Chunk extends BaseChunk<FBid> {
  /** Entries not removed (the rest are dead, their stamp NaN). */
  live: number;
}

function newChunk(cap: number): Chunk {
  return { f: new Float64Array(cap * ENTRY), b: newSlots<FBid>(cap), n: 0, cap, live: 0 };
}

/** Bids being put back in entry order by compaction: one array for all, so it allocates nothing. */
const scratch: (FBid | null)[] = newSlots<FBid>(CHUNK);

export class BidIndex extends ChunkedIndex<FBid, Chunk> {
  /** `slotB`: this index uses the bids' `stampB` (else `stampA`). */
  constructor(readonly slotB: boolean) {
    super();
  }

  /** Whether entry `i` (a position, not a slot) of chunk `c` is live. */
  override liveAt(c: Chunk, i: number): boolean {
    const at = i * ENTRY;
    const item = c.b[c.f[at + 3]!]!;
    return c.f[at + 2] === (this.slotB ? item.stampB : item.stampA);
  }

  insert(item: FBid, key: number, seq: number, stamp: number): void {
    const chunks = this.chunks;
    let ci = this.chunkForNew(key, seq, newChunk);
    let c = chunks[ci]!;
    if (c.n === c.cap) {
      if (c.live < c.n) {
        this.compact(c);
        this.setFirst(ci);
      } else if (c.cap < CHUNK) reserve(c, Math.min(CHUNK, c.cap * 2));
      else {
        this.split(ci);
        ci = this.chunkOf(key, seq);
        c = chunks[ci]!;
      }
    }
    this.put(ci, c, item, key, seq, stamp);
    c.live++;
  }

  /**
   * The entry with this key and stamp has died (its item's stamp was already changed). Found by
   * the stamp, not by seq: an amended bid leaves with a new seq (its entry keeps the old one).
   * Its stamp becomes NaN (equal to no item's stamp, nor to any stamp `remove` looks for): so
   * compaction tells the dead apart without reading their bids (a cache miss each).
   */
  remove(key: number, stamp: number): void {
    this.count--;
    const chunks = this.chunks;
    let ci = this.chunkOf(key, -Infinity);
    let c = chunks[ci]!;
    let at = positionIn(c, key, -Infinity) * ENTRY;
    for (; ; at += ENTRY) {
      if (at === c.n * ENTRY) {
        c = chunks[++ci]!;
        at = 0;
      }
      if (c.f[at + 2] === stamp && c.f[at] === key) break;
    }
    c.f[at + 2] = NaN;
    c.live--;
    if (c.live === 0) {
      this.dropChunk(ci);
      return;
    }
    if (c.live <= SMALL && chunks.length > 1) {
      // Merge a thinned chunk with a neighbour that fits (a chunk keeps its full-size arrays).
      if (ci + 1 < chunks.length && c.live + chunks[ci + 1]!.live <= CHUNK / 2) return this.mergeLive(ci);
      if (ci > 0 && chunks[ci - 1]!.live + c.live <= CHUNK / 2) return this.mergeLive(ci - 1);
    }
    if (c.n - c.live > c.live + CHUNK / 2) {
      this.compact(c);
      this.setFirst(ci);
    }
  }

  /** Merge chunks ci and ci + 1 into ci, their removed entries dropped first. */
  private mergeLive(ci: number): void {
    const c = this.chunks[ci]!;
    const d = this.chunks[ci + 1]!;
    if (c.live < c.n) {
      this.compact(c);
      this.setFirst(ci);
    }
    if (d.live < d.n) this.compact(d);
    c.live += d.live;
    this.mergeNext(ci);
  }

  /**
   * Drop the removed entries of chunk `c`, its bids back in entry order (in place: cursors
   * re-find their place, see `version`; the caller records its first again).
   */
  private compact(c: Chunk): void {
    const f = c.f;
    const b = c.b;
    const n = c.n;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const at = i * ENTRY;
      const stamp = f[at + 2]!;
      if (stamp !== stamp) continue;
      const to = k * ENTRY;
      scratch[k] = b[f[at + 3]!]!;
      f[to] = f[at]!;
      f[to + 1] = f[at + 1]!;
      f[to + 2] = stamp;
      f[to + 3] = k;
      k++;
    }
    for (let i = 0; i < k; i++) {
      b[i] = scratch[i]!;
      scratch[i] = null;
    }
    for (let i = k; i < n; i++) b[i] = null;
    c.n = k;
    this.version++;
  }

  /** Split full chunk `ci` (all live) in two halves. */
  private split(ci: number): void {
    const c = this.chunks[ci]!;
    const upper = newChunk(CHUNK);
    this.splitAt(ci, c.n >> 1, upper);
    upper.live = upper.n;
    c.live = c.n;
  }

  /** What is wrong with the index's own bookkeeping (order, live counts, chunk firsts, bid slots), or null (tests). */
  problem(): string | null {
    const live = new Array<number>(this.chunks.length).fill(0);
    const wrong = chunksProblem(this.chunks, this.firstKeys, this.firstSeqs, (ci, i, item, stamp) => {
      if (stamp === (this.slotB ? item.stampB : item.stampA)) live[ci]!++;
      else if (!Number.isNaN(stamp)) return `chunk ${ci} entry ${i} dead but not removed`;
      return null;
    });
    if (wrong !== null) return wrong;
    let total = 0;
    for (let ci = 0; ci < this.chunks.length; ci++) {
      const c = this.chunks[ci]!;
      if (live[ci] !== c.live || live[ci] === 0) return `chunk ${ci} live ${c.live}, counted ${live[ci]}`;
      total += c.live;
    }
    return total === this.count ? null : `size ${this.count}, counted ${total}`;
  }
}

/**
 * A walk over one BidIndex in (key, seq) order that survives changes to the index during the walk
 * (bids filled by the walk leave it; chunks are compacted or dropped): after any change it finds
 * its place again by the last entry it passed. Reusable (`start`); allocation-free.
 */
export class BidCursor extends ChunkWalk {
  private index: BidIndex | null = null;
  /** The position to find again: the first entry at or after (atKey, atSeq). */
  private atKey = 0;
  private atSeq = 0;
  /** The current live entry (valid after `peek` returned true): its key times `scale`, its seq, its bid. */
  key = 0;
  seq = 0;
  item: FBid | null = null;
  /** Keys are reported times this (a compute book read for one market, see FMarket.computeBook). */
  private scale = 1;
  /** The current entry's key as stored. */
  private storedKey = 0;

  /**
   * Walk `index` from the first entry at or after (fromKey, fromSeq), keys as reported (stored
   * keys times `scale`, a positive integer; keys are integers).
   */
  start(index: BidIndex, fromKey: number, fromSeq: number, scale = 1): this {
    this.index = index;
    this.scale = scale;
    if (scale === 1 || fromKey === -Infinity) {
      this.atKey = fromKey;
      this.atSeq = fromSeq;
    } else {
      // The first stored key k with k × scale ≥ fromKey: the quotient when it divides (then by
      // seq too), else the next integer up, any seq. (Integer quotients of safe integers are exact.)
      const q = fromKey / scale;
      this.atKey = Number.isInteger(q) ? q : Math.ceil(q);
      this.atSeq = Number.isInteger(q) ? fromSeq : -Infinity;
    }
    this.version = -1;
    return this;
  }

  release(): void {
    this.index = null;
    this.item = null;
  }

  /** Move to the first live entry at or after the position; false when there is none. */
  peek(): boolean {
    const index = this.index!;
    const chunks = index.chunks;
    if (this.version !== index.version) {
      this.version = index.version;
      this.seek(index, this.atKey, this.atSeq);
    }
    const slotB = index.slotB;
    while (this.ci < chunks.length) {
      const c = chunks[this.ci]!;
      const f = c.f;
      const end = c.n * ENTRY;
      for (let at = this.at; at < end; at += ENTRY) {
        const stamp = f[at + 2]!;
        // A removed entry (NaN) is passed without reading its bid.
        if (stamp !== stamp) continue;
        const item = c.b[f[at + 3]!]!;
        if (stamp === (slotB ? item.stampB : item.stampA)) {
          this.at = at;
          this.storedKey = f[at]!;
          this.key = this.storedKey * this.scale;
          this.seq = f[at + 1]!;
          this.item = item;
          return true;
        }
      }
      this.ci++;
      this.at = 0;
    }
    this.item = null;
    return false;
  }

  /** Pass the current entry (after `peek` returned true). */
  step(): void {
    this.at += ENTRY;
    this.atKey = this.storedKey;
    this.atSeq = this.seq + 1;
  }
}
