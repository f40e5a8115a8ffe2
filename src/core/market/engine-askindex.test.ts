/**
 * The chunked ask index against a sorted array: random inserts, removals (sleeps, cancels),
 * re-inserts with the same (price, seq) (a wake) or a new one (a reprice), chunk splits and
 * merges, and walks that survive changes made while they run. The engine's seeded comparison
 * covers it in place; this pins the structure alone.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../sim/prng.js';
import { AskCursor, AskIndex } from './engine-askindex.js';
import type { FAsk } from './engine-model.js';

const fakeAsk = (id: string): FAsk => ({ id, price: 0, seq: 0, stampA: 0, stampB: 0 }) as unknown as FAsk;

/** A test's view of one index (slot A): the asks in it, kept sorted on demand. */
class Model {
  readonly index = new AskIndex(false);
  readonly live = new Set<FAsk>();
  private stamp = 0;

  insert(ask: FAsk, price: number, seq: number): void {
    ask.price = price;
    ask.seq = seq;
    ask.stampA = ++this.stamp;
    this.index.insert(ask, price, seq, ask.stampA);
    this.live.add(ask);
  }

  remove(ask: FAsk): void {
    ask.stampA = 0;
    this.index.remove(ask.price, ask.seq);
    this.live.delete(ask);
  }

  sorted(): FAsk[] {
    return [...this.live].sort((a, b) => a.price - b.price || a.seq - b.seq);
  }

  check(): void {
    expect(this.index.problem()).toBeNull();
    expect(this.index.size).toBe(this.live.size);
    expect([...this.index.entries()]).toEqual(this.sorted());
  }
}

function walk(index: AskIndex): FAsk[] {
  const out: FAsk[] = [];
  const c = new AskCursor().reset(index);
  for (let ask = c.current; ask !== null; c.next(), ask = c.current) {
    expect(c.key).toBe(ask.price);
    expect(c.seq).toBe(ask.seq);
    out.push(ask);
  }
  c.release();
  return out;
}

