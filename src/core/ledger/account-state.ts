/**
 * The fast ledger's mutable account state, its read-only view, and the invariant check the
 * fast ledger runs after every batch, in production too.
 */
import { AccountFlags, isUserKind, type AccountKind } from './codes.js';
import { FirstSeen } from '../first-seen.js';
import type { Account, Transfer } from './types.js';

/** An account's mutable state inside the fast ledger. */
export interface AccountState {
  readonly id: string;
  readonly kind: AccountKind;
  readonly ownerId: string;
  readonly flags: number;
  readonly timestampMs: number;
  dp: bigint; // debits posted
  cp: bigint; // credits posted
  dpend: bigint; // debits pending
  cpend: bigint; // credits pending
  readonly history: Transfer[];
}

/** A snapshot for callers: they never get a reference to the mutable state. */
export function accountView(s: AccountState): Account {
  return {
    id: s.id,
    kind: s.kind,
    ownerId: s.ownerId,
    flags: s.flags,
    debitsPostedFen: s.dp,
    creditsPostedFen: s.cp,
    debitsPendingFen: s.dpend,
    creditsPendingFen: s.cpend,
    timestampMs: s.timestampMs,
  };
}

const { debitsMustNotExceedCredits: DMNEC, creditsMustNotExceedDebits: CMNED } = AccountFlags;

/**
 * Looks only at the accounts a batch touched, so it costs O(touched), not O(accounts): the
 * ledger summed to zero before the batch and untouched accounts did not move, so if the
 * batch's own movements sum to zero (posted and pending apart), the whole ledger still does.
 */
export class BatchCheck {
  /** Accounts touched in this batch, in the order first touched. */
  private readonly touched = new FirstSeen<AccountState>();
  /**
   * Their totals as they were before the batch, four per account: dp, cp, dpend, cpend. Slots
   * are overwritten, never emptied: V8 frees an array's storage on `length = 0`, and every batch
   * (two or more per bid) would allocate it again.
   */
  private readonly before: bigint[] = [];

  /** Call before changing an account's totals. */
  touch(s: AccountState): void {
    if (!this.touched.add(s)) return;
    const k = 4 * (this.touched.items.length - 1);
    const before = this.before;
    before[k] = s.dp;
    before[k + 1] = s.cp;
    before[k + 2] = s.dpend;
    before[k + 3] = s.cpend;
  }

  /**
   * Throws (a bug, never a business outcome) unless the batch moved as much out as in, posted
   * and pending apart; no total is negative; no account broke its balance limit counting its
   * pending debits (so a reservation is always backed by posted credits); no user account is
   * negative.
   */
  end(): void {
    const touched = this.touched.items;
    const before = this.before;
    let posted = 0n;
    let pending = 0n;
    for (let i = 0; i < touched.length; i++) {
      const s = touched[i]!;
      const dp0 = before[4 * i]!;
      const cp0 = before[4 * i + 1]!;
      const dpend0 = before[4 * i + 2]!;
      const cpend0 = before[4 * i + 3]!;
      // Unmoved totals add nothing: skip their (allocating) BigInt arithmetic.
      if (s.cp !== cp0 || s.dp !== dp0) posted += s.cp - s.dp - (cp0 - dp0);
      if (s.cpend !== cpend0 || s.dpend !== dpend0) pending += s.cpend - s.dpend - (cpend0 - dpend0);
      const broken =
        s.dp < 0n ||
        s.cp < 0n ||
        s.dpend < 0n ||
        s.cpend < 0n ||
        ((s.flags & DMNEC) !== 0 && s.dp + s.dpend > s.cp) ||
        ((s.flags & CMNED) !== 0 && s.cp + s.cpend > s.dp) ||
        (isUserKind(s.kind) && s.cp < s.dp);
      if (broken) {
        this.reset();
        throw new Error(`ledger invariant broken on account ${s.id}`);
      }
    }
    this.reset();
    if (posted !== 0n || pending !== 0n) throw new Error('ledger invariant broken: batch does not sum to zero');
  }

  private reset(): void {
    this.touched.clear();
  }
}
