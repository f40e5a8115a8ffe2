/**
 * The booking table (engine-capacity.ts) against a plain list model: rows chained per node in
 * start order across many pages, freed rows reused, wide GPU indices kept aside.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AT, bookedFrom, bookingGpus, bookingRow, BookingTable, busyBits, countFree, insertBooking, removeBooking } from './engine-capacity.js';
import { type FMarket, type FNode, newNode } from './engine-model.js';

interface Booking {
  readonly s: number;
  readonly e: number;
  readonly gpus: readonly number[];
  readonly lease: number;
}

function nodeIn(table: BookingTable, gpuCount: number): FNode {
  return newNode('n', 'p', { bookings: table } as unknown as FMarket, gpuCount);
}

function rows(node: FNode, table: BookingTable): Booking[] {
  const out: Booking[] = [];
  for (let r = node.firstBooking; r >= 0; r = table.get(r, AT.next)) {
    out.push({ s: table.get(r, AT.start), e: table.get(r, AT.end), gpus: bookingGpus(table, r), lease: table.get(r, AT.lease) });
  }
  return out;
}

function book(node: FNode, b: Booking): void {
  const bits = b.gpus.every((g) => g < 30) ? b.gpus.reduce((x, g) => x | (1 << g), 0) : -1;
  insertBooking(node, b.s, b.e, bits, bits < 0 ? b.gpus : null, b.lease);
}

describe('BookingTable', () => {
  it('keeps each node in start order (ties in insertion order) through inserts and removals over several pages', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('add' as const), node: fc.nat(3), s: fc.nat(20), len: fc.integer({ min: 1, max: 5 }), gpu: fc.nat(40) }),
      fc.record({ t: fc.constant('drop' as const), node: fc.nat(3), at: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 3_000 }), (ops) => {
        const table = new BookingTable();
        const nodes = [0, 1, 2, 3].map(() => nodeIn(table, 64));
        const model: Booking[][] = [[], [], [], []];
        let lease = 0;
        for (const o of ops) {
          const list = model[o.node]!;
          if (o.t === 'add') {
            const b = { s: o.s, e: o.s + o.len, gpus: [o.gpu], lease: ++lease };
            book(nodes[o.node]!, b);
            let at = list.length;
            while (at > 0 && list[at - 1]!.s > b.s) at--;
            list.splice(at, 0, b);
          } else if (list.length > 0) {
            const [b] = list.splice(o.at % list.length, 1);
            expect(bookingRow(nodes[o.node]!, b!.lease)).toBeGreaterThanOrEqual(0);
            removeBooking(nodes[o.node]!, b!.lease);
            expect(bookingRow(nodes[o.node]!, b!.lease)).toBe(-1);
          }
        }
        for (let i = 0; i < 4; i++) expect(rows(nodes[i]!, table)).toEqual(model[i]);
        expect(table.live).toBe(model.reduce((n, l) => n + l.length, 0));
        expect(table.wideGpus.size).toBe(model.flat().filter((b) => b.gpus[0]! >= 30).length);
      }),
      { numRuns: 30 },
    );
  });

  it('reuses freed rows: a table stays as large as the most bookings live at once', () => {
    const table = new BookingTable();
    const node = nodeIn(table, 8);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3_000; i++) book(node, { s: i, e: i + 1, gpus: [i % 8], lease: round * 3_000 + i + 1 });
      for (let i = 0; i < 3_000; i++) removeBooking(node, round * 3_000 + i + 1);
      expect(node.firstBooking).toBe(-1);
    }
    expect(table.live).toBe(0);
    expect(table.pages.length).toBe(3); // 3,000 rows at most: three pages of 1,024
  });

  it('answers the free-GPU queries from the rows (bits and wide indices)', () => {
    const table = new BookingTable();
    const small = nodeIn(table, 4);
    book(small, { s: 10, e: 20, gpus: [0, 2], lease: 1 });
    book(small, { s: 20, e: 30, gpus: [1], lease: 2 });
    expect(busyBits(small, 15, 25)).toBe(0b111);
    expect(countFree(small, 0, 10)).toBe(4);
    expect(countFree(small, 25, 26)).toBe(3);
    expect(bookedFrom(small, 2)).toBe(true);
    expect(bookedFrom(small, 3)).toBe(false);
    const wide = nodeIn(table, 40);
    book(wide, { s: 0, e: 10, gpus: [1, 35], lease: 3 });
    expect(countFree(wide, 5, 6)).toBe(38);
    expect(bookedFrom(wide, 36)).toBe(false);
    expect(bookedFrom(wide, 35)).toBe(true);
    removeBooking(wide, 3);
    expect(table.wideGpus.size).toBe(0);
    expect(countFree(wide, 5, 6)).toBe(40);
  });
});
