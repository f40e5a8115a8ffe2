/**
 * Batch structure shared by the fast ledger: how a batch splits into linked chains, and what
 * makes a retry "the same transfer".
 */
import { TransferFlags } from './codes.js';
import type { TransferInput } from './types.js';

const LINKED = TransferFlags.linked;

/** Two inputs name the same transfer; the `linked` bit is batch structure, not identity. */
export function sameTransferInput(a: TransferInput, b: TransferInput): boolean {
  return (
    a.id === b.id &&
    (a.debitAccountId ?? '') === (b.debitAccountId ?? '') &&
    (a.creditAccountId ?? '') === (b.creditAccountId ?? '') &&
    a.amountFen === b.amountFen &&
    a.code === b.code &&
    ((a.flags ?? 0) & ~LINKED) === ((b.flags ?? 0) & ~LINKED) &&
    (a.pendingId ?? '') === (b.pendingId ?? '') &&
    (a.timeoutMs ?? 0) === (b.timeoutMs ?? 0) &&
    (a.userData ?? '') === (b.userData ?? '')
  );
}

/** Flags outside the valid range never link: the event fails alone with `reserved_flag`. */
function linkedBit(flags: number | undefined, all: number): boolean {
  const f = flags ?? 0;
  return Number.isInteger(f) && f >= 0 && f <= all && (f & LINKED) !== 0;
}

/** Splits a batch into linked chains and runs each all-or-nothing. */
export function runChains<R extends string>(
  batch: readonly { readonly flags?: number }[],
  allFlags: number,
  apply: (index: number) => R,
  rollback: () => void,
  commit: () => void,
): (R | 'linked_event_failed' | 'linked_event_chain_open')[] {
  const results: (R | 'linked_event_failed' | 'linked_event_chain_open')[] = new Array(batch.length);
  let i = 0;
  while (i < batch.length) {
    let j = i;
    while (j < batch.length - 1 && linkedBit(batch[j]!.flags, allFlags)) j++;
    if (linkedBit(batch[j]!.flags, allFlags)) {
      // The batch ended inside a chain: nothing of that chain is applied.
      for (let k = i; k < j; k++) results[k] = 'linked_event_failed';
      results[j] = 'linked_event_chain_open';
      break;
    }
    let failedAt = -1;
    for (let k = i; k <= j; k++) {
      const r = apply(k);
      results[k] = r;
      if (r !== 'ok' && r !== 'exists') {
        failedAt = k;
        break;
      }
    }
    if (failedAt >= 0) {
      rollback();
      for (let k = i; k <= j; k++) if (k !== failedAt) results[k] = 'linked_event_failed';
    } else commit();
    i = j + 1;
  }
  return results;
}

