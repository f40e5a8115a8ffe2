/**
 * Inference demand (SEED.md): tokens per day = daily visits × questions per visit × tokens per
 * question; ops/s needed = 2 × parameters × tokens per day ÷ 86,400; GPUs = ops/s ÷ (peak INT8
 * ops/s per GPU × utilisation).
 *
 * 2 ops per parameter per token is one forward pass. The paper uses INT8 peak for serving
 * (A100: 624 TOPS). `models` multiplies the GPU count for that many models served at once.
 */
import { SECONDS_PER_DAY } from '../catalog/units.js';
import {
  type CalcResult,
  checkFraction,
  checkPositive,
  checkPositiveInteger,
  firstError,
  ok,
} from './result.js';

/** Ops per parameter per generated or read token (one forward pass). */
export const INFERENCE_OPS_PER_PARAM_TOKEN = 2;

export interface InferenceInput {
  /** Model parameters, e.g. 175e9. */
  readonly params: number;
  /** Visits per day, e.g. 0.7e8. */
  readonly visitsPerDay: number;
  /** Questions per visit, e.g. 10. */
  readonly questionsPerVisit: number;
  /** Tokens per question (prompt + answer), e.g. 1000. */
  readonly tokensPerQuestion: number;
  /** Peak dense INT8 TOPS of one GPU (catalog `int8Tops`; A100: 624). */
  readonly peakTopsPerGpu: number;
  /** Utilisation in (0, 1], e.g. 0.45. */
  readonly utilization: number;
  /** Models served at the same time; default 1. */
  readonly models?: number;
}

export interface InferenceEstimate {
  /** Tokens per day for one model (ChatGPT: 7.0e11). */
  readonly tokensPerDay: number;
  /** Ops/s one model needs (ChatGPT: 2.8e18). */
  readonly opsPerSecond: number;
  readonly opsPerSecondTotal: number;
  readonly effectiveOpsPerGpu: number;
  /** GPUs one model needs (fractional: the paper prints 65.9). */
  readonly gpusPerModel: number;
  readonly models: number;
  /** GPUs all `models` need (the paper's 50 models → 3,297.5). */
  readonly gpus: number;
}

export function estimateInference(input: InferenceInput): CalcResult<InferenceEstimate> {
  const { params, visitsPerDay, questionsPerVisit, tokensPerQuestion, peakTopsPerGpu, utilization } = input;
  const models = input.models ?? 1;

  const bad = firstError(
    checkPositive('params', params),
    checkPositive('visitsPerDay', visitsPerDay),
    checkPositive('questionsPerVisit', questionsPerVisit),
    checkPositive('tokensPerQuestion', tokensPerQuestion),
    checkPositive('peakTopsPerGpu', peakTopsPerGpu),
    checkFraction('utilization', utilization),
    checkPositiveInteger('models', models),
  );
  if (bad !== undefined) return bad;

  const tokensPerDay = visitsPerDay * questionsPerVisit * tokensPerQuestion;
  const opsPerSecond = (INFERENCE_OPS_PER_PARAM_TOKEN * params * tokensPerDay) / SECONDS_PER_DAY;
  const effectiveOpsPerGpu = peakTopsPerGpu * 1e12 * utilization;
  const gpusPerModel = opsPerSecond / effectiveOpsPerGpu;

  return ok({
    tokensPerDay,
    opsPerSecond,
    opsPerSecondTotal: opsPerSecond * models,
    effectiveOpsPerGpu,
    gpusPerModel,
    models,
    gpus: gpusPerModel * models,
  });
}
