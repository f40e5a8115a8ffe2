import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatFen, parseYuan } from '../ledger/money.js';
import { bidWorstCaseFen, bpsOf, chargeFen, computeBidWorstCaseFen, splitCharge, validTerms } from './billing.js';

const HOUR_MS = 3_600_000;

describe('billing arithmetic', () => {
  it('prices the worked example exactly: 3 GPUs × 22.70 CNY × 2 h = 136.20 CNY', () => {
    expect(chargeFen(2270, 3, 2 * HOUR_MS)).toBe(13_620n);
    expect(formatFen(chargeFen(2270, 3, 2 * HOUR_MS))).toBe('136.20');
  });

  it('charges 37 min 13 s at the per-second amount, rounded down once', () => {
    const elapsedMs = (37 * 60 + 13) * 1000;
    // 2270 × 3 × 2233 s / 3600 s = 4224.09… fen
    expect(chargeFen(2270, 3, elapsedMs)).toBe(4224n);
    expect(bpsOf(4224n, 500)).toBe(211n);
  });

  it('splits a fee at 500 bps exactly: provider + fee = charge', () => {
    const split = splitCharge(13_620n, 0n, 500);
    expect(split).toEqual({ voucherChargeFen: 0n, cashChargeFen: 13_620n, voucherFeeFen: 0n, cashFeeFen: 681n });
    expect(13_620n - 681n).toBe(12_939n);
  });

  it('sizes bid holds: GPU bids exactly, compute-amount bids rounded up', () => {
    expect(bidWorstCaseFen(2500, 8, 24 * HOUR_MS)).toBe(480_000n);
    // 2.5 P for 1 h at 1001 fen per P-hour = 2502.5 fen → 2503
    expect(computeBidWorstCaseFen(1001, 2500, HOUR_MS)).toBe(2503n);
    expect(computeBidWorstCaseFen(1000, 2500, HOUR_MS)).toBe(2500n);
  });

  it('rejects terms outside the safe range', () => {
    expect(validTerms(2270, 3, HOUR_MS)).toBe(true);
    expect(validTerms(0, 3, HOUR_MS)).toBe(false);
    expect(validTerms(22.7, 3, HOUR_MS)).toBe(false);
    expect(validTerms(2270, 0, HOUR_MS)).toBe(false);
    expect(validTerms(2270, 3, -1)).toBe(false);
    expect(() => chargeFen(1.5, 1, 1)).toThrow(RangeError);
    expect(() => chargeFen(1, 1, -1)).toThrow(RangeError);
    expect(() => computeBidWorstCaseFen(-1, 1, 1)).toThrow(RangeError);
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
