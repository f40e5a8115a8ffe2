/** Markets: summaries (engine + 24 h statistics from the store), books, public trades, candles. */
import { z } from '@hono/zod-openapi';
import { getAccelerator, getHub, getRegion } from '../core/catalog/index.js';
import { MAX_CANDLES } from '../store/port.js';
import { defineRoute, newRouter } from './access.js';
import type { Runtime } from './context.js';
import { ApiError, notFound, validationError } from './errors.js';
import { haltedMarkets } from './halts.js';
import { MarketTradeSchema, presentMarketTrade } from './present.js';
import { IsoTimeSchema, iso, MarketKeySchema, msOf, PageQuerySchema, pageRequest, pageSchema } from './schemas.js';

const DAY_MS = 24 * 3_600_000;
const INTERVAL_MS = { '1m': 60_000, '1h': 3_600_000, '1d': DAY_MS } as const;
const DEFAULT_CANDLES = 100;
const MAX_DEPTH_LEVELS = 500;

const MarketSchema = z
  .object({
    market: z.string(),
    acceleratorId: z.string(),
    acceleratorName: z.string(),
    regionId: z.string(),
    regionName: z.string(),
    hubId: z.string(),
    side: z.enum(['east', 'west', 'abroad']),
    bestAskFen: z.int().nullable(),
    bestBidFen: z.int().nullable(),
    lastTradeFen: z.int().nullable(),
    volume24hGpuHours: z.number(),
    change24hPct: z.number().nullable().openapi({ description: 'last price against the first trade of the last 24 h, in %' }),
    freeGpus: z.int(),
    halted: z.boolean(),
    unverifiedNodes: z.int().openapi({ description: 'online agent nodes here whose GPUs are not attested real (fake GPUs)' }),
    verified: z.boolean().openapi({ description: 'false when any of its capacity comes from unverified nodes' }),
  })
  .openapi('Market');
const LevelSchema = z.object({ priceFenPerGpuHour: z.int(), gpus: z.int() });
const BookSchema = z.object({ market: z.string(), asks: z.array(LevelSchema), bids: z.array(LevelSchema), seq: z.int() }).openapi('Book');
const CandleSchema = z
  .object({ startAt: z.string(), open: z.int(), high: z.int(), low: z.int(), close: z.int(), tradeCount: z.int(), volumeGpus: z.int(), volumeGpuHours: z.number() })
  .openapi('Candle');

const MarketParams = z.object({ market: MarketKeySchema });
const ok = <T extends z.ZodType>(schema: T, description: string) => ({ 200: { description, content: { 'application/json': { schema } } } });

const list = defineRoute({ who: 'anyone' }, { method: 'get', path: '/markets', tags: ['markets'], summary: 'Every market with listed capacity', responses: ok(z.object({ items: z.array(MarketSchema) }), 'markets') });
const book = defineRoute(
  { who: 'anyone' },
  {
    method: 'get', path: '/markets/{market}/book', tags: ['markets'], summary: 'Order book: free GPUs by ask price, wanted GPUs by bid limit',
    request: { params: MarketParams, query: z.object({ depth: z.coerce.number().int().min(1).max(MAX_DEPTH_LEVELS).optional().openapi({ type: 'integer' }) }) },
    responses: ok(BookSchema, 'the book'),
  },
  { errors: [404] },
);
const trades = defineRoute(
  { who: 'anyone' },
  { method: 'get', path: '/markets/{market}/trades', tags: ['markets'], summary: 'Recent trades, newest first', request: { params: MarketParams, query: PageQuerySchema }, responses: ok(pageSchema(MarketTradeSchema, 'MarketTradePage'), 'trades') },
  { errors: [404] },
);
const candles = defineRoute(
  { who: 'anyone' },
  {
    method: 'get', path: '/markets/{market}/candles', tags: ['markets'], summary: 'OHLC candles of trade prices (fen per GPU-hour); empty buckets omitted',
    request: { params: MarketParams, query: z.object({ interval: z.enum(['1m', '1h', '1d']).default('1h'), from: IsoTimeSchema.optional(), to: IsoTimeSchema.optional() }) },
    responses: ok(z.object({ market: z.string(), interval: z.string(), items: z.array(CandleSchema) }), 'candles'),
  },
  { errors: [404] },
);

