import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getAccelerator, listAccelerators } from './accelerators.js';
import type { Accelerator } from './types.js';
import {
  HOURS_PER_MONTH,
  HOURS_PER_YEAR,
  fenPerGpuHourFromWanPerPYear,
  fenPerGpuHourFromWanPerServerMonth,
  fenPerPHourFromFenPerGpuHour,
  fenToYuan,
  formatFenPerGpuHour,
  formatPflops,
  formatYuanPerPYear,
  formatYuanPerServerMonth,
  groupThousands,
  pflopsOfGpu,
  pflopsOfNode,
  roundHalfUp,
  roundTo,
  wanPerPYearFromFenPerGpuHour,
  wanPerServerMonthFromFenPerGpuHour,
  yuanPerGpuHourFromPYear,
  yuanPerGpuHourFromServerMonth,
  yuanPerPYearFromGpuHour,
  yuanPerServerMonthFromGpuHour,
  yuanToFen,
} from './units.js';

function acc(id: string): Accelerator {
  const a = getAccelerator(id);
  if (a === undefined) throw new Error(`missing ${id}`);
  return a;
}

const A100 = acc('nvidia-a100-sxm4-40g');

describe('time constants', () => {
  it('a month is a twelfth of a 365-day year', () => {
    expect(HOURS_PER_YEAR).toBe(365 * 24);
    expect(HOURS_PER_MONTH * 12).toBe(HOURS_PER_YEAR);
  });
});

describe('P (PFLOPS)', () => {
  it('one A100 is 0.312 P; 8 × A100 is exactly 2.496 P, shown as "2.5 P"', () => {
    expect(pflopsOfGpu(A100)).toBe(0.312);
    expect(pflopsOfNode(A100, 8)).toBeCloseTo(2.496, 12);
    expect(pflopsOfNode(A100)).toBeCloseTo(2.496, 12);
    expect(formatPflops(pflopsOfNode(A100, 8))).toBe('2.5 P');
    expect(formatPflops(pflopsOfNode(A100, 8), 3)).toBe('2.496 P');
  });

  it('scales linearly with GPU count', () => {
    for (const a of listAccelerators()) expect(pflopsOfNode(a, 4)).toBeCloseTo(4 * pflopsOfGpu(a), 12);
  });
});

describe('rounding', () => {
  it('rounds half up after snapping binary error', () => {
    expect(roundHalfUp(2269.9999999999995)).toBe(2270);
    expect(roundHalfUp(1.005 * 100)).toBe(101);
    expect(roundHalfUp(0.5)).toBe(1);
    expect(roundHalfUp(2.4999)).toBe(2);
    expect(roundTo(2.675, 2)).toBe(2.68);
    expect(roundTo(1.35, 1)).toBe(1.4);
  });

  it('turns yuan into integer fen', () => {
    expect(yuanToFen(22.7)).toBe(2270);
    expect(yuanToFen(0.015)).toBe(2);
    expect(yuanToFen(19.3)).toBe(1930);
    expect(Number.isInteger(yuanToFen(1 / 3))).toBe(true);
  });
});

describe('price conversions', () => {
  it('GPU-hour ↔ server-month uses 8 GPUs × 730 hours', () => {
    expect(yuanPerServerMonthFromGpuHour(22.7)).toBeCloseTo(22.7 * 8 * 730, 6);
    expect(yuanPerServerMonthFromGpuHour(10, 4)).toBe(29_200);
    expect(yuanPerGpuHourFromServerMonth(29_200, 4)).toBe(10);
  });

  it('GPU-hour ↔ P-year uses 8760 hours and the exact P of one GPU', () => {
    // 180 yuan per 8×A100 server-hour = 22.5 per GPU-hour → 22.5 × 8760 / 0.312
    expect(yuanPerPYearFromGpuHour(22.5, A100)).toBeCloseTo((22.5 * 8760) / 0.312, 6);
    expect(yuanPerGpuHourFromPYear(yuanPerPYearFromGpuHour(22.5, A100), A100)).toBeCloseTo(22.5, 10);
  });

  it('converts SEED server-month prices to fen per GPU-hour', () => {
    // 10.6万/台·月 (A100 40G NVLink mean) → 106000 / (8 × 730) = 18.15 yuan/GPU-hour
    expect(fenPerGpuHourFromWanPerServerMonth(10.6)).toBe(1815);
    expect(wanPerServerMonthFromFenPerGpuHour(1815)).toBeCloseTo(10.5996, 4);
  });

  it('fen → 万元/台·月 → fen is the identity for every whole fen price', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000_00 }), fc.integer({ min: 1, max: 16 }), (fen, gpus) => {
        expect(fenPerGpuHourFromWanPerServerMonth(wanPerServerMonthFromFenPerGpuHour(fen, gpus), gpus)).toBe(fen);
      }),
    );
  });

  it('fen → 万元/P·年 → fen is the identity for every whole fen price and every model', () => {
    const models = listAccelerators();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000_00 }), fc.integer({ min: 0, max: models.length - 1 }), (fen, i) => {
        const a = models[i] as Accelerator;
        expect(fenPerGpuHourFromWanPerPYear(wanPerPYearFromFenPerGpuHour(fen, a), a)).toBe(fen);
      }),
    );
  });

  it('normalises to fen per P-hour for cross-model comparison', () => {
    expect(fenPerPHourFromFenPerGpuHour(2270, A100)).toBeCloseTo(2270 / 0.312, 9);
    expect(fenToYuan(2270)).toBe(22.7);
  });
});

describe('display', () => {
  it('formats ¥/卡·时, 万元/台·月 and 万元/P·年', () => {
    expect(formatFenPerGpuHour(2270)).toBe('¥22.70/卡·时');
    expect(formatFenPerGpuHour(2270, 'en')).toBe('¥22.70/GPU-hour');
    expect(formatFenPerGpuHour(123_456_78)).toBe('¥123,456.78/卡·时');
    expect(formatYuanPerServerMonth(132_568)).toBe('13.26万元/台·月');
    expect(formatYuanPerServerMonth(132_568, 'en')).toBe('¥132,568/server-month');
    expect(formatYuanPerPYear(630_720)).toBe('63.07万元/P·年');
    expect(formatYuanPerPYear(630_720.4, 'en')).toBe('¥630,720/P-year');
  });

  it('groups thousands without locale', () => {
    expect(groupThousands(0)).toBe('0');
    expect(groupThousands(999.5)).toBe('1,000');
    expect(groupThousands(1_234_567.891, 2)).toBe('1,234,567.89');
    expect(groupThousands(-1234)).toBe('-1,234');
  });
});
