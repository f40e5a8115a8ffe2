/**
 * bench:engine — our matching engine against the npm package nodejs-order-book on the identical
 * workload, in one process and one run: 1,000,000 limit orders from mulberry32(42) (buy or sell
 * with probability 1/2, price 10000 + U{-50..50}, size U{1..10}) after a 100,000-order warm-up
 * on a throw-away book. Our side is one market of offline capacity with partial fills allowed,
 * through the same matching code as every other order: a sell registers an offline-capacity
 * block of `size` GPUs and asks for it; a buy is a GTC bid for `size` GPUs for one hour.
 * It also runs a floor: the same loop with the engine replaced by only what its interface itself
 * asks for each order, and no matching at all (see `runFloor`). What the floor reaches, over the
 * peer, bounds the ratio any engine behind this interface could show here.
 * Usage: npm run bench:engine [-- --json] [-- --orders N]
 */
import { OrderBook } from 'nodejs-order-book';
import { Engine } from '../src/core/market/engine.js';
import type { Command, EngineCatalog, EngineEvent } from '../src/core/market/types.js';
import { mulberry32 } from '../src/core/prng.js';
import { cpuMsSince, type GcStats, latencyStats, round, watchGc } from './stats.js';

/**
 * The orders as columns: a million order objects would sit in the heap through both timed runs,
 * and every major GC (of either side) would mark them.
 */
interface Orders {
  readonly count: number;
  readonly buy: Uint8Array;
  readonly price: Int32Array;
  readonly size: Int32Array;
}

function workload(count: number, seed: number): Orders {
  const rnd = mulberry32(seed);
  const buy = new Uint8Array(count);
  const price = new Int32Array(count);
  const size = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    buy[i] = rnd() < 0.5 ? 1 : 0;
    price[i] = 10_000 + Math.floor(rnd() * 101) - 50;
    size[i] = 1 + Math.floor(rnd() * 10);
  }
  return { count, buy, price, size };
}

const CATALOG: EngineCatalog = {
  accelerators: [{ id: 'nvidia-a100-sxm4-40g', fp16Tflops: 312, memoryGiB: 40, stack: 'cuda' }],
  regions: [{ id: 'cn-guizhou-guiyang' }],
};

interface Result {
  readonly ordersPerSecond: number;
  readonly matchedQuantity: number;
  readonly latency: ReturnType<typeof latencyStats>;
  /** CPU time of the measured loop, all threads (GC helpers included): steadier than wall time on a shared machine. */
  readonly cpuMs: number;
  gc?: GcStats;
}

/** A timed run's result, from when it started (`t0`, `cpu0`), its per-order latencies and what it matched. */
function finish(count: number, t0: bigint, cpu0: NodeJS.CpuUsage, lat: Float64Array, matched: number): Result {
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { ordersPerSecond: Math.round(count / seconds), matchedQuantity: matched, latency: latencyStats(lat), cpuMs: cpuMsSince(cpu0) };
}

function runOurs(orders: Orders, tag: string): Result {
  const engine = new Engine(CATALOG);
  const lat = new Float64Array(orders.count);
  let now = 1_767_225_600_000;
  let matched = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < orders.count; i++) {
    const price = orders.price[i]!;
    const size = orders.size[i]!;
    const s = process.hrtime.bigint();
    now++;
    let events;
    if (orders.buy[i] === 1) {
      const cmd: Command = {
        type: 'placeBid', now, orderId: `${tag}b${i}`, buyerId: 'buyer', acceleratorIds: ['nvidia-a100-sxm4-40g'],
        quantity: { kind: 'gpus', gpus: size }, hours: 1, limitFen: price, allowPartial: true,
      };
      events = engine.apply(cmd).events;
    } else {
      const nodeId = `${tag}n${i}`;
      engine.apply({
        type: 'registerNode', now, nodeId, providerId: 'dc', acceleratorId: 'nvidia-a100-sxm4-40g',
        regionId: 'cn-guizhou-guiyang', gpuCount: size, kind: 'offline',
      });
      events = engine.apply({ type: 'placeAsk', now, orderId: `${tag}a${i}`, providerId: 'dc', nodeIds: [nodeId], priceFenPerGpuHour: price }).events;
    }
    lat[i] = Number(process.hrtime.bigint() - s);
    for (const e of events) if (e.type === 'trade') matched += e.gpus;
  }
  return finish(orders.count, t0, cpu0, lat, matched);
}

/** Where the floor's results go, so that they escape as an engine's do (no allocation optimised away). */
const floorSink: { registered: EngineEvent[] | null; events: EngineEvent[] | null } = { registered: null, events: null };

/**
 * The floor: the commands built as `runOurs` builds them, and for each only what the engine's
 * interface implies whatever its matching does: a sell stores its node and its ask by id (a
 * duplicate check and an insert in a Map, records shaped like the engine's), and every command
 * returns its events (a sell: node registered, order accepted and rested, book changed; a buy:
 * order accepted, ONE trade and its lease, filled, book changed). Asks are never matched or
 * removed (as in the engine, whose sold-out asks stay listed for when their leases end); a real
 * buy often makes several trades, and sells trade too, so the floor does less than any engine.
 */
