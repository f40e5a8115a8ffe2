/**
 * bench:match — the engine under a realistic mixed load: 10,000 nodes over 20 accelerator models
 * × 10 regions (east and west), one ask per node or per small group, then a stream of orders
 * with mixed constraints: several models or regions, compute classes, GPUs-per-node (whole
 * 8-GPU servers), future windows, compute-amount bids in P, IOC and GTC, plus cancels, ask
 * reprices and early lease ends. Time advances so leases end and capacity returns.
 * Usage: npm run bench:match [-- --json] [-- --orders N]
 */
import { listAccelerators, listRegions } from '../src/core/catalog/index.js';
import { Engine } from '../src/core/market/engine.js';
import { type Command, MS_PER_HOUR } from '../src/core/market/types.js';
import { Rng } from '../src/sim/prng.js';
import { cpuMsSince, latencyStats, round, watchGc } from './stats.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const orderCount = Number(args[args.indexOf('--orders') + 1] ?? 0) || 200_000;

const accelerators = listAccelerators().slice(0, 20);
const regions = [...listRegions().filter((r) => r.side === 'east').slice(0, 5), ...listRegions().filter((r) => r.side === 'west').slice(0, 5)];
const engine = new Engine({ accelerators: listAccelerators(), regions: listRegions() });
const rng = new Rng(42);
let now = Date.UTC(2026, 0, 1);

// Supply: 10,000 nodes; base price by dense FP16 (about 7 fen per TFLOPS-hour), west 12% cheaper.
const basePrice = (accIdx: number, regIdx: number): number =>
  Math.max(200, Math.round(accelerators[accIdx]!.fp16Tflops * 7 * (regIdx >= 5 ? 0.88 : 1)));
const asks: { id: string; provider: string }[] = [];
let nodeCount = 0;
while (nodeCount < 10_000) {
  const a = rng.int(0, accelerators.length - 1);
  const r = rng.int(0, regions.length - 1);
  const provider = `p${rng.int(1, 200)}`;
  const group = rng.chance(0.8) ? 1 : rng.int(2, 4);
  const nodeIds: string[] = [];
  for (let g = 0; g < group && nodeCount < 10_000; g++) {
    const nodeId = `n${++nodeCount}`;
    engine.apply({
      type: 'registerNode', now, nodeId, providerId: provider, acceleratorId: accelerators[a]!.id, regionId: regions[r]!.id,
      gpuCount: rng.pick([8, 8, 8, 8, 4, 16]), kind: 'agent',
    });
    nodeIds.push(nodeId);
  }
  const id = `a${asks.length + 1}`;
  const res = engine.apply({
    type: 'placeAsk', now, orderId: id, providerId: provider, nodeIds,
    priceFenPerGpuHour: Math.round(basePrice(a, r) * (0.85 + rng.float() * 0.3)),
    unit: rng.chance(0.1) ? 'node' : 'gpu', maxHours: rng.chance(0.2) ? 24 : undefined,
  });
  if (!res.ok) throw new Error(`setup ask rejected: ${res.code}`);
  asks.push({ id, provider });
}

