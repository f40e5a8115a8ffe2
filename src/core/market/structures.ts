/** Small data structures for the fast engine: price-level indexes, time heaps, id maps. */

/**
 * An item of a level index. It can sit in two indexes at once (slot A and slot B); per slot it
 * carries the stamp of its one live entry there, 0 when it has none. An entry whose stamp differs
 * from its item's is dead: removal is O(1) and allocates nothing (no entry objects).
 */
export interface Stamped {
  stampA: number;
  stampB: number;
}

export interface Level<T> {
  readonly key: number;
  /** Parallel arrays: item, its seq when inserted, its stamp when inserted. */
  items: T[];
  seqs: number[];
  stamps: number[];
  head: number;
  live: number;
}

/**
 * Items grouped by an integer key (ascending), each level in seq order (time priority).
 * The caller owns the stamps: it gives an item a fresh stamp before `insert`, and zeroes (or
 * replaces) it before `remove`. Dead entries are skipped, dropped from the head as they are
 * passed, and compacted away (into new arrays: walkers holding the old ones stay valid) when they
 * outnumber the live ones.
 */
export class LevelIndex<T extends Stamped> {
  /** Level keys ascending (found by binary search). */
  readonly keys: number[] = [];
  /**
   * The levels by key. Not an array beside `keys`: inserting a new level mid-way would move the
   * level pointers up one by one, and moving pointers costs a write barrier each (they are most
   * of a new bid's cost); the numbers of `keys` move with a plain memmove.
   */
  private readonly levels = new Map<number, Level<T>>();
  private count = 0;
  /** The last level looked up: most inserts and removals hit the same few levels. */
  private last: Level<T> | undefined = undefined;

  /** `slotB`: this index uses the items' `stampB` (else `stampA`). */
  constructor(readonly slotB: boolean) {}

  get size(): number {
    return this.count;
  }

  level(key: number): Level<T> | undefined {
    const last = this.last;
    if (last !== undefined && last.key === key && last.live > 0) return last;
    const level = this.levels.get(key);
    if (level !== undefined) this.last = level;
    return level;
  }

  /** The level at `keys[i]`. */
  levelAt(i: number): Level<T> {
    return this.levels.get(this.keys[i]!)!;
  }

  /** Whether entry `i` of `level` is live. */
  liveAt(level: Level<T>, i: number): boolean {
    const item = level.items[i]!;
    return level.stamps[i] === (this.slotB ? item.stampB : item.stampA);
  }

  /** Whether the entry with this item and stamp is live. */
  isLive(item: T, stamp: number): boolean {
    return stamp === (this.slotB ? item.stampB : item.stampA);
  }

