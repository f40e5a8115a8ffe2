/**
 * A demo market: the real catalog and the real matching engine, fed by scripted providers and a
 * seeded demo trader, so `suanli demo` (and `npm start`) can show a market moving before the HTTP
 * exchange (`suanli serve`) exists.
 *
 * Pure apart from what is injected: time comes in on every call and randomness from a seeded
 * `Rng`; no I/O, no Date.now, no Math.random. Every command sent is meant to be valid; a rejection
 * is counted and kept (tests assert there are none) instead of thrown, so a live demo never dies
 * on one.
 */
import {
  type Accelerator,
  fenPerGpuHourFromWanPerPYear,
  getAccelerator,
  getHub,
  getRegion,
  FEN_PER_YUAN,
  HOURS_PER_MONTH,
  HOURS_PER_YEAR,
  type HubSide,
  listAccelerators,
  listRegions,
  YUAN_PER_WAN,
} from '../core/catalog/index.js';
import { Engine } from '../core/market/engine.js';
import {
  type AskUnit,
  type Command,
  type CommandResult,
  type EngineEvent,
  marketKey,
  MS_PER_HOUR,
  type NodeKind,
  type PlaceBid,
  type RejectCode,
} from '../core/market/types.js';
import { Rng } from './prng.js';

// ───────────────────────────── reference prices ─────────────────────────────

/**
 * East (demand-centre) prices, fen per GPU-hour. SEED.md's 2024 cloud list means where it has
 * one; the rest are analogies (assumptions for the demo, not quotes).
 */
export const EAST_REFERENCE_FEN: Readonly<Record<string, number>> = {
  'nvidia-a100-sxm4-40g': 2270, // SEED: A100 40G NVLink mean ¥22.70
  'nvidia-a100-pcie-40g': 2130, // SEED: A100 40G PCIe ¥21.30
  'nvidia-a100-sxm4-80g': 4040, // SEED: A100 80G NVLink ¥40.40 (one vendor's list price)
  'nvidia-v100-sxm2-32g': 1680, // SEED: V100 32G NVLink mean ¥16.80
  // Analogies:
  'nvidia-h800-sxm5-80g': 6060, // 1.5 × the A100 80G for ~3.2× its dense FP16: newer parts cost less per P
  'nvidia-h20-96g': 1900, // under the A100 40G PCIe: 96 GB for inference, under half an A100's FP16
  'nvidia-l40s-48g': 1700, // 0.8 × the A100 40G PCIe: PCIe card, 48 GB, no NVLink
  'nvidia-rtx-4090-24g': 420, // consumer card, 24 GB, no NVLink: a quarter of the V100 32G
  'huawei-ascend-910b': 2000, // an A100 40G NVLink's FP16, about 12% under it for the CANN porting cost
};

/** Western hubs (cheap power, 东数西算) list about 10–15% under the east. */
export const WEST_DISCOUNT = 0.88;

/**
 * The offline block is priced from SEED's compute-scale contracts for H800 servers
 * (120k–180k CNY per P-year, 2023): the midpoint, 15万元/P·年, sold by the month.
 */
const OFFLINE_WAN_PER_P_YEAR = 15;

// ───────────────────────────── supply ─────────────────────────────

interface Listing {
  readonly providerId: string;
  readonly acceleratorId: string;
  readonly regionId: string;
  readonly nodes: number;
  readonly gpusPerNode: number;
  readonly kind: NodeKind;
  readonly unit: AskUnit;
  readonly minHours?: number;
  /** Multiplies the reference price (after the west discount). */
  readonly priceFactor?: number;
  /** Overrides the reference price. */
  readonly priceFen?: number;
}

export const DEMO_PROVIDERS: Readonly<Record<string, string>> = {
  'jingbei-dc': 'Jingbei data centre, Beijing (京北数据中心)',
  'xibu-dc': 'Western compute centre, Guizhou and Inner Mongolia (西部算力中心)',
  'telecom-yrd': 'Telecom operator, Yangtze River Delta (长三角电信)',
  'uni-chengdu': 'University lab with idle GPUs, Chengdu (成都高校)',
  'ningxia-compute': 'Offline capacity, Zhongwei, Ningxia (宁夏中卫算力)',
};

const h800 = getAccelerator('nvidia-h800-sxm5-80g');
if (h800 === undefined) throw new Error('catalog lacks nvidia-h800-sxm5-80g'); // catalog bug

