/**
 * What the engine's two chunked indexes share (the bid index, engine-bidindex.ts, and the ask
 * index, engine-askindex.ts): entries of four numbers in (key, seq) order, kept in chunks whose
 * numbers are one Float64Array and whose items sit apart in slots an insert does not move, and
 * the directory of each chunk's first (key, seq) that finds a chunk by binary search, placing an
 * entry and merging two chunks. The two differ in how entries leave (the bid index lazily by
 * stamp, the ask index at once), so each keeps its own removal, split and walk.
 */

/**
 * Most entries a chunk holds: large enough that splits are rare and the chunk firsts few (they are
 * spliced on every split and dropped chunk); small enough that the `copyWithin` of an insert or a
 * removal (half a chunk on average) stays short.
 */
export const CHUNK = 128;
/** The first chunk of an index starts this small and doubles (most indexes hold a few entries). */
export const FIRST_CHUNK = 8;
/**
 * A chunk that a removal leaves with at most this many entries (live ones, in the bid index) is
 * merged with a neighbour when both fit in half a chunk: after many removals, chunks do not stay
 * full size for a few entries each.
 */
export const SMALL = CHUNK / 8;
/**
 * An entry is four numbers of its chunk's `f`: key, seq, stamp when inserted, and the slot of its
 * item in the chunk's `b`. Keys are integers up to ~1e12 and seqs below 2^53, exact in a double.
 */
export const ENTRY = 4;

/**
 * Numbers in a Float64Array, items apart: moving an entry moves four numbers with one memmove, no
 * pointer (each costs a write barrier), and allocates nothing.
 */
export interface Chunk<T> {
  f: Float64Array;
  /** The items of the n entries, each in the slot its entry names; null in unused slots (keeps nothing alive). */
  readonly b: (T | null)[];
  /** Entries in use and room for them. */
  n: number;
  cap: number;
}

export function newSlots<T>(cap: number): (T | null)[] {
  const b: (T | null)[] = [];
  for (let i = 0; i < cap; i++) b.push(null);
  return b;
}

/** Whether (k1, s1) comes before (k2, s2). */
export function lessThan(k1: number, s1: number, k2: number, s2: number): boolean {
  return k1 < k2 || (k1 === k2 && s1 < s2);
}

