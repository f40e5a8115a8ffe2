/**
 * Training demand (SEED.md): FLOP/s needed = 6 × parameters × tokens ÷ training seconds;
 * GPUs = FLOP/s needed ÷ (peak FP16 FLOP/s per GPU × utilisation).
 *
 * 6 FLOP per parameter per token is the usual dense-transformer estimate (2 forward + 4 backward).
 * A total FLOP budget (GPT-4: 2.15e25) may replace parameters × tokens. `models` multiplies the
 * GPU count for that many models trained at once (the paper's "100 models in China").
 */
import { SECONDS_PER_DAY } from '../catalog/units.js';
import {
  type CalcResult,
  checkFraction,
  checkPositive,
  checkPositiveInteger,
  fail,
  firstError,
  ok,
} from './result.js';

/** FLOP per parameter per training token. */
export const TRAINING_FLOP_PER_PARAM_TOKEN = 6;

export interface TrainingInput {
  /** Model parameters, e.g. 175e9. Give with `tokens`, or give `totalFlop` instead. */
  readonly params?: number;
  /** Training tokens, e.g. 300e9. */
  readonly tokens?: number;
  /** Total training FLOP per model, e.g. 2.15e25; excludes `params`/`tokens`. */
  readonly totalFlop?: number;
  /** Wall-clock training time in days. */
  readonly days: number;
  /** Peak dense FP16/BF16 TFLOPS of one GPU (catalog `fp16Tflops`; A100: 312). */
  readonly peakTflopsPerGpu: number;
  /** Model FLOPs utilisation in (0, 1], e.g. 0.45. */
  readonly utilization: number;
  /** Models trained at the same time; default 1. */
  readonly models?: number;
}

export interface TrainingEstimate {
  /** Training FLOP of one model. */
  readonly totalFlopPerModel: number;
  readonly seconds: number;
  /** FLOP/s one model needs (the figure the paper prints: GPT-3 1.2e17). */
  readonly flopsPerSecond: number;
  /** FLOP/s all `models` need. */
  readonly flopsPerSecondTotal: number;
  /** Effective FLOP/s of one GPU: peak × utilisation. */
  readonly effectiveFlopsPerGpu: number;
  /** GPUs one model needs (fractional: the paper prints 865.6). */
  readonly gpusPerModel: number;
  readonly models: number;
  /** GPUs all `models` need: gpusPerModel × models. */
  readonly gpus: number;
}

export function estimateTraining(input: TrainingInput): CalcResult<TrainingEstimate> {
  const { params, tokens, totalFlop, days, peakTflopsPerGpu, utilization } = input;
  const models = input.models ?? 1;

  let totalFlopPerModel: number;
  if (totalFlop !== undefined) {
    if (params !== undefined || tokens !== undefined) {
      return fail('CALC_CONFLICTING_INPUT', 'totalFlop', 'give either totalFlop or params and tokens, not both');
    }
    const bad = checkPositive('totalFlop', totalFlop);
    if (bad !== undefined) return bad;
    totalFlopPerModel = totalFlop;
  } else {
    if (params === undefined) return fail('CALC_MISSING_INPUT', 'params', 'params is required (or give totalFlop)');
    if (tokens === undefined) return fail('CALC_MISSING_INPUT', 'tokens', 'tokens is required (or give totalFlop)');
    const bad = firstError(checkPositive('params', params), checkPositive('tokens', tokens));
    if (bad !== undefined) return bad;
    totalFlopPerModel = TRAINING_FLOP_PER_PARAM_TOKEN * params * tokens;
  }

  const bad = firstError(
    checkPositive('days', days),
    checkPositive('peakTflopsPerGpu', peakTflopsPerGpu),
    checkFraction('utilization', utilization),
    checkPositiveInteger('models', models),
  );
  if (bad !== undefined) return bad;

  const seconds = days * SECONDS_PER_DAY;
  const flopsPerSecond = totalFlopPerModel / seconds;
  const effectiveFlopsPerGpu = peakTflopsPerGpu * 1e12 * utilization;
  const gpusPerModel = flopsPerSecond / effectiveFlopsPerGpu;

  return ok({
    totalFlopPerModel,
    seconds,
    flopsPerSecond,
    flopsPerSecondTotal: flopsPerSecond * models,
    effectiveFlopsPerGpu,
    gpusPerModel,
    models,
    gpus: gpusPerModel * models,
  });
}