const S = (x: Omit<Listing, 'kind' | 'unit' | 'gpusPerNode'> & Partial<Listing>): Listing => ({
  kind: 'agent', unit: 'gpu', gpusPerNode: 8, ...x,
});

const SUPPLY: readonly Listing[] = [
  // Beijing: NVLink training servers; the 80G and H800 boxes go only as whole servers.
  S({ providerId: 'jingbei-dc', acceleratorId: 'nvidia-a100-sxm4-40g', regionId: 'cn-beijing', nodes: 4 }),
  S({ providerId: 'jingbei-dc', acceleratorId: 'nvidia-a100-sxm4-80g', regionId: 'cn-beijing', nodes: 2, unit: 'node' }),
  S({ providerId: 'jingbei-dc', acceleratorId: 'nvidia-h800-sxm5-80g', regionId: 'cn-beijing', nodes: 2, unit: 'node', minHours: 24 }),
  // The west: the same parts, cheaper.
  S({ providerId: 'xibu-dc', acceleratorId: 'nvidia-a100-sxm4-40g', regionId: 'cn-guizhou-guian', nodes: 4 }),
  S({ providerId: 'xibu-dc', acceleratorId: 'nvidia-v100-sxm2-32g', regionId: 'cn-guizhou-guian', nodes: 3 }),
  S({ providerId: 'xibu-dc', acceleratorId: 'nvidia-a100-sxm4-80g', regionId: 'cn-neimenggu-horinger', nodes: 2 }),
  S({ providerId: 'xibu-dc', acceleratorId: 'huawei-ascend-910b', regionId: 'cn-neimenggu-horinger', nodes: 4 }),
  S({ providerId: 'xibu-dc', acceleratorId: 'nvidia-h20-96g', regionId: 'cn-neimenggu-horinger', nodes: 2 }),
  // A telecom operator's IDC capacity in the Yangtze River Delta.
  S({ providerId: 'telecom-yrd', acceleratorId: 'nvidia-a100-pcie-40g', regionId: 'cn-shanghai', nodes: 3 }),
  S({ providerId: 'telecom-yrd', acceleratorId: 'nvidia-l40s-48g', regionId: 'cn-shanghai', nodes: 3 }),
  S({ providerId: 'telecom-yrd', acceleratorId: 'nvidia-v100-sxm2-32g', regionId: 'cn-zhejiang-hangzhou', nodes: 2 }),
  S({ providerId: 'telecom-yrd', acceleratorId: 'nvidia-rtx-4090-24g', regionId: 'cn-zhejiang-hangzhou', nodes: 4 }),
  // A university renting out idle lab GPUs a little under market.
  S({ providerId: 'uni-chengdu', acceleratorId: 'nvidia-a100-pcie-40g', regionId: 'cn-sichuan-chengdu', nodes: 2, priceFactor: 0.92 }),
  S({ providerId: 'uni-chengdu', acceleratorId: 'nvidia-rtx-4090-24g', regionId: 'cn-sichuan-chengdu', nodes: 2, gpusPerNode: 4, priceFactor: 0.9 }),
  // Offline capacity: one 64-GPU block entered by hand, sold by the month as a compute-scale contract.
  S({
    providerId: 'ningxia-compute', acceleratorId: 'nvidia-h800-sxm5-80g', regionId: 'cn-ningxia-zhongwei', nodes: 1,
    gpusPerNode: 64, kind: 'offline', minHours: HOURS_PER_MONTH, priceFen: fenPerGpuHourFromWanPerPYear(OFFLINE_WAN_PER_P_YEAR, h800),
  }),
];

const BUYERS = ['model-startup', 'big-model-co', 'univ-nlp-lab', 'indie-dev', 'sme-vision'] as const;

// ───────────────────────────── public shapes ─────────────────────────────

export type DemoBidKind = 'gpu-hourly' | 'server' | 'compute-month' | 'compute-burst' | 'compute-ascend';

export interface DemoRow {
  readonly market: string;
  readonly acceleratorId: string;
  readonly modelName: string;
  readonly regionId: string;
  readonly regionName: string;
  readonly regionNameZh: string;
  readonly hubId: string;
  readonly hubNameZh: string;
  readonly side: HubSide;
  readonly bestAskFen: number | null;
  readonly bestBidFen: number | null;
  readonly lastTradeFen: number | null;
  readonly freeGpus: number;
  readonly totalGpus: number;
  /** GPUs per node where every node of the market is one size (8 = an 8-GPU server). */
  readonly gpusPerNode: number | null;
  readonly trades: number;
}

