/**
 * Seeded random command streams for the market engine: valid commands mostly, with a share of
 * bad ones (unknown ids, wrong owners, out-of-range fields) so every rejection path is exercised.
 */
import type { Command, EngineCatalog, EngineEvent, NodeKind, TimeInForce } from '../core/market/types.js';
import { MS_PER_HOUR } from '../core/market/types.js';
import { Rng } from './prng.js';

export const TEST_CATALOG: EngineCatalog = {
  accelerators: [
    { id: 'a100', fp16Tflops: 312, memoryGiB: 40, stack: 'cuda' },
    { id: 'h100', fp16Tflops: 989.4, memoryGiB: 80, stack: 'cuda' },
    { id: 'l40s', fp16Tflops: 362.05, memoryGiB: 48, stack: 'cuda' },
    { id: 'ascend', fp16Tflops: 320, memoryGiB: 64, stack: 'cann' },
  ],
  regions: [{ id: 'r1' }, { id: 'r2' }, { id: 'r3' }],
};

interface NodeInfo {
  readonly id: string;
  readonly provider: string;
  readonly market: string;
}

export class MarketStream {
  private readonly rng: Rng;
  private now: number;
  private readonly nodes: NodeInfo[] = [];
  private readonly orders: { id: string; owner: string }[] = [];
  private leaseCount = 0;
  private n = 0;
  private readonly providers = ['p1', 'p2', 'p3'];
  private readonly buyers = ['b1', 'b2', 'b3'];
  private readonly accs: readonly string[];
  private readonly regions: readonly string[];

  constructor(seed: number, catalog: EngineCatalog = TEST_CATALOG, startMs = 1_767_225_600_000) {
    this.rng = new Rng(seed);
    this.now = startMs;
    this.accs = catalog.accelerators.map((a) => a.id);
    this.regions = catalog.regions.map((x) => x.id);
  }

  /** Feed back results so later commands can name leases that exist. */
  observe(events: readonly EngineEvent[]): void {
    for (const e of events) if (e.type === 'lease_created') this.leaseCount++;
  }

