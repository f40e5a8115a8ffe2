/**
 * Bid holds. Placing a bid reserves its worst case as pending transfers into the buyer's
 * escrow accounts, voucher money first where the voucher's scope covers the bid, then cash.
 * A trade posts what the lease costs (re-sizing the hold to the actual price) and re-reserves
 * what the rest of the bid may still need; cancelling or expiring the bid voids what is left.
 *
 * Transfer ids derive from the bid id and the lease id, so a retried operation writes the
 * same ids and the ledger answers `exists` instead of moving money twice.
 */
import { accountIds, isSafeId } from '../ledger/chart.js';
import { TransferFlags } from '../ledger/codes.js';
import { MAX_FEN, availableFen, type LedgerApi, type TransferInput } from '../ledger/types.js';
import { commit, reject, succeed, type OpResult } from './result.js';
import { sweepTransfer, voucherCoversBid, voucherValid, type BidScope, type VoucherGrant } from './voucher.js';

/** Which voucher grant a piece of money came from (kept so refunds find their way back). */
export interface VoucherRef {
  readonly grantId: string;
  readonly programmeId: string;
  readonly accountId: string;
  readonly expiresAtMs: number;
}

export interface HoldSource {
  readonly funding: 'voucher' | 'cash';
  readonly pendingTransferId: string;
  readonly debitAccountId: string;
  readonly amountFen: bigint;
  readonly voucher?: VoucherRef;
}

export interface BidHold {
  readonly bidId: string;
  readonly buyerId: string;
  readonly state: 'held' | 'closed';
  readonly heldFen: bigint;
  /** Voucher sources first (earliest expiry first), then cash. */
  readonly sources: readonly HoldSource[];
  /** When the reservation lapses by itself (the bid's good-till time); undefined = never. */
  readonly expiresAtMs: number | undefined;
  readonly fills: number;
}

export interface VoucherPart extends VoucherRef {
  readonly amountFen: bigint;
}

/** Where a lease's escrow came from. Spent voucher-first; refunded per source. */
export interface LeaseFunding {
  readonly voucherParts: readonly VoucherPart[];
  readonly cashFen: bigint;
}

export function voucherFundedFen(f: LeaseFunding): bigint {
  return f.voucherParts.reduce((sum, p) => sum + p.amountFen, 0n);
}

export function fundingTotalFen(f: LeaseFunding): bigint {
  return voucherFundedFen(f) + f.cashFen;
}

export interface HoldForBidArgs {
  readonly bidId: string;
  readonly buyerId: string;
  /** The bid's worst case (see bidWorstCaseFen / computeBidHoldFen). */
  readonly amountFen: bigint;
  readonly scope: BidScope;
  /** The buyer's voucher grants; the eligible ones are drawn first. */
  readonly vouchers: readonly VoucherGrant[];
  /** Reservation lapses after this long (a GTD bid); 0 or absent = until released. */
  readonly timeoutMs?: number;
}

const refOf = (g: VoucherGrant): VoucherRef => ({
  grantId: g.grantId,
  programmeId: g.programmeId,
  accountId: g.accountId,
  expiresAtMs: g.expiresAtMs,
});

function escrowOf(buyerId: string, funding: 'voucher' | 'cash'): string {
  return funding === 'voucher' ? accountIds.voucherEscrow(buyerId) : accountIds.escrow(buyerId);
}

function pendingHold(id: string, buyerId: string, src: Omit<HoldSource, 'pendingTransferId'>, timeoutMs: number, bidId: string): TransferInput {
  return {
    id,
    debitAccountId: src.debitAccountId,
    creditAccountId: escrowOf(buyerId, src.funding),
    amountFen: src.amountFen,
    code: 'hold',
    flags: TransferFlags.pending,
    timeoutMs,
    userData: bidId,
  };
}

/** The id of a bid hold's `k`-th pending transfer. */
function holdTransferId(bidId: string, k: number): string {
  return `bid:${bidId}:hold:${k}`;
}