export interface DemoTrade {
  readonly tradeId: string;
  readonly atMs: number;
  readonly market: string;
  readonly bidId: string;
  readonly bidKind: DemoBidKind | null;
  readonly buyerId: string;
  readonly providerId: string;
  readonly gpus: number;
  readonly priceFenPerGpuHour: number;
  readonly hours: number;
}

export interface DemoStats {
  readonly steps: number;
  readonly commands: number;
  readonly rejected: number;
  readonly trades: number;
  readonly bidsPlaced: number;
  readonly cancels: number;
  readonly reprices: number;
  readonly leasesEndedEarly: number;
  /** Σ price × GPUs × hours of every trade, fen. */
  readonly turnoverFen: number;
  readonly gpusTotal: number;
  readonly gpusLeasedNow: number;
  readonly restingBids: number;
}

export interface DemoRejection {
  readonly command: Command['type'];
  readonly code: RejectCode;
  readonly message: string;
}

export interface DemoMarketOptions {
  readonly seed: number;
  /** Sees every command and its result (tests check the engine's behaviour from here). */
  readonly onCommand?: (command: Command, result: CommandResult) => void;
}

interface AskState {
  readonly id: string;
  readonly providerId: string;
  readonly market: string;
  readonly referenceFen: number;
  priceFen: number;
}
interface LeaseState {
  readonly id: string;
  readonly gpus: number;
  readonly endMs: number;
}
interface BidState {
  readonly id: string;
  readonly buyerId: string;
  readonly kind: DemoBidKind;
  readonly hours: number;
}
interface MarketInfo {
  readonly key: string;
  readonly acc: Accelerator;
  readonly regionId: string;
  readonly side: HubSide;
  readonly referenceFen: number;
  readonly listings: Listing[];
}

/** Trades `recentTrades` can return. */
export const RECENT_TRADES = 50;
const MAX_RESTING_BIDS = 24;
const MAX_REJECTIONS_KEPT = 20;

// ───────────────────────────── the market ─────────────────────────────

export class DemoMarket {
  readonly engine: Engine;
  private readonly rng: Rng;
  private readonly onCommand: DemoMarketOptions['onCommand'];
  private readonly markets = new Map<string, MarketInfo>();
  private readonly asks: AskState[] = [];
  private readonly bids = new Map<string, BidState>();
  private readonly resting = new Map<string, BidState>();
  private readonly leases = new Map<string, LeaseState>();
  private readonly tradesByMarket = new Map<string, number>();
  private readonly recent: DemoTrade[] = [];
  private readonly rejectionLog: DemoRejection[] = [];
  private seeded = false;
  private lastNow = 0;
  private bidSeq = 0;
  private counts = { steps: 0, commands: 0, rejected: 0, trades: 0, bidsPlaced: 0, cancels: 0, reprices: 0, leasesEndedEarly: 0, turnoverFen: 0 };
  private gpusTotal = 0;
  private stepEvents: EngineEvent[] = [];

  constructor(options: DemoMarketOptions) {
    this.engine = new Engine({ accelerators: listAccelerators(), regions: listRegions() });
    this.rng = new Rng(options.seed);
    this.onCommand = options.onCommand;
  }

  /** Registers the providers' nodes and lists their asks. Call once, before `step`. */
  seed(nowMs: number): readonly EngineEvent[] {
    if (this.seeded) throw new Error('DemoMarket.seed called twice');
    this.seeded = true;
    const now = this.clock(nowMs);
    this.stepEvents = [];
    let askSeq = 0;
    for (const l of SUPPLY) {
      const acc = getAccelerator(l.acceleratorId);
      const region = getRegion(l.regionId);
      if (!acc || !region) throw new Error(`demo supply names unknown ${l.acceleratorId}@${l.regionId}`); // our bug
      const key = marketKey(acc.id, region.id);
      const base = EAST_REFERENCE_FEN[acc.id] ?? 1000;
      const reference = l.priceFen ?? Math.round(base * (region.side === 'west' ? WEST_DISCOUNT : 1) * (l.priceFactor ?? 1));
      let info = this.markets.get(key);
      if (!info) {
        info = { key, acc, regionId: region.id, side: region.side, referenceFen: reference, listings: [] };
        this.markets.set(key, info);
      }
      info.listings.push(l);
      const nodeIds: string[] = [];
      for (let i = 1; i <= l.nodes; i++) {
        const nodeId = `${l.providerId}/${acc.id}/${region.id}/${i}`;
        nodeIds.push(nodeId);
        this.send({ type: 'registerNode', now, nodeId, providerId: l.providerId, acceleratorId: acc.id, regionId: region.id, gpuCount: l.gpusPerNode, kind: l.kind });
        this.gpusTotal += l.gpusPerNode;
      }
      // Each provider starts within ±2% of its reference, so books do not all sit on round numbers.
      const price = Math.max(1, Math.round(reference * (0.98 + 0.04 * this.rng.float())));
      const orderId = `ask-${++askSeq}-${l.providerId}`;
      const ok = this.send({
        type: 'placeAsk', now, orderId, providerId: l.providerId, nodeIds, priceFenPerGpuHour: price, unit: l.unit,
        ...(l.minHours !== undefined ? { minHours: l.minHours } : {}),
      });
      if (ok) this.asks.push({ id: orderId, providerId: l.providerId, market: key, referenceFen: reference, priceFen: price });
    }
    return this.stepEvents;
  }

