/**
 * Input checks that need no state beyond the clock: shape, flags, ids, amount, timeout.
 * Order matters (the first failing rule names the result) and is part of the contract.
 */
import { TRANSFER_CODES, TRANSFER_FLAGS_ALL, TransferFlags, type CreateTransferResult } from './codes.js';
import type { TransferInput } from './types.js';

const CODE_SET: ReadonlySet<string> = new Set(TRANSFER_CODES);
const { pending: PENDING, postPending: POST, voidPending: VOID } = TransferFlags;
const { balancingDebit: BAL_DEBIT, balancingCredit: BAL_CREDIT } = TransferFlags;

/** The first input rule the transfer breaks, or undefined when its shape is valid. */
export function checkTransferInput(t: TransferInput, clockMs: number): CreateTransferResult | undefined {
  const flags = t.flags ?? 0;
  if (t.id === '') return 'id_must_not_be_empty';
  if (!Number.isInteger(flags) || flags < 0 || flags > TRANSFER_FLAGS_ALL) return 'reserved_flag';
  const isPending = (flags & PENDING) !== 0;
  const resolving = (flags & (POST | VOID)) !== 0;
  const kinds = (isPending ? 1 : 0) + ((flags & POST) !== 0 ? 1 : 0) + ((flags & VOID) !== 0 ? 1 : 0);
  if (kinds > 1 || (resolving && (flags & (BAL_DEBIT | BAL_CREDIT)) !== 0)) return 'flags_are_mutually_exclusive';
  if (!CODE_SET.has(t.code)) return 'code_invalid';
  const pendingId = t.pendingId ?? '';
  if (resolving) {
    if (pendingId === '') return 'pending_id_required';
    if (pendingId === t.id) return 'pending_id_must_be_different';
  } else if (pendingId !== '') return 'pending_id_must_be_empty';
  const timeoutMs = t.timeoutMs ?? 0;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0 || clockMs + timeoutMs > Number.MAX_SAFE_INTEGER) {
    return 'timeout_invalid';
  }
  if (timeoutMs > 0 && !isPending) return 'timeout_reserved_for_pending_transfer';
  const debitId = t.debitAccountId ?? '';
  const creditId = t.creditAccountId ?? '';
  if (!resolving) {
    if (debitId === '') return 'debit_account_id_required';
    if (creditId === '') return 'credit_account_id_required';
    if (debitId === creditId) return 'same_debit_and_credit_account';
    if (t.amountFen === undefined || t.amountFen <= 0n) return 'amount_must_be_positive';
  } else if (t.amountFen !== undefined && t.amountFen <= 0n) return 'amount_must_be_positive';

  return undefined;
}