  insert(item: T, key: number, seq: number, stamp: number): void {
    let level = this.level(key);
    if (level === undefined) {
      // Arrays built with their one entry: a first push into [] reserves 17 slots, and most
      // levels of a bid book (one per distinct limit) never hold a second entry. Three such
      // arrays per level were the largest part of the engine's live heap.
      level = { key, items: [item], seqs: [seq], stamps: [stamp], head: 0, live: 1 };
      this.last = level;
      this.levels.set(key, level);
      const keys = this.keys;
      // Appending at the end is the common case (new worst price).
      if (keys.length === 0 || keys[keys.length - 1]! < key) keys.push(key);
      else keys.splice(lowerBound(keys, key), 0, key);
      this.count++;
      return;
    }
    const items = level.items;
    const seqs = level.seqs;
    const n = items.length;
    if (n === 0 || seqs[n - 1]! < seq) {
      items.push(item);
      seqs.push(seq);
      level.stamps.push(stamp);
    } else {
      let lo = level.head;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (seqs[mid]! < seq) lo = mid + 1;
        else hi = mid;
      }
      items.splice(lo, 0, item);
      seqs.splice(lo, 0, seq);
      level.stamps.splice(lo, 0, stamp);
    }
    level.live++;
    this.count++;
  }

  /** One live entry at `key` has died (its item's stamp was already changed). */
  remove(key: number): void {
    this.count--;
    const level = this.level(key)!;
    level.live--;
    if (level.live === 0) {
      if (this.last === level) this.last = undefined;
      this.levels.delete(key);
      const keys = this.keys;
      if (keys[keys.length - 1] === key) keys.pop();
      else keys.splice(lowerBound(keys, key), 1);
      return;
    }
    const items = level.items;
    const n = items.length;
    let head = level.head;
    while (head < n && !this.liveAt(level, head)) head++;
    level.head = head;
    if (n - head - level.live > level.live + 32) {
      // Compact copies (walkers holding the old arrays must see them unchanged), then cut them
      // to the live count: cutting more than half of a store frees the rest (no 17-slot arrays
      // from pushing into []).
      const live = level.live;
      const ni = items.slice(head);
      const ns = level.seqs.slice(head);
      const nt = level.stamps.slice(head);
      let k = 0;
      for (let i = 0; i < ni.length; i++) {
        const item = ni[i]!;
        if (nt[i] !== (this.slotB ? item.stampB : item.stampA)) continue;
        ni[k] = item;
        ns[k] = ns[i]!;
        nt[k] = nt[i]!;
        k++;
      }
      ni.length = live;
      ns.length = live;
      nt.length = live;
      level.items = ni;
      level.seqs = ns;
      level.stamps = nt;
      level.head = 0;
    } else if (head > 1024 && head * 2 > n) {
      level.items = items.slice(head);
      level.seqs = level.seqs.slice(head);
      level.stamps = level.stamps.slice(head);
      level.head = 0;
    }
  }

  /** Live items in key order, then seq order (a snapshot; safe to mutate the index while using it). */
  *entries(): Generator<T> {
    for (const key of [...this.keys]) {
      const level = this.level(key);
      if (!level) continue;
      const items = level.items.slice(level.head);
      const stamps = level.stamps.slice(level.head);
      for (let i = 0; i < items.length; i++) if (this.isLive(items[i]!, stamps[i]!)) yield items[i]!;
    }
  }
}

export function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A binary min-heap of (time, id) pairs kept in two parallel number arrays: no object per entry
 * (times stay unboxed in a double array). Equal times pop in no particular order.
 * Deliberately not the generic MinHeap (src/core/heap.ts): it holds one entry per lease, the
 * engine's largest population, and a `{time, id}` object per entry behind a comparator call is
 * both more heap for the GC to copy and slower: 1M pushes with a pop every third, then draining,
 * took ~160 ms here against ~700-800 ms for MinHeap<{ at, id }> (Node 20).
 */
export class TimeHeap {
  private readonly times: number[] = [];
  private readonly ids: number[] = [];

  get size(): number {
    return this.times.length;
  }
  /** The smallest time, or Infinity when empty. */
  peekTime(): number {
    return this.times.length > 0 ? this.times[0]! : Infinity;
  }
  peekId(): number {
    return this.ids[0]!;
  }
  push(time: number, id: number): void {
    const t = this.times;
    const d = this.ids;
    t.push(time);
    d.push(id);
    let i = t.length - 1;
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
    const t = this.times;
    const d = this.ids;
    const lastT = t.pop()!;
    const lastD = d.pop()!;
    const n = t.length;
    if (n === 0) return;
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

const SHARDS = 16;

/**
 * A string-keyed map split over SHARDS Maps by the key's last characters, so that growing never
 * rehashes more than a sixteenth of the entries at once (a Map of a million entries takes tens of
 * milliseconds to grow: a pause). Iteration order is unspecified.
 */
export class ShardedMap<V> {
  private readonly shards: Map<string, V>[] = Array.from({ length: SHARDS }, () => new Map<string, V>());

  private shard(key: string): Map<string, V> {
    const n = key.length;
    const h = n === 0 ? 0 : key.charCodeAt(n - 1) + (n > 1 ? 7 * key.charCodeAt(n - 2) : 0);
    return this.shards[h & (SHARDS - 1)]!;
  }

  get size(): number {
    let n = 0;
    for (const s of this.shards) n += s.size;
    return n;
  }
  get(key: string): V | undefined {
    return this.shard(key).get(key);
  }
  has(key: string): boolean {
    return this.shard(key).has(key);
  }
  set(key: string, value: V): void {
    this.shard(key).set(key, value);
  }
  delete(key: string): boolean {
    return this.shard(key).delete(key);
  }
  *values(): Generator<V> {
    for (const s of this.shards) yield* s.values();
  }
}
