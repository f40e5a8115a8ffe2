/**
 * `suanli estimate …`: the paper's calculators (src/core/calc) on the command line.
 *
 * Every subcommand prints readable text, or one JSON object with `--json`. Usage errors — a
 * missing or unknown flag, a value that is not a number, a value the calculator rejects, an
 * unknown GPU — print a message on stderr and exit with code 2 (EX_USAGE-style), never 1, so
 * scripts can tell "you called it wrong" from "it broke".
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  type Accelerator,
  findAcceleratorBySmiName,
  formatFenPerGpuHour,
  formatPflops,
  formatYuanPerPYear,
  formatYuanPerServerMonth,
  getAccelerator,
  groupThousands,
  listAccelerators,
  roundTo,
} from '../core/catalog/index.js';
import {
  type CalcResult,
  convertPrice,
  estimateInference,
  estimatePayback,
  estimatePlatformMargin,
  estimateTraining,
} from '../core/calc/index.js';

export const USAGE_EXIT_CODE = 2;
export const DEFAULT_GPU_ID = 'nvidia-a100-sxm4-40g';

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** Commander option parser: a decimal or scientific number ("175e9", "0.45", "1_800_000"). */
export function parseNumberArg(raw: string): number {
  const s = raw.trim().replace(/_/g, '');
  if (!NUMBER_RE.test(s)) throw new InvalidArgumentError(`expected a number such as 175e9 or 0.45.`);
  return Number(s);
}

class UsageError extends Error {}

function resolveGpu(idOrName: string): Accelerator {
  const acc = getAccelerator(idOrName) ?? findAcceleratorBySmiName(idOrName);
  if (acc === undefined) {
    const ids = listAccelerators().map((a) => a.id).join(', ');
    throw new UsageError(`unknown --gpu '${idOrName}'. Known ids: ${ids}`);
  }
  return acc;
}

/** A calculator's value, or a UsageError naming the flag (`flags` maps input fields to flags). */
function unwrap<T>(r: CalcResult<T>, flags: Readonly<Record<string, string>>): T {
  if (r.ok) return r.value;
  const flag = flags[r.field] ?? r.field;
  throw new UsageError(`${flag}: ${r.message} [${r.code}]`);
}

function emit(json: boolean, data: Readonly<Record<string, unknown>>, text: readonly string[]): void {
  console.log(json ? JSON.stringify(data, null, 2) : text.join('\n'));
}

/** 1.2153e17 → "1.22e17". */
function sci(x: number): string {
  return x.toExponential(2).replace('e+', 'e');
}

/** One aligned "label   value" line of text output. */
function row(label: string, value: string): string {
  return `  ${label.padEnd(26)}${value}`;
}

function pct(x: number): string {
  return `${roundTo(x * 100, 1)}%`;
}

const num = (flags: string, description: string): Option => new Option(flags, description).argParser(parseNumberArg);
const hiddenNum = (flags: string): Option => new Option(flags).argParser(parseNumberArg).hideHelp();
const gpuOption = (): Option =>
  new Option('--gpu <id>', 'catalog accelerator id (or nvidia-smi product name)').default(DEFAULT_GPU_ID);
const jsonOption = (): Option => new Option('--json', 'print one JSON object');

/** Runs an action; a UsageError becomes a commander error with exit code 2. */
function guarded<O>(fn: (opts: O) => void): (opts: O, cmd: Command) => void {
  return (opts, cmd) => {
    try {
      fn(opts);
    } catch (err) {
      if (err instanceof UsageError) cmd.error(`error: ${err.message}`, { exitCode: USAGE_EXIT_CODE, code: 'suanli.usage' });
      throw err;
    }
  };
}

interface TrainingOpts {
  params?: number;
  tokens?: number;
  flop?: number;
  days: number;
  gpu: string;
  util?: number;
  utilization?: number;
  models: number;
  json?: boolean;
}

interface InferenceOpts {
  params: number;
  visits: number;
  questions: number;
  tokensPerQuestion: number;
  gpu: string;
  util?: number;
  utilization?: number;
  models: number;
  json?: boolean;
}

interface PaybackOpts {
  capex: number;
  years: number;
  cashShare: number;
  pricePerServerHour: number;
  utilization?: number;
  util?: number;
  json?: boolean;
}

