/**
 * Min-heap of pending-transfer timeouts ordered by (expiresAtMs, seq), so expiry is
 * deterministic: earliest deadline first, ties in commit order. Entries are never removed
 * early; the ledger skips stale ones (posted, voided or rolled back) when they surface.
 */
import { MinHeap } from '../heap.js';

export interface ExpiryEntry {
  readonly expiresAtMs: number;
  readonly seq: number;
  readonly transferId: string;
}

function before(a: ExpiryEntry, b: ExpiryEntry): boolean {
  return a.expiresAtMs < b.expiresAtMs || (a.expiresAtMs === b.expiresAtMs && a.seq < b.seq);
}

/** Pending-transfer timeouts, earliest first (ties in commit order). */
export class ExpiryQueue extends MinHeap<ExpiryEntry> {
  constructor() {
    super(before);
  }
}