// Demand: a mixed stream.
const commands: Command[] = [];
const resting: { id: string; buyer: string }[] = [];
let leaseHint = 0;
for (let i = 0; i < orderCount; i++) {
  now += rng.int(0, 40);
  const roll = rng.float();
  if (roll < 0.08 && resting.length > 0) {
    const o = resting.splice(rng.int(0, resting.length - 1), 1)[0]!;
    commands.push({ type: 'cancel', now, orderId: o.id, ownerId: o.buyer });
    continue;
  }
  if (roll < 0.12) {
    const a = rng.pick(asks);
    commands.push({ type: 'amend', now, orderId: a.id, ownerId: a.provider, priceFen: rng.int(300, 9000) });
    continue;
  }
  if (roll < 0.15 && leaseHint > 0) {
    commands.push({ type: 'endLease', now, leaseId: `l${rng.int(Math.max(1, leaseHint - 500), leaseHint)}`, reason: 'buyer' });
    continue;
  }
  const id = `b${i}`;
  const buyer = `u${rng.int(1, 5000)}`;
  const a = rng.int(0, accelerators.length - 1);
  const kind = rng.float();
  const tif = rng.chance(0.5) ? 'IOC' : 'GTC';
  const base = basePrice(a, 0);
  // Each kind is one object literal with every field: a spread of shared fields gave each
  // command its own hidden class (~30 MB of them kept live, and a megamorphic read of every
  // field), which commands parsed from JSON by the server do not have. Same draws, same order.
  const type = 'placeBid' as const;
  const timeInForce = tif as 'IOC' | 'GTC';
  const hours = rng.int(1, 8);
  if (kind < 0.35) {
    const acceleratorIds = [accelerators[a]!.id];
    const regionIds = [rng.pick(regions).id];
    const quantity = { kind: 'gpus' as const, gpus: rng.int(1, 4) };
    const limitFen = Math.round(base * (0.9 + rng.float() * 0.3));
    commands.push({ type, now, orderId: id, buyerId: buyer, timeInForce, hours, acceleratorIds, regionIds, quantity, limitFen, allowPartial: rng.chance(0.5) });
  } else if (kind < 0.55) {
    const acceleratorIds = rng.sample(accelerators, 3).map((x) => x.id);
    const quantity = { kind: 'gpus' as const, gpus: rng.int(1, 8) };
    commands.push({ type, now, orderId: id, buyerId: buyer, timeInForce, hours, acceleratorIds, quantity, limitFen: Math.round(base * (0.9 + rng.float() * 0.5)) });
  } else if (kind < 0.7) {
    const acceleratorIds = [accelerators[a]!.id];
    const regionIds = rng.sample(regions, 3).map((x) => x.id);
    const quantity = { kind: 'gpus' as const, gpus: 8 * rng.int(1, 2) };
    commands.push({ type, now, orderId: id, buyerId: buyer, timeInForce, hours, acceleratorIds, regionIds, quantity, gpusPerNode: 8, limitFen: Math.round(base * 1.1) });
  } else if (kind < 0.8) {
    const acceleratorIds = [accelerators[a]!.id];
    const quantity = { kind: 'gpus' as const, gpus: rng.int(1, 8) };
    commands.push({ type, now, orderId: id, buyerId: buyer, timeInForce, hours, acceleratorIds, quantity, startAt: now + rng.int(1, 48) * MS_PER_HOUR, limitFen: Math.round(base * 1.05) });
  } else if (kind < 0.9) {
    const regionIds = rng.sample(regions, 2).map((x) => x.id);
    const quantity = { kind: 'compute' as const, deciTflops: rng.int(5_000, 30_000) };
    const limitFen = rng.int(15_000, 25_000);
    commands.push({ type, now, orderId: id, buyerId: buyer, timeInForce, hours, computeClass: { minFp16Tflops: 300, stacks: ['cuda'] }, regionIds, quantity, limitFen, allowPartial: rng.chance(0.5) });
  } else {
    const quantity = { kind: 'gpus' as const, gpus: rng.int(1, 4) };
    commands.push({ type, now, orderId: id, buyerId: buyer, timeInForce, hours, computeClass: { minMemoryGiB: 48 }, quantity, limitFen: rng.int(500, 4_000) });
  }
  if (tif === 'GTC') resting.push({ id, buyer });
  leaseHint += 2;
}

const lat = new Float64Array(commands.length);
let trades = 0;
let rejected = 0;
// CPU time and GC pauses of the measured loop: on a shared machine wall time alone is noise.
const stopGc = watchGc();
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
for (let i = 0; i < commands.length; i++) {
  const s = process.hrtime.bigint();
  const r = engine.apply(commands[i]!);
  lat[i] = Number(process.hrtime.bigint() - s);
  if (!r.ok) rejected++;
  for (const e of r.events) if (e.type === 'trade') trades++;
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpuMs = cpuMsSince(cpu0);
const gc = await stopGc();
// Breakdown by command kind (placeBid split into IOC and GTC): where the time and the tail are.
const kindOf = (c: Command): string => (c.type === 'placeBid' ? `placeBid ${c.timeInForce ?? 'GTC'}` : c.type);
const byKind = new Map<string, number[]>();
for (let i = 0; i < commands.length; i++) {
  const k = kindOf(commands[i]!);
  const list = byKind.get(k);
  if (list) list.push(lat[i]!);
  else byKind.set(k, [lat[i]!]);
}
const breakdown = Object.fromEntries([...byKind].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, xs]) => {
  const totalMs = xs.reduce((a, b) => a + b, 0) / 1e6;
  return [k, { count: xs.length, totalMs: round(totalMs, 1), ...latencyStats(Float64Array.from(xs)) }];
}));
const report = {
  nodes: nodeCount, markets: engine.markets().length, orders: commands.length, ordersPerSecond: Math.round(commands.length / seconds),
  trades, rejected, latency: latencyStats(lat), cpuMs, gc, simulatedHours: round((now - Date.UTC(2026, 0, 1)) / MS_PER_HOUR, 1),
  target: { ordersPerSecond: 100_000 }, byKind: breakdown,
};
if (json) console.log(JSON.stringify(report));
else {
  console.log(`bench:match — ${report.nodes} nodes in ${report.markets} markets, ${report.orders} mixed orders over ${report.simulatedHours} simulated hours, ${process.version}`);
  console.log(`${report.ordersPerSecond} orders/s  p50 ${report.latency.p50Us} µs  p99 ${report.latency.p99Us} µs  p99.9 ${report.latency.p999Us} µs  longest ${report.latency.maxMs} ms`);
  console.log(`CPU ${cpuMs} ms (all threads); GC ${gc.count} pauses, ${gc.totalMs} ms in all, longest ${gc.maxMs} ms`);
  console.log(`${trades} trades, ${rejected} rejected (cancels of filled orders, ends of ended leases). Target ≥ 100,000 orders/s.`);
  for (const [k, b] of Object.entries(breakdown)) {
    console.log(`  ${k.padEnd(14)} ${String(b.count).padStart(7)} × ${String(b.totalMs).padStart(7)} ms in all  p50 ${b.p50Us} µs  p99 ${b.p99Us} µs  longest ${b.maxMs} ms`);
  }
}