  /**
   * One round of the demo trader: leases end early (capacity comes back and resting bids retry),
   * providers reprice, buyers cancel, then one to three new bids. Returns the engine's events.
   */
  step(nowMs: number): readonly EngineEvent[] {
    if (!this.seeded) throw new Error('DemoMarket.step before seed');
    const now = this.clock(nowMs);
    this.stepEvents = [];
    this.counts.steps++;
    // A tick first: leases that ran out free their GPUs and resting bids retry, so what this step
    // decides (which bid to cancel, which lease to end) sees the book as it is now. Otherwise a
    // cancel could carry the fill of the very bid it names, and be refused.
    this.send({ type: 'expire', now });
    for (const [id, l] of this.leases) if (l.endMs <= now) this.leases.delete(id);
    this.endSomeLeases(now);
    if (this.rng.chance(0.35)) this.repriceAsk(now);
    if (this.resting.size > MAX_RESTING_BIDS) this.cancelBid(now, this.resting.keys().next().value!);
    else if (this.resting.size > 0 && this.rng.chance(0.25)) this.cancelBid(now, this.rng.pick([...this.resting.keys()]));
    const n = this.rng.int(1, 3);
    for (let i = 0; i < n; i++) this.placeBid(now);
    return this.stepEvents;
  }

  snapshot(): readonly DemoRow[] {
    const order = new Map(listAccelerators().map((a, i) => [a.id, i]));
    const rows: DemoRow[] = [];
    for (const key of this.engine.markets()) {
      const info = this.markets.get(key);
      if (!info) continue;
      const region = getRegion(info.regionId)!;
      const hub = getHub(region.hubId)!;
      const s = this.engine.summary(key);
      const sizes = new Set(info.listings.map((l) => l.gpusPerNode));
      rows.push({
        market: key, acceleratorId: info.acc.id, modelName: info.acc.name, regionId: region.id, regionName: region.name,
        regionNameZh: region.nameZh, hubId: hub.id, hubNameZh: hub.nameZh, side: region.side,
        bestAskFen: s.bestAskFen, bestBidFen: s.bestBidFen, lastTradeFen: s.lastTradeFen, freeGpus: s.freeGpus,
        totalGpus: info.listings.reduce((t, l) => t + l.nodes * l.gpusPerNode, 0),
        gpusPerNode: sizes.size === 1 ? [...sizes][0]! : null,
        trades: this.tradesByMarket.get(key) ?? 0,
      });
    }
    const sideRank = (s: HubSide): number => (s === 'east' ? 0 : s === 'west' ? 1 : 2);
    return rows.sort((a, b) =>
      (order.get(a.acceleratorId) ?? 0) - (order.get(b.acceleratorId) ?? 0) || sideRank(a.side) - sideRank(b.side) || (a.regionId < b.regionId ? -1 : 1));
  }

  /** The latest trades, newest first. */
  recentTrades(limit = 10): readonly DemoTrade[] {
    return limit > 0 ? this.recent.slice(-limit).reverse() : [];
  }

  stats(): DemoStats {
    let leased = 0;
    for (const l of this.leases.values()) if (l.endMs > this.lastNow) leased += l.gpus;
    return { ...this.counts, gpusTotal: this.gpusTotal, gpusLeasedNow: leased, restingBids: this.resting.size };
  }

  rejections(): readonly DemoRejection[] {
    return this.rejectionLog;
  }

  validateInternalState(): void {
    this.engine.validateInternalState();
  }

