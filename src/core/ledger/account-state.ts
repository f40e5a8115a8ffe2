/**
 * The fast ledger's mutable account state, its read-only view, and the invariant check the
 * fast ledger runs after every batch, in production too.
 */
import { AccountFlags, isUserKind, type AccountKind } from './codes.js';
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
  /** Totals of each touched account as they were before the batch: [dp, cp, dpend, cpend]. */
  private readonly before = new Map<AccountState, readonly [bigint, bigint, bigint, bigint]>();

  /** Call before changing an account's totals. */
  touch(s: AccountState): void {
    if (!this.before.has(s)) this.before.set(s, [s.dp, s.cp, s.dpend, s.cpend]);
  }

  /**
   * Throws (a bug, never a business outcome) unless the batch moved as much out as in, posted
   * and pending apart; no total is negative; no account broke its balance limit counting its
   * pending debits (so a reservation is always backed by posted credits); no user account is
   * negative.
   */
  end(): void {
    let posted = 0n;
    let pending = 0n;
    for (const [s, [dp0, cp0, dpend0, cpend0]] of this.before) {
      posted += s.cp - s.dp - (cp0 - dp0);
      pending += s.cpend - s.dpend - (cpend0 - dpend0);
      const broken =
        s.dp < 0n ||
        s.cp < 0n ||
        s.dpend < 0n ||
        s.cpend < 0n ||
        ((s.flags & DMNEC) !== 0 && s.dp + s.dpend > s.cp) ||
        ((s.flags & CMNED) !== 0 && s.cp + s.cpend > s.dp) ||
        (isUserKind(s.kind) && s.cp < s.dp);
      if (broken) {
        this.before.clear();
        throw new Error(`ledger invariant broken on account ${s.id}`);
      }
    }
    this.before.clear();
    if (posted !== 0n || pending !== 0n) throw new Error('ledger invariant broken: batch does not sum to zero');
  }
}
