import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatFen, parseYuan } from '../ledger/money.js';
import {
  MAX_PRICE_FEN_PER_GPU_HOUR,
  bidWorstCaseFen,
  bpsOf,
  chargeFen,
  computeBidHoldFen,
  computeBidWorstCaseFen,
  splitCharge,
  validTerms,
} from './billing.js';

const HOUR_MS = 3_600_000;

describe('billing arithmetic', () => {
  it('prices the worked example exactly: 3 GPUs × 22.70 CNY × 2 h = 136.20 CNY', () => {
    expect(chargeFen(2270, 3, 2 * HOUR_MS)).toBe(13_620n);
    expect(formatFen(chargeFen(2270, 3, 2 * HOUR_MS))).toBe('136.20');
  });

  it('charges exactly what BigInt arithmetic gives, on both sides of 2^53 (its fast path is in doubles)', () => {
    const exact = (p: number, g: number, ms: number): bigint => (BigInt(p) * BigInt(g) * BigInt(ms)) / 3_600_000n;
    const edges: [number, number, number][] = [
      [0, 0, 0],
      [1, 1, 3_599_999],
      [1, 1, 3_600_000],
      [MAX_PRICE_FEN_PER_GPU_HOUR, 100_000, 900_719], // product just below 2^53
      [MAX_PRICE_FEN_PER_GPU_HOUR, 100_000, 900_720], // just above
      [Number.MAX_SAFE_INTEGER, 1, 1],
      [Number.MAX_SAFE_INTEGER, 1, 3_600_001],
      [3, 1, Math.floor(Number.MAX_SAFE_INTEGER / 3)],
      [94_906_267, 94_906_267, 1], // (2^53 − 1)'s neighbourhood through the first product
    ];
    for (const [p, g, ms] of edges) expect(chargeFen(p, Math.min(g, 100_000), ms)).toBe(exact(p, Math.min(g, 100_000), ms));
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: MAX_PRICE_FEN_PER_GPU_HOUR }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        fc.integer({ min: 0, max: 100_000 }),
        fc.oneof(fc.integer({ min: 0, max: 10 * HOUR_MS }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        (p, g, ms) => chargeFen(p, g, ms) === exact(p, g, ms),
      ),
      { numRuns: 5_000 },
    );
  });

  it('charges 37 min 13 s at the per-second amount, rounded down once, and splits the fee exactly', () => {
    const elapsedMs = (37 * 60 + 13) * 1000;
    // 2270 × 3 × 2233 s / 3600 s = 4224.09… fen
    expect(chargeFen(2270, 3, elapsedMs)).toBe(4224n);
    // per second: 2233 whole seconds at 6810 fen per hour, rounded down once
    expect(chargeFen(2270, 3, elapsedMs)).toBe((6810n * 2233n) / 3600n);
    const split = splitCharge(4224n, 0n, 500);
    expect(split.cashFeeFen).toBe(211n); // 211.2 → 211: the fee rounds down, the provider keeps the fen
    expect(split.cashChargeFen - split.cashFeeFen).toBe(4013n);
  });

  it('splits a fee at 500 bps exactly: provider + fee = charge, voucher and cash apart', () => {
    const split = splitCharge(13_620n, 0n, 500);
    expect(split).toEqual({ voucherChargeFen: 0n, cashChargeFen: 13_620n, voucherFeeFen: 0n, cashFeeFen: 681n });
    // 5 % of 136.20 is exactly 6.81: the provider's 95 % is 129.39, nothing lost to rounding
    expect(split.cashChargeFen - split.cashFeeFen).toBe((13_620n * 9_500n) / 10_000n);
    const mixed = splitCharge(13_620n, 5_000n, 500);
    expect(mixed).toEqual({ voucherChargeFen: 5_000n, cashChargeFen: 8_620n, voucherFeeFen: 250n, cashFeeFen: 431n });
    expect(mixed.voucherFeeFen + mixed.cashFeeFen).toBe(681n);
  });

  it('sizes GPU bid holds exactly: limit × GPUs × hours', () => {
    expect(bidWorstCaseFen(2500, 8, 24 * HOUR_MS)).toBe(480_000n);
    expect(bidWorstCaseFen(2270, 3, 2 * HOUR_MS)).toBe(13_620n);
  });

  it('sizes compute-amount bid holds on the whole GPUs the engine will actually trade', () => {
    // 2.5 P for 1 h at 1001 fen per P-hour, if the amount were bought exactly: 2502.5 → 2502
    expect(computeBidWorstCaseFen(1001, 25_000, HOUR_MS)).toBe(2502n);
    // On 312-TFLOPS GPUs, 2.5 P is 8.01 GPUs: the engine buys 9 (28.08 P·h). The hold covers the
    // amount plus one more GPU than the rest could need: 25_000 − 1 + 3120 deci-TFLOPS.
    const a100 = { limitFenPerPHour: 10_000, remainingDeciTflops: 25_000, acceleratorDeciTflops: [3120], durationMs: HOUR_MS };
    expect(computeBidHoldFen({ ...a100, gpusPerNode: undefined })).toBe(28_119n);
    // ... which covers the 9 GPUs at the highest price the limit admits (floor(10_000 × 3120 / 10_000) per GPU-hour)
    expect(chargeFen(3120, 9, HOUR_MS)).toBe(28_080n);
    // whole 8-GPU servers: one more group of 8 at most (the engine buys 16 GPUs = 49_920)
    expect(computeBidHoldFen({ ...a100, gpusPerNode: 8 })).toBe(49_959n);
    // accepting a bigger GPU too (1200 TFLOPS): the largest GPU bounds the overshoot
    expect(computeBidHoldFen({ ...a100, acceleratorDeciTflops: [3120, 12_000], gpusPerNode: undefined })).toBe(36_999n);
  });

  it('rejects terms outside the safe range', () => {
    expect(validTerms(2270, 3, HOUR_MS)).toBe(true);
    expect(validTerms(0, 3, HOUR_MS)).toBe(false);
    expect(validTerms(22.7, 3, HOUR_MS)).toBe(false);
    expect(validTerms(2270, 0, HOUR_MS)).toBe(false);
    expect(validTerms(2270, 3, -1)).toBe(false);
    expect(validTerms(MAX_PRICE_FEN_PER_GPU_HOUR, 100_000, 10 * 366 * 24 * HOUR_MS)).toBe(true);
    expect(validTerms(MAX_PRICE_FEN_PER_GPU_HOUR + 1, 1, HOUR_MS)).toBe(false);
    // the largest lease the terms admit still fits a ledger amount (2^63 − 1)
    expect(chargeFen(MAX_PRICE_FEN_PER_GPU_HOUR, 100_000, 10 * 366 * 24 * HOUR_MS)).toBeLessThan(1n << 63n);
    expect(() => chargeFen(1.5, 1, 1)).toThrow(RangeError);
    expect(() => chargeFen(1, 1, -1)).toThrow(RangeError);
    expect(() => computeBidWorstCaseFen(-1, 1, 1)).toThrow(RangeError);
    expect(() => computeBidWorstCaseFen(1, 1.5, 1)).toThrow(RangeError);
  });

  it('formats and parses fen without floating point', () => {
    expect(formatFen(5n)).toBe('0.05');
    expect(formatFen(-13_620n)).toBe('-136.20');
    expect(parseYuan('136.2')).toBe(13_620n);
    expect(parseYuan('22.70')).toBe(2270n);
    expect(parseYuan('-0.01')).toBe(-1n);
    expect(parseYuan('1.234')).toBeUndefined();
    expect(parseYuan('abc')).toBeUndefined();
  });

  it('settling at any set of instants sums to the one-shot charge (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 30 * 24 * HOUR_MS }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 50 }),
        fc.integer({ min: 0, max: 10_000 }),
        (price, gpus, durationMs, cuts, feeBps) => {
          const instants = [...cuts.map((c) => Math.floor(c * durationMs)), durationMs].sort((a, b) => a - b);
          let settled = 0n;
          let settledFee = 0n;
          for (const at of instants) {
            const charge = chargeFen(price, gpus, at);
            const delta = charge - settled;
            const feeDelta = bpsOf(charge, feeBps) - settledFee;
            expect(delta).toBeGreaterThanOrEqual(0n);
            expect(feeDelta).toBeGreaterThanOrEqual(0n);
            expect(feeDelta).toBeLessThanOrEqual(delta);
            settled += delta;
            settledFee += feeDelta;
          }
          expect(settled).toBe((BigInt(price) * BigInt(gpus) * BigInt(durationMs)) / 3_600_000n);
          expect(settledFee).toBe(bpsOf(settled, feeBps));
        },
      ),
    );
  });

  it('splits never shrink as the charge grows, and always add up (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.bigInt({ min: 0n, max: 10n ** 6n }),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.integer({ min: 0, max: 10_000 }),
        (charge, step, voucherFunded, bps) => {
          const a = splitCharge(charge, voucherFunded, bps);
          const b = splitCharge(charge + step, voucherFunded, bps);
          for (const key of ['voucherChargeFen', 'cashChargeFen', 'voucherFeeFen', 'cashFeeFen'] as const) {
            expect(b[key]).toBeGreaterThanOrEqual(a[key]);
          }
          // provider shares never shrink either
          expect(b.voucherChargeFen - b.voucherFeeFen).toBeGreaterThanOrEqual(a.voucherChargeFen - a.voucherFeeFen);
          expect(b.cashChargeFen - b.cashFeeFen).toBeGreaterThanOrEqual(a.cashChargeFen - a.cashFeeFen);
          expect(a.voucherChargeFen + a.cashChargeFen).toBe(charge);
          expect(a.voucherFeeFen + a.cashFeeFen).toBe(bpsOf(charge, bps));
          expect(a.cashFeeFen).toBeLessThanOrEqual(a.cashChargeFen);
        },
      ),
    );
  });
});
