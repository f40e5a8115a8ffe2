/**
 * Light-asset platform margin (SEED.md): one 8 × A100 server = 2.5 P; revenue per P-year =
 * 1.577 M ÷ 2.5 = 631k; with capacity sourced at 200k per P-year the platform's services
 * create 431k per P-year.
 *
 * Which P: 8 × 312 / 1000 = 2.496 exactly. Dividing by 2.496 gives 631,731 → 632k and 431,731
 * → 432k; dividing by the rounded 2.5 gives 630,720 → 631k and 430,720 → 431k, the paper's two
 * figures. So the paper divides by P rounded to one decimal, and by default so do we
 * (`pflopsRounding: 'paper'`). `'exact'` divides by the exact P; both P values are returned.
 */
import { HOURS_PER_YEAR, pflopsOfNode, roundTo } from '../catalog/units.js';
import {
  type CalcResult,
  checkFraction,
  checkNonNegative,
  checkPositive,
  checkPositiveInteger,
  firstError,
  ok,
} from './result.js';

export type PflopsRounding = 'paper' | 'exact';

export interface PlatformMarginInput {
  /** Dense FP16 TFLOPS of one GPU (A100: 312). */
  readonly tflopsPerGpu: number;
  /** GPUs per server (8). */
  readonly gpusPerServer: number;
  /** Rent per server-hour in yuan (180). */
  readonly pricePerServerHourYuan: number;
  /** What the platform pays for capacity, yuan per P-year (200k). */
  readonly costPerPYearYuan: number;
  /** Share of the year rented, in (0, 1]; default 1. */
  readonly utilization?: number;
  /** 'paper' (default): divide by P rounded to 0.1, as the paper does; 'exact': the exact P. */
  readonly pflopsRounding?: PflopsRounding;
}

export interface PlatformMarginEstimate {
  /** The P the per-P figures divide by (2.5 by default). */
  readonly pflops: number;
  /** Exact P of the server (2.496). */
  readonly pflopsExact: number;
  readonly annualRevenue: number;
  readonly revenuePerPYear: number;
  readonly costPerPYear: number;
  /** Revenue per P-year − cost per P-year: the value the platform's services create. */
  readonly valuePerPYear: number;
  /** valuePerPYear ÷ revenuePerPYear. */
  readonly marginShare: number;
}

/** Decimals the paper shows P with ("2.5 P"). */
export const PAPER_PFLOPS_DECIMALS = 1;

export function estimatePlatformMargin(input: PlatformMarginInput): CalcResult<PlatformMarginEstimate> {
  const { tflopsPerGpu, gpusPerServer, pricePerServerHourYuan, costPerPYearYuan } = input;
  const utilization = input.utilization ?? 1;
  const rounding = input.pflopsRounding ?? 'paper';

  const bad = firstError(
    checkPositive('tflopsPerGpu', tflopsPerGpu),
    checkPositiveInteger('gpusPerServer', gpusPerServer),
    checkNonNegative('pricePerServerHourYuan', pricePerServerHourYuan),
    checkNonNegative('costPerPYearYuan', costPerPYearYuan),
    checkFraction('utilization', utilization),
  );
  if (bad !== undefined) return bad;

  const pflopsExact = pflopsOfNode({ fp16Tflops: tflopsPerGpu }, gpusPerServer);
  const rounded = roundTo(pflopsExact, PAPER_PFLOPS_DECIMALS);
  // A server under 0.05 P would round to 0 and divide by zero; fall back to the exact value.
  const pflops = rounding === 'paper' && rounded > 0 ? rounded : pflopsExact;

  const annualRevenue = pricePerServerHourYuan * HOURS_PER_YEAR * utilization;
  const revenuePerPYear = annualRevenue / pflops;
  const valuePerPYear = revenuePerPYear - costPerPYearYuan;

  return ok({
    pflops,
    pflopsExact,
    annualRevenue,
    revenuePerPYear,
    costPerPYear: costPerPYearYuan,
    valuePerPYear,
    marginShare: revenuePerPYear === 0 ? 0 : valuePerPYear / revenuePerPYear,
  });
}
