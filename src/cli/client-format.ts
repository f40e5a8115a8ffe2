/**
 * Pure helpers of the trading client: exact money parsing (decimal yuan → integer fen, never
 * through floating point), display of fen, times, and plain aligned tables.
 */
import { formatFen } from '../core/ledger/money.js';

export class UsageError extends Error {}

const MAX_PRICE_FEN = 100_000_000; // the engine's bound: 1,000,000 CNY per GPU-hour

/**
 * "22.70" (yuan, optionally with ¥ and thousands commas) → 2270 fen, exactly. At most two
 * decimals: "22.705" is an error, not a rounding.
 */
export function yuanToFen(raw: string, flag: string): number {
  const s = raw.trim().replace(/^¥/, '').replace(/,/g, '');
  const m = /^([0-9]{1,9})(?:\.([0-9]{1,2}))?$/.exec(s);
  if (!m) throw new UsageError(`${flag} must be yuan with at most two decimals, e.g. 22.70 (got ${JSON.stringify(raw)})`);
  const fen = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  if (fen <= 0 || fen > MAX_PRICE_FEN) throw new UsageError(`${flag} must be above 0 and at most ¥1,000,000.00`);
  return fen;
}

/** "2.5" P, at most 4 decimals (exact in deci-TFLOPS), as the decimal string the API takes. */
export function computeP(raw: string, flag: string): string {
  const s = raw.trim();
  const m = /^([0-9]{1,7})(?:\.([0-9]{1,4}))?$/.exec(s);
  if (!m || Number(m[1]) * 10_000 + Number((m[2] ?? '').padEnd(4, '0')) === 0) {
    throw new UsageError(`${flag} must be a positive amount of P with at most 4 decimals, e.g. 2.5 (got ${JSON.stringify(raw)})`);
  }
  const frac = (m[2] ?? '').replace(/0+$/, '');
  return frac === '' ? String(Number(m[1])) : `${Number(m[1])}.${frac}`;
}

export function positiveInt(raw: string, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  const s = raw.trim().replace(/_/g, '');
  const n = Number(s);
  if (!/^[0-9]+$/.test(s) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? 'of at least 1' : `from 1 to ${max}`;
    throw new UsageError(`${flag} must be a whole number ${range} (got ${JSON.stringify(raw)})`);
  }
  return n;
}

export function nonNegativeNumber(raw: string, flag: string): number {
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a number ≥ 0`);
  return n;
}

/** An ISO-8601 time with a zone (or a date), normalised to UTC. */
export function isoTime(raw: string, flag: string): string {
  const s = raw.trim();
  const ok = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i.test(s);
  const ms = Date.parse(s);
  if (!ok || Number.isNaN(ms)) throw new UsageError(`${flag} must be an ISO-8601 time with a zone, e.g. 2026-03-01T08:00:00+08:00 (got ${JSON.stringify(raw)})`);
  return new Date(ms).toISOString();
}

export function oneOf<T extends string>(raw: string, flag: string, values: readonly T[]): T {
  const v = raw.trim();
  const hit = values.find((x) => x.toLowerCase() === v.toLowerCase());
  if (hit === undefined) throw new UsageError(`${flag} must be one of ${values.join(', ')} (got ${JSON.stringify(raw)})`);
  return hit;
}

/** 2270 or "2270" or "-13620" fen → "¥22.70" / "-¥136.20", with thousands separators. */
export function fen(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  let v: bigint;
  try {
    v = typeof value === 'bigint' ? value : BigInt(typeof value === 'number' ? Math.trunc(value) : String(value));
  } catch {
    return String(value);
  }
  return formatFen(v, { grouped: true, symbol: '¥' });
}

/** "2026-01-01T08:00:00.000Z" → "2026-01-01 08:00Z" (compact, still UTC). */
export function when(value: unknown): string {
  if (typeof value !== 'string' || value === '') return '-';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?Z$/.exec(value);
  return m ? `${m[1]} ${m[2]}Z` : value;
}

export function text(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (Array.isArray(value)) return value.map(text).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export interface Column<R> {
  readonly header: string;
  readonly value: (row: R) => string;
  /** Right-align (numbers, money). */
  readonly right?: boolean;
}

/** Display width: CJK and other wide characters count two columns. */
function width(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1;
  return w;
}

function pad(s: string, n: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, n - width(s)));
  return right ? fill + s : s + fill;
}

/** An aligned table; `empty` is printed instead when there are no rows. */
export function table<R>(rows: readonly R[], columns: readonly Column<R>[], empty = '(none)'): string {
  if (rows.length === 0) return empty;
  const cells = rows.map((r) => columns.map((c) => c.value(r)));
  const widths = columns.map((c, i) => Math.max(width(c.header), ...cells.map((row) => width(row[i]!))));
  const line = (vals: readonly string[]): string =>
    vals
      .map((v, i) => pad(v, widths[i]!, columns[i]!.right === true))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

/** "label   value" lines. */
export function pairs(entries: readonly (readonly [string, string])[]): string {
  const w = Math.max(...entries.map(([k]) => width(k)));
  return entries.map(([k, v]) => `${pad(k, w, false)}  ${v}`).join('\n');
}
