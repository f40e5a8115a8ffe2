import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashId, ShardedMap } from './structures.js';

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