interface MarginOpts {
  gpu: string;
  gpus: number;
  pricePerServerHour: number;
  costPerPYear: number;
  utilization?: number;
  util?: number;
  exactP?: boolean;
  json?: boolean;
}

interface ConvertOpts {
  gpu: string;
  pricePerGpuHour?: number;
  pricePerServerMonth?: number;
  pricePerPYear?: number;
  gpusPerServer: number;
  json?: boolean;
}

function utilOf(o: { util?: number; utilization?: number }): number | undefined {
  return o.util ?? o.utilization;
}

function runTraining(o: TrainingOpts): void {
  const acc = resolveGpu(o.gpu);
  const utilization = utilOf(o);
  if (utilization === undefined) throw new UsageError('--util is required (e.g. --util 0.45)');
  if (o.flop === undefined && o.params === undefined && o.tokens === undefined) {
    throw new UsageError('give --params and --tokens, or --flop');
  }
  if (o.flop !== undefined && (o.params !== undefined || o.tokens !== undefined)) {
    throw new UsageError('give either --flop or --params and --tokens, not both');
  }
  const e = unwrap(
    estimateTraining({
      ...(o.flop !== undefined ? { totalFlop: o.flop } : {}),
      ...(o.params !== undefined ? { params: o.params } : {}),
      ...(o.tokens !== undefined ? { tokens: o.tokens } : {}),
      days: o.days,
      peakTflopsPerGpu: acc.fp16Tflops,
      utilization,
      models: o.models,
    }),
    { totalFlop: '--flop', params: '--params', tokens: '--tokens', days: '--days', utilization: '--util', models: '--models' },
  );
  emit(
    o.json === true,
    { gpu: acc.id, peakTflopsPerGpu: acc.fp16Tflops, utilization, ...e },
    [
      `Training on ${acc.name} (${acc.fp16Tflops} TFLOPS dense FP16 × ${pct(utilization)} utilisation)`,
      row('training FLOP per model', sci(e.totalFlopPerModel)),
      row('FLOP/s per model', sci(e.flopsPerSecond)),
      row('GPUs per model', groupThousands(e.gpusPerModel, 1)),
      ...(e.models > 1 ? [row(`GPUs for ${e.models} models`, groupThousands(e.gpus, 1))] : []),
    ],
  );
}

function runInference(o: InferenceOpts): void {
  const acc = resolveGpu(o.gpu);
  const utilization = utilOf(o);
  if (utilization === undefined) throw new UsageError('--util is required (e.g. --util 0.45)');
  const e = unwrap(
    estimateInference({
      params: o.params,
      visitsPerDay: o.visits,
      questionsPerVisit: o.questions,
      tokensPerQuestion: o.tokensPerQuestion,
      peakTopsPerGpu: acc.int8Tops,
      utilization,
      models: o.models,
    }),
    {
      params: '--params',
      visitsPerDay: '--visits',
      questionsPerVisit: '--questions',
      tokensPerQuestion: '--tokens-per-question',
      utilization: '--util',
      models: '--models',
    },
  );
  emit(
    o.json === true,
    { gpu: acc.id, peakTopsPerGpu: acc.int8Tops, utilization, ...e },
    [
      `Inference on ${acc.name} (${acc.int8Tops} TOPS dense INT8 × ${pct(utilization)} utilisation)`,
      row('tokens per day per model', sci(e.tokensPerDay)),
      row('ops/s per model', sci(e.opsPerSecond)),
      row('GPUs per model', groupThousands(e.gpusPerModel, 1)),
      ...(e.models > 1 ? [row(`GPUs for ${e.models} models`, groupThousands(e.gpus, 1))] : []),
    ],
  );
}

function runPayback(o: PaybackOpts): void {
  const e = unwrap(
    estimatePayback({
      capexYuan: o.capex,
      depreciationYears: o.years,
      cashShare: o.cashShare,
      pricePerServerHourYuan: o.pricePerServerHour,
      utilization: utilOf(o) ?? 1,
    }),
    {
      capexYuan: '--capex',
      depreciationYears: '--years',
      cashShare: '--cash-share',
      pricePerServerHourYuan: '--price-per-server-hour',
      utilization: '--utilization',
    },
  );
  emit(o.json === true, { ...e }, [
    `Payback of a ¥${groupThousands(o.capex)} server rented at ¥${o.pricePerServerHour}/server-hour`,
    row('revenue per year', `¥${groupThousands(e.annualRevenue)}`),
    row('depreciation per year', `¥${groupThousands(e.annualDepreciation)} (non-cash)`),
    row('cash cost per year', `¥${groupThousands(e.annualCashCost)}`),
    row('payback', `${roundTo(e.paybackYears, 2)} years = ${roundTo(e.paybackMonths, 1)} months`),
  ]);
}