/**
 * The hold made of `sources`. The ledger starts a pending's timeout at its own clock (never behind
 * `nowMs`), so the lapse time of a hold that lapses is read back from the ledger, not computed from
 * the caller's clock (a lookup per bid otherwise).
 */
function heldBy(ledger: LedgerApi, args: HoldForBidArgs, timeoutMs: number, sources: HoldSource[], nowMs: number): BidHold {
  const startedMs = timeoutMs > 0 && sources.length > 0 ? ledger.getTransfer(sources[0]!.pendingTransferId)!.timestampMs : nowMs;
  return {
    bidId: args.bidId,
    buyerId: args.buyerId,
    state: 'held',
    heldFen: args.amountFen,
    sources,
    expiresAtMs: timeoutMs > 0 ? startedMs + timeoutMs : undefined,
    fills: 0,
  };
}

export function holdForBid(ledger: LedgerApi, args: HoldForBidArgs, nowMs: number): OpResult<BidHold> {
  if (!isSafeId(args.bidId) || !isSafeId(args.buyerId)) return reject('id_invalid');
  if (args.amountFen < 0n || args.amountFen > MAX_FEN) return reject('amount_invalid');
  const timeoutMs = args.timeoutMs ?? 0;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0) return reject('terms_invalid');
  // One string for the lookup and the transfer it names: the ledger hashes it once.
  const firstId = holdTransferId(args.bidId, 0);
  if (ledger.getTransfer(firstId) !== undefined) return replayHold(ledger, args, timeoutMs, nowMs);

  const sources: HoldSource[] = [];
  let left = args.amountFen;
  // Most buyers hold no vouchers: no filtered and sorted copies for them.
  const eligible =
    args.vouchers.length === 0
      ? args.vouchers
      : args.vouchers
          .filter((v) => v.userId === args.buyerId && voucherValid(v, nowMs) && voucherCoversBid(v.scope, args.scope))
          .sort((a, b) => a.expiresAtMs - b.expiresAtMs || (a.grantId < b.grantId ? -1 : 1));
  for (const v of eligible) {
    const account = ledger.getAccount(v.accountId);
    const take = account === undefined ? 0n : availableFen(account) < left ? availableFen(account) : left;
    if (take === 0n) continue;
    const id = sources.length === 0 ? firstId : holdTransferId(args.bidId, sources.length);
    sources.push({ funding: 'voucher', pendingTransferId: id, debitAccountId: v.accountId, amountFen: take, voucher: refOf(v) });
    left -= take;
    if (left === 0n) break;
  }
  if (left > 0n) {
    const id = sources.length === 0 ? firstId : holdTransferId(args.bidId, sources.length);
    sources.push({ funding: 'cash', pendingTransferId: id, debitAccountId: accountIds.cash(args.buyerId), amountFen: left });
  }
  const transfers = new Array<TransferInput>(sources.length);
  for (let i = 0; i < sources.length; i++) transfers[i] = pendingHold(sources[i]!.pendingTransferId, args.buyerId, sources[i]!, timeoutMs, args.bidId);
  const committed = commit(ledger, transfers, nowMs);
  return committed.ok ? succeed(heldBy(ledger, args, timeoutMs, sources, nowMs), committed) : committed;
}

/** A retry of a hold that was written: rebuild it from the ledger instead of re-planning. */
function replayHold(ledger: LedgerApi, args: HoldForBidArgs, timeoutMs: number, nowMs: number): OpResult<BidHold> {
  const differs = { ok: false, code: 'ledger_rejected', transferId: holdTransferId(args.bidId, 0), transferResult: 'exists_with_different_fields' } as const;
  const sources: HoldSource[] = [];
  for (let t = ledger.getTransfer(holdTransferId(args.bidId, 0)); t !== undefined; t = ledger.getTransfer(holdTransferId(args.bidId, sources.length))) {
    // Same id, other terms: a different bid reusing the id, not a retry of this one.
    if (t.timeoutMs !== timeoutMs || t.userData !== args.bidId || t.code !== 'hold') return differs;
    if (t.debitAccountId === accountIds.cash(args.buyerId)) {
      sources.push({ funding: 'cash', pendingTransferId: t.id, debitAccountId: t.debitAccountId, amountFen: t.amountFen });
      continue;
    }
    const grant = args.vouchers.find((v) => v.accountId === t!.debitAccountId);
    if (grant === undefined) return reject('voucher_unknown');
    sources.push({ funding: 'voucher', pendingTransferId: t.id, debitAccountId: t.debitAccountId, amountFen: t.amountFen, voucher: refOf(grant) });
  }
  const total = sources.reduce((sum, s) => sum + s.amountFen, 0n);
  if (total !== args.amountFen) return differs;
  return succeed(heldBy(ledger, args, timeoutMs, sources, nowMs), { ok: true, transferIds: sources.map((s) => s.pendingTransferId), replayed: true });
}

