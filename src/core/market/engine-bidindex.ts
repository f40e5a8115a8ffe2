/**
 * The index of resting bids (one per accelerator, and per region for bids limited to regions):
 * entries in (key, seq) order in chunks of at most CHUNK entries. A resting bid is in ~5 of these
 * (every accelerator and region it accepts), and nearly every bid limit is a key of its own, so a
 * level index (structures.ts: a level object and three arrays per key, a Map entry, and a sorted
 * key array spliced on every new key) cost most of placing a bid that rests. Here an insert
 * finds its chunk by a binary search over flat arrays, then its place by one over the chunk, and
 * makes room with one `copyWithin` of the chunk's numbers; it allocates nothing in the common case.
 *
 * Removal is lazy, as in LevelIndex: the caller changes the item's stamp, then `remove` counts
 * the entry dead (an entry is live while its stamp equals its item's). Chunks drop dead entries
 * when they fill up or when the dead outnumber the live; `version` changes whenever entries
 * move, and a `BidCursor` re-finds its place by (key, seq) when it does.
 */
import type { FBid } from './engine-model.js';

/**
 * Large enough that a split is rare and the chunk firsts stay few (spliced on every split and
 * dropped chunk: with 32, a book of 300k bids moved ~10 kB of them per insert); small enough that
 * the `copyWithin` of an insert (half a chunk on average) stays short.
 */
const CHUNK = 128;
/** The first chunk of an index starts this small and doubles (most indexes hold a few bids). */
const FIRST_CHUNK = 8;
/**
 * An entry is four numbers of its chunk's `f`: key, seq, stamp when inserted, and where its bid
 * is in the chunk's `b`. Keys are integers up to ~1e12 and seqs up to 2^53, exact in a double.
 */
const ENTRY = 4;

/**
 * Numbers in a Float64Array, bids apart: in one mixed array (as before) an insert spliced four
 * slots (allocating the splice's result) and a key past the small integers was a heap number per
 * entry. The bids stay where they were put (an entry points at its bid), so an insert moves the
 * numbers only, with one memmove; compaction and splits put them back in entry order.
 */
interface Chunk {
  f: Float64Array;
  /** The bids of the n entries at [0, n), in any order; null past n (keeps no bid alive). */
  readonly b: (FBid | null)[];
  /** Entries (live and removed) and room for them. */
  n: number;
  cap: number;
  live: number;
}

function newChunk(cap: number): Chunk {
  const b: (FBid | null)[] = [];
  for (let i = 0; i < cap; i++) b.push(null);
  return { f: new Float64Array(cap * ENTRY), b, n: 0, cap, live: 0 };
}

/** Bids being put back in entry order (compaction, split): one array for all, so neither allocates. */
const scratch: (FBid | null)[] = [];
for (let i = 0; i < CHUNK; i++) scratch.push(null);

/** Whether (k1, s1) comes before (k2, s2). */
function lessThan(k1: number, s1: number, k2: number, s2: number): boolean {
  return k1 < k2 || (k1 === k2 && s1 < s2);
}