function runFloor(orders: Orders, tag: string): Result {
  const nodes = new Map<string, object>();
  const asks = new Map<string, object>();
  const lat = new Float64Array(orders.count);
  let now = 1_767_225_600_000;
  let matched = 0;
  let lease = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < orders.count; i++) {
    const price = orders.price[i]!;
    const size = orders.size[i]!;
    const s = process.hrtime.bigint();
    now++;
    let events: EngineEvent[];
    if (orders.buy[i] === 1) {
      const cmd: Command = {
        type: 'placeBid', now, orderId: `${tag}b${i}`, buyerId: 'buyer', acceleratorIds: ['nvidia-a100-sxm4-40g'],
        quantity: { kind: 'gpus', gpus: size }, hours: 1, limitFen: price, allowPartial: true,
      };
      if (asks.has(cmd.orderId)) throw new Error('duplicate');
      lease++;
      events = [
        { type: 'order_accepted', orderId: cmd.orderId, side: 'bid' },
        {
          type: 'trade', tradeId: `t${lease}`, bidId: cmd.orderId, askId: 'a', buyerId: cmd.buyerId, providerId: 'dc', market: 'm', gpus: size,
          priceFenPerGpuHour: price, startMs: now, endMs: now + 3_600_000,
        },
        { type: 'lease_created', leaseId: `l${lease}`, tradeId: `t${lease}`, nodeId: 'n', gpuIndices: [0], priceFenPerGpuHour: price, startMs: now, endMs: now + 3_600_000 },
        { type: 'order_filled', orderId: cmd.orderId },
        { type: 'book_changed', market: 'm' },
      ];
    } else {
      const nodeId = `${tag}n${i}`;
      const reg: Command = {
        type: 'registerNode', now, nodeId, providerId: 'dc', acceleratorId: 'nvidia-a100-sxm4-40g', regionId: 'cn-guizhou-guiyang', gpuCount: size, kind: 'offline',
      };
      if (nodes.has(reg.nodeId)) throw new Error('duplicate');
      const node = { status: 'online', listedBy: null, firstBooking: -1, id: reg.nodeId, providerId: reg.providerId, market: null, gpuCount: size };
      nodes.set(reg.nodeId, node);
      const registered: EngineEvent[] = [{ type: 'node_registered', nodeId, market: 'm', gpuCount: size }];
      const ask: Command = { type: 'placeAsk', now, orderId: `${tag}a${i}`, providerId: 'dc', nodeIds: [nodeId], priceFenPerGpuHour: price };
      if (asks.has(ask.orderId)) throw new Error('duplicate');
      asks.set(ask.orderId, {
        side: 'ask', active: true, asleep: false, stampA: 0, stampB: 0, id: ask.orderId, node, more: null, terms: null, price, expiresAt: undefined, seq: i,
        market: null, ownerId: ask.providerId,
      });
      events = [
        { type: 'order_accepted', orderId: ask.orderId, side: 'ask' },
        { type: 'order_rested', orderId: ask.orderId, side: 'ask', remaining: size },
        { type: 'book_changed', market: 'm' },
      ];
      floorSink.registered = registered;
    }
    lat[i] = Number(process.hrtime.bigint() - s);
    floorSink.events = events;
    for (const e of events) if (e.type === 'trade') matched += e.gpus;
  }
  return finish(orders.count, t0, cpu0, lat, matched);
}

function runPeer(orders: Orders, tag: string): Result {
  const ob = new OrderBook();
  const lat = new Float64Array(orders.count);
  let matched = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < orders.count; i++) {
    const size = orders.size[i]!;
    const s = process.hrtime.bigint();
    const r = ob.limit({ id: `${tag}${i}`, side: orders.buy[i] === 1 ? ('buy' as never) : ('sell' as never), size, price: orders.price[i]! });
    lat[i] = Number(process.hrtime.bigint() - s);
    matched += size - (r.quantityLeft ?? 0);
  }
  return finish(orders.count, t0, cpu0, lat, matched);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const n = Number(args[args.indexOf('--orders') + 1] ?? 0) || 1_000_000;
  const warm = workload(100_000, 7);
  const orders = workload(n, 42);
  runPeer(warm, 'w');
  runFloor(warm, 'w');
  runOurs(warm, 'w');
  let stopGc = watchGc();
  const peer = runPeer(orders, 'm');
  peer.gc = await stopGc();
  // The floor before ours: whichever runs second inherits the other's garbage (a full collection
  // of the first run's heap), which took about 7% off the floor when it ran after ours.
  stopGc = watchGc();
  const floor = runFloor(orders, 'm');
  floor.gc = await stopGc();
  stopGc = watchGc();
  const ours = runOurs(orders, 'm');
  ours.gc = await stopGc();
  const floorRatio = round(floor.ordersPerSecond / peer.ordersPerSecond, 2);
  const ratio = round(ours.ordersPerSecond / peer.ordersPerSecond, 2);
  const cpuRatio = round(peer.cpuMs / ours.cpuMs, 2);
  const report = { orders: n, node: process.version, suanli: ours, nodejsOrderBook: peer, throughputRatio: ratio, cpuRatio, floor, floorRatio, target: { ratio: 3, maxPauseMs: 20 } };
  if (json) {
    console.log(JSON.stringify(report));
    return;
  }
  const row = (name: string, r: Result): string =>
    `${name.padEnd(20)} ${String(r.ordersPerSecond).padStart(10)} orders/s  p50 ${r.latency.p50Us} µs  p99 ${r.latency.p99Us} µs  p99.9 ${r.latency.p999Us} µs  longest ${r.latency.maxMs} ms  matched ${r.matchedQuantity}  CPU ${r.cpuMs} ms  GC ${r.gc?.totalMs} ms (longest ${r.gc?.maxMs} ms)`;
  console.log(`bench:engine — ${n} limit orders, mulberry32(42), ${process.version}`);
  console.log(row('suanli', ours));
  console.log(row('nodejs-order-book', peer));
  console.log(`ratio ${ratio}× (by CPU time ${cpuRatio}×) (target ≥ 3×, longest pause ≤ 20 ms)`);
  console.log(`floor (interface only, no matching: see runFloor) ${floor.ordersPerSecond} orders/s = ${floorRatio}× the peer, the most any engine behind this interface could show here`);
}

await main();
