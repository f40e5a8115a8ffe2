import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../prng.js';
import { hashId, ShardedMap, TimeHeap } from './structures.js';

/** A record keyed by its id, as the engine's nodes and orders are. */
interface Rec {
  readonly id: string;
  readonly v: number;
}

describe('ShardedMap', () => {
  it('agrees with a Map under random sets, deletes and lookups (colliding probe runs included)', () => {
    // Few distinct keys and many deletes: long probe runs and backward shifts across the wrap.
    const key = fc.integer({ min: 0, max: 3_000 }).map((n) => `k${n}`);
    const op = fc.oneof(
      fc.record({ t: fc.constant('set' as const), k: key, v: fc.integer() }),
      fc.record({ t: fc.constant('delete' as const), k: key }),
      fc.record({ t: fc.constant('get' as const), k: key }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 4_000 }), (ops) => {
        const ours = new ShardedMap<Rec>();
        const model = new Map<string, number>();
        for (const o of ops) {
          if (o.t === 'set') {
            ours.set({ id: o.k, v: o.v });
            model.set(o.k, o.v);
          } else if (o.t === 'delete') {
            expect(ours.delete(o.k)).toBe(model.delete(o.k));
          } else {
            expect(ours.get(o.k)?.v).toBe(model.get(o.k));
            expect(ours.has(o.k)).toBe(model.has(o.k));
          }
        }
        expect(ours.size).toBe(model.size);
        expect([...ours.values()].map((r) => r.v).sort((a, b) => a - b)).toEqual([...model.values()].sort((a, b) => a - b));
        for (const [k, v] of model) expect(ours.get(k)?.v).toBe(v);
      }),
      { numRuns: 60 },
    );
  });

  it('keeps every entry through many growths and deletes half of them', () => {
    const m = new ShardedMap<Rec>();
    for (let i = 0; i < 200_000; i++) m.set({ id: `o${i}`, v: i });
    expect(m.size).toBe(200_000);
    for (let i = 0; i < 200_000; i += 2) expect(m.delete(`o${i}`)).toBe(true);
    expect(m.size).toBe(100_000);
    for (let i = 0; i < 200_000; i++) expect(m.get(`o${i}`)?.v).toBe(i % 2 === 0 ? undefined : i);
    expect(m.has('')).toBe(false);
    m.set({ id: '', v: -1 });
    expect(m.get('')?.v).toBe(-1);
  });

  it('hashes never to 0 (the empty-slot mark) and spreads near-identical ids', () => {
    expect(hashId('a')).not.toBe(hashId('b'));
    expect(new Set(Array.from({ length: 10_000 }, (_, i) => hashId(`o${i}`) >>> 26)).size).toBe(64); // every shard used
    for (let i = 0; i < 10_000; i++) expect(hashId(String(i))).not.toBe(0);
  });
});

describe('TimeHeap', () => {
  it('pops times in order through growth past its first capacity and shrinking after a peak', () => {
    const rnd = mulberry32(11);
    const heap = new TimeHeap();
    const ids = new Map<number, number>();
    let next = 1;
    const push = (): void => {
      // Big times (epoch ms) with ties, and ids up to lease numbers' range.
      const t = 1_767_225_600_000 + Math.floor(rnd() * 5000);
      heap.push(t, next);
      ids.set(next++, t);
    };
    const popCheck = (lastTime: number): number => {
      const t = heap.peekTime();
      const id = heap.peekId();
      expect(t).toBeGreaterThanOrEqual(lastTime);
      expect(ids.get(id)).toBe(t);
      ids.delete(id);
      heap.pop();
      return t;
    };
    for (let round = 0; round < 3; round++) {
      // Up to a peak of 20,000 (many doublings), mixed with pops...
      for (let i = 0; i < 20_000; i++) {
        push();
        if (rnd() < 0.2) popCheck(-Infinity);
      }
      expect(heap.size).toBe(ids.size);
      // ...then drained in time order (shrinking on the way).
      let last = -Infinity;
      while (heap.size > 0) last = popCheck(last);
      expect(ids.size).toBe(0);
      expect(heap.peekTime()).toBe(Infinity);
      heap.pop(); // popping an empty heap does nothing
      expect(heap.size).toBe(0);
    }
  });
});
