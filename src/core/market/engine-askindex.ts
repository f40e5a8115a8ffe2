/**
 * The index of a market's asks (two per market: all active asks, and the awake ones): entries in
 * (price, seq) order in chunks of at most CHUNK entries, as the bid index (engine-bidindex.ts).
 * It replaced a level index (a level object with three arrays per distinct price, found through a
 * Map): a walk paid a Map lookup per price it entered, and most prices of a real book are
 * distinct; an ask that sleeps and wakes (every time its last free GPU is booked or freed) made
 * and dropped a level, a Map entry and a splice of the sorted keys. Here a walk reads one flat
 * array of numbers per chunk, and an insert or removal moves a chunk's numbers with one
 * `copyWithin` and allocates nothing in the common case.
 *
 * Removal is eager, unlike the bid index's: the caller changes the item's stamp (see `Stamped`
 * in structures.ts), then `remove` finds the entry by (price, seq) and drops it. So every entry
 * is live, a walk never skips one, and (price, seq) is unique: an ask that wakes again enters with
 * the same (price, seq) as its old awake entry, which is gone. The stamp stays in the entry for
 * the invariant check (`problem`). `version` changes whenever entries move; an `AskCursor`
 * re-finds its place by (price, seq) when it does.
 */
import { type Chunk, CHUNK, ChunkedIndex, ChunkWalk, chunksProblem, ENTRY, newSlots, positionIn, reserve, SMALL } from './engine-chunks.js';
import type { FAsk } from './engine-model.js';

/** A chunk of asks (see engine-chunks.ts). The slots of its n entries are exactly [0, n): a removal moves the last slot's ask into the freed one. */
export type AskChunk = Chunk<FAsk>;

function newChunk(cap: number): AskChunk {
  return { f: new Float64Array(cap * ENTRY), b: newSlots<FAsk>(cap), n: 0, cap };
}


export class AskIndex extends ChunkedIndex<FAsk, AskChunk> {
  /** `slotB`: this index uses the asks' `stampB` (else `stampA`). */
  constructor(readonly slotB: boolean) {
    super();
  }

  insert(item: FAsk, key: number, seq: number, stamp: number): void {
    const chunks = this.chunks;
    let ci = this.chunkForNew(key, seq, newChunk);
    let c = chunks[ci]!;
    if (c.n === c.cap) {
      if (c.cap < CHUNK) reserve(c, Math.min(CHUNK, c.cap * 2));
      else {
        // New asks at one price go after all its older ones, so a deep book's inserts come in
        // runs at one place. After the last entry: the front of the next chunk if it has room,
        // else a new chunk the run appends to. In the upper half: split where the entry goes,
        // so the run appends to the lower part (splitting in halves left half-full chunks
        // behind), but keep a quarter chunk above the split: a split just below the end left
        // the lower part full again for the next entry below it, one new chunk per ask for asks
        // arriving in falling prices. Else in the middle.
        const pos = positionIn(c, key, seq);
        if (pos === c.n) {
          const next = chunks[ci + 1];
          if (next !== undefined && (next.n < next.cap || next.cap < CHUNK)) {
            if (next.n === next.cap) reserve(next, Math.min(CHUNK, next.cap * 2));
            ci++;
            c = next;
          } else {
            c = newChunk(CHUNK);
            ci++;
            this.addChunk(ci, c, key, seq);
          }
        } else {
          this.splitAt(ci, pos >= c.n >> 1 ? Math.min(pos, c.n - CHUNK / 4) : c.n >> 1, newChunk(CHUNK));
          ci = this.chunkOf(key, seq);
          c = chunks[ci]!;
        }
      }
    }
    this.put(ci, c, item, key, seq, stamp);
  }