function marketInfo(market: string) {
  const [accId, regionId] = market.split('@') as [string, string];
  const acc = getAccelerator(accId);
  const region = getRegion(regionId);
  if (!acc || !region) return undefined;
  return { acc, region, hub: getHub(region.hubId) };
}

function requireMarket(market: string) {
  const info = marketInfo(market);
  if (!info) throw notFound('MARKET_NOT_FOUND', `market ${market}`);
  return info;
}

async function summarise(rt: Runtime, market: string, halted: ReadonlySet<string>, nowMs: number): Promise<z.infer<typeof MarketSchema> | undefined> {
  const info = marketInfo(market);
  if (!info) return undefined;
  const { store, core } = rt.ctx;
  const s = core.engine.summary(market);
  const [volume, day] = await Promise.all([
    store.tradeVolume({ market, sinceMs: nowMs - DAY_MS }),
    store.candles({ market, intervalMs: DAY_MS + 1, fromMs: nowMs - DAY_MS, toMs: nowMs + 1 }),
  ]);
  const c = day[0];
  const unverified = rt.ctx.agents?.unverifiedNodes(market) ?? 0;
  return {
    market, acceleratorId: info.acc.id, acceleratorName: info.acc.name, regionId: info.region.id, regionName: info.region.name,
    hubId: info.region.hubId, side: info.hub?.side ?? info.region.side, bestAskFen: s.bestAskFen, bestBidFen: s.bestBidFen,
    lastTradeFen: s.lastTradeFen, volume24hGpuHours: volume.volumeGpuHours,
    change24hPct: c ? Math.round(((c.close - c.open) / c.open) * 10_000) / 100 : null, freeGpus: s.freeGpus, halted: halted.has(market),
    unverifiedNodes: unverified, verified: unverified === 0,
  };
}

export const marketRoutes = newRouter()
  .openapi(list, async (c) => {
    const rt = c.get('runtime');
    const nowMs = rt.ctx.clock();
    const halted = await haltedMarkets(rt.ctx.store);
    const items = await Promise.all(rt.ctx.core.engine.markets().map((m) => summarise(rt, m, halted, nowMs)));
    return c.json({ items: items.filter((m) => m !== undefined) }, 200);
  })
  .openapi(book, (c) => {
    const { market } = c.req.valid('param');
    const depth = c.req.valid('query').depth ?? 50;
    requireMarket(market);
    const { core, loop } = c.get('runtime').ctx;
    const d = core.engine.depth(market);
    return c.json({ market, asks: d.asks.slice(0, depth).map((l) => ({ ...l })), bids: d.bids.slice(0, depth).map((l) => ({ ...l })), seq: loop.journalSeq }, 200);
  })
  .openapi(trades, async (c) => {
    const { market } = c.req.valid('param');
    requireMarket(market);
    const page = await c.get('runtime').ctx.store.listTrades({ market, ...pageRequest(c.req.valid('query')) });
    return c.json({ items: page.items.map(presentMarketTrade), nextCursor: page.nextCursor }, 200);
  })
  .openapi(candles, async (c) => {
    const { market } = c.req.valid('param');
    requireMarket(market);
    const q = c.req.valid('query');
    const intervalMs = INTERVAL_MS[q.interval];
    const { ctx } = c.get('runtime');
    const toMs = q.to === undefined ? ctx.clock() + 1 : msOf(q.to, 'query.to');
    const rawFrom = q.from === undefined ? toMs - DEFAULT_CANDLES * intervalMs : msOf(q.from, 'query.from');
    const fromMs = Math.max(0, Math.floor(rawFrom / intervalMs) * intervalMs); // aligned to UTC
    if (toMs <= fromMs) throw validationError([{ path: 'query.to', message: 'to must be after from' }]);
    if ((toMs - fromMs) / intervalMs > MAX_CANDLES) throw new ApiError(400, 'RANGE_TOO_LARGE', `at most ${MAX_CANDLES} candles per request`);
    const rows = await ctx.store.candles({ market, intervalMs, fromMs, toMs });
    return c.json({ market, interval: q.interval, items: rows.map(({ startMs, ...r }) => ({ startAt: iso(startMs), ...r })) }, 200);
  });
