/**
 * Lease billing. An active lease is billed per second out of the buyer's escrow: the provider
 * earns the charge minus the platform fee, the fee account gets the fee. Every settlement
 * posts only the delta between the cumulative charge now and what was already settled, so
 * how often the exchange settles never changes what anyone pays or earns.
 *
 * Ending early refunds the unused escrow to where it came from; a provider-caused
 * interruption stops billing at the interruption and also pays the buyer an SLA credit out of
 * the provider's earnings.
 */
import { accountIds, isSafeId } from '../ledger/chart.js';
import { TransferFlags, type TransferCode } from '../ledger/codes.js';
import type { LedgerApi, TransferInput } from '../ledger/types.js';
import { ZERO_SPLIT, bpsOf, chargeFen, splitCharge, validBps, validTerms, type ChargeSplit } from './billing.js';
import { fundingTotalFen, voucherFundedFen, type LeaseFunding } from './hold.js';
import { commit, reject, succeed, type OpResult } from './result.js';
import { voucherValid } from './voucher.js';

export interface LeaseTerms {
  readonly leaseId: string;
  readonly buyerId: string;
  readonly providerId: string;
  readonly priceFenPerGpuHour: number;
  readonly gpuCount: number;
  readonly startMs: number;
  readonly durationMs: number;
  /** Platform fee in basis points, fixed when the lease opens so later rate changes never reach back. */
  readonly feeBps: number;
}

export type EndReason = 'completed' | 'buyer_stopped' | 'job_exited' | 'provider_interrupted';

export interface Refund {
  readonly voucherFen: bigint;
  readonly cashFen: bigint;
  /** Unused voucher money whose voucher had expired: back to the sponsor, not to the buyer. */
  readonly toSponsorFen: bigint;
}

export interface LeaseBilling extends LeaseTerms {
  readonly endMs: number;
  readonly funding: LeaseFunding;
  /** Cumulative amounts already posted to the ledger. */
  readonly settled: ChargeSplit;
  readonly billedUntilMs: number;
  /** Settlements written so far; numbers the next one's transfer ids. */
  readonly settlements: number;
  readonly state: 'active' | 'ended';
  readonly endReason: EndReason | undefined;
  readonly refund: Refund;
  readonly slaCreditFen: bigint;
  /** SLA credit owed but not paid because the provider's earnings could not cover it. */
  readonly slaShortfallFen: bigint;
}

// Shared by every lease that opens (one per trade, kept while it runs): read-only, never changed in place.
const NO_REFUND: Refund = { voucherFen: 0n, cashFen: 0n, toSponsorFen: 0n };
const NO_TRANSFER_IDS: readonly string[] = [];

/** Starts billing a lease whose escrow a fill has funded. Pure: writes nothing. */
export function openLease(terms: LeaseTerms, funding: LeaseFunding): OpResult<LeaseBilling> {
  if (!isSafeId(terms.leaseId) || !isSafeId(terms.buyerId) || !isSafeId(terms.providerId)) return reject('id_invalid');
  if (!validTerms(terms.priceFenPerGpuHour, terms.gpuCount, terms.durationMs)) return reject('terms_invalid');
  if (!Number.isSafeInteger(terms.startMs) || terms.startMs < 0 || !validBps(terms.feeBps)) return reject('terms_invalid');
  if (fundingTotalFen(funding) < chargeFen(terms.priceFenPerGpuHour, terms.gpuCount, terms.durationMs)) {
    return reject('funding_short');
  }
  // Spelled out rather than `{ ...terms, … }`: V8 builds a spread followed by new properties
  // on a slow path (tens of µs), and a lease opens on every trade.
  const lease: LeaseBilling = {
    leaseId: terms.leaseId,
    buyerId: terms.buyerId,
    providerId: terms.providerId,
    priceFenPerGpuHour: terms.priceFenPerGpuHour,
    gpuCount: terms.gpuCount,
    startMs: terms.startMs,
    durationMs: terms.durationMs,
    feeBps: terms.feeBps,
    endMs: terms.startMs + terms.durationMs,
    funding,
    settled: ZERO_SPLIT,
    billedUntilMs: terms.startMs,
    settlements: 0,
    state: 'active',
    endReason: undefined,
    refund: NO_REFUND,
    slaCreditFen: 0n,
    slaShortfallFen: 0n,
  };
  return { ok: true, value: lease, transferIds: NO_TRANSFER_IDS, replayed: false };
}

/** The billable instant for `nowMs`: inside the lease window and never before the last one. */
function billableUntil(lease: LeaseBilling, nowMs: number): number {
  const inWindow = Math.min(Math.max(nowMs, lease.startMs), lease.endMs);
  return Math.max(inWindow, lease.billedUntilMs);
}

