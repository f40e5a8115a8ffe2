/**
 * Read-only views of the fast engine's state: market depth (for `depth` and `summary`) and the
 * full invariant check behind `validateInternalState`. Neither is on a command path.
 */
import { AT, type BookingTable, bookingGpus, freeNow } from './engine-capacity.js';
import { askNode, askNodeCount, bidAccepts, BIT_GPUS, type FAsk, type FBid, type FBidBook, type FBidIndex, type FMarket, type FNode, type FOrder } from './engine-model.js';
import { gpusWanted, limitPerGpuHour } from './rules.js';
import type { DenseIdMap, ShardedMap } from './structures.js';
import type { Depth, DepthLevel } from './types.js';

/** The book of market `m` (named `market`; undefined: no such market yet) as free GPUs now and bid demand by price. */
export function depthOf(m: FMarket | undefined, market: string, now: number): Depth {
  if (!m) return { market, asks: [], bids: [] };
  const asks: DepthLevel[] = [];
  for (const ask of m.all.entries()) {
    const free = freeNow(ask, now);
    if (free === 0) continue;
    const last = asks[asks.length - 1];
    if (last && last.priceFenPerGpuHour === ask.price) asks[asks.length - 1] = { priceFenPerGpuHour: last.priceFenPerGpuHour, gpus: last.gpus + free };
    else asks.push({ priceFenPerGpuHour: ask.price, gpus: free });
  }
  const bids = new Map<number, number>();
  // The market's bids: its accelerator's open ones and its region's, and the compute bids
  // (open, or naming its region) that accept its accelerator (summed: order is no matter).
  const compute = [...m.computeBook.bids.entries(), ...m.computeRegionBids.bids.entries()].filter((b) => b.accelerators.has(m.acceleratorId));
  for (const b of [...m.book.bids.entries(), ...m.regionBids.bids.entries(), ...compute]) {
    const p = limitPerGpuHour(b.isCompute, b.limit, m.deciTflops);
    bids.set(p, (bids.get(p) ?? 0) + gpusWanted(b.isCompute, b.remaining, m.deciTflops, b.gpusPerNode));
  }
  const bidLevels = [...bids.entries()].sort((a, b) => b[0] - a[0]).map(([priceFenPerGpuHour, gpus]) => ({ priceFenPerGpuHour, gpus }));
  return { market, asks, bids: bidLevels };
}

/** The nodes of `ask` in a new array. */
function askNodes(ask: FAsk): FNode[] {
  const out: FNode[] = [];
  for (let i = 0; i < askNodeCount(ask); i++) out.push(askNode(ask, i));
  return out;
}

/** What `validateEngineState` reads of the engine (see EngineBooks for what each holds). */
export interface EngineInternals {
  readonly lastNow: number;
  readonly marketMap: ReadonlyMap<string, FMarket>;
  readonly marketGrid: ReadonlyMap<string, ReadonlyMap<string, FMarket>>;
  readonly nodes: ShardedMap<FNode>;
  readonly orders: ShardedMap<FOrder>;
  readonly leases: DenseIdMap<FNode>;
  readonly bookingTable: BookingTable;
  readonly bidBooks: ReadonlyMap<string, FBidBook>;
  readonly computeBook: FBidBook;
}

/**
 * Check every invariant of the engine's indexes and tables (tests call it after each command).
 * A function over the engine's internals, passed in through `EngineInternals`, so the checks
 * need not live in the engine class.
 */
