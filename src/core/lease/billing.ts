/**
 * The billing arithmetic. Every charge is a function of the cumulative elapsed time, never a
 * sum of rounded pieces, so settling every second, every minute or once gives the same fen,
 * and a whole lease costs exactly price × GPUs × hours.
 */
// The lease package takes exactly one thing from the market: how far a compute-amount bid can
// overshoot its amount, so the hold and the engine agree on the worst case.
import { worstCaseComputeDeciTflops } from '../market/rules.js';

export const MS_PER_HOUR = 3_600_000;
export const BPS_PER_UNIT = 10_000;
/** 1 P = 1000 dense FP16 TFLOPS = 10,000 deci-TFLOPS (the market's compute unit). */
export const DECI_TFLOPS_PER_P = 10_000;
/** Most GPUs one lease may bill (a whole rack of 8-GPU servers is far below). */
export const MAX_GPUS_PER_LEASE = 100_000;
/** Highest price per GPU-hour a lease may bill: 1,000,000 CNY, the market engine's cap too. */
export const MAX_PRICE_FEN_PER_GPU_HOUR = 100_000_000;
/**
 * Longest lease term: ten years. With the price and GPU caps this keeps a whole lease's cost
 * (1e8 × 1e5 × 3.2e11 ms / 3.6e6 ≈ 8.8e17 fen) inside 2^63 − 1, the ledger's limit.
 */
export const MAX_LEASE_MS = 10 * 366 * 24 * MS_PER_HOUR;

const HOUR = BigInt(MS_PER_HOUR);
const BPS = BigInt(BPS_PER_UNIT);
const DECI_TFLOPS_HOURS = BigInt(DECI_TFLOPS_PER_P) * HOUR;

function isCount(n: number, max: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n <= max;
}

/** A price, a GPU count and a duration that the arithmetic below accepts. */
export function validTerms(priceFenPerGpuHour: number, gpuCount: number, durationMs: number): boolean {
  return (
    isCount(priceFenPerGpuHour, MAX_PRICE_FEN_PER_GPU_HOUR) &&
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
  // Exact in doubles while the product stays a safe integer (a rounded product beyond 2^53 − 1
  // is never below it, so this test cannot pass by rounding): `p − p mod h` is then a multiple
  // of h, exact, and so is its quotient. Otherwise BigInt. (BigInt costs an allocation per step,
  // and every hold, trade and settlement prices something here.)
  const pg = priceFenPerGpuHour * gpuCount;
  if (pg <= Number.MAX_SAFE_INTEGER) {
    const p = pg * elapsedMs;
    if (p <= Number.MAX_SAFE_INTEGER) return BigInt((p - (p % MS_PER_HOUR)) / MS_PER_HOUR);
  }
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
 * A compute-amount bid's worst case: `floor(limit per P-hour × compute × duration)`, with the
 * compute in deci-TFLOPS *after* the engine's rounding up to whole GPUs (and whole
 * `gpusPerNode` groups): `worstCaseDeciTflops` comes from `worstCaseComputeDeciTflops`.
 * Rounding down is enough: the engine only takes asks with
 * `price × 10_000 ≤ limit × gpuDeciTflops`, so each lease's `floor(price × GPUs × ms / 3.6e6)`
 * summed over the trades is at most this floor.
 */
export function computeBidWorstCaseFen(limitFenPerPHour: number, worstCaseDeciTflops: number, durationMs: number): bigint {
  if (!isCount(limitFenPerPHour, Number.MAX_SAFE_INTEGER) || !isCount(worstCaseDeciTflops, Number.MAX_SAFE_INTEGER)) {
    throw new RangeError('computeBidWorstCaseFen: limit and compute must be non-negative safe integers');
  }
  if (!isCount(durationMs, MAX_LEASE_MS)) throw new RangeError('computeBidWorstCaseFen: duration out of range');
  return (BigInt(limitFenPerPHour) * BigInt(worstCaseDeciTflops) * BigInt(durationMs)) / DECI_TFLOPS_HOURS;
}

export interface ComputeBidHoldArgs {
  readonly limitFenPerPHour: number;
  /** What the bid still wants, in deci-TFLOPS (2.5 P = 25_000). */
  readonly remainingDeciTflops: number;
  /** Deci-TFLOPS of one GPU of each accelerator the bid accepts. */
  readonly acceleratorDeciTflops: readonly number[];
  readonly gpusPerNode: number | undefined;
  readonly durationMs: number;
}

/**
 * What a compute-amount bid must hold: its remaining amount rounded up the way the market
 * engine rounds it, priced at the limit. Pass the bid's remaining amount after a partial fill
 * as `FillArgs.remainingFen`. For a bid on one accelerator a fill's cost plus the new worst
 * case never exceeds the old one; across accelerators of different sizes see README.md.
 */
export function computeBidHoldFen(args: ComputeBidHoldArgs): bigint {
  const worst = worstCaseComputeDeciTflops(args.remainingDeciTflops, args.acceleratorDeciTflops, args.gpusPerNode);
  return computeBidWorstCaseFen(args.limitFenPerPHour, worst, args.durationMs);
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