export interface FillArgs {
  /** The lease this trade opens; part of every transfer id of the fill. */
  readonly leaseId: string;
  /** What the lease will cost at the trade price for its whole term. */
  readonly costFen: bigint;
  /** Worst case the rest of the bid still needs reserved; 0 when it is filled or done. */
  readonly remainingFen: bigint;
}

export interface Fill {
  readonly hold: BidHold;
  readonly funding: LeaseFunding;
}

const NO_PARTS: readonly VoucherPart[] = [];

function usable(src: HoldSource, nowMs: number): boolean {
  return src.voucher === undefined || voucherValid(src.voucher, nowMs);
}

/**
 * A trade: post the lease's cost out of the hold (voucher first), re-reserve the remaining
 * worst case from the same sources, and let the rest go. A voucher that expired since the
 * bid was placed pays for nothing: its reservation is voided and swept back to its sponsor.
 *
 * A correctly sized hold always covers the cost (see computeBidHoldFen). Cash tops the escrow
 * up when it does not: when a voucher in the hold expired before the trade, or when the
 * worst case was too small (README.md: compute bids across accelerators of different sizes).
 * The top-up is one more transfer in the same linked batch, so if cash cannot cover it the
 * whole fill is refused and nothing moves.
 */
export function fillBid(ledger: LedgerApi, hold: BidHold, args: FillArgs, nowMs: number): OpResult<Fill> {
  if (!isSafeId(args.leaseId)) return reject('id_invalid');
  if (args.costFen < 0n || args.costFen > MAX_FEN) return reject('amount_invalid');
  if (args.remainingFen < 0n || args.remainingFen > MAX_FEN) return reject('amount_invalid');
  if (hold.state !== 'held') return reject('hold_not_active');
  // Timeouts run on the ledger's clock, which this batch moves to max(clock, nowMs).
  const clockMs = Math.max(ledger.clockMs, nowMs);
  if (hold.expiresAtMs !== undefined && hold.expiresAtMs <= clockMs) return reject('hold_not_active');
  const held = hold.sources;
  for (let k = 0; k < held.length; k++) if (ledger.getPendingStatus(held[k]!.pendingTransferId) === 'expired') return reject('hold_not_active');
  const prefix = `bid:${hold.bidId}:fill:${args.leaseId}:`;
  const transfers: TransferInput[] = [];
  // Made only when a voucher pays: a cash-only lease keeps the shared empty list.
  let parts: VoucherPart[] | null = null;
  let cashFen = 0n;
  let costLeft = args.costFen;
  const released = new Array<bigint>(held.length);
  for (let k = 0; k < held.length; k++) {
    const src = held[k]!;
    const take = !usable(src, nowMs) ? 0n : src.amountFen < costLeft ? src.amountFen : costLeft;
    costLeft -= take;
    released[k] = usable(src, nowMs) ? src.amountFen - take : 0n;
    const pendingId = src.pendingTransferId;
    if (take > 0n) {
      transfers.push({ id: `${prefix}post:${k}`, pendingId, userData: args.leaseId, amountFen: take, code: 'hold', flags: TransferFlags.postPending });
      if (src.voucher !== undefined) (parts ??= []).push({ ...src.voucher, amountFen: take });
      else cashFen += take;
    } else {
      transfers.push({ id: `${prefix}void:${k}`, pendingId, userData: args.leaseId, code: 'release', flags: TransferFlags.voidPending });
    }
    if (!usable(src, nowMs) && src.voucher !== undefined) {
      transfers.push(sweepTransfer(`${prefix}sweep:${k}`, src.voucher, src.amountFen));
    }
  }
  if (costLeft > 0n) {
    const escrow = accountIds.escrow(hold.buyerId);
    const topUp = { debitAccountId: accountIds.cash(hold.buyerId), creditAccountId: escrow, amountFen: costLeft, code: 'hold' as const };
    transfers.push({ id: `${prefix}topup`, ...topUp, userData: args.leaseId });
    cashFen += costLeft;
  }

  const timeoutMs = hold.expiresAtMs === undefined ? 0 : Math.max(1, hold.expiresAtMs - clockMs);
  const sources: HoldSource[] = [];
  let remainingLeft = args.remainingFen;
  for (let k = 0; k < held.length; k++) {
    const src = held[k]!;
    if (src.voucher === undefined) continue;
    const again = released[k]! < remainingLeft ? released[k]! : remainingLeft;
    if (again === 0n) continue;
    remainingLeft -= again;
    sources.push({ ...src, pendingTransferId: `${prefix}hold:${k}`, amountFen: again });
  }
  if (remainingLeft > 0n) {
    sources.push({ funding: 'cash', pendingTransferId: `${prefix}hold:cash`, debitAccountId: accountIds.cash(hold.buyerId), amountFen: remainingLeft });
  }
  for (const s of sources) transfers.push(pendingHold(s.pendingTransferId, hold.buyerId, s, timeoutMs, hold.bidId));

  const committed = commit(ledger, transfers, nowMs);
  if (!committed.ok) return committed;
  const next: BidHold = {
    bidId: hold.bidId,
    buyerId: hold.buyerId,
    state: args.remainingFen > 0n ? 'held' : 'closed',
    heldFen: args.remainingFen,
    sources,
    expiresAtMs: hold.expiresAtMs,
    fills: hold.fills + 1,
  };
  return succeed({ hold: next, funding: { voucherParts: parts ?? NO_PARTS, cashFen } }, committed);
}