export function validateEngineState(st: EngineInternals): void {
  const check = (ok: boolean, msg: string): void => {
    if (!ok) throw new Error(`engine state invalid: ${msg}`);
  };
  let bookings = 0;
  let wide = 0;
  const table = st.bookingTable;
  for (const n of st.nodes.values()) {
    check(n.market.bookings === table, `${n.id} bookings table`);
    const list: { id: string; startMs: number; endMs: number; gpuIndices: readonly number[] }[] = [];
    // A chain longer than the table's live rows has a cycle (or shares rows with another node).
    for (let r = n.firstBooking; r >= 0; r = table.get(r, AT.next)) {
      check(list.length < table.live, `${n.id} bookings chain`);
      const bits = table.get(r, AT.bits);
      const extra = table.wideGpus.get(r) ?? null;
      check(bits >= 0 ? extra === null && bits < 2 ** BIT_GPUS : extra !== null && extra.some((i) => i >= BIT_GPUS), `${n.id} booking gpus`);
      if (bits < 0) wide++;
      const gpuIndices = bookingGpus(table, r);
      check(gpuIndices.length > 0, `${n.id} booking without GPUs`);
      const leaseNo = table.get(r, AT.lease);
      check(st.leases.get(leaseNo) === n, `${n.id} booking l${leaseNo} not a live lease`);
      list.push({ id: `l${leaseNo}`, startMs: table.get(r, AT.start), endMs: table.get(r, AT.end), gpuIndices });
    }
    bookings += list.length;
    for (let k = 0; k < list.length; k++) {
      const b = list[k]!;
      check(b.endMs > b.startMs && b.endMs > st.lastNow, `${n.id} ended booking ${b.id}`);
      check(b.gpuIndices.every((i) => i < n.gpuCount), `${n.id} booking ${b.id} beyond gpuCount`);
      if (k > 0) check(list[k - 1]!.startMs <= b.startMs, `${n.id} bookings out of order`);
      for (let j = 0; j < k; j++) {
        const a = list[j]!;
        if (a.startMs < b.endMs && b.startMs < a.endMs) {
          check(!a.gpuIndices.some((i) => b.gpuIndices.includes(i)), `${n.id} GPU double-booked by ${a.id} and ${b.id}`);
        }
      }
    }
    if (n.listedBy) check(n.listedBy.active && askNodes(n.listedBy).includes(n), `${n.id} listedBy`);
  }
  check(bookings === st.leases.size, 'every live lease has its booking');
  check(bookings === table.live && wide === table.wideGpus.size, 'every booking row in use is a live lease\'s');
  for (const m of st.marketMap.values()) {
    check(st.marketGrid.get(m.acceleratorId)?.get(m.regionId) === m, `${m.key} market grid`);
    for (const index of [m.all, m.awake]) {
      // Order, sizes, chunk firsts, and every entry live and keyed by its ask's price and seq.
      const problem = index.problem();
      check(problem === null, `${m.key} ${index.slotB ? 'awake' : 'all'} ask index: ${problem}`);
    }
    const all = [...m.all.entries()];
    const awake = [...m.awake.entries()];
    check(all.length === m.all.size && awake.length === m.awake.size, `${m.key} index sizes`);
    for (const a of all) {
      check(a.active && a.stampA !== 0, `${a.id} in index but inactive`);
      check(a.asleep === (a.stampB === 0), `${a.id} awake entry`);
      if (a.asleep) check(freeNow(a, st.lastNow) === 0, `${a.id} asleep with free GPUs`);
      for (const n of askNodes(a)) check(n.listedBy === a, `${a.id} node listing`);
    }
    check(awake.every((a) => !a.asleep && a.active), `${m.key} awake index`);
    check(awake.length === all.filter((a) => !a.asleep).length, `${m.key} awake count`);
    for (const idx of [all, awake]) {
      for (let i = 1; i < idx.length; i++) {
        const p = idx[i - 1]!;
        const q = idx[i]!;
        check(p.price < q.price || (p.price === q.price && p.seq < q.seq), `${m.key} ask order`);
      }
    }
  }
  let entries = 0;
  // The bids among the active orders are the resting ones (a bid that does not rest is done).
  const restingBids = new Set<FBid>();
  for (const o of st.orders.values()) if (o.side === 'bid') restingBids.add(o);
  // Each accelerator's book holds GPU-count bids; the compute book (acc null) compute-amount bids.
  for (const [acc, book] of [...st.bidBooks, [null, st.computeBook] as const]) {
    const indexes: [string | null, FBidIndex][] = [[null, book], ...book.byRegion];
    for (const [region, index] of indexes) {
      const name = `${acc ?? 'compute'}${region === null ? '' : ` in ${region}`}`;
      for (const [what, ix] of [['bid', index.bids], ['future', index.future]] as const) {
        const problem = ix.problem();
        check(problem === null, `${name} ${what} index: ${problem}`);
      }
      const bids = [...index.bids.entries()];
      entries += bids.length;
      check(bids.length === index.bids.size, `${name} bid index size`);
      check(new Set(bids).size === bids.length, `${name} bid listed twice`);
      check(bids.every((b) => b.active && b.resting && st.orders.get(b.id) === b && (acc === null ? b.isCompute : !b.isCompute && b.accelerators.has(acc))), `${name} stray bid indexed`);
      check(bids.every((b) => (region === null ? b.regions === null : b.regions?.has(region) === true)), `${name} bid of other regions`);
      const future = [...index.future.entries()];
      check(future.length === index.future.size, `${name} future index size`);
      const expected = bids.filter((b) => b.startAt !== undefined);
      check(future.length === expected.length && future.every((b, i) => b === expected[i]), `${name} future index differs from the book`);
    }
  }
  let expectedEntries = 0;
  for (const b of restingBids) expectedEntries += (b.isCompute ? 1 : b.accelerators.size) * (b.regions === null ? 1 : b.regions.size);
  check(entries === expectedEntries, 'every resting bid is in the index of each accelerator (and region) it accepts, or the compute book');
  for (const m of st.marketMap.values()) {
    check(m.regionBids === m.book.byRegion.get(m.regionId), `${m.key} region index`);
    check(m.computeBook === st.computeBook && m.computeRegionBids === st.computeBook.byRegion.get(m.regionId), `${m.key} compute index`);
  }
  for (const o of st.orders.values()) {
    check(o.active, `${o.id} finished but remembered`);
    if (o.side === 'ask') {
      check(o.stampA !== 0, `${o.id} missing from index`);
      // Copied from its first node when placed (see FAsk): a node's market and owner never change.
      check(o.market === o.node.market && o.ownerId === o.node.providerId, `${o.id} market or owner differs from its node's`);
    } else check(o.resting, `${o.id} an active bid that does not rest`);
  }
  for (const b of restingBids) {
    check(b.active && b.resting && b.stampA !== 0 && b.restLimit === b.limit, `${b.id} entries`);
    for (const m of st.marketMap.values()) check(b.markets.includes(m) === bidAccepts(b, m), `${b.id} markets`);
  }
}
