/**
 * The billing arithmetic. Every charge is a function of the cumulative elapsed time, never a
 * sum of rounded pieces, so settling every second, every minute or once gives the same fen,
 * and a whole lease costs exactly price × GPUs × hours.
 */

export const MS_PER_HOUR = 3_600_000;
export const BPS_PER_UNIT = 10_000;
/** Most GPUs one lease may bill (a whole rack of 8-GPU servers is far below). */
export const MAX_GPUS_PER_LEASE = 100_000;
/** Longest lease term: ten years. Bounds every product below far inside 2^63 fen. */
export const MAX_LEASE_MS = 10 * 366 * 24 * MS_PER_HOUR;

const HOUR = BigInt(MS_PER_HOUR);
const BPS = BigInt(BPS_PER_UNIT);

function isCount(n: number, max: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n <= max;
}

/** A price, a GPU count and a duration that the arithmetic below accepts. */
export function validTerms(priceFenPerGpuHour: number, gpuCount: number, durationMs: number): boolean {
  return (
    isCount(priceFenPerGpuHour, Number.MAX_SAFE_INTEGER) &&
    priceFenPerGpuHour > 0 &&
    isCount(gpuCount, MAX_GPUS_PER_LEASE) &&
    gpuCount > 0 &&
    isCount(durationMs, MAX_LEASE_MS) &&
    durationMs > 0
  );
}

export function validBps(bps: number, max: number = BPS_PER_UNIT): boolean {
  return isCount(bps, max);
}

/** `floor(price × GPUs × elapsed_ms / 3_600_000)`: what the first `elapsedMs` of a lease cost. */
export function chargeFen(priceFenPerGpuHour: number, gpuCount: number, elapsedMs: number): bigint {
  if (!isCount(priceFenPerGpuHour, Number.MAX_SAFE_INTEGER) || !isCount(gpuCount, MAX_GPUS_PER_LEASE)) {
    throw new RangeError('chargeFen: price and GPU count must be non-negative safe integers');
  }
  if (!isCount(elapsedMs, Number.MAX_SAFE_INTEGER)) throw new RangeError('chargeFen: elapsedMs must be a safe integer ≥ 0');
  return (BigInt(priceFenPerGpuHour) * BigInt(gpuCount) * BigInt(elapsedMs)) / HOUR;
}

/** `floor(amount × bps / 10_000)`: a rate in basis points applied to fen, rounded down. */
export function bpsOf(amountFen: bigint, bps: number): bigint {
  return (amountFen * BigInt(bps)) / BPS;
}

/** A bid's worst case: its limit for all its GPUs for its whole term. */
export function bidWorstCaseFen(limitFenPerGpuHour: number, gpuCount: number, durationMs: number): bigint {
  return chargeFen(limitFenPerGpuHour, gpuCount, durationMs);
}

/**
 * A compute-amount bid's worst case: limit per P-hour × P × hours, with P in thousandths
 * (2.5 P = 2500 milli-P). Rounded up: a hold may be a fen too large, never a fen too small.
 * The trade may still cost more when whole GPUs overshoot the P asked for; the fill then tops
 * the escrow up from cash (see fillBid).
 */
export function computeBidWorstCaseFen(limitFenPerPHour: number, milliP: number, durationMs: number): bigint {
  if (!isCount(limitFenPerPHour, Number.MAX_SAFE_INTEGER) || !isCount(milliP, Number.MAX_SAFE_INTEGER)) {
    throw new RangeError('computeBidWorstCaseFen: limit and milliP must be non-negative safe integers');
  }
  if (!isCount(durationMs, MAX_LEASE_MS)) throw new RangeError('computeBidWorstCaseFen: duration out of range');
  const numerator = BigInt(limitFenPerPHour) * BigInt(milliP) * BigInt(durationMs);
  const denominator = 1000n * HOUR;
  return (numerator + denominator - 1n) / denominator;
}

/** The cumulative charge of a lease, split by who funded it and what the platform keeps. */
export interface ChargeSplit {
  readonly voucherChargeFen: bigint;
  readonly cashChargeFen: bigint;
  readonly voucherFeeFen: bigint;
  readonly cashFeeFen: bigint;
}

export const ZERO_SPLIT: ChargeSplit = { voucherChargeFen: 0n, cashChargeFen: 0n, voucherFeeFen: 0n, cashFeeFen: 0n };

/**
 * Splits a cumulative charge: voucher money is spent first (up to what vouchers funded), the
 * fee is `floor(charge × bps)` on the total, and the voucher share of the fee is
 * `floor(voucherCharge × bps)`. All four parts only grow as the charge grows, so the deltas a
 * settlement posts are never negative, and provider + fee always equals the charge.
 */
export function splitCharge(chargeFen: bigint, voucherFundedFen: bigint, feeBps: number): ChargeSplit {
  const voucherChargeFen = chargeFen < voucherFundedFen ? chargeFen : voucherFundedFen;
  const feeFen = bpsOf(chargeFen, feeBps);
  const voucherFeeFen = bpsOf(voucherChargeFen, feeBps);
  return {
    voucherChargeFen,
    cashChargeFen: chargeFen - voucherChargeFen,
    voucherFeeFen,
    cashFeeFen: feeFen - voucherFeeFen,
  };
}
