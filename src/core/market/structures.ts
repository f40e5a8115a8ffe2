/** Small data structures for the fast engine: a binary min-heap and a price-level index. */

export class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }
  peek(): T | undefined {
    return this.items[0];
  }
  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

export interface Entry<T> {
  readonly item: T;
  readonly key: number;
  readonly seq: number;
  dead: boolean;
}

export interface Level<T> {
  readonly key: number;
  items: Entry<T>[];
  head: number;
  live: number;
}

/**
 * Items grouped by an integer key (ascending), each level in seq order (time priority).
 * Removal marks an entry dead in O(1); dead entries are skipped, dropped from the head as they
 * are passed, and compacted away when they outnumber the live ones.
 */
export class LevelIndex<T> {
  readonly keys: number[] = [];
  private readonly levels = new Map<number, Level<T>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  level(key: number): Level<T> | undefined {
    return this.levels.get(key);
  }

  insert(item: T, key: number, seq: number): Entry<T> {
    let level = this.levels.get(key);
    if (!level) {
      level = { key, items: [], head: 0, live: 0 };
      this.levels.set(key, level);
      this.keys.splice(lowerBound(this.keys, key), 0, key);
    }
    const entry: Entry<T> = { item, key, seq, dead: false };
    const items = level.items;
    if (items.length === 0 || items[items.length - 1]!.seq < seq) items.push(entry);
    else {
      let lo = level.head;
      let hi = items.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (items[mid]!.seq < seq) lo = mid + 1;
        else hi = mid;
      }
      items.splice(lo, 0, entry);
    }
    level.live++;
    this.count++;
    return entry;
  }

  remove(entry: Entry<T>): void {
    if (entry.dead) return;
    entry.dead = true;
    this.count--;
    const level = this.levels.get(entry.key)!;
    level.live--;
    if (level.live === 0) {
      this.levels.delete(entry.key);
      this.keys.splice(lowerBound(this.keys, entry.key), 1);
      return;
    }
    const items = level.items;
    while (level.head < items.length && items[level.head]!.dead) level.head++;
    if (items.length - level.head - level.live > level.live + 32) {
      level.items = items.filter((e, i) => i >= level.head && !e.dead);
      level.head = 0;
    } else if (level.head > 1024 && level.head * 2 > items.length) {
      level.items = items.slice(level.head);
      level.head = 0;
    }
  }

  /** Live entries in key order, then seq order (a snapshot; safe to mutate the index while using it). */
  *entries(): Generator<Entry<T>> {
    for (const key of [...this.keys]) {
      const level = this.levels.get(key);
      if (!level) continue;
      const items = level.items.slice(level.head);
      for (const e of items) if (!e.dead) yield e;
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
