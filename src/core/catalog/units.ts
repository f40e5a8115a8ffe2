/**
 * Units of compute and of price, and conversions between them.
 *
 * Compute: 1 P = 1 PFLOPS = 1000 dense FP16 TFLOPS (the paper's unit of "compute scale").
 * An 8 × A100 server is 8 × 312 / 1000 = 2.496 P exactly; the paper prints it as "2.5 P", which
 * is the exact value shown to one decimal (`formatPflops`). Conversions use the exact value; only
 * `calc/platformMargin` reproduces the paper's division by the rounded 2.5 (see there).
 *
 * Time: a year is 8760 hours (365 × 24; the paper's 180 × 8760 = 1.577 M) and a month is
 * 730 hours (8760 / 12), so twelve months are exactly a year and no calendar enters the core.
 *
 * Money: the exchange prices in integer fen (0.01 CNY) per GPU-hour. Functions named `fen…`
 * that return fen round to an integer with `roundHalfUp`: the value is first snapped to 15
 * significant digits (so 22.7 × 100 = 2269.9999999999995 counts as 2270) and then rounded half
 * toward +∞ (Math.round). Functions returning yuan or 万元 (10k CNY) do not round; only the
 * `format…` display helpers do, half up, to the decimals they document.
 */
import type { Accelerator } from './types.js';

export const TFLOPS_PER_P = 1000;
export const SECONDS_PER_HOUR = 3600;
export const HOURS_PER_DAY = 24;
export const SECONDS_PER_DAY = 86_400;
/** 365 × 24. */
export const HOURS_PER_YEAR = 8760;
/** HOURS_PER_YEAR / 12, so that 12 months = 1 year exactly. */
export const HOURS_PER_MONTH = 730;
export const FEN_PER_YUAN = 100;
/** 1 万 (wan) = 10,000 yuan. */
export const YUAN_PER_WAN = 10_000;
/** The paper's "server": 8 GPUs, unless a server says otherwise. */
export const DEFAULT_GPUS_PER_SERVER = 8;

/** What a conversion needs to know about an accelerator. */
export type ComputeSpec = Pick<Accelerator, 'fp16Tflops'>;

export type DisplayLang = 'zh' | 'en';

// ─────────────────────────────── rounding ───────────────────────────────

/**
 * Round to an integer, half toward +∞, after snapping away binary representation error
 * (15 significant digits). The one rounding rule for fen.
 */
export function roundHalfUp(x: number): number {
  if (!Number.isFinite(x)) return x;
  return Math.round(Number(x.toPrecision(15)));
}

/** `roundHalfUp` at `decimals` places (0–10). Display helpers use this. */
export function roundTo(x: number, decimals: number): number {
  const scale = 10 ** decimals;
  return roundHalfUp(x * scale) / scale;
}

// ─────────────────────────────── compute ────────────────────────────────

export function pflopsOfGpu(acc: ComputeSpec): number {
  return acc.fp16Tflops / TFLOPS_PER_P;
}

/** Exact P of `gpus` accelerators: 8 × A100 = 2.496 (shown as "2.5 P" by `formatPflops`). */
export function pflopsOfNode(acc: ComputeSpec, gpus: number = DEFAULT_GPUS_PER_SERVER): number {
  return (acc.fp16Tflops * gpus) / TFLOPS_PER_P;
}

/** "2.5 P": one decimal, half up. */
export function formatPflops(pflops: number, decimals = 1): string {
  return `${roundTo(pflops, decimals).toFixed(decimals)} P`;
}

// ─────────────────────────────── money ──────────────────────────────────

export function yuanToFen(yuan: number): number {
  return roundHalfUp(yuan * FEN_PER_YUAN);
}

export function fenToYuan(fen: number): number {
  return fen / FEN_PER_YUAN;
}

export function yuanToWan(yuan: number): number {
  return yuan / YUAN_PER_WAN;
}

export function wanToYuan(wan: number): number {
  return wan * YUAN_PER_WAN;
}

// Yuan ↔ yuan price conversions: exact, unrounded.

export function yuanPerServerHourFromGpuHour(yuanPerGpuHour: number, gpusPerServer: number = DEFAULT_GPUS_PER_SERVER): number {
  return yuanPerGpuHour * gpusPerServer;
}

