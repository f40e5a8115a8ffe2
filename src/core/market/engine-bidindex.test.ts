/**
 * The chunked bid index against a sorted array: random inserts (re-inserts with new stamps, as
 * amends do) and removals, and walks that survive removals made while they run (as retries fill
 * bids). The engine's seeded comparison covers it in place; this pins the structure alone.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../sim/prng.js';
import { BidCursor, BidIndex } from './engine-bidindex.js';
import type { FBid } from './engine-model.js';

interface Entry {
  readonly bid: FBid;
  readonly key: number;
  readonly seq: number;
  readonly stamp: number;
}

const fakeBid = (id: string): FBid => ({ id, stampA: 0, stampB: 0 }) as unknown as FBid;

/**
 * `count` bids inserted in order with keys from `key()` (seq and stamp 1, 2, …), each stamped as
 * in an open index (`stampB`) or a regional one (`stampA`).
 */
function fill(index: BidIndex, open: boolean, count: number, prefix: string, key: () => number): Entry[] {
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const bid = fakeBid(`${prefix}${i}`);
    const e: Entry = { bid, key: key(), seq: i + 1, stamp: i + 1 };
    if (open) bid.stampB = e.stamp;
    else bid.stampA = e.stamp;
    index.insert(bid, e.key, e.seq, e.stamp);
    entries.push(e);
  }
  return entries;
}

function sorted(live: Iterable<Entry>): Entry[] {
  return [...live].sort((a, b) => a.key - b.key || a.seq - b.seq);
}

describe('BidIndex', () => {
  for (const seed of [1, 2, 3]) {
    it(`matches a sorted list under random inserts and removals (seed ${seed})`, () => {
      const rng = new Rng(seed);
      const index = new BidIndex(false);
      const bids = Array.from({ length: 300 }, (_, i) => fakeBid(`b${i}`));
      const live = new Map<FBid, Entry>();
      let stamp = 0;
      let seq = 0;
      for (let step = 0; step < 6000; step++) {
        const bid = bids[rng.int(0, bids.length - 1)]!;
        const was = live.get(bid);
        if (was !== undefined) {
          bid.stampA = 0;
          index.remove(was.key, was.stamp);
          live.delete(bid);
        }
        if (was === undefined || rng.chance(0.5)) {
          // Few distinct keys, so levels of equal keys span chunks.
          const e: Entry = { bid, key: -rng.int(0, 40), seq: ++seq, stamp: ++stamp };
          bid.stampA = e.stamp;
          index.insert(bid, e.key, e.seq, e.stamp);
          live.set(bid, e);
        }
        if (step % 97 === 0) {
          expect(index.problem()).toBeNull();
          expect([...index.entries()]).toEqual(sorted(live.values()).map((e) => e.bid));
          expect(index.size).toBe(live.size);
        }
      }
      expect([...index.entries()]).toEqual(sorted(live.values()).map((e) => e.bid));
    });
  }

  it('a cursor walks in order from a position while entries ahead of it leave', () => {
    const rng = new Rng(7);
    const index = new BidIndex(true);
    const order = sorted(fill(index, true, 500, 'b', () => -rng.int(0, 60)));
    const from = order[100]!;
    const cursor = new BidCursor().start(index, from.key, from.seq);
    const seen: FBid[] = [];
    const gone = new Set<FBid>();
    while (cursor.peek()) {
      seen.push(cursor.item!);
      cursor.step();
      // Remove a few entries at random (ahead of the cursor or behind it), as fills do.
      for (let k = 0; k < 3; k++) {
        const e = order[rng.int(0, order.length - 1)]!;
        if (gone.has(e.bid)) continue;
        gone.add(e.bid);
        e.bid.stampB = 0;
        index.remove(e.key, e.stamp);
      }
    }
    cursor.release();
    // Every entry from the start position on that was still there when the cursor reached it.
    const seenSet = new Set(seen);
    expect(seen).toEqual(order.slice(100).map((e) => e.bid).filter((b) => seenSet.has(b)));
    for (const e of order.slice(100)) expect(seenSet.has(e.bid) || gone.has(e.bid)).toBe(true);
    expect(index.size).toBe(500 - gone.size);
    expect(index.problem()).toBeNull();
    expect([...index.entries()]).toEqual(order.filter((e) => !gone.has(e.bid)).map((e) => e.bid));
  });

  it('reports keys times a scale, and starts a scaled walk at the first entry at or after any position', () => {
    const rng = new Rng(7);
    const index = new BidIndex(false);
    // Minus a limit per P-hour, with many repeats (equal keys, told apart by seq).
    const order = sorted(fill(index, false, 400, 'c', () => -rng.int(100, 160)));
    const scale = 3_120;
    const cursor = new BidCursor();
    // From positions on entries, between them, and beyond both ends (keys in scaled units).
    const froms: [number, number][] = [[-Infinity, 0], [-170 * scale, 0], [-90 * scale, 0]];
    for (let k = 0; k < 60; k++) {
      const e = order[rng.int(0, order.length - 1)]!;
      froms.push([e.key * scale, e.seq], [e.key * scale, e.seq + 1], [e.key * scale + rng.int(1, scale - 1), 0], [e.key * scale - rng.int(1, scale - 1), 0]);
    }
    for (const [fromKey, fromSeq] of froms) {
      const want = order.filter((e) => e.key * scale > fromKey || (e.key * scale === fromKey && e.seq >= fromSeq));
      const got: [number, number][] = [];
      cursor.start(index, fromKey, fromSeq, scale);
      while (cursor.peek()) {
        got.push([cursor.key, cursor.seq]);
        cursor.step();
      }
      expect(got).toEqual(want.map((e) => [e.key * scale, e.seq]));
    }
  });
});
