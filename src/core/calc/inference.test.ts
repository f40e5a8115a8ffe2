import { describe, expect, it } from 'vitest';
import { roundTo } from '../catalog/units.js';
import { estimateInference, type InferenceEstimate, type InferenceInput } from './inference.js';
import type { CalcResult } from './result.js';

const A100_INT8 = 624;

function value(r: CalcResult<InferenceEstimate>): InferenceEstimate {
  if (!r.ok) throw new Error(`${r.code} ${r.field}: ${r.message}`);
  return r.value;
}

describe('estimateInference — SEED.md worked examples', () => {
  it('ChatGPT: 0.7e8 visits × 10 × 1000 = 7.0e11 tokens/day; 175B → 2.8e18 ops/s; about 10,000 A100s', () => {
    const e = value(
      estimateInference({
        params: 175e9,
        visitsPerDay: 0.7e8,
        questionsPerVisit: 10,
        tokensPerQuestion: 1000,
        peakTopsPerGpu: A100_INT8,
        utilization: 0.45,
      }),
    );
    expect(e.tokensPerDay).toBe(7.0e11);
    expect(Number(e.opsPerSecond.toPrecision(2))).toBe(2.8e18);
    // "about 10,000": 10,098 to two significant figures
    expect(Number(e.gpus.toPrecision(2))).toBe(10_000);
  });

  it('China average model: 1e6 visits → 1.0e10 tokens/day; 80B → 1.9e16 ops/s; 65.9 per model; 50 models → 3,297.5', () => {
    const input: InferenceInput = {
      params: 80e9,
      visitsPerDay: 1e6,
      questionsPerVisit: 10,
      tokensPerQuestion: 1000,
      peakTopsPerGpu: A100_INT8,
      utilization: 0.45,
    };
    const one = value(estimateInference(input));
    expect(one.tokensPerDay).toBe(1.0e10);
    expect(Number(one.opsPerSecond.toPrecision(2))).toBe(1.9e16);
    expect(roundTo(one.gpusPerModel, 1)).toBe(65.9);

    const fifty = value(estimateInference({ ...input, models: 50 }));
    expect(roundTo(fifty.gpus, 1)).toBe(3297.5);
    expect(fifty.opsPerSecond).toBe(one.opsPerSecond);
  });
});

describe('estimateInference — rejections', () => {
  const base: InferenceInput = {
    params: 80e9,
    visitsPerDay: 1e6,
    questionsPerVisit: 10,
    tokensPerQuestion: 1000,
    peakTopsPerGpu: 624,
    utilization: 0.45,
  };

  it.each([
    ['params', { params: 0 }],
    ['visitsPerDay', { visitsPerDay: -5 }],
    ['questionsPerVisit', { questionsPerVisit: Number.NaN }],
    ['tokensPerQuestion', { tokensPerQuestion: 0 }],
    ['peakTopsPerGpu', { peakTopsPerGpu: -624 }],
    ['utilization', { utilization: 2 }],
    ['models', { models: -1 }],
  ] as const)('rejects bad %s', (field, patch) => {
    expect(estimateInference({ ...base, ...patch })).toMatchObject({ ok: false, code: 'CALC_INVALID_INPUT', field });
  });
});