describe('AskIndex', () => {
  for (const [seed, prices] of [[1, 3], [2, 40], [3, 100_000]] as const) {
    it(`matches a sorted list under random inserts, removals, wakes and reprices (seed ${seed}, ${prices} prices)`, () => {
      const rng = new Rng(seed);
      const m = new Model();
      const asks = Array.from({ length: 700 }, (_, i) => fakeAsk(`a${i}`));
      let seq = 0;
      for (let step = 0; step < 12_000; step++) {
        const ask = asks[rng.int(0, asks.length - 1)]!;
        if (m.live.has(ask)) {
          m.remove(ask);
          const r = rng.int(0, 2);
          // A wake: back with the same (price, seq), which was just removed.
          if (r === 0) m.insert(ask, ask.price, ask.seq);
          // A reprice: a new price and seq.
          else if (r === 1) m.insert(ask, rng.int(1, prices), ++seq);
        } else m.insert(ask, rng.int(1, prices), ++seq);
        if (step % 500 === 0) m.check();
      }
      m.check();
      expect(walk(m.index)).toEqual(m.sorted());
    });
  }

  it('splits full chunks whatever the insert order, and keeps one entry per (price, seq)', () => {
    for (const order of ['ascending', 'descending', 'alternating'] as const) {
      const m = new Model();
      for (let i = 0; i < 1_000; i++) {
        const price = order === 'ascending' ? i + 1 : order === 'descending' ? 1_000 - i : i % 2 === 0 ? i + 1 : 2_000 - i;
        m.insert(fakeAsk(`a${i}`), price, i + 1);
      }
      expect(m.index.chunks.length).toBeGreaterThan(7);
      m.check();
      expect(walk(m.index)).toEqual(m.sorted());
    }
  });

  it('keeps a deep book of few prices in nearly full chunks (new asks go after their price\'s older ones)', () => {
    // bench:engine's asks: 101 prices, seqs ascending.
    const rng = new Rng(5);
    const index = new AskIndex(false);
    for (let i = 0; i < 300_000; i++) {
      const ask = fakeAsk(`a${i}`);
      ask.price = rng.int(9_950, 10_050);
      ask.seq = i + 1;
      ask.stampA = i + 1;
      index.insert(ask, ask.price, ask.seq, ask.stampA);
    }
    expect(index.problem()).toBeNull();
    // Splitting every full chunk in halves leaves them about half full (65 of 128 here); splitting
    // where the run goes (a quarter chunk kept above it) about 107.
    expect(index.size / index.chunks.length).toBeGreaterThan(96);
    let n = 0;
    let disorder = 0;
    let prev: FAsk | null = null;
    const c = new AskCursor().reset(index);
    for (let ask = c.current; ask !== null; c.next(), ask = c.current) {
      if (prev !== null && !(prev.price < ask.price || (prev.price === ask.price && prev.seq < ask.seq))) disorder++;
      prev = ask;
      n++;
    }
    expect([n, disorder]).toEqual([300_000, 0]);
  });

  it('keeps chunks well filled when asks arrive in falling prices, above or inside a full chunk', () => {
    // After a full chunk's last entry, or just below its top: each new ask once made a chunk of
    // its own (one Float64Array of 128 entries per ask).
    for (const start of [1_000_000, 353.5]) {
      const m = new Model();
      let seq = 0;
      for (let i = 0; i < 128; i++) m.insert(fakeAsk(`base${i}`), 100 + 2 * i, ++seq);
      for (let i = 0; i < 5_000; i++) m.insert(fakeAsk(`fall${i}`), start - i / 1_000, ++seq);
      m.check();
      expect(m.index.size / m.index.chunks.length).toBeGreaterThan(48);
    }
  });

  it('drops chunks emptied by removals, merges thin ones, and starts again when empty', () => {
    const rng = new Rng(7);
    const m = new Model();
    const asks = Array.from({ length: 2_000 }, (_, i) => fakeAsk(`a${i}`));
    for (let i = 0; i < asks.length; i++) m.insert(asks[i]!, rng.int(1, 50), i + 1);
    const full = m.index.chunks.length;
    expect(full).toBeGreaterThan(15);
    // Remove a whole run of entries (empties chunks), then most of the rest at random (thins them).
    for (const a of m.sorted().slice(300, 900)) m.remove(a);
    m.check();
    for (const a of [...m.live]) if (rng.chance(0.9)) m.remove(a);
    m.check();
    expect(m.index.chunks.length).toBeLessThan(full / 3);
    expect(walk(m.index)).toEqual(m.sorted());
    for (const a of [...m.live]) m.remove(a);
    m.check();
    expect(m.index.chunks.length).toBe(0);
    expect(walk(m.index)).toEqual([]);
    m.insert(asks[0]!, 5, 1);
    m.insert(asks[1]!, 4, 2);
    m.check();
  });

  it('keeps time order among many asks at one price', () => {
    const m = new Model();
    const asks = Array.from({ length: 3_000 }, (_, i) => fakeAsk(`a${i}`));
    // Out of seq order, as wakes come back.
    for (let i = asks.length - 1; i >= 0; i--) m.insert(asks[i]!, 700, i + 1);
    for (let i = 0; i < asks.length; i += 2) m.remove(asks[i]!);
    for (let i = 0; i < asks.length; i += 4) m.insert(asks[i]!, 700, i + 1);
    m.check();
    expect(walk(m.index).map((a) => a.seq)).toEqual(m.sorted().map((a) => a.seq));
  });

  it('throws when asked to remove an entry it does not hold', () => {
    const m = new Model();
    expect(() => m.index.remove(5, 1)).toThrow(/no entry/);
    m.insert(fakeAsk('a'), 5, 1);
    expect(() => m.index.remove(5, 2)).toThrow(/no entry/);
    expect(() => m.index.remove(6, 1)).toThrow(/no entry/);
    expect(m.index.problem()).toBeNull();
  });

  for (const seed of [11, 12, 13]) {
    it(`a cursor walks on through removals and inserts behind, at and ahead of it (seed ${seed})`, () => {
      const rng = new Rng(seed);
      const m = new Model();
      const asks = Array.from({ length: 1_200 }, (_, i) => fakeAsk(`a${i}`));
      let seq = 0;
      for (const a of asks) if (rng.chance(0.7)) m.insert(a, rng.int(1, 30), ++seq);
      const c = new AskCursor().reset(m.index);
      // The cursor's ask is always the first one in the index after the last one it passed.
      let lastPrice = -Infinity;
      let lastSeq = -Infinity;
      let visited = 0;
      while (c.current !== null) {
        const expected = m.sorted().find((a) => a.price > lastPrice || (a.price === lastPrice && a.seq > lastSeq));
        expect(c.current).toBe(expected);
        const cur = c.current;
        lastPrice = cur.price;
        lastSeq = cur.seq;
        visited++;
        // Changes while the walk stands here: remove some (the current one too), insert some
        // (fresh seqs go behind the walk at a low price, ahead of it at a high one).
        for (let k = rng.int(0, 3); k > 0; k--) {
          const a = asks[rng.int(0, asks.length - 1)]!;
          if (m.live.has(a)) m.remove(a);
          else m.insert(a, rng.int(1, 30), ++seq);
        }
        if (rng.chance(0.1) && m.live.has(cur)) m.remove(cur);
        c.next();
      }
      c.release();
      expect(visited).toBeGreaterThan(100);
      m.check();
    });
  }
});
