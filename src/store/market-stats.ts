/**
 * Candles and volume, aggregated in SQL (window functions and GROUP BY, same text on both
 * databases) so a year of 1-minute trades never crosses the wire.
 *
 * Portability notes, learned the hard way:
 * - better-sqlite3 binds every JS number as REAL, so arithmetic on parameters is cast to
 *   bigint first; otherwise `(at_ms - ?) / ?` divides as floating point on SQLite.
 * - Volume is summed as whole GPU-hours plus leftover GPU-milliseconds, two integer sums
 *   that cannot overflow 64 bits on SQLite (which raises on overflow) for any trade the engine
 *   accepts; both come back as decimal text so PostgreSQL's numeric sums stay exact, and the
 *   money total is formed in TS with bigint.
 */
import { type Kysely, sql } from 'kysely';
import { MAX_CANDLES, type Candle, type TradeVolume } from './port.js';
import { num } from './rows.js';
import type { Database } from './schema.js';

const MS_PER_HOUR = 3_600_000;
const MS_PER_HOUR_N = 3_600_000n;
/** Shortest candle. */
const MIN_INTERVAL_MS = 1_000;
/** Most distinct prices `tradeVolume` adds up; above it, ask for a narrower window. */
const MAX_PRICE_LEVELS = 100_000;

interface CandleSqlRow {
  bucket: unknown;
  trade_count: unknown;
  open_fen: unknown;
  high_fen: unknown;
  low_fen: unknown;
  close_fen: unknown;
  volume_gpus: unknown;
  gpu_hours: string;
  gpu_ms_rest: string;
}

export async function candlesQuery(
  db: Kysely<Database>,
  q: { readonly market: string; readonly intervalMs: number; readonly fromMs: number; readonly toMs: number },
): Promise<readonly Candle[]> {
  const { market, intervalMs, fromMs, toMs } = q;
  if (!Number.isSafeInteger(intervalMs) || intervalMs < MIN_INTERVAL_MS) {
    throw new RangeError(`store: intervalMs must be an integer >= ${MIN_INTERVAL_MS}`);
  }
  if (!Number.isSafeInteger(fromMs) || !Number.isSafeInteger(toMs) || fromMs >= toMs) {
    throw new RangeError('store: fromMs and toMs must be safe integers with fromMs < toMs');
  }
  if (Math.ceil((toMs - fromMs) / intervalMs) > MAX_CANDLES) {
    throw new RangeError(`store: at most ${MAX_CANDLES} candles per call; narrow the range or widen the interval`);
  }
  const from = sql`cast(${fromMs} as bigint)`;
  const interval = sql`cast(${intervalMs} as bigint)`;
  const result = await sql<CandleSqlRow>`
    with bucketed as (
      select (at_ms - ${from}) / ${interval} as bucket, at_ms, seq, id, price_fen, gpus, end_ms - start_ms as duration_ms
      from trades
      where market = ${market} and at_ms >= ${from} and at_ms < cast(${toMs} as bigint)
    ),
    ranked as (
      select bucket, price_fen, gpus, duration_ms,
        row_number() over (partition by bucket order by at_ms asc, seq asc, id asc) as first_rank,
        row_number() over (partition by bucket order by at_ms desc, seq desc, id desc) as last_rank
      from bucketed
    )
    select bucket,
      count(*) as trade_count,
      max(case when first_rank = 1 then price_fen end) as open_fen,
      max(price_fen) as high_fen,
      min(price_fen) as low_fen,
      max(case when last_rank = 1 then price_fen end) as close_fen,
      sum(gpus) as volume_gpus,
      cast(sum(gpus * (duration_ms / ${sql.lit(MS_PER_HOUR)})) as text) as gpu_hours,
      cast(sum(gpus * (duration_ms % ${sql.lit(MS_PER_HOUR)})) as text) as gpu_ms_rest
    from ranked
    group by bucket
    order by bucket
  `.execute(db);
  return result.rows.map((r) => {
    const gpuMs = BigInt(r.gpu_hours) * MS_PER_HOUR_N + BigInt(r.gpu_ms_rest);
    return {
      startMs: fromMs + num(r.bucket) * intervalMs,
      open: num(r.open_fen),
      high: num(r.high_fen),
      low: num(r.low_fen),
      close: num(r.close_fen),
      tradeCount: num(r.trade_count),
      volumeGpus: num(r.volume_gpus),
      volumeGpuHours: gpuHoursOf(gpuMs),
    };
  });
}

interface VolumeSqlRow {
  price_fen: unknown;
  trade_count: unknown;
  volume_gpus: unknown;
  gpu_hours: string;
  gpu_ms_rest: string;
}

export async function tradeVolumeQuery(
  db: Kysely<Database>,
  q: { readonly market: string; readonly sinceMs: number; readonly untilMs?: number },
): Promise<TradeVolume> {
  const { market, sinceMs } = q;
  const untilMs = q.untilMs ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(sinceMs) || !Number.isSafeInteger(untilMs) || sinceMs > untilMs) {
    throw new RangeError('store: sinceMs and untilMs must be safe integers with sinceMs <= untilMs');
  }
  const result = await sql<VolumeSqlRow>`
    select price_fen,
      count(*) as trade_count,
      sum(gpus) as volume_gpus,
      cast(sum(gpus * ((end_ms - start_ms) / ${sql.lit(MS_PER_HOUR)})) as text) as gpu_hours,
      cast(sum(gpus * ((end_ms - start_ms) % ${sql.lit(MS_PER_HOUR)})) as text) as gpu_ms_rest
    from trades
    where market = ${market} and at_ms >= cast(${sinceMs} as bigint) and at_ms < cast(${untilMs} as bigint)
    group by price_fen
    limit ${sql.lit(MAX_PRICE_LEVELS + 1)}
  `.execute(db);
  if (result.rows.length > MAX_PRICE_LEVELS) {
    throw new RangeError(`store: more than ${MAX_PRICE_LEVELS} price levels in the window; narrow it`);
  }
  let tradeCount = 0;
  let volumeGpus = 0;
  let gpuMs = 0n;
  let fenMs = 0n; // Σ price (fen per GPU-hour) × GPU-ms
  for (const r of result.rows) {
    const levelGpuMs = BigInt(r.gpu_hours) * MS_PER_HOUR_N + BigInt(r.gpu_ms_rest);
    tradeCount += num(r.trade_count);
    volumeGpus += num(r.volume_gpus);
    gpuMs += levelGpuMs;
    fenMs += BigInt(num(r.price_fen)) * levelGpuMs;
  }
  return { tradeCount, volumeGpus, volumeGpuHours: gpuHoursOf(gpuMs), notionalFen: fenMs / MS_PER_HOUR_N };
}

/** Exact whole hours plus the fraction; a float only because it is a display quantity. */
function gpuHoursOf(gpuMs: bigint): number {
  return Number(gpuMs / MS_PER_HOUR_N) + Number(gpuMs % MS_PER_HOUR_N) / MS_PER_HOUR;
}
