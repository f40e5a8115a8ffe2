/**
 * Outcome of a billing operation, and the one way those operations write to the ledger:
 * a single linked batch, so each operation moves all of its money or none of it.
 */
import { TransferFlags, type CreateTransferResult } from '../ledger/codes.js';
import type { LedgerApi, TransferInput } from '../ledger/types.js';

/** Stable, append-only codes for billing rejections (ledger rejections come wrapped). */
export const LEASE_REJECTIONS = [
  'ledger_rejected', // the ledger refused a transfer: see transferId and transferResult
  'id_invalid', // an id that goes into account or transfer ids is empty or holds ':'
  'amount_must_be_positive',
  'amount_invalid', // negative or beyond 2^63 − 1 (zero is fine: a few seconds of a cheap GPU cost 0 fen)
  'terms_invalid', // price, GPU count, duration, fee rate or multiple out of range
  'scope_invalid',
  'expiry_invalid', // a voucher that would expire before it is granted
  'hold_not_active', // the bid hold was closed, or its pending transfers expired
  'lease_not_active',
  'funding_short', // the lease's escrow cannot pay its full term
  'voucher_not_expired',
  'voucher_unknown', // a replayed hold names a voucher account the caller did not pass
] as const;
export type LeaseRejection = (typeof LEASE_REJECTIONS)[number];

export type OpResult<T> =
  | {
      readonly ok: true;
      readonly value: T;
      /** Ids of the transfers this operation wrote (or found already written). */
      readonly transferIds: readonly string[];
      /** Every transfer already existed: this call was a retry of one that succeeded. */
      readonly replayed: boolean;
    }
  | {
      readonly ok: false;
      readonly code: LeaseRejection;
      readonly transferId?: string;
      readonly transferResult?: CreateTransferResult;
    };

export type Rejection = Extract<OpResult<unknown>, { ok: false }>;

export function reject(code: LeaseRejection): Rejection {
  return { ok: false, code };
}

export type Committed = { readonly ok: true; readonly transferIds: readonly string[]; readonly replayed: boolean };

/** Writes the transfers as one linked chain. Empty plans succeed without touching the ledger. */
export function commit(ledger: LedgerApi, transfers: readonly TransferInput[], nowMs: number): Committed | Rejection {
  const n = transfers.length;
  const ids = new Array<string>(n);
  if (n === 0) return { ok: true, transferIds: ids, replayed: false };
  for (let i = 0; i < n; i++) ids[i] = transfers[i]!.id;
  // Every transfer but the last carries the linked flag. A plan of one (a bid's hold, most
  // fills) has none to add: it goes as it is, with no copy of the list.
  let linked = transfers;
  if (n > 1) {
    const copy = new Array<TransferInput>(n);
    for (let i = 0; i < n - 1; i++) copy[i] = withLinkedFlag(transfers[i]!);
    copy[n - 1] = transfers[n - 1]!;
    linked = copy;
  }
  const results = ledger.createTransfers(linked, nowMs);
  let replayed = true;
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    if (r !== 'ok' && r !== 'exists' && r !== 'linked_event_failed') {
      return { ok: false, code: 'ledger_rejected', transferId: ids[i]!, transferResult: r };
    }
    if (r !== 'exists') replayed = false;
  }
  return { ok: true, transferIds: ids, replayed };
}

/**
 * `{ ...t, flags: flags | linked }`, spelled out: V8 builds a spread that adds a property (most
 * inputs carry no flags) on a slow path, and every hold, fill and settlement goes through here.
 */
function withLinkedFlag(t: TransferInput): TransferInput {
  return {
    id: t.id,
    debitAccountId: t.debitAccountId,
    creditAccountId: t.creditAccountId,
    amountFen: t.amountFen,
    code: t.code,
    flags: (t.flags ?? 0) | TransferFlags.linked,
    pendingId: t.pendingId,
    timeoutMs: t.timeoutMs,
    userData: t.userData,
  };
}

export function succeed<T>(value: T, committed: Committed): OpResult<T> {
  return { ok: true, value, transferIds: committed.transferIds, replayed: committed.replayed };
}