function runPlatformMargin(o: MarginOpts): void {
  const acc = resolveGpu(o.gpu);
  const e = unwrap(
    estimatePlatformMargin({
      tflopsPerGpu: acc.fp16Tflops,
      gpusPerServer: o.gpus,
      pricePerServerHourYuan: o.pricePerServerHour,
      costPerPYearYuan: o.costPerPYear,
      utilization: utilOf(o) ?? 1,
      pflopsRounding: o.exactP === true ? 'exact' : 'paper',
    }),
    {
      gpusPerServer: '--gpus',
      pricePerServerHourYuan: '--price-per-server-hour',
      costPerPYearYuan: '--cost-per-p-year',
      utilization: '--utilization',
    },
  );
  emit(o.json === true, { gpu: acc.id, gpusPerServer: o.gpus, ...e }, [
    `Platform margin on ${o.gpus} × ${acc.name} = ${formatPflops(e.pflopsExact, 3)} (per-P figures divide by ${e.pflops} P)`,
    row('revenue per year', `¥${groupThousands(e.annualRevenue)}`),
    row('revenue per P-year', `${formatYuanPerPYear(e.revenuePerPYear)} (¥${groupThousands(e.revenuePerPYear)})`),
    row('capacity cost per P-year', formatYuanPerPYear(e.costPerPYear)),
    row('value created per P-year', `${formatYuanPerPYear(e.valuePerPYear)} (¥${groupThousands(e.valuePerPYear)}, ${pct(e.marginShare)})`),
  ]);
}

function runConvert(o: ConvertOpts): void {
  const acc = resolveGpu(o.gpu);
  const given = [o.pricePerGpuHour, o.pricePerServerMonth, o.pricePerPYear].filter((p) => p !== undefined).length;
  if (given !== 1) {
    throw new UsageError('give exactly one of --price-per-gpu-hour, --price-per-server-month, --price-per-p-year');
  }
  const e = unwrap(
    convertPrice({
      tflopsPerGpu: acc.fp16Tflops,
      gpusPerServer: o.gpusPerServer,
      ...(o.pricePerGpuHour !== undefined ? { pricePerGpuHourYuan: o.pricePerGpuHour } : {}),
      ...(o.pricePerServerMonth !== undefined ? { pricePerServerMonthYuan: o.pricePerServerMonth } : {}),
      ...(o.pricePerPYear !== undefined ? { pricePerPYearYuan: o.pricePerPYear } : {}),
    }),
    {
      gpusPerServer: '--gpus-per-server',
      pricePerGpuHourYuan: '--price-per-gpu-hour',
      pricePerServerMonthYuan: '--price-per-server-month',
      pricePerPYearYuan: '--price-per-p-year',
    },
  );
  emit(o.json === true, { gpu: acc.id, ...e }, [
    `${acc.name}, ${e.gpusPerServer} GPUs per server, ${e.pflopsPerGpu} P per GPU, ${e.hoursPerMonth} h/month, ${e.hoursPerYear} h/year`,
    row('per GPU-hour', `${formatFenPerGpuHour(e.pricePerGpuHourFen)}  (exact ¥${roundTo(e.pricePerGpuHourYuan, 4)})`),
    row('per server-hour', `¥${groupThousands(e.pricePerServerHourYuan, 2)}`),
    row('per server-month', `${formatYuanPerServerMonth(e.pricePerServerMonthYuan)}  (¥${groupThousands(e.pricePerServerMonthYuan)})`),
    row('per P-year', `${formatYuanPerPYear(e.pricePerPYearYuan)}  (¥${groupThousands(e.pricePerPYearYuan)})`),
    row('exchange price', `${e.pricePerGpuHourFen} fen per GPU-hour`),
  ]);
}

