/**
 * The index of resting bids (one per accelerator, and per region for bids limited to regions):
 * entries in (key, seq) order in chunks of at most CHUNK entries. A resting bid is in ~5 of these
 * (every accelerator and region it accepts), and nearly every bid limit is a key of its own, so a
 * level index (structures.ts: a level object and three arrays per key, a Map entry, and a sorted
 * key array spliced on every new key) cost most of placing a bid that rests. Here an insert
 * finds its chunk by a binary search over flat arrays and moves at most CHUNK entries of one
 * array; it allocates nothing in the common case.
 *
 * Removal is lazy, as in LevelIndex: the caller changes the item's stamp, then `remove` counts
 * the entry dead (an entry is live while its stamp equals its item's). Chunks drop dead entries
 * when they fill up or when the dead outnumber the live; `version` changes whenever entries
 * move, and a `BidCursor` re-finds its place by (key, seq) when it does.
 */
import type { FBid } from './engine-model.js';

const CHUNK = 32;
/** An entry is four slots of a chunk's array: key, seq and stamp when inserted, then the bid. */
const ENTRY = 4;

interface Chunk {
  /** Entries in (key, seq) order, ENTRY slots each: one array, so an insert touches one object. */
  e: (number | FBid)[];
  live: number;
}

/** Whether (k1, s1) comes before (k2, s2). */
function lessThan(k1: number, s1: number, k2: number, s2: number): boolean {
  return k1 < k2 || (k1 === k2 && s1 < s2);
}

