/**
 * suanli's chart of accounts: which accounts exist, how their ids are spelled, which flags
 * they carry, and the plain money movements in and out (deposit, withdrawal).
 */
import { AccountFlags, TransferFlags, type CreateAccountResult, type CreateTransferResult } from './codes.js';
import type { AccountInput, LedgerApi, TransferInput } from './types.js';

/**
 * Ids that go into account ids must not contain ':' (the separator), or `user:a:voucher:x`
 * could be read two ways. Kept short so ids stay cheap map keys.
 */
/** Ids that may go into account and transfer ids (no ':'). The API validates ids with it too. */
export const SAFE_ID = /^[A-Za-z0-9_.@-]{1,64}$/;

export function isSafeId(id: string): boolean {
  return SAFE_ID.test(id);
}

export const accountIds = {
  world: 'world',
  fees: 'platform:fees',
  sponsor: (programmeId: string): string => `sponsor:${programmeId}`,
  cash: (userId: string): string => `user:${userId}:cash`,
  escrow: (userId: string): string => `user:${userId}:escrow`,
  voucherEscrow: (userId: string): string => `user:${userId}:voucher_escrow`,
  earnings: (userId: string): string => `user:${userId}:earnings`,
  voucher: (userId: string, grantId: string): string => `user:${userId}:voucher:${grantId}`,
} as const;

const NON_NEGATIVE = AccountFlags.debitsMustNotExceedCredits;

export function platformAccountInputs(): readonly AccountInput[] {
  return [
    // The world may give without limit but can never take back more than it gave.
    { id: accountIds.world, kind: 'world', ownerId: '', flags: AccountFlags.creditsMustNotExceedDebits },
    { id: accountIds.fees, kind: 'platform_fees', ownerId: '', flags: NON_NEGATIVE },
  ];
}

export function userAccountInputs(userId: string): readonly AccountInput[] {
  return [
    { id: accountIds.cash(userId), kind: 'user_cash', ownerId: userId, flags: NON_NEGATIVE },
    { id: accountIds.escrow(userId), kind: 'user_escrow', ownerId: userId, flags: NON_NEGATIVE },
    { id: accountIds.voucherEscrow(userId), kind: 'user_voucher_escrow', ownerId: userId, flags: NON_NEGATIVE },
    { id: accountIds.earnings(userId), kind: 'user_earnings', ownerId: userId, flags: NON_NEGATIVE },
  ];
}

export function sponsorAccountInput(programmeId: string): AccountInput {
  return { id: accountIds.sponsor(programmeId), kind: 'sponsor', ownerId: programmeId, flags: NON_NEGATIVE };
}

export function voucherAccountInput(userId: string, grantId: string): AccountInput {
  return { id: accountIds.voucher(userId, grantId), kind: 'user_voucher', ownerId: userId, flags: NON_NEGATIVE };
}

export type OpenResult = 'ok' | 'id_invalid' | CreateAccountResult;

/** First failure of an idempotent account batch, or 'ok' ('exists' counts as done). */
function firstFailure(results: readonly CreateAccountResult[]): OpenResult {
  return results.find((r) => r !== 'ok' && r !== 'exists') ?? 'ok';
}

/** Opens the world and fee accounts. Safe to call again. */
export function openPlatformAccounts(ledger: LedgerApi, nowMs: number): OpenResult {
  return firstFailure(ledger.createAccounts(platformAccountInputs(), nowMs));
}

/** Opens a user's cash, escrow, voucher escrow and earnings accounts together. */
export function openUserAccounts(ledger: LedgerApi, userId: string, nowMs: number): OpenResult {
  if (!isSafeId(userId)) return 'id_invalid';
  const linked = userAccountInputs(userId).map((a, i, all) =>
    i < all.length - 1 ? { ...a, flags: a.flags | AccountFlags.linked } : a,
  );
  return firstFailure(ledger.createAccounts(linked, nowMs));
}

export interface DepositArgs {
  readonly transferId: string;
  readonly userId: string;
  readonly amountFen: bigint;
}

export function depositTransfer(args: DepositArgs): TransferInput {
  return {
    id: args.transferId,
    debitAccountId: accountIds.world,
    creditAccountId: accountIds.cash(args.userId),
    amountFen: args.amountFen,
    code: 'deposit',
  };
}

export function deposit(ledger: LedgerApi, args: DepositArgs, nowMs: number): CreateTransferResult {
  return ledger.createTransfers([depositTransfer(args)], nowMs)[0]!;
}

export interface WithdrawArgs extends DepositArgs {
  readonly from: 'cash' | 'earnings';
  /** Two-phase withdrawal: reserve now, post when the bank confirms, void if it fails. */
  readonly pending?: boolean;
}

export function withdraw(ledger: LedgerApi, args: WithdrawArgs, nowMs: number): CreateTransferResult {
  const from = args.from === 'cash' ? accountIds.cash(args.userId) : accountIds.earnings(args.userId);
  const transfer: TransferInput = {
    id: args.transferId,
    debitAccountId: from,
    creditAccountId: accountIds.world,
    amountFen: args.amountFen,
    code: 'withdrawal',
    flags: args.pending === true ? TransferFlags.pending : TransferFlags.none,
  };
  return ledger.createTransfers([transfer], nowMs)[0]!;
}