export function yuanPerServerMonthFromGpuHour(yuanPerGpuHour: number, gpusPerServer: number = DEFAULT_GPUS_PER_SERVER): number {
  return yuanPerGpuHour * gpusPerServer * HOURS_PER_MONTH;
}

export function yuanPerGpuHourFromServerMonth(yuanPerServerMonth: number, gpusPerServer: number = DEFAULT_GPUS_PER_SERVER): number {
  return yuanPerServerMonth / (gpusPerServer * HOURS_PER_MONTH);
}

export function yuanPerPYearFromGpuHour(yuanPerGpuHour: number, acc: ComputeSpec): number {
  return (yuanPerGpuHour * HOURS_PER_YEAR) / pflopsOfGpu(acc);
}

export function yuanPerGpuHourFromPYear(yuanPerPYear: number, acc: ComputeSpec): number {
  return (yuanPerPYear * pflopsOfGpu(acc)) / HOURS_PER_YEAR;
}

// Exchange-facing conversions: integer fen per GPU-hour on one side.

export function fenPerGpuHourFromWanPerServerMonth(wanPerServerMonth: number, gpusPerServer: number = DEFAULT_GPUS_PER_SERVER): number {
  return yuanToFen(yuanPerGpuHourFromServerMonth(wanToYuan(wanPerServerMonth), gpusPerServer));
}

export function wanPerServerMonthFromFenPerGpuHour(fenPerGpuHour: number, gpusPerServer: number = DEFAULT_GPUS_PER_SERVER): number {
  return yuanToWan(yuanPerServerMonthFromGpuHour(fenToYuan(fenPerGpuHour), gpusPerServer));
}

export function fenPerGpuHourFromWanPerPYear(wanPerPYear: number, acc: ComputeSpec): number {
  return yuanToFen(yuanPerGpuHourFromPYear(wanToYuan(wanPerPYear), acc));
}

export function wanPerPYearFromFenPerGpuHour(fenPerGpuHour: number, acc: ComputeSpec): number {
  return yuanToWan(yuanPerPYearFromGpuHour(fenToYuan(fenPerGpuHour), acc));
}

/**
 * Fen per P-hour for a price in fen per GPU-hour: the unit that makes different accelerators
 * comparable. Not rounded (it is for comparison, not for charging).
 */
export function fenPerPHourFromFenPerGpuHour(fenPerGpuHour: number, acc: ComputeSpec): number {
  return fenPerGpuHour / pflopsOfGpu(acc);
}

// ─────────────────────────────── display ────────────────────────────────

/** 1234567.8 → "1,234,568" (0 decimals) — fixed format, no locale dependency. */
export function groupThousands(x: number, decimals = 0): string {
  const fixed = roundTo(Math.abs(x), decimals).toFixed(decimals);
  const [int = '0', frac] = fixed.split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const sign = x < 0 && Number(fixed) !== 0 ? '-' : '';
  return sign + (frac === undefined ? grouped : `${grouped}.${frac}`);
}

/** 2270 fen → "¥22.70/卡·时" (zh) or "¥22.70/GPU-hour" (en). Exact: fen are integers. */
export function formatFenPerGpuHour(fenPerGpuHour: number, lang: DisplayLang = 'zh'): string {
  const yuan = groupThousands(fenToYuan(fenPerGpuHour), 2);
  return lang === 'zh' ? `¥${yuan}/卡·时` : `¥${yuan}/GPU-hour`;
}

/** 132568 yuan → "13.26万元/台·月" (zh, 2 decimals of 万) or "¥132,568/server-month" (en, whole yuan). */
export function formatYuanPerServerMonth(yuanPerServerMonth: number, lang: DisplayLang = 'zh'): string {
  return lang === 'zh'
    ? `${groupThousands(yuanToWan(yuanPerServerMonth), 2)}万元/台·月`
    : `¥${groupThousands(yuanPerServerMonth)}/server-month`;
}

/** 630720 yuan → "63.07万元/P·年" (zh, 2 decimals of 万) or "¥630,720/P-year" (en, whole yuan). */
export function formatYuanPerPYear(yuanPerPYear: number, lang: DisplayLang = 'zh'): string {
  return lang === 'zh'
    ? `${groupThousands(yuanToWan(yuanPerPYear), 2)}万元/P·年`
    : `¥${groupThousands(yuanPerPYear)}/P-year`;
}