  // ───────────────────────────── the demo trader ─────────────────────────────

  /** Keep utilisation moving: the busier the market, the more jobs finish early. */
  private endSomeLeases(now: number): void {
    const utilisation = this.stats().gpusLeasedNow / this.gpusTotal;
    const count = utilisation > 0.75 ? this.rng.int(2, 4) : utilisation > 0.45 ? (this.rng.chance(0.6) ? 1 : 0) : this.rng.chance(0.2) ? 1 : 0;
    for (let i = 0; i < count && this.leases.size > 0; i++) {
      const lease = this.rng.pick([...this.leases.values()]);
      this.leases.delete(lease.id);
      const ok = this.send({ type: 'endLease', now, leaseId: lease.id, reason: this.rng.chance(0.6) ? 'job_exited' : 'buyer' });
      if (ok) this.counts.leasesEndedEarly++;
    }
  }

  /** ±3%, pulled back toward the reference when a price has wandered more than 8% from it. */
  private repriceAsk(now: number): void {
    if (this.asks.length === 0) return;
    const ask = this.rng.pick(this.asks);
    const drift = ask.priceFen / ask.referenceFen;
    const up = drift < 0.92 ? true : drift > 1.08 ? false : this.rng.chance(0.5);
    const priceFen = Math.max(1, Math.round(ask.priceFen * (up ? 1.03 : 0.97)));
    if (priceFen === ask.priceFen) return;
    if (this.send({ type: 'amend', now, orderId: ask.id, ownerId: ask.providerId, priceFen })) {
      ask.priceFen = priceFen;
      this.counts.reprices++;
    }
  }

  private cancelBid(now: number, orderId: string): void {
    const bid = this.resting.get(orderId);
    if (!bid) return;
    if (this.send({ type: 'cancel', now, orderId, ownerId: bid.buyerId })) this.counts.cancels++;
  }

  private placeBid(now: number): void {
    const r = this.rng;
    const roll = r.float();
    const kind: DemoBidKind = roll < 0.45 ? 'gpu-hourly' : roll < 0.7 ? 'server' : roll < 0.82 ? 'compute-burst' : roll < 0.92 ? 'compute-month' : 'compute-ascend';
    const orderId = `bid-${++this.bidSeq}`;
    const buyerId = r.pick(BUYERS);
    const base = { type: 'placeBid' as const, now, orderId, buyerId };
    let cmd: PlaceBid | null = null;
    if (kind === 'gpu-hourly') {
      // Single GPUs by the hour, only where an ask sells single GPUs for an hour.
      const targets = [...this.markets.values()].filter((m) => m.listings.every((l) => l.unit === 'gpu' && (l.minHours ?? 1) === 1));
      const m = r.pick(targets);
      const sameAcc = targets.filter((t) => t.acc.id === m.acc.id);
      const regionIds = r.chance(0.5) ? sameAcc.map((t) => t.regionId) : [m.regionId];
      cmd = {
        ...base, acceleratorIds: [m.acc.id], regionIds, quantity: { kind: 'gpus', gpus: r.pick([1, 1, 1, 2, 4]) },
        hours: r.pick([1, 2, 4, 8, 12, 24]), limitFen: this.limitAround(EAST_REFERENCE_FEN[m.acc.id]!, 0.82, 1.12), timeInForce: r.chance(0.5) ? 'IOC' : 'GTC',
      };
    } else if (kind === 'server') {
      // Whole 8-GPU servers (NVLink inside the box) for a day, a week or a month.
      const targets = [...this.markets.values()].filter((m) => m.listings.every((l) => l.gpusPerNode === 8));
      const m = r.pick(targets);
      const regionIds = r.chance(0.5) ? targets.filter((t) => t.acc.id === m.acc.id).map((t) => t.regionId) : [m.regionId];
      cmd = {
        ...base, acceleratorIds: [m.acc.id], regionIds, quantity: { kind: 'gpus', gpus: r.chance(0.8) ? 8 : 16 }, gpusPerNode: 8,
        hours: r.pick([24, 168, HOURS_PER_MONTH]), limitFen: this.limitAround(EAST_REFERENCE_FEN[m.acc.id]!, 0.85, 1.1), timeInForce: r.chance(0.65) ? 'GTC' : 'IOC',
      };
    } else if (kind === 'compute-month') {
      // A compute-scale contract: so many P for a month, any CUDA part with 80 GB, priced per P-year.
      const wanPerPYear = 12 + 8 * r.float(); // 12–20万元/P·年 around SEED's 12–18万 contracts
      cmd = {
        ...base, computeClass: { minMemoryGiB: 80, stacks: ['cuda'] }, quantity: { kind: 'compute', deciTflops: r.pick([10_000, 25_000, 25_000, 50_000]) },
        hours: HOURS_PER_MONTH, limitFen: Math.round((wanPerPYear * YUAN_PER_WAN * FEN_PER_YUAN) / HOURS_PER_YEAR), timeInForce: r.chance(0.5) ? 'GTC' : 'IOC',
      };
    } else if (kind === 'compute-burst') {
      // 2.5 P for a few hours on anything CUDA with ≥300 TFLOPS, cheapest per P first. IOC: resting, it
      // would show in the depth of markets whose minimum term it can never meet (a crossed-looking book).
      cmd = {
        ...base, computeClass: { minFp16Tflops: 300, stacks: ['cuda'] }, quantity: { kind: 'compute', deciTflops: 25_000 },
        hours: r.pick([4, 8, 24]), limitFen: this.limitAround(7_000, 0.75, 1.1), timeInForce: 'IOC',
      };
    } else {
      // 2.5 P on Ascend (CANN): the domestic stack, whole servers.
      cmd = {
        ...base, computeClass: { stacks: ['cann'] }, quantity: { kind: 'compute', deciTflops: 25_000 }, gpusPerNode: 8,
        hours: r.pick([24, 168]), limitFen: this.limitAround(5_500, 0.85, 1.15), timeInForce: r.chance(0.5) ? 'GTC' : 'IOC',
      };
    }
    const state: BidState = { id: orderId, buyerId, kind, hours: cmd.hours };
    this.bids.set(orderId, state);
    if (this.send(cmd)) this.counts.bidsPlaced++;
    else this.bids.delete(orderId);
  }

