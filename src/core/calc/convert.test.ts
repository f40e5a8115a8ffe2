import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convertPrice, type ConvertEstimate } from './convert.js';
import type { CalcResult } from './result.js';

function value(r: CalcResult<ConvertEstimate>): ConvertEstimate {
  if (!r.ok) throw new Error(`${r.code} ${r.field}: ${r.message}`);
  return r.value;
}

describe('convertPrice', () => {
  it('A100 40G NVLink mean ¥22.7/GPU-hour → server-hour, server-month and P-year', () => {
    const e = value(convertPrice({ tflopsPerGpu: 312, pricePerGpuHourYuan: 22.7 }));
    expect(e.gpusPerServer).toBe(8);
    expect(e.pricePerGpuHourFen).toBe(2270);
    expect(e.pricePerServerHourYuan).toBeCloseTo(181.6, 9); // the paper rounds this to 180
    expect(e.pricePerServerMonthYuan).toBeCloseTo(132_568, 6);
    expect(e.pricePerServerMonthWan).toBeCloseTo(13.2568, 9);
    expect(e.pricePerPYearYuan).toBeCloseTo((22.7 * 8760) / 0.312, 6);
    expect(Math.round(e.pricePerPYearYuan)).toBe(637_346);
  });

  it('a server-month price converts back to GPU-hour (SEED 10.6万/台·月 → ¥18.15)', () => {
    const e = value(convertPrice({ tflopsPerGpu: 312, pricePerServerMonthYuan: 106_000 }));
    expect(e.pricePerServerMonthYuan).toBe(106_000);
    expect(e.pricePerGpuHourFen).toBe(1815);
  });

  it('a P-year price converts back (SEED H800 contract at 180k/P·年)', () => {
    const e = value(convertPrice({ tflopsPerGpu: 989, pricePerPYearYuan: 180_000 }));
    expect(e.pricePerPYearYuan).toBe(180_000);
    expect(e.pricePerGpuHourYuan).toBeCloseTo((180_000 * 0.989) / 8760, 9);
  });

  it('honours gpusPerServer', () => {
    const e = value(convertPrice({ tflopsPerGpu: 312, pricePerGpuHourYuan: 10, gpusPerServer: 4 }));
    expect(e.pricePerServerMonthYuan).toBe(29_200);
  });

  it('round-trips through each unit', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 1000, noNaN: true }), fc.double({ min: 1, max: 5000, noNaN: true }), (p, tf) => {
        const a = value(convertPrice({ tflopsPerGpu: tf, pricePerGpuHourYuan: p }));
        const b = value(convertPrice({ tflopsPerGpu: tf, pricePerServerMonthYuan: a.pricePerServerMonthYuan }));
        const c = value(convertPrice({ tflopsPerGpu: tf, pricePerPYearYuan: a.pricePerPYearYuan }));
        expect(b.pricePerGpuHourYuan).toBeCloseTo(p, 9);
        expect(c.pricePerGpuHourYuan).toBeCloseTo(p, 9);
      }),
    );
  });

  it('rejects bad input with stable codes', () => {
    expect(convertPrice({ tflopsPerGpu: 312 })).toMatchObject({ ok: false, code: 'CALC_MISSING_INPUT' });
    expect(convertPrice({ tflopsPerGpu: 312, pricePerGpuHourYuan: 1, pricePerPYearYuan: 2 })).toMatchObject({
      ok: false,
      code: 'CALC_CONFLICTING_INPUT',
    });
    expect(convertPrice({ tflopsPerGpu: 0, pricePerGpuHourYuan: 1 })).toMatchObject({
      ok: false,
      code: 'CALC_INVALID_INPUT',
      field: 'tflopsPerGpu',
    });
    expect(convertPrice({ tflopsPerGpu: 312, pricePerGpuHourYuan: -1 })).toMatchObject({
      ok: false,
      code: 'CALC_INVALID_INPUT',
      field: 'pricePerGpuHourYuan',
    });
    expect(convertPrice({ tflopsPerGpu: 312, pricePerGpuHourYuan: 1, gpusPerServer: 0 })).toMatchObject({
      ok: false,
      code: 'CALC_INVALID_INPUT',
      field: 'gpusPerServer',
    });
  });
});
