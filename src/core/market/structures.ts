/** Small data structures for the fast engine: time heaps, id maps, and the stamps of the order indexes. */

/**
 * An item of an order index (engine-askindex.ts, engine-bidindex.ts). It can sit in two indexes
 * at once (slot A and slot B); per slot it carries the stamp of its one live entry there, 0 when
 * it has none. The caller owns the stamps: it gives an item a fresh stamp before `insert`, and
 * zeroes (or replaces) it before `remove`. An entry whose stamp differs from its item's is dead.
 */
export interface Stamped {
  stampA: number;
  stampB: number;
}

/** The first index in `sorted[0..end)` whose value is not below `x` (`end` when none is). */
export function lowerBound(sorted: readonly number[], x: number, end = sorted.length): number {
  let lo = 0;
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A binary min-heap of (time, id) pairs kept in two parallel Float64Arrays: no object per entry,
 * and nothing for the GC to look into. Equal times pop in no particular order.
 * Deliberately not the generic MinHeap (src/core/heap.ts): it holds one entry per lease, the
 * engine's largest population, and a `{time, id}` object per entry behind a comparator call is
 * both more heap for the GC to copy and slower: 1M pushes with a pop every third, then draining,
 * took ~160 ms here against ~700-800 ms for MinHeap<{ at, id }> (Node 20).
 * Typed arrays rather than number arrays: a number array of a million entries is a large heap
 * object, and each time `push` outgrew one (by half) V8 allocated and filled the next in the
 * large-object space, which cost more than the heap's own work on a run of a million leases;
 * a typed array doubles with one memcpy outside the heap. 1M pushes of rising lease ends, with a
 * pop whenever one is due (bench:engine's pattern): 78-211 ms against 243-383 ms for number
 * arrays, 5 runs each on a noisy 2-core VM. Ids are integers below 2^53 (lease numbers), exact
 * in a double.
 */
export class TimeHeap {
  private times = new Float64Array(64);
  private ids = new Float64Array(64);
  private n = 0;

  get size(): number {
    return this.n;
  }
  /** The smallest time, or Infinity when empty. */
  peekTime(): number {
    return this.n > 0 ? this.times[0]! : Infinity;
  }
  peekId(): number {
    return this.ids[0]!;
  }
  push(time: number, id: number): void {
    if (this.n === this.times.length) this.grow();
    const t = this.times;
    const d = this.ids;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = t[p]!;
      if (!(time < pt)) break;
      t[i] = pt;
      d[i] = d[p]!;
      i = p;
    }
    t[i] = time;
    d[i] = id;
  }
  pop(): void {
    if (this.n === 0) return;
    const t = this.times;
    const d = this.ids;
    const n = --this.n;
    if (n === 0) return;
    const lastT = t[n]!;
    const lastD = d[n]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let m = l;
      if (r < n && t[r]! < t[l]!) m = r;
      if (!(t[m]! < lastT)) break;
      t[i] = t[m]!;
      d[i] = d[m]!;
      i = m;
    }
    t[i] = lastT;
    d[i] = lastD;
    // Give back memory after a peak (a quarter full: halving leaves room to grow again).
    if (n < t.length >> 2 && t.length > 1024) this.shrink();
  }

  private shrink(): void {
    const half = this.times.length >> 1;
    this.times = this.times.slice(0, half);
    this.ids = this.ids.slice(0, half);
  }

  private grow(): void {
    const times = new Float64Array(this.times.length * 2);
    times.set(this.times);
    this.times = times;
    const ids = new Float64Array(this.ids.length * 2);
    ids.set(this.ids);
    this.ids = ids;
  }
}

const PAGE = 1024;

interface Page<V> {
  readonly no: number;
  readonly slots: (V | undefined)[];
  live: number;
}