  next(): Command {
    const r = this.rng;
    const step = r.float();
    if (step < 0.3) this.now += 0;
    else if (step < 0.9) this.now += r.int(1, 30 * 60_000);
    else this.now += r.int(1, 8) * MS_PER_HOUR;
    const now = this.now;
    const { accs, regions } = this;
    const roll = r.float();
    if (roll < 0.08 || this.nodes.length < 3) {
      const provider = r.pick(this.providers);
      const nodeId = r.chance(0.02) && this.nodes.length > 0 ? r.pick(this.nodes).id : `n${++this.n}`;
      const acc = r.chance(0.02) ? 'nope' : r.pick(accs);
      const region = r.chance(0.02) ? 'mars' : r.pick(regions);
      const kind: NodeKind = r.chance(0.15) ? 'offline' : r.chance(0.5) ? 'agent' : 'manual';
      const gpuCount = r.chance(0.02) ? 0 : kind === 'offline' ? r.int(1, 40) : r.pick([1, 2, 4, 8, 8, 8, 16]);
      this.nodes.push({ id: nodeId, provider, market: `${acc}@${region}` });
      return { type: 'registerNode', now, nodeId, providerId: provider, acceleratorId: acc, regionId: region, gpuCount, kind };
    }
    if (roll < 0.11) {
      const node = r.pick(this.nodes);
      return { type: 'updateNode', now, nodeId: node.id, providerId: r.chance(0.9) ? node.provider : 'p9', gpuCount: r.int(r.chance(0.03) ? 0 : 1, 16) };
    }
    if (roll < 0.16) {
      const node = r.pick(this.nodes);
      return { type: 'setNodeStatus', now, nodeId: r.chance(0.97) ? node.id : 'ghost', status: r.pick(['online', 'online', 'offline', 'draining'] as const) };
    }
    if (roll < 0.32) {
      const base = r.pick(this.nodes);
      const same = this.nodes.filter((x) => x.provider === base.provider && x.market === base.market);
      const chosen = r.sample(same, r.int(1, 3)).map((x) => x.id);
      if (r.chance(0.03)) chosen.push(r.pick(this.nodes).id);
      const orderId = this.orderId();
      this.orders.push({ id: orderId, owner: base.provider });
      const minHours = r.chance(0.3) ? r.int(1, 4) : undefined;
      return {
        type: 'placeAsk', now, orderId, providerId: r.chance(0.97) ? base.provider : 'p9', nodeIds: chosen,
        priceFenPerGpuHour: r.chance(0.02) ? -5 : r.int(1000, 5000),
        unit: r.chance(0.15) ? 'node' : 'gpu',
        minHours,
        maxHours: r.chance(0.2) ? (minHours ?? 1) + r.int(0, 6) : undefined,
        availableUntil: r.chance(0.2) ? now + r.int(1, 48) * MS_PER_HOUR : undefined,
        expiresAt: r.chance(0.15) ? now + r.int(1, 24) * MS_PER_HOUR : undefined,
      };
    }
    if (roll < 0.67) {
      const buyer = r.pick(this.buyers);
      const orderId = this.orderId();
      this.orders.push({ id: orderId, owner: buyer });
      const compute = r.chance(0.2);
      const gpn = r.chance(0.2) ? r.pick([1, 2, 4, 8]) : undefined;
      let gpus = r.int(1, 12);
      if (gpn && r.chance(0.9)) gpus = gpn * r.int(1, 2);
      const tif: TimeInForce = r.pick(['GTC', 'GTC', 'GTC', 'GTD', 'IOC', 'FOK']);
      const useClass = r.chance(0.25);
      return {
        type: 'placeBid', now, orderId, buyerId: buyer,
        acceleratorIds: useClass && r.chance(0.5) ? undefined : r.sample(accs, r.int(1, 2)).concat(r.chance(0.01) ? ['nope'] : []),
        computeClass: useClass ? { minMemoryGiB: r.pick([0, 40, 48, 64]), stacks: r.chance(0.5) ? ['cuda'] : undefined, minFp16Tflops: r.chance(0.3) ? 330 : undefined } : undefined,
        regionIds: r.chance(0.4) ? undefined : r.sample(regions, r.int(1, 2)),
        quantity: compute ? { kind: 'compute', deciTflops: r.int(1_000, 40_000) } : { kind: 'gpus', gpus: r.chance(0.01) ? 0 : gpus },
        gpusPerNode: gpn,
        hours: r.chance(0.01) ? 0 : r.int(1, 6),
        startAt: r.chance(0.2) ? now + r.int(0, 10) * MS_PER_HOUR : undefined,
        limitFen: compute ? r.int(3_000, 20_000) : r.int(1_000, 6_000),
        timeInForce: tif,
        expiresAt: tif === 'GTD' ? now + r.int(1, 12) * MS_PER_HOUR : undefined,
        allowPartial: r.chance(0.5),
      };
    }
    if (roll < 0.75 && this.orders.length > 0) {
      const o = r.pick(this.orders);
      return { type: 'cancel', now, orderId: r.chance(0.97) ? o.id : 'ghost', ownerId: r.chance(0.9) ? o.owner : 'b9' };
    }
    if (roll < 0.85 && this.orders.length > 0) {
      const o = r.pick(this.orders);
      const isAsk = o.owner.startsWith('p');
      return {
        type: 'amend', now, orderId: o.id, ownerId: r.chance(0.95) ? o.owner : 'b9',
        priceFen: r.chance(0.6) ? r.int(1000, isAsk ? 5000 : 8000) : undefined,
        remaining: r.chance(0.4) ? r.int(1, 12) : undefined,
        expiresAt: r.chance(0.15) ? (r.chance(0.3) ? null : now + r.int(1, 12) * MS_PER_HOUR) : undefined,
      };
    }
    if (roll < 0.865) {
      // an operator halts (or, more often, resumes) a market
      const market = r.chance(0.02) ? 'nope@r1' : `${r.pick(accs)}@${r.pick(regions)}`;
      return { type: 'setMarketHalted', now, market, halted: r.chance(0.4) };
    }
    if (roll < 0.95 && this.leaseCount > 0) {
      const k = r.chance(0.97) ? r.int(Math.max(1, this.leaseCount - 30), this.leaseCount) : this.leaseCount + 10;
      return { type: 'endLease', now, leaseId: `l${k}`, reason: r.pick(['buyer', 'job_exited', 'node_lost'] as const) };
    }
    return { type: 'expire', now };
  }

  private orderId(): string {
    if (this.orders.length > 0 && this.rng.chance(0.01)) return this.rng.pick(this.orders).id;
    return `o${++this.n}`;
  }
}
