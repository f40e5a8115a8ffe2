/**
 * Schemas and conversions every resource shares: money (fen as decimal strings, prices as safe
 * integers), times (ISO-8601 UTC at the edge, epoch ms inside), ids, pages.
 */
import { SAFE_ID } from '../core/ledger/chart.js';
import { formatFen as formatLedgerFen } from '../core/ledger/money.js';
import { randomBytes } from 'node:crypto';
import { z } from '@hono/zod-openapi';
import { MAX_PRICE_FEN } from '../core/market/types.js';
import { MAX_PAGE_LIMIT } from '../store/port.js';
import { validationError } from './errors.js';

/** Largest amount one request may move: 10^15 fen (10 trillion CNY), the core's own bound. */
export const MAX_AMOUNT_FEN = 10n ** 15n;
export const DEFAULT_PAGE_LIMIT = 50;

/** Server-assigned ids: prefix + 16 base32 characters (80 random bits). Safe for ledger ids. */
export function newId(prefix: string): string {
  const bytes = randomBytes(10);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return `${prefix}-${out}`;
}

export const IdSchema = z.string().regex(SAFE_ID, 'ids are 1-64 characters of A-Z a-z 0-9 _ . @ -');
export const MarketKeySchema = z.string().regex(/^[a-z0-9-]{1,64}@[a-z0-9-]{1,64}$/, 'a market is acceleratorId@regionId').openapi({ example: 'nvidia-a100-sxm4-40g@cn-beijing' });

/** Whole positive fen as a decimal string, at most 10^15. */
export const FenAmountSchema = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, 'amounts are positive whole fen as a decimal string, e.g. "13620"')
  .refine((s) => !/^[0-9]{1,16}$/.test(s) || BigInt(s) <= MAX_AMOUNT_FEN, 'amount is above 10^15 fen')
  .openapi({ example: '13620' });

/** A signed fen amount in responses (balances, statements). */
export const FenSchema = z.string().regex(/^-?[0-9]+$/).openapi({ example: '13620' });

export const PriceFenSchema = z.int().min(1).max(MAX_PRICE_FEN).openapi({ example: 2270 });

export const IsoTimeSchema = z.iso.datetime({ offset: true }).openapi({ example: '2026-01-01T00:00:00.000Z' });

export const PageQuerySchema = z.object({
  cursor: z.string().min(1).max(1024).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_LIMIT).optional().openapi({ type: 'integer', example: DEFAULT_PAGE_LIMIT }),
});

export function pageSchema<T extends z.ZodType>(item: T, name: string) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() }).openapi(name);
}

export function pageRequest(q: { cursor?: string | undefined; limit?: number | undefined }): { cursor: string | null; limit: number } {
  return { cursor: q.cursor ?? null, limit: q.limit ?? DEFAULT_PAGE_LIMIT };
}

export const iso = (ms: number): string => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : iso(ms));

/** Parses a validated ISO time; `field` names it in a 400 if it falls outside the safe range. */
export function msOf(value: string, field: string): number {
  const ms = Date.parse(value);
  if (!Number.isSafeInteger(ms) || ms < 0) throw validationError([{ path: field, message: 'time out of range' }]);
  return ms;
}

/** "¥136.20" for 13620 fen. */
/** "¥1,362.00": the ledger's formatter with a symbol and thousands separators. */
export function formatFen(fen: bigint): string {
  return formatLedgerFen(fen, { grouped: true, symbol: '¥' });
}

/** "2.5" P → 25 000 deci-TFLOPS exactly; undefined for more than 4 decimals or zero. */
export function deciTflopsOfP(p: string): number | undefined {
  const m = /^([0-9]{1,7})(?:\.([0-9]{1,4}))?$/.exec(p);
  if (!m) return undefined;
  const v = Number(m[1]) * 10_000 + Number((m[2] ?? '').padEnd(4, '0'));
  return v > 0 ? v : undefined;
}

/** 25 000 deci-TFLOPS → "2.5". */
export function pOfDeciTflops(deci: number): string {
  const whole = Math.floor(deci / 10_000);
  const frac = (deci % 10_000).toString().padStart(4, '0').replace(/0+$/, '');
  return frac === '' ? String(whole) : `${whole}.${frac}`;
}