/** The first entry position in chunk `c` at or after (key, seq). */
export function positionIn(c: Chunk<unknown>, key: number, seq: number): number {
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

/** Make room for `cap` entries in chunk `c` (its entries stay where they are). */
export function reserve(c: Chunk<unknown>, cap: number): void {
  if (cap <= c.cap) return;
  const f = new Float64Array(cap * ENTRY);
  f.set(c.f.subarray(0, c.n * ENTRY));
  c.f = f;
  for (let i = c.cap; i < cap; i++) c.b.push(null);
  c.cap = cap;
}

/**
 * Append entries [start, n) of chunk `from` to chunk `to`, which has room and whose n entries use
 * slots [0, n): the appended items take the slots after those, in entry order.
 */
function appendEntries<T>(to: Chunk<T>, from: Chunk<T>, start: number): void {
  const f = to.f;
  const ff = from.f;
  let k = to.n;
  for (let i = start; i < from.n; i++, k++) {
    const at = i * ENTRY;
    const dest = k * ENTRY;
    f[dest] = ff[at]!;
    f[dest + 1] = ff[at + 1]!;
    f[dest + 2] = ff[at + 2]!;
    f[dest + 3] = k;
    to.b[k] = from.b[ff[at + 3]!]!;
  }
  to.n = k;
}

/** Which slots of a chunk being split its lower part uses (see `splitAt`): shared, so a split allocates only the new chunk. */
const slotUsed = new Uint8Array(CHUNK);

/**
 * The chunk that holds (or would hold) entry (key, seq) given each chunk's first (key, seq) in
 * `firstKeys`/`firstSeqs`: the last one starting at or before it, else 0. Flat arrays, so the
 * search reads no chunk (no cache miss per step on a large index).
 */
export function chunkOf(firstKeys: readonly number[], firstSeqs: readonly number[], key: number, seq: number): number {
  let lo = 1;
  let hi = firstKeys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (lessThan(key, seq, firstKeys[mid]!, firstSeqs[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo - 1;
}

/**
 * The checks both indexes' `problem` make of their chunks' shape: the directory matches the
 * chunks, sizes are in bounds, entries are in strictly increasing (key, seq) order across chunks,
 * the n entries name n distinct slots that hold items, and no item is kept past them. Calls
 * `entry` for each entry (its item, stamp, key, seq) for the index's own checks. A description
 * of the first problem, or null.
 */
export function chunksProblem<T>(
  chunks: readonly Chunk<T>[],
  firstKeys: readonly number[],
  firstSeqs: readonly number[],
  entry: (ci: number, i: number, item: T, stamp: number, key: number, seq: number) => string | null,
): string | null {
  if (firstKeys.length !== chunks.length || firstSeqs.length !== chunks.length) return 'chunk firsts';
  let prevKey = -Infinity;
  let prevSeq = -Infinity;
  for (let ci = 0; ci < chunks.length; ci++) {
    const c = chunks[ci]!;
    const n = c.n;
    if (n === 0 || n > c.cap || c.cap > CHUNK || c.f.length !== c.cap * ENTRY || c.b.length !== c.cap) return `chunk ${ci} size ${n} of ${c.cap}`;
    if (firstKeys[ci] !== c.f[0] || firstSeqs[ci] !== c.f[1]) return `chunk ${ci} first`;
    const slots = new Set<number>();
    for (let i = 0; i < n; i++) {
      const at = i * ENTRY;
      const key = c.f[at]!;
      const seq = c.f[at + 1]!;
      if (!lessThan(prevKey, prevSeq, key, seq)) return `chunk ${ci} entry ${i} out of order`;
      prevKey = key;
      prevSeq = seq;
      const slot = c.f[at + 3]!;
      const item = c.b[slot];
      if (!Number.isInteger(slot) || slot < 0 || slot >= n || slots.has(slot) || item === null || item === undefined) return `chunk ${ci} entry ${i} slot ${slot}`;
      slots.add(slot);
      const wrong = entry(ci, i, item, c.f[at + 2]!, key, seq);
      if (wrong !== null) return wrong;
    }
    for (let i = n; i < c.cap; i++) if (c.b[i] !== null) return `chunk ${ci} keeps an item past its end`;
  }
  return null;
}

/**
 * The directory both indexes keep over their chunks: the chunks in order, each one's first
 * (key, seq) in flat arrays (the search for a chunk reads these, not the chunks), the entry count
 * and `version`, which changes whenever entries move so that cursors find their place again.
 */
export class ChunkedIndex<T, C extends Chunk<T>> {
  readonly chunks: C[] = [];
  protected readonly firstKeys: number[] = [];
  protected readonly firstSeqs: number[] = [];
  protected count = 0;
  version = 0;

  get size(): number {
    return this.count;
  }

  /** The chunk that holds (or would hold) entry (key, seq): the last one starting at or before it, else 0. */
  chunkOf(key: number, seq: number): number {
    return chunkOf(this.firstKeys, this.firstSeqs, key, seq);
  }

  /**
   * Counts a new entry (key, seq) and returns the chunk it goes in (before any split), making the
   * first chunk, of FIRST_CHUNK entries, with `make` when the index is empty.
   */
  protected chunkForNew(key: number, seq: number, make: (cap: number) => C): number {
    this.count++;
    this.version++;
    if (this.chunks.length === 0) this.addChunk(0, make(FIRST_CHUNK), key, seq);
    return this.chunkOf(key, seq);
  }

  /** Put entry (key, seq, stamp) of `item` in its place in chunk `ci` (`c`), which has room for it. */
  protected put(ci: number, c: C, item: T, key: number, seq: number, stamp: number): void {
    const f = c.f;
    const n = c.n;
    let at = n * ENTRY;
    // Appending is the common case (a new seq at the last key).
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
    if (at === 0) this.setFirst(ci);
  }

  /** Whether entry `i` (a position, not a slot) of chunk `c` is live: every entry, in an index that removes at once. */
  liveAt(_c: C, _i: number): boolean {
    return true;
  }

  /** The live items in (key, seq) order (a snapshot; safe to mutate the index while using it). */
  *entries(): Generator<T> {
    const out: T[] = [];
    for (const c of this.chunks) {
      for (let i = 0; i < c.n; i++) if (this.liveAt(c, i)) out.push(c.b[c.f[i * ENTRY + 3]!]!);
    }
    yield* out;
  }

  /** Record chunk `ci`'s first entry again (after it changed). */
  protected setFirst(ci: number): void {
    const f = this.chunks[ci]!.f;
    this.firstKeys[ci] = f[0]!;
    this.firstSeqs[ci] = f[1]!;
  }

  /** Put chunk `c`, whose first entry is (or is about to be) (key, seq), at position `ci`. */
  protected addChunk(ci: number, c: C, key: number, seq: number): void {
    this.chunks.splice(ci, 0, c);
    this.firstKeys.splice(ci, 0, key);
    this.firstSeqs.splice(ci, 0, seq);
    this.version++;
  }

  /**
   * Append chunk ci + 1's entries to chunk ci and drop it. Both hold only live entries, the slots
   * of each's n entries exactly [0, n): the appended ones take the slots after ci's, in entry order.
   */
  protected mergeNext(ci: number): void {
    const c = this.chunks[ci]!;
    const d = this.chunks[ci + 1]!;
    let cap = c.cap;
    while (cap < c.n + d.n) cap *= 2;
    reserve(c, Math.min(CHUNK, cap));
    appendEntries(c, d, 0);
    this.dropChunk(ci + 1);
  }

  /**
   * Split chunk `ci` before its entry `half` (0 < half < n): the entries from there move to
   * `upper` (a new, empty chunk) put after it, their items in entry order; the lower entries'
   * items stay in their slots where they can, so the slots of each part's entries are [0, n).
   */
  protected splitAt(ci: number, half: number, upper: C): void {
    const c = this.chunks[ci]!;
    const f = c.f;
    const b = c.b;
    const n = c.n;
    appendEntries(upper, c, half);
    // The lower entries' items may sit in slots at or past `half`: each such moves into a slot
    // below `half` that no lower entry uses (there are as many of those as of these).
    slotUsed.fill(0, 0, half);
    for (let i = 0; i < half; i++) {
      const slot = f[i * ENTRY + 3]!;
      if (slot < half) slotUsed[slot] = 1;
    }
    let free = 0;
    for (let i = 0; i < half; i++) {
      const at = i * ENTRY + 3;
      const slot = f[at]!;
      if (slot < half) continue;
      while (slotUsed[free] === 1) free++;
      b[free] = b[slot]!;
      slotUsed[free] = 1;
      f[at] = free;
    }
    for (let i = half; i < n; i++) b[i] = null;
    c.n = half;
    this.addChunk(ci + 1, upper, upper.f[0]!, upper.f[1]!);
  }

  protected dropChunk(ci: number): void {
    this.chunks.splice(ci, 1);
    this.firstKeys.splice(ci, 1);
    this.firstSeqs.splice(ci, 1);
    this.version++;
  }
}

/**
 * The place of a walk over a chunked index (the ask and bid cursors): a chunk, the offset of an
 * entry in its `f`, and the index's `version` when the place was found (after any change the
 * walk finds it again by key and seq).
 */
export class ChunkWalk {
  protected ci = 0;
  protected at = 0;
  protected version = -1;

  /** Go to the first entry of `index` at or after (key, seq). */
  protected seek(index: { readonly chunks: readonly Chunk<unknown>[]; chunkOf(key: number, seq: number): number }, key: number, seq: number): void {
    const chunks = index.chunks;
    const ci = chunks.length === 0 ? 0 : index.chunkOf(key, seq);
    this.ci = ci;
    this.at = ci < chunks.length ? positionIn(chunks[ci]!, key, seq) * ENTRY : 0;
  }
}
