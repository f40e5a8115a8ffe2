/**
 * Price conversion between the paper's three rental modes for one accelerator model:
 * per GPU-hour (按单张GPU), per server-month (按整台服务器) and per P-year (按算力规模).
 *
 * Give exactly one price; the others follow with a month of 730 hours and a year of 8760
 * (catalog/units.ts). P is the exact P of one GPU (A100: 0.312), never the rounded one: rounding
 * a single GPU's 0.312 P to 0.3 would move the price by 4%. Amounts in yuan are unrounded; the
 * fen price is rounded half up to an integer, as the exchange stores it.
 *
 * Example (SEED.md A100 40G NVLink mean): ¥22.70/GPU-hour = ¥181.60/server-hour
 * = ¥132,568/server-month (13.26万) = ¥637,346/P-year (63.73万).
 */
import {
  DEFAULT_GPUS_PER_SERVER,
  HOURS_PER_MONTH,
  HOURS_PER_YEAR,
  pflopsOfGpu,
  yuanToFen,
  yuanToWan,
} from '../catalog/units.js';
import {
  type CalcResult,
  checkNonNegative,
  checkPositive,
  checkPositiveInteger,
  fail,
  firstError,
  ok,
} from './result.js';

export interface ConvertInput {
  /** Dense FP16 TFLOPS of one GPU (A100: 312). */
  readonly tflopsPerGpu: number;
  /** GPUs per server; default 8. */
  readonly gpusPerServer?: number;
  /** Give exactly one of the three prices. */
  readonly pricePerGpuHourYuan?: number;
  readonly pricePerServerMonthYuan?: number;
  readonly pricePerPYearYuan?: number;
}

export interface ConvertEstimate {
  readonly gpusPerServer: number;
  readonly pflopsPerGpu: number;
  readonly hoursPerMonth: number;
  readonly hoursPerYear: number;
  readonly pricePerGpuHourYuan: number;
  /** The GPU-hour price in integer fen, rounded half up. */
  readonly pricePerGpuHourFen: number;
  readonly pricePerServerHourYuan: number;
  readonly pricePerServerMonthYuan: number;
  readonly pricePerServerMonthWan: number;
  readonly pricePerPYearYuan: number;
  readonly pricePerPYearWan: number;
}

const PRICE_FIELDS = ['pricePerGpuHourYuan', 'pricePerServerMonthYuan', 'pricePerPYearYuan'] as const;

export function convertPrice(input: ConvertInput): CalcResult<ConvertEstimate> {
  const gpusPerServer = input.gpusPerServer ?? DEFAULT_GPUS_PER_SERVER;
  const given = PRICE_FIELDS.filter((f) => input[f] !== undefined);
  if (given.length === 0) {
    return fail('CALC_MISSING_INPUT', 'pricePerGpuHourYuan', `give one of ${PRICE_FIELDS.join(', ')}`);
  }
  if (given.length > 1) {
    return fail('CALC_CONFLICTING_INPUT', given[1] ?? 'pricePerGpuHourYuan', `give only one of ${given.join(', ')}`);
  }
  const bad = firstError(
    checkPositive('tflopsPerGpu', input.tflopsPerGpu),
    checkPositiveInteger('gpusPerServer', gpusPerServer),
    ...PRICE_FIELDS.map((f) => {
      const v = input[f];
      return v === undefined ? undefined : checkNonNegative(f, v);
    }),
  );
  if (bad !== undefined) return bad;

  const pflopsPerGpu = pflopsOfGpu({ fp16Tflops: input.tflopsPerGpu });
  const gpuHoursPerServerMonth = gpusPerServer * HOURS_PER_MONTH;
  const gpuHoursPerPYear = HOURS_PER_YEAR / pflopsPerGpu;

  let perGpuHour: number;
  if (input.pricePerGpuHourYuan !== undefined) perGpuHour = input.pricePerGpuHourYuan;
  else if (input.pricePerServerMonthYuan !== undefined) perGpuHour = input.pricePerServerMonthYuan / gpuHoursPerServerMonth;
  else perGpuHour = (input.pricePerPYearYuan ?? 0) / gpuHoursPerPYear;

  // Keep the given price exactly as given rather than as a round trip through the GPU-hour price.
  const perServerMonth = input.pricePerServerMonthYuan ?? perGpuHour * gpuHoursPerServerMonth;
  const perPYear = input.pricePerPYearYuan ?? perGpuHour * gpuHoursPerPYear;

  return ok({
    gpusPerServer,
    pflopsPerGpu,
    hoursPerMonth: HOURS_PER_MONTH,
    hoursPerYear: HOURS_PER_YEAR,
    pricePerGpuHourYuan: perGpuHour,
    pricePerGpuHourFen: yuanToFen(perGpuHour),
    pricePerServerHourYuan: perGpuHour * gpusPerServer,
    pricePerServerMonthYuan: perServerMonth,
    pricePerServerMonthWan: yuanToWan(perServerMonth),
    pricePerPYearYuan: perPYear,
    pricePerPYearWan: yuanToWan(perPYear),
  });
}