/** The first entry position in chunk array `e` at or after (key, seq). */
function positionIn(e: readonly (number | FBid)[], key: number, seq: number): number {
  let lo = 0;
  let hi = e.length / ENTRY;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const at = mid * ENTRY;
    if (lessThan(e[at] as number, e[at + 1] as number, key, seq)) lo = mid + 1;
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

  /** Whether entry `i` (a position, not a slot) of chunk array `e` is live. */
  liveAt(e: readonly (number | FBid)[], i: number): boolean {
    const item = e[i * ENTRY + 3] as FBid;
    return e[i * ENTRY + 2] === (this.slotB ? item.stampB : item.stampA);
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
    const e = this.chunks[ci]!.e;
    this.firstKeys[ci] = e[0] as number;
    this.firstSeqs[ci] = e[1] as number;
  }

  insert(item: FBid, key: number, seq: number, stamp: number): void {
    this.count++;
    this.version++;
    const chunks = this.chunks;
    if (chunks.length === 0) {
      chunks.push({ e: [key, seq, stamp, item], live: 1 });
      this.firstKeys.push(key);
      this.firstSeqs.push(seq);
      return;
    }
    let ci = this.chunkOf(key, seq);
    let c = chunks[ci]!;
    if (c.e.length >= CHUNK * ENTRY) {
      if (c.live * ENTRY < c.e.length) this.compact(ci);
      else {
        this.split(ci);
        ci = this.chunkOf(key, seq);
        c = chunks[ci]!;
      }
    }
    const e = c.e;
    const n = e.length;
    c.live++;
    if (lessThan(e[n - ENTRY] as number, e[n - ENTRY + 1] as number, key, seq)) {
      e.push(key, seq, stamp, item);
      return;
    }
    const at = positionIn(e, key, seq) * ENTRY;
    e.splice(at, 0, key, seq, stamp, item);
    if (at === 0) this.setFirst(ci);
  }

  /**
   * The entry with this key and stamp has died (its item's stamp was already changed). Found by
   * the stamp, not by seq: an amended bid leaves with a new seq (its entry keeps the old one).
   */
  remove(key: number, stamp: number): void {
    this.count--;
    const chunks = this.chunks;
    let ci = this.chunkOf(key, -Infinity);
    let c = chunks[ci]!;
    for (let at = positionIn(c.e, key, -Infinity) * ENTRY; ; at += ENTRY) {
      if (at === c.e.length) {
        c = chunks[++ci]!;
        at = 0;
      }
      if (c.e[at + 2] === stamp && c.e[at] === key) break;
    }
    c.live--;
    if (c.live === 0) {
      chunks.splice(ci, 1);
      this.firstKeys.splice(ci, 1);
      this.firstSeqs.splice(ci, 1);
      this.version++;
    } else if (c.e.length - c.live * ENTRY > (c.live + 16) * ENTRY) this.compact(ci);
  }

  /** Drop the dead entries of chunk `ci` (in place: cursors re-find their place, see `version`). */
  private compact(ci: number): void {
    const e = this.chunks[ci]!.e;
    let k = 0;
    for (let at = 0; at < e.length; at += ENTRY) {
      if (!this.liveAt(e, at / ENTRY)) continue;
      if (k !== at) for (let j = 0; j < ENTRY; j++) e[k + j] = e[at + j]!;
      k += ENTRY;
    }
    e.length = k;
    this.setFirst(ci);
    this.version++;
  }

  /** Split full chunk `ci` (all live) in two halves. */
  private split(ci: number): void {
    const c = this.chunks[ci]!;
    const half = (c.e.length / ENTRY) >> 1;
    const upper: Chunk = { e: c.e.slice(half * ENTRY), live: c.e.length / ENTRY - half };
    c.e.length = half * ENTRY;
    c.live = half;
    this.chunks.splice(ci + 1, 0, upper);
    this.firstKeys.splice(ci + 1, 0, upper.e[0] as number);
    this.firstSeqs.splice(ci + 1, 0, upper.e[1] as number);
    this.version++;
  }

  /** What is wrong with the index's own bookkeeping (order, live counts, chunk firsts), or null (tests). */
  problem(): string | null {
    let prevKey = -Infinity;
    let prevSeq = -Infinity;
    let total = 0;
    if (this.firstKeys.length !== this.chunks.length || this.firstSeqs.length !== this.chunks.length) return 'chunk firsts';
    for (let ci = 0; ci < this.chunks.length; ci++) {
      const c = this.chunks[ci]!;
      const n = c.e.length / ENTRY;
      if (n === 0 || n > CHUNK || !Number.isInteger(n)) return `chunk ${ci} size ${c.e.length}`;
      if (this.firstKeys[ci] !== c.e[0] || this.firstSeqs[ci] !== c.e[1]) return `chunk ${ci} first`;
      let live = 0;
      for (let i = 0; i < n; i++) {
        const key = c.e[i * ENTRY] as number;
        const seq = c.e[i * ENTRY + 1] as number;
        if (!lessThan(prevKey, prevSeq, key, seq)) return `chunk ${ci} entry ${i} out of order`;
        prevKey = key;
        prevSeq = seq;
        if (this.liveAt(c.e, i)) live++;
      }
      if (live !== c.live || live === 0) return `chunk ${ci} live ${c.live}, counted ${live}`;
      total += live;
    }
    return total === this.count ? null : `size ${this.count}, counted ${total}`;
  }

  /** Live items in (key, seq) order (a snapshot; safe to mutate the index while using it). */
  *entries(): Generator<FBid> {
    const out: FBid[] = [];
    for (const c of this.chunks) {
      for (let i = 0; i < c.e.length / ENTRY; i++) if (this.liveAt(c.e, i)) out.push(c.e[i * ENTRY + 3] as FBid);
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
  /** Slot of the current entry in its chunk's array. */
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
      const e = chunks[this.ci]!.e;
      for (let at = this.at; at < e.length; at += ENTRY) {
        const item = e[at + 3] as FBid;
        if (e[at + 2] === (slotB ? item.stampB : item.stampA)) {
          this.at = at;
          this.storedKey = e[at] as number;
          this.key = this.storedKey * this.scale;
          this.seq = e[at + 1] as number;
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
    this.at = ci < chunks.length ? positionIn(chunks[ci]!.e, key, seq) * ENTRY : 0;
  }
}
