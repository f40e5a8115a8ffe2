/**
 * Vouchers (算力券): a sponsor programme (e.g. a city's compute-voucher fund) is funded from
 * outside, grants scoped and expiring vouchers to users, and takes back what expires.
 * Each grant has its own ledger account, so the ledger itself keeps every grant ≥ 0.
 */
import { accountIds, isSafeId, sponsorAccountInput, voucherAccountInput } from '../ledger/chart.js';
import { TransferFlags } from '../ledger/codes.js';
import { MAX_FEN, availableFen, type LedgerApi, type TransferInput } from '../ledger/types.js';
import { commit, reject, succeed, type OpResult } from './result.js';

/** Where a voucher may be spent. An absent list means "any". */
export interface VoucherScope {
  readonly acceleratorIds?: readonly string[];
  readonly regionIds?: readonly string[];
  /** Highest price per GPU-hour it may pay for. */
  readonly maxPriceFenPerGpuHour?: number;
}

export interface VoucherGrant {
  readonly grantId: string;
  readonly programmeId: string;
  readonly userId: string;
  readonly accountId: string;
  readonly amountFen: bigint;
  /** Spendable while `nowMs < expiresAtMs`. */
  readonly expiresAtMs: number;
  readonly scope: VoucherScope;
}

/** One market a lease runs in, at one price. */
export interface SpendTarget {
  readonly acceleratorId: string;
  readonly regionId: string;
  readonly priceFenPerGpuHour: number;
}

/** Everything a bid may end up buying. */
export interface BidScope {
  readonly acceleratorIds: readonly string[];
  /** Absent: any region. */
  readonly regionIds?: readonly string[];
  /** The most per GPU-hour the bid can pay (for compute-amount bids: limit per P-hour × P per GPU). */
  readonly maxPriceFenPerGpuHour: number;
}

export function voucherScopeAllows(scope: VoucherScope, target: SpendTarget): boolean {
  return (
    (scope.acceleratorIds === undefined || scope.acceleratorIds.includes(target.acceleratorId)) &&
    (scope.regionIds === undefined || scope.regionIds.includes(target.regionId)) &&
    (scope.maxPriceFenPerGpuHour === undefined || target.priceFenPerGpuHour <= scope.maxPriceFenPerGpuHour)
  );
}

/** A voucher may back a bid only if every trade the bid could make is inside its scope. */
export function voucherCoversBid(scope: VoucherScope, bid: BidScope): boolean {
  const regions = scope.regionIds;
  const accelerators = scope.acceleratorIds;
  return (
    (accelerators === undefined || bid.acceleratorIds.every((a) => accelerators.includes(a))) &&
    (regions === undefined || (bid.regionIds !== undefined && bid.regionIds.every((r) => regions.includes(r)))) &&
    (scope.maxPriceFenPerGpuHour === undefined || bid.maxPriceFenPerGpuHour <= scope.maxPriceFenPerGpuHour)
  );
}

export function voucherValid(grant: { readonly expiresAtMs: number }, nowMs: number): boolean {
  return nowMs < grant.expiresAtMs;
}

function scopeValid(scope: VoucherScope): boolean {
  const max = scope.maxPriceFenPerGpuHour;
  return (
    (max === undefined || (Number.isSafeInteger(max) && max > 0)) &&
    (scope.acceleratorIds === undefined || scope.acceleratorIds.length > 0) &&
    (scope.regionIds === undefined || scope.regionIds.length > 0)
  );
}

export interface FundProgrammeArgs {
  readonly programmeId: string;
  readonly transferId: string;
  readonly amountFen: bigint;
}

