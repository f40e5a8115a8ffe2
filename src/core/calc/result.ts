/**
 * Calculator results: a value, or a rejection with a stable code. Calculators never throw on
 * bad input (DESIGN.md: business rejections are values; throw only for bugs).
 *
 * Codes are stable and never reused:
 * - CALC_INVALID_INPUT      a number is NaN, infinite, negative, zero where it divides, or out of range
 * - CALC_MISSING_INPUT      a required input is absent (e.g. neither totalFlop nor params+tokens)
 * - CALC_CONFLICTING_INPUT  two inputs that exclude each other are both given
 * - CALC_NO_PAYBACK         the investment never pays back (revenue ≤ cash cost)
 */
export type CalcErrorCode =
  | 'CALC_INVALID_INPUT'
  | 'CALC_MISSING_INPUT'
  | 'CALC_CONFLICTING_INPUT'
  | 'CALC_NO_PAYBACK';

export interface CalcError {
  readonly ok: false;
  readonly code: CalcErrorCode;
  /** Input field the rejection is about (the calculator's input property name). */
  readonly field: string;
  readonly message: string;
}

export interface CalcOk<T> {
  readonly ok: true;
  readonly value: T;
}

export type CalcResult<T> = CalcOk<T> | CalcError;

export function ok<T>(value: T): CalcOk<T> {
  return { ok: true, value };
}

export function fail(code: CalcErrorCode, field: string, message: string): CalcError {
  return { ok: false, code, field, message };
}

/** Checks shared by the calculators. Each returns a CalcError, or undefined when the value is fine. */

/** A finite number > 0 (it divides, or zero makes the answer meaningless). */
export function checkPositive(field: string, value: number): CalcError | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return fail('CALC_INVALID_INPUT', field, `${field} must be a finite number, got ${String(value)}`);
  }
  if (value <= 0) return fail('CALC_INVALID_INPUT', field, `${field} must be greater than 0, got ${value}`);
  return undefined;
}

/** A finite number ≥ 0. */
export function checkNonNegative(field: string, value: number): CalcError | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return fail('CALC_INVALID_INPUT', field, `${field} must be a finite number, got ${String(value)}`);
  }
  if (value < 0) return fail('CALC_INVALID_INPUT', field, `${field} must not be negative, got ${value}`);
  return undefined;
}

/** A fraction in (0, 1]: utilisation. */
export function checkFraction(field: string, value: number): CalcError | undefined {
  const bad = checkPositive(field, value);
  if (bad !== undefined) return bad;
  if (value > 1) return fail('CALC_INVALID_INPUT', field, `${field} must be in (0, 1], got ${value}`);
  return undefined;
}

/** A positive whole number: counts of models, GPUs. */
export function checkPositiveInteger(field: string, value: number): CalcError | undefined {
  const bad = checkPositive(field, value);
  if (bad !== undefined) return bad;
  if (!Number.isInteger(value)) return fail('CALC_INVALID_INPUT', field, `${field} must be a whole number, got ${value}`);
  return undefined;
}

/** The first rejection among `checks`, if any. */
export function firstError(...checks: readonly (CalcError | undefined)[]): CalcError | undefined {
  return checks.find((c): c is CalcError => c !== undefined);
}
