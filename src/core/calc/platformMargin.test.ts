import { describe, expect, it } from 'vitest';
import { estimatePlatformMargin, type PlatformMarginEstimate, type PlatformMarginInput } from './platformMargin.js';
import type { CalcResult } from './result.js';

function value(r: CalcResult<PlatformMarginEstimate>): PlatformMarginEstimate {
  if (!r.ok) throw new Error(`${r.code} ${r.field}: ${r.message}`);
  return r.value;
}

const SEED: PlatformMarginInput = {
  tflopsPerGpu: 312,
  gpusPerServer: 8,
  pricePerServerHourYuan: 180,
  costPerPYearYuan: 200_000,
};

const thousands = (x: number): number => Math.round(x / 1000);

describe('estimatePlatformMargin — SEED.md light-asset example', () => {
  it('8 × A100 = 2.5 P; 1.577M ÷ 2.5 = 631k per P-year; value created 431k per P-year', () => {
    const e = value(estimatePlatformMargin(SEED));
    expect(e.pflops).toBe(2.5);
    expect(e.pflopsExact).toBeCloseTo(2.496, 12);
    expect(e.annualRevenue).toBe(1_576_800);
    expect(thousands(e.revenuePerPYear)).toBe(631);
    expect(thousands(e.valuePerPYear)).toBe(431);
    expect(e.marginShare).toBeCloseTo(430_720 / 630_720, 12); // (1,576,800 ÷ 2.5 − 200,000) ÷ (1,576,800 ÷ 2.5)
  });

  it('the exact 2.496 P would give 632k and 432k, not the paper figures', () => {
    const e = value(estimatePlatformMargin({ ...SEED, pflopsRounding: 'exact' }));
    expect(e.pflops).toBeCloseTo(2.496, 12);
    expect(thousands(e.revenuePerPYear)).toBe(632);
    expect(thousands(e.valuePerPYear)).toBe(432);
  });

  it('falls back to exact P when rounding would reach zero', () => {
    const e = value(estimatePlatformMargin({ ...SEED, tflopsPerGpu: 5, gpusPerServer: 1 }));
    expect(e.pflops).toBeCloseTo(0.005, 12);
  });
});

describe('estimatePlatformMargin — rejections', () => {
  it.each([
    ['tflopsPerGpu', { tflopsPerGpu: 0 }],
    ['gpusPerServer', { gpusPerServer: 0 }],
    ['gpusPerServer', { gpusPerServer: 1.5 }],
    ['pricePerServerHourYuan', { pricePerServerHourYuan: -180 }],
    ['costPerPYearYuan', { costPerPYearYuan: Number.NaN }],
    ['utilization', { utilization: 1.2 }],
  ] as const)('rejects bad %s', (field, patch) => {
    expect(estimatePlatformMargin({ ...SEED, ...patch })).toMatchObject({ ok: false, code: 'CALC_INVALID_INPUT', field });
  });
});