/**
 * A map from positive integers issued in increasing order (lease numbers) to values. Recent
 * numbers sit in dense pages of PAGE slots: an insert writes the next slot of the newest page (no
 * hashing, no random memory access, 8 bytes a number). A page that has become sparse (under
 * 1/16 live, and not the newest) moves its few remaining entries to a Map, so memory stays
 * proportional to the live entries however long a few of them live.
 */
export class DenseIdMap<V> {
  private readonly pages = new Map<number, Page<V>>();
  private readonly sparse = new Map<number, V>();
  private last: Page<V> | null = null;
  /** The page of the largest number set so far (never moved to `sparse`). */
  private newestPage = -1;
  private count = 0;

  get size(): number {
    return this.count;
  }

  private page(no: number): Page<V> | undefined {
    const last = this.last;
    if (last !== null && last.no === no) return last;
    const page = this.pages.get(no);
    if (page !== undefined) this.last = page;
    return page;
  }

  get(id: number): V | undefined {
    const no = Math.floor(id / PAGE);
    const page = this.page(no);
    if (page !== undefined) {
      const v = page.slots[id - no * PAGE];
      if (v !== undefined) return v;
    }
    return this.sparse.size === 0 ? undefined : this.sparse.get(id);
  }

  set(id: number, value: V): void {
    const no = Math.floor(id / PAGE);
    if (no < this.newestPage && this.page(no) === undefined) {
      // An old page that was dropped or moved: keep this one in the map.
      if (!this.sparse.has(id)) this.count++;
      this.sparse.set(id, value);
      return;
    }
    let page = this.page(no);
    if (page === undefined) {
      page = { no, slots: new Array<V | undefined>(PAGE).fill(undefined), live: 0 };
      this.pages.set(no, page);
      this.last = page;
    }
    if (no > this.newestPage) this.newestPage = no;
    const i = id - no * PAGE;
    if (page.slots[i] === undefined) {
      page.live++;
      this.count++;
    }
    page.slots[i] = value;
  }

  delete(id: number): boolean {
    const no = Math.floor(id / PAGE);
    const page = this.page(no);
    const i = id - no * PAGE;
    if (page === undefined || page.slots[i] === undefined) {
      if (!this.sparse.delete(id)) return false;
      this.count--;
      return true;
    }
    page.slots[i] = undefined;
    page.live--;
    this.count--;
    if (page.live === 0 || (no !== this.newestPage && page.live * 16 < PAGE)) {
      for (let k = 0; k < PAGE; k++) {
        const v = page.slots[k];
        if (v !== undefined) this.sparse.set(no * PAGE + k, v);
      }
      this.pages.delete(no);
      if (this.last === page) this.last = null;
    }
    return true;
  }

  /** Every (id, value), in no particular order (tests). */
  *entries(): Generator<[number, V]> {
    for (const page of this.pages.values()) {
      for (let k = 0; k < PAGE; k++) {
        const v = page.slots[k];
        if (v !== undefined) yield [page.no * PAGE + k, v];
      }
    }
    yield* this.sparse.entries();
  }
}

const SHARD_BITS = 6;
const SHARDS = 1 << SHARD_BITS;
const FIRST_SLOTS = 16;

/** A 32-bit hash of a string, never 0 (0 marks an empty slot): FNV-1a over the UTF-16 units, then a final mix. */
export function hashId(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h === 0 ? 1 : h;
}

/** A record a ShardedMap holds: its key is its own id. */
export interface HasId {
  readonly id: string;
}

/** One open-addressing table (linear probing, at most half full): parallel arrays of hash and record. */
class IdShard<V extends HasId> {
  readonly mask: number;
  readonly hashes: Int32Array;
  readonly vals: (V | undefined)[];
  size = 0;
  constructor(slots: number) {
    this.mask = slots - 1;
    this.hashes = new Int32Array(slots);
    this.vals = new Array<V | undefined>(slots).fill(undefined);
  }
  /** The slot holding the record of id `key` (of hash `h`), or -1. */
  find(key: string, h: number): number {
    const hashes = this.hashes;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const x = hashes[i]!;
      if (x === 0) return -1;
      if (x === h && this.vals[i]!.id === key) return i;
    }
  }
  /** The first empty slot on `h`'s probe path (the caller knows the key is absent and a slot is free). */
  emptySlot(h: number): number {
    const hashes = this.hashes;
    const mask = this.mask;
    let i = h & mask;
    while (hashes[i] !== 0) i = (i + 1) & mask;
    return i;
  }
}

