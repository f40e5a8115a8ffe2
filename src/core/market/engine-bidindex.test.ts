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

describe('BidIndex chunks', () => {
  /** Insert `keys` in turn (seq and stamp 1, 2, …), checking the bookkeeping after each. */
  function build(keys: readonly number[], check = true): { index: BidIndex; entries: Entry[] } {
    let i = 0;
    const index = new BidIndex(false);
    const entries = fill(index, false, keys.length, 'k', () => keys[i++]!);
    if (check) expect(index.problem()).toBeNull();
    return { index, entries };
  }
  const kill = (index: BidIndex, e: Entry): void => {
    e.bid.stampA = 0;
    index.remove(e.key, e.stamp);
  };

  it('splits chunks filled in ascending, descending and one-key order, and at their first entry', () => {
    const n = 1500;
    for (const keys of [
      Array.from({ length: n }, (_, i) => i),
      Array.from({ length: n }, (_, i) => -i),
      Array.from({ length: n }, () => 5),
      // Each new entry first in the index: every insert lands at position 0 of chunk 0.
      Array.from({ length: n }, (_, i) => 1e12 - i * 1e6),
    ]) {
      const { index, entries } = build(keys);
      expect(index.size).toBe(n);
      expect([...index.entries()]).toEqual(sorted(entries).map((e) => e.bid));
    }
  });

  it('drops a chunk its removals empty, and refills the index after it emptied', () => {
    const rng = new Rng(11);
    const { index, entries } = build(Array.from({ length: 1000 }, () => rng.int(-1e12, 1e12)));
    const order = sorted(entries);
    // A run from the middle (whole chunks), then everything else from both ends.
    for (const e of order.slice(300, 700)) kill(index, e);
    expect(index.problem()).toBeNull();
    expect([...index.entries()]).toEqual([...order.slice(0, 300), ...order.slice(700)].map((e) => e.bid));
    const rest = [...order.slice(0, 300).reverse(), ...order.slice(700)];
    for (let i = 0; i < rest.length; i++) {
      kill(index, rest[i]!);
      if (i % 37 === 0) expect(index.problem()).toBeNull();
    }
    expect(index.size).toBe(0);
    expect([...index.entries()]).toEqual([]);
    expect(new BidCursor().start(index, -Infinity, 0).peek()).toBe(false);
    const again = fill(index, false, 300, 'r', () => rng.int(0, 9));
    expect(index.problem()).toBeNull();
    expect([...index.entries()]).toEqual(sorted(again).map((e) => e.bid));
  });

  it('merges chunks thinned by removals, so a few bids left do not keep many full-size chunks', () => {
    const rng = new Rng(23);
    const { index, entries } = build(Array.from({ length: 20_000 }, () => rng.int(-1e12, 1e12)), false);
    const before = index.chunks.length;
    const left = new Set(entries);
    for (const e of entries) {
      if (rng.float() < 0.98) {
        kill(index, e);
        left.delete(e);
      }
    }
    expect(index.problem()).toBeNull();
    expect([...index.entries()]).toEqual(sorted(left).map((e) => e.bid));
    // Without merging every chunk that kept a live bid stayed (about 200 of 226 here).
    expect(index.chunks.length).toBeLessThan(before / 4);
    expect(index.size / index.chunks.length).toBeGreaterThan(8);
  });

  it('reuses the room of removed entries in a full chunk, the re-inserted bid among them', () => {
    // One key: every entry goes to the last chunk; remove most, then insert again (an amend
    // re-inserts the same bid with a new seq and stamp while its old entry is still in the chunk).
    const { index, entries } = build(Array.from({ length: 600 }, () => 7));
    const live = new Set(entries);
    let seq = 600;
    const rng = new Rng(5);
    for (let step = 0; step < 3000; step++) {
      const e = [...live][rng.int(0, live.size - 1)]!;
      kill(index, e);
      live.delete(e);
      const again: Entry = { bid: e.bid, key: rng.chance(0.5) ? 7 : rng.int(0, 14), seq: ++seq, stamp: seq };
      e.bid.stampA = again.stamp;
      index.insert(again.bid, again.key, again.seq, again.stamp);
      live.add(again);
      if (step % 101 === 0) expect(index.problem()).toBeNull();
    }
    expect(index.problem()).toBeNull();
    expect([...index.entries()]).toEqual(sorted(live).map((e) => e.bid));
  });

  it('a small index reuses the room of removed entries before it grows', () => {
    const { index, entries } = build([5, 3, 9, 1, 7, 2, 8, 4]);
    const live = new Set(entries);
    for (const e of [entries[1]!, entries[3]!, entries[6]!]) {
      kill(index, e);
      live.delete(e);
    }
    expect(index.problem()).toBeNull();
    let seq = 100;
    for (const key of [0, 6, 10, 3, 3, 11, 12, 13, 14, 15, 16, 17, 18]) {
      const bid = fakeBid(`s${++seq}`);
      const e: Entry = { bid, key, seq, stamp: seq };
      bid.stampA = e.stamp;
      index.insert(bid, e.key, e.seq, e.stamp);
      live.add(e);
      expect(index.problem()).toBeNull();
      expect([...index.entries()]).toEqual(sorted(live).map((e) => e.bid));
    }
  });

  it('a cursor finds its place again after inserts split its chunk and removals drop chunks', () => {
    const rng = new Rng(3);
    const { index, entries } = build(Array.from({ length: 400 }, (_, i) => 10 + i * 10));
    const order = sorted(entries);
    const all = [...entries];
    let seq = 1000;
    const add = (key: number): void => {
      const bid = fakeBid(`x${++seq}`);
      const e: Entry = { bid, key, seq, stamp: seq };
      bid.stampA = e.stamp;
      index.insert(bid, e.key, e.seq, e.stamp);
      all.push(e);
    };
    const cursor = new BidCursor().start(index, -Infinity, 0);
    const seen: FBid[] = [];
    while (cursor.peek()) {
      seen.push(cursor.item!);
      const at = cursor.key;
      cursor.step();
      if (at % 10 !== 0) continue;
      // At each original entry: inserts just behind the cursor (never reached) and just ahead
      // of it and further on (splitting the chunk it is in and the next ones), and now and then
      // removal of a run ahead (emptying whole chunks).
      add(at - 1);
      add(at + 5);
      add(at + 5);
      for (let k = 0; k < 3; k++) add(at + 10 * rng.int(1, 30) + 3);
      if (rng.chance(0.05)) {
        for (const e of order) if (e.key > at && e.key < at + 300 && e.bid.stampA === e.stamp) kill(index, e);
      }
    }
    cursor.release();
    expect(index.problem()).toBeNull();
    const alive = sorted(all.filter((e) => e.bid.stampA === e.stamp));
    expect([...index.entries()]).toEqual(alive.map((e) => e.bid));
    expect(seen).toEqual(alive.filter((e) => e.key % 10 !== 9).map((e) => e.bid));
  });
});