export function registerEstimate(program: Command): void {
  const estimate = program
    .command('estimate')
    .description('calculators from the market paper: training, inference, payback, platform margin, price units')
    .showHelpAfterError('(add --help for usage)')
    // Subcommands created below inherit this: commander's own usage errors exit 2 too.
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : USAGE_EXIT_CODE);
    });

  estimate
    .command('training')
    .description('GPUs to train a model: 6 × params × tokens ÷ seconds ÷ (peak FP16 × utilisation)')
    .addOption(num('--params <n>', 'model parameters, e.g. 175e9'))
    .addOption(num('--tokens <n>', 'training tokens, e.g. 300e9'))
    .addOption(num('--flop <n>', 'total training FLOP instead of params × tokens, e.g. 2.15e25'))
    .addOption(num('--days <n>', 'training days').makeOptionMandatory())
    .addOption(gpuOption())
    .addOption(num('--util <x>', 'utilisation in (0, 1], e.g. 0.45'))
    .addOption(hiddenNum('--utilization <x>'))
    .addOption(num('--models <n>', 'models trained at once').default(1))
    .addOption(jsonOption())
    .action(guarded(runTraining));

  estimate
    .command('inference')
    .description('GPUs to serve a model: 2 × params × tokens/day ÷ 86400 ÷ (peak INT8 × utilisation)')
    .addOption(num('--params <n>', 'model parameters, e.g. 80e9').makeOptionMandatory())
    .addOption(num('--visits <n>', 'visits per day, e.g. 1e6').makeOptionMandatory())
    .addOption(num('--questions <n>', 'questions per visit').makeOptionMandatory())
    .addOption(num('--tokens-per-question <n>', 'tokens per question').makeOptionMandatory())
    .addOption(gpuOption())
    .addOption(num('--util <x>', 'utilisation in (0, 1], e.g. 0.45'))
    .addOption(hiddenNum('--utilization <x>'))
    .addOption(num('--models <n>', 'models served at once').default(1))
    .addOption(jsonOption())
    .action(guarded(runInference));

  estimate
    .command('payback')
    .description('payback of owning a server: capex ÷ (revenue − cash cost)')
    .addOption(num('--capex <yuan>', 'up-front cost in yuan, e.g. 1800000').makeOptionMandatory())
    .addOption(num('--years <n>', 'straight-line depreciation years').makeOptionMandatory())
    .addOption(num('--cash-share <x>', 'cash share of total cost in [0, 1), e.g. 0.4').makeOptionMandatory())
    .addOption(num('--price-per-server-hour <yuan>', 'rent per server-hour in yuan').makeOptionMandatory())
    .addOption(num('--utilization <x>', 'share of the year rented, in (0, 1]').default(1))
    .addOption(hiddenNum('--util <x>'))
    .addOption(jsonOption())
    .action(guarded(runPayback));

  estimate
    .command('platform-margin')
    .description('value a light-asset platform creates per P-year')
    .addOption(gpuOption())
    .addOption(num('--gpus <n>', 'GPUs per server').default(8))
    .addOption(num('--price-per-server-hour <yuan>', 'rent per server-hour in yuan').makeOptionMandatory())
    .addOption(num('--cost-per-p-year <yuan>', 'what capacity costs the platform, yuan per P-year').makeOptionMandatory())
    .addOption(num('--utilization <x>', 'share of the year rented, in (0, 1]').default(1))
    .addOption(hiddenNum('--util <x>'))
    .addOption(new Option('--exact-p', 'divide by the exact P (2.496) instead of the paper’s rounded 2.5'))
    .addOption(jsonOption())
    .action(guarded(runPlatformMargin));

  estimate
    .command('convert')
    .description('one price in ¥/GPU-hour, ¥/server-month and ¥/P-year (730 h/month, 8760 h/year)')
    .addOption(gpuOption())
    .addOption(num('--price-per-gpu-hour <yuan>', 'yuan per GPU-hour, e.g. 22.7'))
    .addOption(num('--price-per-server-month <yuan>', 'yuan (not 万元) per server-month, e.g. 106000'))
    .addOption(num('--price-per-p-year <yuan>', 'yuan (not 万元) per P-year, e.g. 180000'))
    .addOption(num('--gpus-per-server <n>', 'GPUs per server').default(8))
    .addOption(jsonOption())
    .action(guarded(runConvert));
}
