import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { roundTo } from '../catalog/units.js';
import type { CalcResult } from './result.js';
import { estimateTraining, type TrainingEstimate, type TrainingInput } from './training.js';

const A100_FP16 = 312;

function value(r: CalcResult<TrainingEstimate>): TrainingEstimate {
  if (!r.ok) throw new Error(`${r.code} ${r.field}: ${r.message}`);
  return r.value;
}

describe('estimateTraining — SEED.md worked examples', () => {
  it('GPT-3: 175B params, 300B tokens, 30 days, 45% → 1.2e17 FLOP/s and 865.6 A100s', () => {
    const e = value(estimateTraining({ params: 175e9, tokens: 300e9, days: 30, peakTflopsPerGpu: A100_FP16, utilization: 0.45 }));
    expect(Number(e.flopsPerSecond.toPrecision(2))).toBe(1.2e17);
    expect(roundTo(e.gpus, 1)).toBe(865.6);
    expect(e.gpus).toBe(e.gpusPerModel);
    expect(e.totalFlopPerModel).toBe(3.15e23);
  });

  it('GPT-4: 2.15e25 FLOP, 100 days, 35% → about 22,788 A100s', () => {
    const e = value(estimateTraining({ totalFlop: 2.15e25, days: 100, peakTflopsPerGpu: A100_FP16, utilization: 0.35 }));
    expect(Math.round(e.gpus)).toBe(22_788);
  });

  it('China average model: 80B, 200B tokens, 30 days, 45% → 3.7e16 FLOP/s, 263.8 per model, 100 models → 26,380', () => {
    const one = value(estimateTraining({ params: 80e9, tokens: 200e9, days: 30, peakTflopsPerGpu: A100_FP16, utilization: 0.45 }));
    expect(Number(one.flopsPerSecond.toPrecision(2))).toBe(3.7e16);
    expect(roundTo(one.gpusPerModel, 1)).toBe(263.8);

    const hundred = value(
      estimateTraining({ params: 80e9, tokens: 200e9, days: 30, peakTflopsPerGpu: A100_FP16, utilization: 0.45, models: 100 }),
    );
    expect(Math.round(hundred.gpus)).toBe(26_380);
    expect(hundred.models).toBe(100);
    expect(hundred.flopsPerSecond).toBe(one.flopsPerSecond);
    expect(hundred.flopsPerSecondTotal).toBeCloseTo(100 * one.flopsPerSecond, -10);
  });
});

describe('estimateTraining — rejections', () => {
  const base: TrainingInput = { params: 175e9, tokens: 300e9, days: 30, peakTflopsPerGpu: 312, utilization: 0.45 };

  it.each([
    ['params', { params: -1 }],
    ['params', { params: 0 }],
    ['tokens', { tokens: Number.NaN }],
    ['days', { days: 0 }],
    ['days', { days: Number.POSITIVE_INFINITY }],
    ['peakTflopsPerGpu', { peakTflopsPerGpu: 0 }],
    ['utilization', { utilization: 0 }],
    ['utilization', { utilization: 1.01 }],
    ['utilization', { utilization: -0.5 }],
    ['models', { models: 0 }],
    ['models', { models: 2.5 }],
  ] as const)('rejects bad %s', (field, patch) => {
    const r = estimateTraining({ ...base, ...patch });
    expect(r).toMatchObject({ ok: false, code: 'CALC_INVALID_INPUT', field });
    if (!r.ok) expect(r.message).toContain(field);
  });

  it('accepts utilisation of exactly 1', () => {
    expect(estimateTraining({ ...base, utilization: 1 }).ok).toBe(true);
  });

  it('needs params and tokens, or totalFlop, but not both', () => {
    expect(estimateTraining({ days: 30, peakTflopsPerGpu: 312, utilization: 0.45 })).toMatchObject({
      ok: false,
      code: 'CALC_MISSING_INPUT',
      field: 'params',
    });
    expect(estimateTraining({ params: 1e9, days: 30, peakTflopsPerGpu: 312, utilization: 0.45 })).toMatchObject({
      ok: false,
      code: 'CALC_MISSING_INPUT',
      field: 'tokens',
    });
    expect(estimateTraining({ ...base, totalFlop: 1e20 })).toMatchObject({ ok: false, code: 'CALC_CONFLICTING_INPUT' });
    expect(estimateTraining({ totalFlop: -1, days: 1, peakTflopsPerGpu: 312, utilization: 0.5 })).toMatchObject({
      ok: false,
      code: 'CALC_INVALID_INPUT',
      field: 'totalFlop',
    });
  });

  it('params × tokens and the equivalent FLOP budget agree', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e6, max: 1e13, noNaN: true }),
        fc.double({ min: 1e6, max: 1e14, noNaN: true }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (params, tokens, util) => {
          const a = value(estimateTraining({ params, tokens, days: 10, peakTflopsPerGpu: 312, utilization: util }));
          const b = value(estimateTraining({ totalFlop: 6 * params * tokens, days: 10, peakTflopsPerGpu: 312, utilization: util }));
          expect(a.gpus).toBeCloseTo(b.gpus, 6);
          expect(a.gpus).toBeGreaterThan(0);
        },
      ),
    );
  });
});
