/** Ledger data shapes and the port both ledgers (fast and reference) implement. */
import type { AccountKind, CreateAccountResult, CreateTransferResult, TransferCode } from './codes.js';

/**
 * Largest amount any account total may reach: 2^63 − 1 fen, so every total fits a signed
 * 64-bit column in SQLite and PostgreSQL. Crossing it is an `overflow` rejection.
 */
export const MAX_FEN = (1n << 63n) - 1n;

/** Most events in one batch (TigerBeetle's limit; bounds the work of one command). */
export const MAX_BATCH = 8190;

export interface AccountInput {
  readonly id: string;
  readonly kind: AccountKind;
  /** User id, sponsor programme id, or '' for platform accounts. */
  readonly ownerId: string;
  /** Bit set of `AccountFlags`. */
  readonly flags: number;
}

/** An account with its four running totals, TigerBeetle style. Balance = credits − debits. */
export interface Account extends AccountInput {
  readonly debitsPostedFen: bigint;
  readonly creditsPostedFen: bigint;
  readonly debitsPendingFen: bigint;
  readonly creditsPendingFen: bigint;
  readonly timestampMs: number;
}

export interface TransferInput {
  /** Chosen by the caller; a retry with the same id and fields returns `exists`. */
  readonly id: string;
  /** Required unless posting or voiding (then it may be given, and must match the pending). */
  readonly debitAccountId?: string;
  readonly creditAccountId?: string;
  /**
   * Required and positive unless posting or voiding. Post: omitted = the full pending amount.
   * Void: omitted or equal to the pending amount. Balancing: an upper bound.
   */
  readonly amountFen?: bigint;
  readonly code: TransferCode;
  /** Bit set of `TransferFlags`. */
  readonly flags?: number;
  /** The pending transfer a post or void refers to. */
  readonly pendingId?: string;
  /** Pending transfers only: expires (is voided) this long after it was created; 0 = never. */
  readonly timeoutMs?: number;
  /** Opaque tag for the caller, e.g. a lease id. */
  readonly userData?: string;
}

/** A committed transfer. Post and void records carry the pending's accounts. */
export interface Transfer {
  readonly id: string;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  /** The amount that moved: posted amount for a post, the pending amount for a void. */
  readonly amountFen: bigint;
  readonly code: TransferCode;
  readonly flags: number;
  /** '' unless post or void. */
  readonly pendingId: string;
  readonly timeoutMs: number;
  readonly userData: string;
  /** Ledger clock when committed (never goes backwards). */
  readonly timestampMs: number;
  /** Commit order, 1-based, gap-free. */
  readonly seq: number;
}

export type PendingStatus = 'pending' | 'posted' | 'voided' | 'expired';

/** What the billing rules (src/core/lease) and the tests need from a ledger. */
export interface LedgerApi {
  createAccounts(batch: readonly AccountInput[], nowMs: number): readonly CreateAccountResult[];
  createTransfers(batch: readonly TransferInput[], nowMs: number): readonly CreateTransferResult[];
  /** Voids every pending transfer whose timeout has passed, oldest expiry first. Returns ids. */
  expirePending(nowMs: number): readonly string[];
  getAccount(id: string): Account | undefined;
  getTransfer(id: string): Transfer | undefined;
  getPendingStatus(pendingId: string): PendingStatus | undefined;
  /** Transfers touching the account (posted, pending, post and void records), commit order. */
  getAccountTransfers(accountId: string): readonly Transfer[];
  getAccountsByOwner(ownerId: string): readonly Account[];
  /** Every account, creation order. */
  listAccounts(): readonly Account[];
  /** Every still-pending transfer, commit order. */
  listOpenPending(): readonly Transfer[];
  readonly clockMs: number;
}

/** Balance as users read it: credits − debits (negative for the outside world). */
export function balanceFen(account: Account): bigint {
  return account.creditsPostedFen - account.debitsPostedFen;
}

/** What can still be spent: posted balance minus what pending debits already reserve. */
export function availableFen(account: Account): bigint {
  const fen = account.creditsPostedFen - account.debitsPostedFen - account.debitsPendingFen;
  return fen > 0n ? fen : 0n;
}