/** An admin funds a sponsor programme from outside money. Opens the programme's account. */
export function fundProgramme(ledger: LedgerApi, args: FundProgrammeArgs, nowMs: number): OpResult<bigint> {
  if (!isSafeId(args.programmeId) || args.transferId === '') return reject('id_invalid');
  if (args.amountFen <= 0n) return reject('amount_must_be_positive');
  const opened = ledger.createAccounts([sponsorAccountInput(args.programmeId)], nowMs)[0];
  if (opened !== 'ok' && opened !== 'exists') return reject('id_invalid');
  const transfer: TransferInput = {
    id: args.transferId,
    debitAccountId: accountIds.world,
    creditAccountId: accountIds.sponsor(args.programmeId),
    amountFen: args.amountFen,
    code: 'voucher_fund',
  };
  const committed = commit(ledger, [transfer], nowMs);
  return committed.ok ? succeed(args.amountFen, committed) : committed;
}

export interface GrantVoucherArgs {
  readonly grantId: string;
  readonly programmeId: string;
  readonly userId: string;
  readonly amountFen: bigint;
  readonly expiresAtMs: number;
  readonly scope: VoucherScope;
}

/** Moves money from the programme to a new voucher account of the user. */
export function grantVoucher(ledger: LedgerApi, args: GrantVoucherArgs, nowMs: number): OpResult<VoucherGrant> {
  if (!isSafeId(args.grantId) || !isSafeId(args.programmeId) || !isSafeId(args.userId)) return reject('id_invalid');
  if (args.amountFen <= 0n) return reject('amount_must_be_positive');
  if (!Number.isSafeInteger(args.expiresAtMs) || args.expiresAtMs <= nowMs) return reject('expiry_invalid');
  if (!scopeValid(args.scope)) return reject('scope_invalid');
  const account = voucherAccountInput(args.userId, args.grantId);
  const opened = ledger.createAccounts([account], nowMs)[0];
  if (opened !== 'ok' && opened !== 'exists') return reject('id_invalid');
  const grant: VoucherGrant = {
    grantId: args.grantId,
    programmeId: args.programmeId,
    userId: args.userId,
    accountId: account.id,
    amountFen: args.amountFen,
    expiresAtMs: args.expiresAtMs,
    scope: args.scope,
  };
  const transfer: TransferInput = {
    id: `voucher:${args.grantId}:grant`,
    debitAccountId: accountIds.sponsor(args.programmeId),
    creditAccountId: account.id,
    amountFen: args.amountFen,
    code: 'voucher_grant',
    userData: args.grantId,
  };
  const committed = commit(ledger, [transfer], nowMs);
  return committed.ok ? succeed(grant, committed) : committed;
}

/**
 * Sends an expired voucher's remaining balance back to its sponsor. Money still reserved by
 * bid holds stays put; releasing those holds later sweeps it back too (see hold.ts).
 * The transfer id carries `nowMs`, so a later sweep of the same grant is a new transfer.
 */
export function expireVoucher(ledger: LedgerApi, grant: VoucherGrant, nowMs: number): OpResult<bigint> {
  if (voucherValid(grant, nowMs)) return reject('voucher_not_expired');
  const account = ledger.getAccount(grant.accountId);
  const id = `voucher:${grant.grantId}:expire:${nowMs}`;
  const done = ledger.getTransfer(id);
  if (done !== undefined) return succeed(done.amountFen, { ok: true, transferIds: [id], replayed: true });
  if (account === undefined || availableFen(account) === 0n) {
    return succeed(0n, { ok: true, transferIds: [], replayed: false });
  }
  const committed = commit(ledger, [sweepTransfer(id, grant, MAX_FEN)], nowMs);
  if (!committed.ok) return committed;
  return succeed(ledger.getTransfer(id)!.amountFen, committed);
}

/** Voucher money back to the sponsor, at most `upToFen` and never more than is available. */
export function sweepTransfer(
  id: string,
  grant: { readonly accountId: string; readonly programmeId: string },
  upToFen: bigint,
): TransferInput {
  return {
    id,
    debitAccountId: grant.accountId,
    creditAccountId: accountIds.sponsor(grant.programmeId),
    amountFen: upToFen,
    code: 'voucher_expire',
    flags: TransferFlags.balancingDebit,
  };
}