/** The first entry position in chunk `c` at or after (key, seq). */
function positionIn(c: Chunk, key: number, seq: number): number {
  const f = c.f;
  let lo = 0;
  let hi = c.n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const at = mid * ENTRY;
    if (lessThan(f[at]!, f[at + 1]!, key, seq)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class BidIndex {
  readonly chunks: Chunk[] = [];
  /**
   * Each chunk's first (key, seq), in flat arrays: the search for a chunk reads these, not the
   * chunks (no cache miss per step on a large book).
   */
  private readonly firstKeys: number[] = [];
  private readonly firstSeqs: number[] = [];
  private count = 0;
  /** Changes whenever entries move (insert, compaction, a chunk split or dropped). */
  version = 0;

  /** `slotB`: this index uses the bids' `stampB` (else `stampA`). */
  constructor(readonly slotB: boolean) {}

  get size(): number {
    return this.count;
  }

  isLive(item: FBid, stamp: number): boolean {
    return stamp === (this.slotB ? item.stampB : item.stampA);
  }

  /** Whether entry `i` (a position, not a slot) of chunk `c` is live. */
  liveAt(c: Chunk, i: number): boolean {
    const at = i * ENTRY;
    const item = c.b[c.f[at + 3]!]!;
    return c.f[at + 2] === (this.slotB ? item.stampB : item.stampA);
  }

  /** The chunk that holds (or would hold) entry (key, seq): the last one starting at or before it, else 0. */
  chunkOf(key: number, seq: number): number {
    const fk = this.firstKeys;
    const fs = this.firstSeqs;
    let lo = 1;
    let hi = fk.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (lessThan(key, seq, fk[mid]!, fs[mid]!)) hi = mid;
      else lo = mid + 1;
    }
    return lo - 1;
  }

  /** Record chunk `ci`'s first entry again (after it changed). */
  private setFirst(ci: number): void {
    const f = this.chunks[ci]!.f;
    this.firstKeys[ci] = f[0]!;
    this.firstSeqs[ci] = f[1]!;
  }

  insert(item: FBid, key: number, seq: number, stamp: number): void {
    this.count++;
    this.version++;
    const chunks = this.chunks;
    if (chunks.length === 0) {
      chunks.push(newChunk(FIRST_CHUNK));
      this.firstKeys.push(key);
      this.firstSeqs.push(seq);
    }
    let ci = this.chunkOf(key, seq);
    let c = chunks[ci]!;
    if (c.n === c.cap) {
      if (c.live < c.n) {
        this.compact(c);
        this.setFirst(ci);
      } else if (c.cap < CHUNK) this.grow(c);
      else {
        this.split(ci);
        ci = this.chunkOf(key, seq);
        c = chunks[ci]!;
      }
    }
    const f = c.f;
    const n = c.n;
    let at = n * ENTRY;
    if (n > 0 && !lessThan(f[at - ENTRY]!, f[at - ENTRY + 1]!, key, seq)) {
      at = positionIn(c, key, seq) * ENTRY;
      f.copyWithin(at + ENTRY, at, n * ENTRY);
    }
    f[at] = key;
    f[at + 1] = seq;
    f[at + 2] = stamp;
    f[at + 3] = n;
    c.b[n] = item;
    c.n = n + 1;
    c.live++;
    if (at === 0) this.setFirst(ci);
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
      chunks.splice(ci, 1);
      this.firstKeys.splice(ci, 1);
      this.firstSeqs.splice(ci, 1);
      this.version++;
    } else if (c.n - c.live > c.live + CHUNK / 2) {
      this.compact(c);
      this.setFirst(ci);
    }
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

  /** Double the room of full chunk `c` (all live): its entries stay where they are. */
  private grow(c: Chunk): void {
    const cap = Math.min(CHUNK, c.cap * 2);
    const f = new Float64Array(cap * ENTRY);
    f.set(c.f);
    c.f = f;
    for (let i = c.cap; i < cap; i++) c.b.push(null);
    c.cap = cap;
  }

  /** Split full chunk `ci` (all live) in two halves, each's bids in entry order. */
  private split(ci: number): void {
    const c = this.chunks[ci]!;
    const f = c.f;
    const b = c.b;
    const n = c.n;
    const half = n >> 1;
    const upper = newChunk(CHUNK);
    const uf = upper.f;
    for (let i = half; i < n; i++) {
      const at = i * ENTRY;
      const to = (i - half) * ENTRY;
      upper.b[i - half] = b[f[at + 3]!]!;
      uf[to] = f[at]!;
      uf[to + 1] = f[at + 1]!;
      uf[to + 2] = f[at + 2]!;
      uf[to + 3] = i - half;
    }
    for (let i = 0; i < half; i++) {
      const at = i * ENTRY;
      scratch[i] = b[f[at + 3]!]!;
      f[at + 3] = i;
    }
    for (let i = 0; i < half; i++) {
      b[i] = scratch[i]!;
      scratch[i] = null;
    }
    for (let i = half; i < n; i++) b[i] = null;
    upper.n = upper.live = n - half;
    c.n = c.live = half;
    this.chunks.splice(ci + 1, 0, upper);
    this.firstKeys.splice(ci + 1, 0, uf[0]!);
    this.firstSeqs.splice(ci + 1, 0, uf[1]!);
    this.version++;
  }

  /** What is wrong with the index's own bookkeeping (order, live counts, chunk firsts, bid slots), or null (tests). */
  problem(): string | null {
    let prevKey = -Infinity;
    let prevSeq = -Infinity;
    let total = 0;
    if (this.firstKeys.length !== this.chunks.length || this.firstSeqs.length !== this.chunks.length) return 'chunk firsts';
    for (let ci = 0; ci < this.chunks.length; ci++) {
      const c = this.chunks[ci]!;
      const n = c.n;
      if (n === 0 || n > c.cap || c.cap > CHUNK || c.f.length !== c.cap * ENTRY || c.b.length !== c.cap) return `chunk ${ci} size ${n} of ${c.cap}`;
      if (this.firstKeys[ci] !== c.f[0] || this.firstSeqs[ci] !== c.f[1]) return `chunk ${ci} first`;
      const slots = new Set<number>();
      let live = 0;
      for (let i = 0; i < n; i++) {
        const at = i * ENTRY;
        const key = c.f[at]!;
        const seq = c.f[at + 1]!;
        if (!lessThan(prevKey, prevSeq, key, seq)) return `chunk ${ci} entry ${i} out of order`;
        prevKey = key;
        prevSeq = seq;
        const slot = c.f[at + 3]!;
        if (!Number.isInteger(slot) || slot < 0 || slot >= n || slots.has(slot) || c.b[slot] === null) return `chunk ${ci} entry ${i} bid slot ${slot}`;
        slots.add(slot);
        if (this.liveAt(c, i)) live++;
        else if (!Number.isNaN(c.f[at + 2])) return `chunk ${ci} entry ${i} dead but not removed`;
      }
      for (let i = n; i < c.cap; i++) if (c.b[i] !== null) return `chunk ${ci} keeps a bid past its end`;
      if (live !== c.live || live === 0) return `chunk ${ci} live ${c.live}, counted ${live}`;
      total += live;
    }
    return total === this.count ? null : `size ${this.count}, counted ${total}`;
  }

  /** Live items in (key, seq) order (a snapshot; safe to mutate the index while using it). */
  *entries(): Generator<FBid> {
    const out: FBid[] = [];
    for (const c of this.chunks) {
      for (let i = 0; i < c.n; i++) if (this.liveAt(c, i)) out.push(c.b[c.f[i * ENTRY + 3]!]!);
    }
    yield* out;
  }
}

/**
 * A walk over one BidIndex in (key, seq) order that survives changes to the index during the walk
 * (bids filled by the walk leave it; chunks are compacted or dropped): after any change it finds
 * its place again by the last entry it passed. Reusable (`start`); allocation-free.
 */
export class BidCursor {
  private index: BidIndex | null = null;
  private ci = 0;
  /** Slot of the current entry in its chunk's `f`. */
  private at = 0;
  private version = -1;
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
      this.seek(chunks);
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

  private seek(chunks: readonly Chunk[]): void {
    const key = this.atKey;
    const seq = this.atSeq;
    const ci = chunks.length === 0 ? 0 : this.index!.chunkOf(key, seq);
    this.ci = ci;
    this.at = ci < chunks.length ? positionIn(chunks[ci]!, key, seq) * ENTRY : 0;
  }
}