function chargeAt(lease: LeaseBilling, atMs: number): bigint {
  return chargeFen(lease.priceFenPerGpuHour, lease.gpuCount, atMs - lease.startMs);
}

function move(id: string, from: string, to: string, amountFen: bigint, code: TransferCode, leaseId: string): TransferInput {
  return { id, debitAccountId: from, creditAccountId: to, amountFen, code, userData: leaseId };
}

/** The transfers that bring the settled split up to the cumulative split at `untilMs`. */
function settlement(lease: LeaseBilling, untilMs: number, prefix: string): { transfers: TransferInput[]; split: ChargeSplit } {
  const split = splitCharge(chargeAt(lease, untilMs), voucherFundedFen(lease.funding), lease.feeBps);
  const s = lease.settled;
  const voucherFee = split.voucherFeeFen - s.voucherFeeFen;
  const voucherNet = split.voucherChargeFen - s.voucherChargeFen - voucherFee;
  const cashFee = split.cashFeeFen - s.cashFeeFen;
  const cashNet = split.cashChargeFen - s.cashChargeFen - cashFee;
  const voucherEscrow = accountIds.voucherEscrow(lease.buyerId);
  const escrow = accountIds.escrow(lease.buyerId);
  const earnings = accountIds.earnings(lease.providerId);
  const candidates = [
    move(`${prefix}vs`, voucherEscrow, earnings, voucherNet, 'voucher_spend', lease.leaseId),
    move(`${prefix}vf`, voucherEscrow, accountIds.fees, voucherFee, 'fee', lease.leaseId),
    move(`${prefix}cs`, escrow, earnings, cashNet, 'settle', lease.leaseId),
    move(`${prefix}cf`, escrow, accountIds.fees, cashFee, 'fee', lease.leaseId),
  ];
  if (candidates.some((t) => t.amountFen! < 0n)) throw new Error(`lease ${lease.leaseId}: settlement would go backwards`);
  return { transfers: candidates.filter((t) => t.amountFen! > 0n), split };
}

/**
 * What the lease has cost up to `nowMs` (capped at its end), settled or not: what `accrue` at
 * `nowMs` would bring its charge to. Between settlements (the server settles once a minute) this
 * is what a buyer sees grow by the second.
 */
export function accruedChargeFen(lease: LeaseBilling, nowMs: number): bigint {
  return chargeAt(lease, billableUntil(lease, nowMs));
}

/** Bills the lease up to `nowMs` (capped at its end). Safe to call as often as wanted. */
export function accrue(ledger: LedgerApi, lease: LeaseBilling, nowMs: number): OpResult<LeaseBilling> {
  if (lease.state !== 'active') return reject('lease_not_active');
  const untilMs = billableUntil(lease, nowMs);
  const { transfers, split } = settlement(lease, untilMs, `lease:${lease.leaseId}:s${lease.settlements + 1}:`);
  const committed = commit(ledger, transfers, nowMs);
  if (!committed.ok) return committed;
  const settlements = transfers.length > 0 ? lease.settlements + 1 : lease.settlements;
  return succeed({ ...lease, settled: split, billedUntilMs: untilMs, settlements }, committed);
}

/**
 * Unused escrow back to the source each fen came from. Charges draw on the voucher parts
 * first (in hold order: earliest expiry first), then on cash, so the unused fen are the cash
 * not yet charged and the tail of the voucher parts. Voucher fen go back to their voucher
 * while it is valid at `nowMs`, and to its sponsor once it has expired (never to cash).
 */
function refunds(lease: LeaseBilling, split: ChargeSplit, nowMs: number): { transfers: TransferInput[]; refund: Refund } {
  const transfers: TransferInput[] = [];
  let voucherFen = 0n;
  let toSponsorFen = 0n;
  let spentLeft = split.voucherChargeFen;
  const voucherEscrow = accountIds.voucherEscrow(lease.buyerId);
  lease.funding.voucherParts.forEach((part, k) => {
    const spent = part.amountFen < spentLeft ? part.amountFen : spentLeft;
    spentLeft -= spent;
    const unused = part.amountFen - spent;
    if (unused === 0n) return;
    if (voucherValid(part, nowMs)) {
      transfers.push(move(`lease:${lease.leaseId}:refund:v${k}`, voucherEscrow, part.accountId, unused, 'refund', lease.leaseId));
      voucherFen += unused;
    } else {
      const sponsor = accountIds.sponsor(part.programmeId);
      transfers.push(move(`lease:${lease.leaseId}:expire:v${k}`, voucherEscrow, sponsor, unused, 'voucher_expire', lease.leaseId));
      toSponsorFen += unused;
    }
  });
  const cashFen = lease.funding.cashFen - split.cashChargeFen;
  if (cashFen > 0n) {
    const escrow = accountIds.escrow(lease.buyerId);
    transfers.push(move(`lease:${lease.leaseId}:refund:cash`, escrow, accountIds.cash(lease.buyerId), cashFen, 'refund', lease.leaseId));
  }
  return { transfers, refund: { voucherFen, cashFen, toSponsorFen } };
}