  /**
   * Drop the entry (key, seq) (its ask's stamp was already changed: its price and seq are still
   * those it was inserted with).
   */
  remove(key: number, seq: number): void {
    const chunks = this.chunks;
    if (chunks.length === 0) throw new Error(`ask index: no entry (${key}, ${seq})`);
    const ci = this.chunkOf(key, seq);
    const c = chunks[ci]!;
    const f = c.f;
    const i = positionIn(c, key, seq);
    const at = i * ENTRY;
    if (i === c.n || f[at] !== key || f[at + 1] !== seq) throw new Error(`ask index: no entry (${key}, ${seq})`);
    this.count--;
    this.version++;
    const n = c.n - 1;
    const slot = f[at + 3]!;
    const b = c.b;
    if (slot !== n) {
      // Keep the slots [0, n): the last slot's ask moves into the freed one.
      for (let j = 3; ; j += ENTRY) {
        if (f[j] === n) {
          f[j] = slot;
          break;
        }
      }
      b[slot] = b[n]!;
    }
    b[n] = null;
    f.copyWithin(at, at + ENTRY, (n + 1) * ENTRY);
    c.n = n;
    if (n === 0) {
      this.dropChunk(ci);
      return;
    }
    if (i === 0) this.setFirst(ci);
    if (n <= SMALL && chunks.length > 1) {
      // Keep chunks from thinning out after many removals: merge with a neighbour that fits.
      if (ci + 1 < chunks.length && n + chunks[ci + 1]!.n <= CHUNK / 2) this.mergeNext(ci);
      else if (ci > 0 && chunks[ci - 1]!.n + n <= CHUNK / 2) this.mergeNext(ci - 1);
    }
  }

  /**
   * What is wrong with the index's bookkeeping (order, sizes, chunk firsts, ask slots) or with an
   * entry (not live, or its ask's price or seq differ from its key or seq), or null (tests, and the
   * engine's invariant check).
   */
  problem(): string | null {
    const wrong = chunksProblem(this.chunks, this.firstKeys, this.firstSeqs, (ci, i, item, stamp, key, seq) => {
      if (stamp !== (this.slotB ? item.stampB : item.stampA)) return `chunk ${ci} entry ${i} (${item.id}) not live`;
      if (item.price !== key || item.seq !== seq) return `chunk ${ci} entry ${i} (${item.id}) is (${key}, ${seq}), its ask (${item.price}, ${item.seq})`;
      return null;
    });
    if (wrong !== null) return wrong;
    let total = 0;
    for (const c of this.chunks) total += c.n;
    return total === this.count ? null : `size ${this.count}, counted ${total}`;
  }
}

/**
 * Walks one AskIndex in (price, seq) order. Reusable: `reset` starts a walk (the matcher keeps a
 * pool, so a walk over many markets allocates none). It survives changes to the index during the
 * walk: after any (see `version`) it finds its place again by the last entry it passed.
 */
export class AskCursor extends ChunkWalk {
  private index: AskIndex | null = null;
  /** The current ask (null at the end) and its price and seq. */
  current: FAsk | null = null;
  key = 0;
  seq = 0;

  reset(index: AskIndex): this {
    this.index = index;
    this.ci = 0;
    this.at = 0;
    this.version = index.version;
    this.load();
    return this;
  }

  /** Drop the references of a finished walk (a pooled cursor must not keep an ask alive). */
  release(): void {
    this.index = null;
    this.current = null;
  }

  /** Pass the current ask (there must be one). */
  next(): void {
    const index = this.index!;
    if (this.version !== index.version) {
      // Find the first entry after the current one again.
      this.version = index.version;
      this.seek(index, this.key, this.seq + 1);
    } else this.at += ENTRY;
    this.load();
  }

  private load(): void {
    const chunks = this.index!.chunks;
    while (this.ci < chunks.length) {
      const c = chunks[this.ci]!;
      const at = this.at;
      if (at < c.n * ENTRY) {
        const f = c.f;
        this.key = f[at]!;
        this.seq = f[at + 1]!;
        this.current = c.b[f[at + 3]!]!;
        return;
      }
      this.ci++;
      this.at = 0;
    }
    this.current = null;
  }
}