  /** A limit between lo and hi times `referenceFen`; some above the asks, some below. */
  private limitAround(referenceFen: number, lo: number, hi: number): number {
    return Math.max(1, Math.round(referenceFen * (lo + (hi - lo) * this.rng.float())));
  }

  // ───────────────────────────── plumbing ─────────────────────────────

  /** The engine refuses time going backwards; a wall clock can (NTP), so hold it still instead. */
  private clock(nowMs: number): number {
    this.lastNow = Math.max(this.lastNow, Math.floor(nowMs));
    return this.lastNow;
  }

  private send(cmd: Command): boolean {
    const result = this.engine.apply(cmd);
    this.counts.commands++;
    this.onCommand?.(cmd, result);
    if (!result.ok) {
      this.counts.rejected++;
      if (this.rejectionLog.length < MAX_REJECTIONS_KEPT) this.rejectionLog.push({ command: cmd.type, code: result.code, message: result.message });
    }
    this.observe(cmd.now, result.events);
    for (const e of result.events) this.stepEvents.push(e);
    return result.ok;
  }

  private observe(now: number, events: readonly EngineEvent[]): void {
    for (const e of events) {
      switch (e.type) {
        case 'order_rested':
          if (e.side === 'bid') {
            const bid = this.bids.get(e.orderId);
            if (bid) this.resting.set(e.orderId, bid);
          }
          break;
        case 'order_filled':
        case 'order_cancelled':
        case 'order_expired':
          this.resting.delete(e.orderId);
          this.bids.delete(e.orderId);
          break;
        case 'trade': {
          const bid = this.bids.get(e.bidId);
          this.counts.trades++;
          this.counts.turnoverFen += e.priceFenPerGpuHour * e.gpus * ((e.endMs - e.startMs) / MS_PER_HOUR);
          this.tradesByMarket.set(e.market, (this.tradesByMarket.get(e.market) ?? 0) + 1);
          this.recent.push({
            tradeId: e.tradeId, atMs: now, market: e.market, bidId: e.bidId, bidKind: bid?.kind ?? null, buyerId: e.buyerId,
            providerId: e.providerId, gpus: e.gpus, priceFenPerGpuHour: e.priceFenPerGpuHour, hours: (e.endMs - e.startMs) / MS_PER_HOUR,
          });
          if (this.recent.length > RECENT_TRADES) this.recent.shift();
          break;
        }
        case 'lease_created':
          this.leases.set(e.leaseId, { id: e.leaseId, gpus: e.gpuIndices.length, endMs: e.endMs });
          break;
        case 'lease_ended':
          this.leases.delete(e.leaseId);
          break;
        default:
          break;
      }
    }
  }
}
