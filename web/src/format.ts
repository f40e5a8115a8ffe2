/**
 * Money and units for display. Prices live in integer fen per GPU-hour; people read them in the
 * market's units — ¥/卡·时 (GPU-hour), 万元/台·月 (server-month), 万元/P·年 (P-year) — with the
 * same conversions as the exchange and the CLI (src/core/catalog/units.ts, imported as is).
 */
import {
  fenToYuan,
  formatFenPerGpuHour,
  formatYuanPerPYear,
  formatYuanPerServerMonth,
  groupThousands,
  yuanPerPYearFromGpuHour,
  yuanPerServerMonthFromGpuHour,
} from '../../src/core/catalog/units.js';
import type { Lang } from './api';

export type PriceUnit = 'gpuHour' | 'serverMonth' | 'pYear';
export const PRICE_UNITS: readonly PriceUnit[] = ['gpuHour', 'serverMonth', 'pYear'];

/** A price in fen per GPU-hour in `unit`; P-year needs the accelerator's dense FP16 TFLOPS. */
export function formatPrice(fenPerGpuHour: number | null | undefined, unit: PriceUnit, lang: Lang, fp16Tflops?: number): string {
  if (fenPerGpuHour === null || fenPerGpuHour === undefined) return '—';
  if (unit === 'serverMonth') return formatYuanPerServerMonth(yuanPerServerMonthFromGpuHour(fenToYuan(fenPerGpuHour)), lang);
  if (unit === 'pYear' && fp16Tflops !== undefined && fp16Tflops > 0) return formatYuanPerPYear(yuanPerPYearFromGpuHour(fenToYuan(fenPerGpuHour), { fp16Tflops }), lang);
  return formatFenPerGpuHour(fenPerGpuHour, lang);
}

/** "¥1,362.00" for "136200" fen (a ledger amount as a decimal string or bigint). */
export function formatFen(fen: string | bigint | number | null | undefined): string {
  if (fen === null || fen === undefined) return '—';
  const v = typeof fen === 'bigint' ? fen : BigInt(typeof fen === 'number' ? Math.round(fen) : fen);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const yuan = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const cents = (abs % 100n).toString().padStart(2, '0');
  return `${neg ? '-' : ''}¥${yuan}.${cents}`;
}

/** Yuan as typed ("22.7") → whole fen (2270), or null if not a positive amount with ≤ 2 decimals. */
export function parseYuanToFen(text: string): number | null {
  const m = /^\s*(\d{1,12})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  const fen = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  return fen > 0 ? fen : null;
}

export const yuanOfFen = (fen: number): string => (fen / 100).toFixed(2);

export function formatNumber(x: number | null | undefined, decimals = 0): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return groupThousands(x, decimals);
}

export function formatPct(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  return `${x > 0 ? '+' : ''}${x.toFixed(2)}%`;
}

export function formatTime(iso: string | null | undefined, lang: Lang): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}
