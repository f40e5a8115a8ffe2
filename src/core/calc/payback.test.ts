import { describe, expect, it } from 'vitest';
import { roundTo } from '../catalog/units.js';
import { estimatePayback, type PaybackEstimate, type PaybackInput } from './payback.js';
import type { CalcResult } from './result.js';

function value(r: CalcResult<PaybackEstimate>): PaybackEstimate {
  if (!r.ok) throw new Error(`${r.code} ${r.field}: ${r.message}`);
  return r.value;
}

const SEED: PaybackInput = {
  capexYuan: 1_800_000,
  depreciationYears: 5,
  cashShare: 0.4,
  pricePerServerHourYuan: 180,
  utilization: 1,
};

describe('estimatePayback — SEED.md heavy-asset example', () => {
  it('1.8M, 5 years, 60:40, 180/server-hour → 360k, 240k, 1.577M, 1.35 years = 16.2 months', () => {
    const e = value(estimatePayback(SEED));
    expect(e.annualDepreciation).toBe(360_000);
    expect(Math.round(e.annualCashCost)).toBe(240_000);
    expect(e.annualRevenue).toBe(1_576_800);
    expect(roundTo(e.annualRevenue / 1e6, 3)).toBe(1.577);
    expect(roundTo(e.paybackYears, 2)).toBe(1.35);
    expect(roundTo(e.paybackMonths, 1)).toBe(16.2);
    expect(e.annualProfit).toBeCloseTo(1_576_800 - 240_000 - 360_000, 6);
  });

  it('utilisation defaults to 1 and lower utilisation lengthens payback', () => {
    const { utilization: _u, ...noUtil } = SEED;
    expect(value(estimatePayback(noUtil)).paybackYears).toBeCloseTo(value(estimatePayback(SEED)).paybackYears, 12);
    expect(value(estimatePayback({ ...SEED, utilization: 0.5 })).paybackYears).toBeGreaterThan(
      value(estimatePayback(SEED)).paybackYears,
    );
  });

  it('cash share 0 means no cash cost', () => {
    expect(value(estimatePayback({ ...SEED, cashShare: 0 })).annualCashCost).toBe(0);
  });
});

describe('estimatePayback — rejections', () => {
  it.each([
    ['capexYuan', { capexYuan: 0 }],
    ['capexYuan', { capexYuan: -1 }],
    ['depreciationYears', { depreciationYears: 0 }],
    ['cashShare', { cashShare: 1 }],
    ['cashShare', { cashShare: -0.1 }],
    ['pricePerServerHourYuan', { pricePerServerHourYuan: Number.NaN }],
    ['utilization', { utilization: 0 }],
    ['utilization', { utilization: 1.5 }],
  ] as const)('rejects bad %s', (field, patch) => {
    expect(estimatePayback({ ...SEED, ...patch })).toMatchObject({ ok: false, code: 'CALC_INVALID_INPUT', field });
  });

  it('says when revenue never covers cash cost', () => {
    expect(estimatePayback({ ...SEED, pricePerServerHourYuan: 10 })).toMatchObject({
      ok: false,
      code: 'CALC_NO_PAYBACK',
      field: 'pricePerServerHourYuan',
    });
    expect(estimatePayback({ ...SEED, pricePerServerHourYuan: 0 })).toMatchObject({ ok: false, code: 'CALC_NO_PAYBACK' });
  });
});