/**
 * The engine's records by id (nodes and orders, up to millions of them). A `Map` that large
 * misses the CPU caches several times per lookup (bucket, then each chained entry and its key
 * string), and every new order and node starts with a lookup that misses. Here a lookup is one
 * probe into a packed array of 32-bit hashes, touching a record only when its hash matches.
 * The key is the record's own `id`, not kept again: a keys array beside the records was half
 * of the map's pointer slots, a quarter of a busy engine's heap for every major GC to scan.
 * The table is split over SHARDS shards by the hash's top bits, so growing never rehashes more
 * than a small share of the entries at once (a pause). Iteration order is unspecified (it is
 * deterministic: the hash has no random seed).
 */
export class ShardedMap<V extends HasId> {
  private readonly shards: IdShard<V>[] = Array.from({ length: SHARDS }, () => new IdShard<V>(FIRST_SLOTS));
  private count = 0;

  get size(): number {
    return this.count;
  }
  get(key: string): V | undefined {
    const h = hashId(key);
    const s = this.shards[h >>> (32 - SHARD_BITS)]!;
    const i = s.find(key, h);
    return i < 0 ? undefined : s.vals[i];
  }
  has(key: string): boolean {
    const h = hashId(key);
    return this.shards[h >>> (32 - SHARD_BITS)]!.find(key, h) >= 0;
  }
  /** Add `value` under its id, replacing the record of that id if there is one. */
  set(value: V): void {
    const h = hashId(value.id);
    const s = this.shards[h >>> (32 - SHARD_BITS)]!;
    const i = s.find(value.id, h);
    if (i >= 0) s.vals[i] = value;
    else this.insertAbsent(value, h);
  }
  delete(key: string): boolean {
    const h = hashId(key);
    const s = this.shards[h >>> (32 - SHARD_BITS)]!;
    let i = s.find(key, h);
    if (i < 0) return false;
    // Backward-shift deletion: pull later entries of the probe run back so no lookup stops early.
    const { hashes, vals, mask } = s;
    for (let j = (i + 1) & mask; hashes[j] !== 0; j = (j + 1) & mask) {
      const home = hashes[j]! & mask;
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      hashes[i] = hashes[j]!;
      vals[i] = vals[j];
      i = j;
    }
    hashes[i] = 0;
    vals[i] = undefined;
    s.size--;
    this.count--;
    return true;
  }
  *values(): Generator<V> {
    for (const s of this.shards) {
      for (let i = 0; i <= s.mask; i++) if (s.hashes[i] !== 0) yield s.vals[i]!;
    }
  }

  private insertAbsent(value: V, h: number): void {
    const no = h >>> (32 - SHARD_BITS);
    let s = this.shards[no]!;
    if ((s.size + 1) * 2 > s.mask + 1) s = this.grow(no);
    const i = s.emptySlot(h);
    s.hashes[i] = h;
    s.vals[i] = value;
    s.size++;
    this.count++;
  }

  private grow(no: number): IdShard<V> {
    const old = this.shards[no]!;
    const s = new IdShard<V>((old.mask + 1) * 2);
    for (let j = 0; j <= old.mask; j++) {
      const h = old.hashes[j]!;
      if (h === 0) continue;
      const i = s.emptySlot(h);
      s.hashes[i] = h;
      s.vals[i] = old.vals[j];
    }
    s.size = old.size;
    this.shards[no] = s;
    return s;
  }
}
