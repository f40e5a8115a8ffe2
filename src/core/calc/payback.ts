/**
 * Heavy-asset payback (SEED.md): own one server and rent it out.
 *
 * - Depreciation is straight-line over `years`, no residual: capex ÷ years per year (non-cash).
 * - Cash operating cost is given as a share of total cost: with non-cash : cash = 60 : 40,
 *   cash = depreciation × cashShare ÷ (1 − cashShare) = 360k × 0.4 / 0.6 = 240k per year.
 * - Revenue = price per server-hour × 8760 × utilisation (180 × 8760 = 1.577 M).
 * - Payback = capex ÷ (revenue − cash cost) = 1.8 M ÷ 1.3368 M = 1.35 years = 16.2 months.
 *   Depreciation is not subtracted: payback counts cash, and capex is the cash it pays back.
 */
import { HOURS_PER_YEAR } from '../catalog/units.js';
import {
  type CalcResult,
  checkFraction,
  checkNonNegative,
  checkPositive,
  fail,
  firstError,
  ok,
} from './result.js';

export interface PaybackInput {
  /** Up-front cost in yuan (server + switch + parts: 1.8 M). */
  readonly capexYuan: number;
  /** Straight-line depreciation period in years (5). */
  readonly depreciationYears: number;
  /** Cash share of total annual cost, in [0, 1) (0.4 for 60 : 40). */
  readonly cashShare: number;
  /** Rent per server-hour in yuan (180). */
  readonly pricePerServerHourYuan: number;
  /** Share of the year the server is rented, in (0, 1]; default 1. */
  readonly utilization?: number;
}

export interface PaybackEstimate {
  readonly annualDepreciation: number;
  readonly annualCashCost: number;
  readonly annualRevenue: number;
  /** Revenue − cash cost. */
  readonly annualNetCashFlow: number;
  /** Revenue − cash cost − depreciation. */
  readonly annualProfit: number;
  readonly paybackYears: number;
  readonly paybackMonths: number;
}

export function estimatePayback(input: PaybackInput): CalcResult<PaybackEstimate> {
  const { capexYuan, depreciationYears, cashShare, pricePerServerHourYuan } = input;
  const utilization = input.utilization ?? 1;

  const bad = firstError(
    checkPositive('capexYuan', capexYuan),
    checkPositive('depreciationYears', depreciationYears),
    checkNonNegative('cashShare', cashShare),
    checkNonNegative('pricePerServerHourYuan', pricePerServerHourYuan),
    checkFraction('utilization', utilization),
  );
  if (bad !== undefined) return bad;
  if (cashShare >= 1) {
    return fail('CALC_INVALID_INPUT', 'cashShare', `cashShare must be in [0, 1), got ${cashShare}`);
  }

  const annualDepreciation = capexYuan / depreciationYears;
  const annualCashCost = (annualDepreciation * cashShare) / (1 - cashShare);
  const annualRevenue = pricePerServerHourYuan * HOURS_PER_YEAR * utilization;
  const annualNetCashFlow = annualRevenue - annualCashCost;
  if (annualNetCashFlow <= 0) {
    return fail(
      'CALC_NO_PAYBACK',
      'pricePerServerHourYuan',
      `revenue ${annualRevenue.toFixed(0)} yuan/year does not exceed cash cost ${annualCashCost.toFixed(0)} yuan/year: never pays back`,
    );
  }
  const paybackYears = capexYuan / annualNetCashFlow;

  return ok({
    annualDepreciation,
    annualCashCost,
    annualRevenue,
    annualNetCashFlow,
    annualProfit: annualNetCashFlow - annualDepreciation,
    paybackYears,
    paybackMonths: paybackYears * 12,
  });
}
