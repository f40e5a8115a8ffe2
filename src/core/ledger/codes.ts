/**
 * Stable vocabularies of the ledger: account kinds, transfer codes, flags and result codes.
 *
 * Every string here may end up in the store, in API errors and in finance reports, so the
 * lists are append-only: never rename, never reuse a retired name for a new meaning.
 */

/** What an account is for. The chart of accounts (chart.ts) maps ids onto these kinds. */
export type AccountKind =
  | 'world' // the outside world: deposits come from it, withdrawals go to it
  | 'platform_fees' // the platform's fee income
  | 'sponsor' // one per voucher sponsor programme (算力券 funding)
  | 'user_cash' // a user's spendable cash
  | 'user_escrow' // cash committed to bids and leases
  | 'user_voucher' // one per voucher grant (scope and expiry differ per grant)
  | 'user_voucher_escrow' // voucher money committed to bids and leases
  | 'user_earnings'; // a provider's earnings from leases

export const ACCOUNT_KINDS: readonly AccountKind[] = [
  'world',
  'platform_fees',
  'sponsor',
  'user_cash',
  'user_escrow',
  'user_voucher',
  'user_voucher_escrow',
  'user_earnings',
];

/** Accounts that belong to a user; they may never go negative, so they must carry the flag. */
export function isUserKind(kind: AccountKind): boolean {
  return kind.startsWith('user_');
}

/** Why money moved. Statements and invoices group by this. */
export type TransferCode =
  | 'deposit'
  | 'withdrawal'
  | 'hold' // a bid's reservation (pending), and its posting into escrow when it trades
  | 'release' // a hold given back (void of a pending hold)
  | 'settle' // cash-funded lease charge, escrow → provider earnings
  | 'fee' // platform fee out of a lease charge
  | 'refund' // unused escrow back to where it came from
  | 'sla_credit' // provider-caused interruption, provider earnings → buyer cash
  | 'voucher_fund' // a sponsor programme funded from outside
  | 'voucher_grant' // sponsor programme → a user's voucher
  | 'voucher_spend' // voucher-funded lease charge, voucher escrow → provider earnings
  | 'voucher_expire'; // expired voucher money back to the sponsor

export const TRANSFER_CODES: readonly TransferCode[] = [
  'deposit',
  'withdrawal',
  'hold',
  'release',
  'settle',
  'fee',
  'refund',
  'sla_credit',
  'voucher_fund',
  'voucher_grant',
  'voucher_spend',
  'voucher_expire',
];

/** Account flags, a bit set as in TigerBeetle (cheap to store and compare). */
export const AccountFlags = {
  none: 0,
  /** This event and the next commit together or not at all. Not part of the stored identity. */
  linked: 1 << 0,
  /** Balance (credits − debits) may never go below zero: users, fees, sponsors. */
  debitsMustNotExceedCredits: 1 << 1,
  /** Balance may never go above zero: the outside world cannot receive more than it gave. */
  creditsMustNotExceedDebits: 1 << 2,
} as const;
export const ACCOUNT_FLAGS_ALL = 0b111;

export const TransferFlags = {
  none: 0,
  linked: 1 << 0,
  /** Reserve the amount (phase one); later posted in full or in part, voided, or expired. */
  pending: 1 << 1,
  postPending: 1 << 2,
  voidPending: 1 << 3,
  /** Move at most what the debit account has available (amount is then an upper bound). */
  balancingDebit: 1 << 4,
  /** Move at most what the credit account can take under its limit. */
  balancingCredit: 1 << 5,
} as const;
export const TRANSFER_FLAGS_ALL = 0b111111;

/** Results of `createAccounts`, one per event. */
export const CREATE_ACCOUNT_RESULTS = [
  // success
  'ok',
  'exists',
  // batch structure
  'linked_event_failed',
  'linked_event_chain_open',
  'batch_too_large',
  // input
  'id_must_not_be_empty',
  'reserved_flag',
  'flags_are_mutually_exclusive',
  'kind_invalid',
  'flags_invalid_for_kind', // user accounts must carry debitsMustNotExceedCredits
  // idempotency
  'exists_with_different_fields',
] as const;
export type CreateAccountResult = (typeof CREATE_ACCOUNT_RESULTS)[number];

/** Results of `createTransfers`, one per event. */
export const CREATE_TRANSFER_RESULTS = [
  // success
  'ok',
  'exists',
  // batch structure
  'linked_event_failed',
  'linked_event_chain_open',
  'batch_too_large',
  // input, checked without looking at state
  'id_must_not_be_empty',
  'reserved_flag',
  'flags_are_mutually_exclusive',
  'code_invalid',
  'pending_id_required',
  'pending_id_must_be_empty',
  'pending_id_must_be_different',
  'timeout_invalid',
  'timeout_reserved_for_pending_transfer',
  'debit_account_id_required',
  'credit_account_id_required',
  'same_debit_and_credit_account',
  'amount_must_be_positive',
  // idempotency
  'exists_with_different_fields',
  'id_already_failed',
  // accounts
  'debit_account_not_found',
  'credit_account_not_found',
  // two-phase
  'pending_not_found',
  'pending_not_pending',
  'pending_has_different_debit_account',
  'pending_has_different_credit_account',
  'pending_has_different_amount',
  'pending_already_posted',
  'pending_already_voided',
  'pending_expired',
  'post_exceeds_pending',
  // balances
  'overflow',
  'exceeds_credits', // insufficient funds
  'exceeds_debits',
] as const;
export type CreateTransferResult = (typeof CREATE_TRANSFER_RESULTS)[number];

/**
 * Failures that depend on state that may still change (a deposit may arrive, an account may
 * be opened). The id is remembered so that a retry returns `id_already_failed`, never a
 * different outcome: a retry always returns the first result (DESIGN.md, TigerBeetle).
 */
export const TRANSIENT_TRANSFER_RESULTS: ReadonlySet<CreateTransferResult> = new Set<CreateTransferResult>([
  'debit_account_not_found',
  'credit_account_not_found',
  'pending_not_found',
  'overflow',
  'exceeds_credits',
  'exceeds_debits',
]);

/** A transfer outcome that leaves the ledger as the caller intended. */
export function isSuccess(result: CreateTransferResult | CreateAccountResult): boolean {
  return result === 'ok' || result === 'exists';
}