/** Cancel or expiry: void whatever is still reserved. Voucher money that expired goes home. */
export function releaseHold(ledger: LedgerApi, hold: BidHold, nowMs: number): OpResult<BidHold> {
  const closed: BidHold = {
    bidId: hold.bidId,
    buyerId: hold.buyerId,
    state: 'closed',
    heldFen: 0n,
    sources: [],
    expiresAtMs: hold.expiresAtMs,
    fills: hold.fills,
  };
  if (hold.state === 'closed') return succeed(closed, { ok: true, transferIds: [], replayed: true });
  const transfers: TransferInput[] = [];
  // A hold past its lapse time is expired by the ledger before any batch at this time, so
  // voiding it would be refused (`pending_expired`): expire it now instead, so the money is
  // free when this returns.
  const lapsed = hold.expiresAtMs !== undefined && hold.expiresAtMs <= Math.max(ledger.clockMs, nowMs);
  if (lapsed) ledger.expirePending(nowMs);
  for (const src of hold.sources) {
    const status = ledger.getPendingStatus(src.pendingTransferId);
    if (status === 'pending' && !lapsed) {
      const id = `${src.pendingTransferId}:release`;
      transfers.push({ id, pendingId: src.pendingTransferId, code: 'release', flags: TransferFlags.voidPending, userData: hold.bidId });
    }
    if (src.voucher !== undefined && !voucherValid(src.voucher, nowMs) && status !== 'posted') {
      // Balancing: never more than is there, so a sweep already done by expireVoucher is harmless.
      transfers.push(sweepTransfer(`${src.pendingTransferId}:sweep`, src.voucher, src.amountFen));
    }
  }
  const committed = commit(ledger, transfers, nowMs);
  return committed.ok ? succeed(closed, committed) : committed;
}
