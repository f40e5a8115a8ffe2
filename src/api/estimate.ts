/**
 * The calculators over HTTP: the same inputs as `suanli estimate … --json` (flag names in
 * camelCase, yuan where the CLI takes yuan) and the same output objects.
 */
import { z } from '@hono/zod-openapi';
import { type Accelerator, findAcceleratorBySmiName, getAccelerator } from '../core/catalog/index.js';
import { type CalcResult, convertPrice, estimateInference, estimatePayback, estimatePlatformMargin, estimateTraining } from '../core/calc/index.js';
import { defineRoute, newRouter } from './access.js';
import { ApiError } from './errors.js';

/** The CLI's default `--gpu`. */
const DEFAULT_GPU_ID = 'nvidia-a100-sxm4-40g';
const num = () => z.number();
const gpu = z.string().min(1).max(128).default(DEFAULT_GPU_ID).openapi({ description: 'catalog id or nvidia-smi name' });

const TrainingSchema = z.strictObject({ params: num().optional(), tokens: num().optional(), flop: num().optional(), days: num(), gpu, util: num(), models: num().default(1) });
const InferenceSchema = z.strictObject({ params: num(), visits: num(), questions: num(), tokensPerQuestion: num(), gpu, util: num(), models: num().default(1) });
const PaybackSchema = z.strictObject({ capex: num(), years: num(), cashShare: num(), pricePerServerHour: num(), utilization: num().default(1) });
const MarginSchema = z.strictObject({ gpu, gpus: num().default(8), pricePerServerHour: num(), costPerPYear: num(), utilization: num().default(1), exactP: z.boolean().default(false) });
const ConvertSchema = z.strictObject({ gpu, pricePerGpuHour: num().optional(), pricePerServerMonth: num().optional(), pricePerPYear: num().optional(), gpusPerServer: num().default(8) });
const EstimateSchema = z.record(z.string(), z.unknown()).openapi('Estimate');

function resolveGpu(idOrName: string): Accelerator {
  const acc = getAccelerator(idOrName) ?? findAcceleratorBySmiName(idOrName);
  if (!acc) throw new ApiError(400, 'UNKNOWN_ACCELERATOR', `unknown gpu ${idOrName}`, { issues: [{ path: 'json.gpu', message: 'not in the catalog' }] });
  return acc;
}

/** The calculator's value, or its rejection as a 400 naming the body field. */
function unwrap<T>(r: CalcResult<T>, fields: Readonly<Record<string, string>>): T {
  if (r.ok) return r.value;
  const field = fields[r.field] ?? r.field;
  throw new ApiError(400, r.code, r.message, { issues: [{ path: `json.${field}`, message: r.message }] });
}

const route = <T extends z.ZodType>(name: string, summary: string, schema: T) =>
  defineRoute(
    { who: 'anyone' },
    {
      method: 'post', path: `/estimate/${name}`, tags: ['calculators'], summary,
      request: { body: { content: { 'application/json': { schema } }, required: true } },
      responses: { 200: { description: 'the estimate (as `suanli estimate --json`)', content: { 'application/json': { schema: EstimateSchema } } } },
    },
  );

export const estimateRoutes = newRouter()
  .openapi(route('training', 'GPUs to train a model', TrainingSchema), (c) => {
    const o = c.req.valid('json');
    const acc = resolveGpu(o.gpu);
    const e = unwrap(
      estimateTraining({
        ...(o.flop !== undefined ? { totalFlop: o.flop } : {}),
        ...(o.params !== undefined ? { params: o.params } : {}),
        ...(o.tokens !== undefined ? { tokens: o.tokens } : {}),
        days: o.days, peakTflopsPerGpu: acc.fp16Tflops, utilization: o.util, models: o.models,
      }),
      { totalFlop: 'flop', utilization: 'util' },
    );
    return c.json({ gpu: acc.id, peakTflopsPerGpu: acc.fp16Tflops, utilization: o.util, ...e }, 200);
  })
  .openapi(route('inference', 'GPUs to serve a model', InferenceSchema), (c) => {
    const o = c.req.valid('json');
    const acc = resolveGpu(o.gpu);
    const e = unwrap(
      estimateInference({
        params: o.params, visitsPerDay: o.visits, questionsPerVisit: o.questions, tokensPerQuestion: o.tokensPerQuestion,
        peakTopsPerGpu: acc.int8Tops, utilization: o.util, models: o.models,
      }),
      { visitsPerDay: 'visits', questionsPerVisit: 'questions', utilization: 'util' },
    );
    return c.json({ gpu: acc.id, peakTopsPerGpu: acc.int8Tops, utilization: o.util, ...e }, 200);
  })
  .openapi(route('payback', 'Payback of owning a server', PaybackSchema), (c) => {
    const o = c.req.valid('json');
    const e = unwrap(
      estimatePayback({ capexYuan: o.capex, depreciationYears: o.years, cashShare: o.cashShare, pricePerServerHourYuan: o.pricePerServerHour, utilization: o.utilization }),
      { capexYuan: 'capex', depreciationYears: 'years', pricePerServerHourYuan: 'pricePerServerHour' },
    );
    return c.json({ ...e }, 200);
  })
  .openapi(route('platform-margin', 'Value a light-asset platform creates per P-year', MarginSchema), (c) => {
    const o = c.req.valid('json');
    const acc = resolveGpu(o.gpu);
    const e = unwrap(
      estimatePlatformMargin({
        tflopsPerGpu: acc.fp16Tflops, gpusPerServer: o.gpus, pricePerServerHourYuan: o.pricePerServerHour, costPerPYearYuan: o.costPerPYear,
        utilization: o.utilization, pflopsRounding: o.exactP ? 'exact' : 'paper',
      }),
      { gpusPerServer: 'gpus', pricePerServerHourYuan: 'pricePerServerHour', costPerPYearYuan: 'costPerPYear' },
    );
    return c.json({ gpu: acc.id, gpusPerServer: o.gpus, ...e }, 200);
  })
  .openapi(route('convert', 'One price in ¥/GPU-hour, ¥/server-month and ¥/P-year', ConvertSchema), (c) => {
    const o = c.req.valid('json');
    const acc = resolveGpu(o.gpu);
    const given = [o.pricePerGpuHour, o.pricePerServerMonth, o.pricePerPYear].filter((p) => p !== undefined).length;
    if (given !== 1) throw new ApiError(400, 'CALC_MISSING_INPUT', 'give exactly one of pricePerGpuHour, pricePerServerMonth, pricePerPYear', { issues: [{ path: 'json.pricePerGpuHour', message: 'give exactly one price' }] });
    const e = unwrap(
      convertPrice({
        tflopsPerGpu: acc.fp16Tflops, gpusPerServer: o.gpusPerServer,
        ...(o.pricePerGpuHour !== undefined ? { pricePerGpuHourYuan: o.pricePerGpuHour } : {}),
        ...(o.pricePerServerMonth !== undefined ? { pricePerServerMonthYuan: o.pricePerServerMonth } : {}),
        ...(o.pricePerPYear !== undefined ? { pricePerPYearYuan: o.pricePerPYear } : {}),
      }),
      { pricePerGpuHourYuan: 'pricePerGpuHour', pricePerServerMonthYuan: 'pricePerServerMonth', pricePerPYearYuan: 'pricePerPYear' },
    );
    return c.json({ gpu: acc.id, ...e }, 200);
  });