/** Buyer stops, job exits, or the term is over: bill to now and refund the rest at once. */
export function endLease(
  ledger: LedgerApi,
  lease: LeaseBilling,
  nowMs: number,
  reason: Exclude<EndReason, 'provider_interrupted'>,
): OpResult<LeaseBilling> {
  if (lease.state !== 'active') return reject('lease_not_active');
  const untilMs = billableUntil(lease, nowMs);
  const bill = settlement(lease, untilMs, `lease:${lease.leaseId}:end:`);
  const back = refunds(lease, bill.split, nowMs);
  const committed = commit(ledger, [...bill.transfers, ...back.transfers], nowMs);
  if (!committed.ok) return committed;
  const ended: LeaseBilling = {
    ...lease,
    settled: bill.split,
    billedUntilMs: untilMs,
    state: 'ended',
    endReason: reason,
    refund: back.refund,
  };
  return succeed(ended, committed);
}

export interface InterruptArgs {
  /** When the provider's side failed (e.g. the last good heartbeat). */
  readonly interruptedAtMs: number;
  /** SLA credit as a multiple of the downtime's value, in basis points (20_000 = 2×). */
  readonly slaCreditMultipleBps: number;
}

/** Upper bound on the SLA multiple (100×), so a typo cannot drain a provider. */
export const MAX_SLA_MULTIPLE_BPS = 1_000_000;

/**
 * A provider-caused interruption (node lost, workload killed by the host), detected at `nowMs`.
 *
 * - Billing stops at the interruption: the downtime (interruption → detection) and the rest of
 *   the term are unused time, refunded to their sources like any early end.
 * - On top, the buyer gets an SLA credit of `multiple × value of the downtime` from the
 *   provider's earnings, so even a 1× multiple is compensation, not just a refund.
 * - Settlements cannot run backwards, so downtime that was already billed before detection
 *   (settling during the missed heartbeats) is paid back with the credit, also from earnings:
 *   the buyer never pays for downtime, whatever the settling rhythm.
 *
 * Shortfall policy: the credit is a balancing transfer, so it takes at most what the provider's
 * earnings hold (never driving them negative); the unpaid rest is recorded on the lease as
 * `slaShortfallFen` for the exchange to recover later. The platform does not cover it.
 */
export function interruptLease(
  ledger: LedgerApi,
  lease: LeaseBilling,
  args: InterruptArgs,
  nowMs: number,
): OpResult<LeaseBilling> {
  if (lease.state !== 'active') return reject('lease_not_active');
  if (!validBps(args.slaCreditMultipleBps, MAX_SLA_MULTIPLE_BPS) || !Number.isSafeInteger(args.interruptedAtMs)) {
    return reject('terms_invalid');
  }
  const detectedMs = billableUntil(lease, nowMs);
  const downFromMs = Math.min(Math.max(args.interruptedAtMs, lease.startMs), detectedMs);
  const untilMs = Math.max(downFromMs, lease.billedUntilMs);
  const bill = settlement(lease, untilMs, `lease:${lease.leaseId}:end:`);
  const back = refunds(lease, bill.split, nowMs);
  const downtimeValueFen = chargeAt(lease, detectedMs) - chargeAt(lease, downFromMs);
  const billedDowntimeFen = chargeAt(lease, untilMs) - chargeAt(lease, downFromMs);
  const creditFen = billedDowntimeFen + bpsOf(downtimeValueFen, args.slaCreditMultipleBps);
  const slaId = `lease:${lease.leaseId}:sla`;
  const sla: TransferInput[] =
    creditFen > 0n
      ? [
          {
            ...move(slaId, accountIds.earnings(lease.providerId), accountIds.cash(lease.buyerId), creditFen, 'sla_credit', lease.leaseId),
            flags: TransferFlags.balancingDebit,
          },
        ]
      : [];
  const committed = commit(ledger, [...bill.transfers, ...back.transfers, ...sla], nowMs);
  if (!committed.ok) return committed;
  const paidFen = creditFen > 0n ? ledger.getTransfer(slaId)!.amountFen : 0n;
  const ended: LeaseBilling = {
    ...lease,
    settled: bill.split,
    billedUntilMs: untilMs,
    state: 'ended',
    endReason: 'provider_interrupted',
    refund: back.refund,
    slaCreditFen: paidFen,
    slaShortfallFen: creditFen - paidFen,
  };
  return succeed(ended, committed);
}
