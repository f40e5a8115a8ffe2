/**
 * The ledger's invariants, checked from the outside through the public port so the same
 * check runs on the fast ledger and on the reference (TigerBeetle TIGER_STYLE: assert).
 */
import { AccountFlags, isUserKind } from './codes.js';
import { MAX_FEN, type LedgerApi } from './types.js';

/** Every broken invariant, in words; empty when the ledger is sound. */
export function checkInvariants(ledger: LedgerApi): readonly string[] {
  const problems: string[] = [];
  let posted = 0n;
  let pending = 0n;
  const pendingDebits = new Map<string, bigint>();
  const pendingCredits = new Map<string, bigint>();
  for (const t of ledger.listOpenPending()) {
    pendingDebits.set(t.debitAccountId, (pendingDebits.get(t.debitAccountId) ?? 0n) + t.amountFen);
    pendingCredits.set(t.creditAccountId, (pendingCredits.get(t.creditAccountId) ?? 0n) + t.amountFen);
  }
  for (const a of ledger.listAccounts()) {
    const { debitsPostedFen: dp, creditsPostedFen: cp, debitsPendingFen: dpend, creditsPendingFen: cpend } = a;
    posted += cp - dp;
    pending += cpend - dpend;
    for (const total of [dp, cp, dpend, cpend]) {
      if (total < 0n || total > MAX_FEN) problems.push(`${a.id}: total ${total} out of range`);
    }
    if ((a.flags & AccountFlags.debitsMustNotExceedCredits) !== 0 && dp + dpend > cp) {
      problems.push(`${a.id}: debits ${dp}+${dpend} pending exceed credits ${cp}`);
    }
    if ((a.flags & AccountFlags.creditsMustNotExceedDebits) !== 0 && cp + cpend > dp) {
      problems.push(`${a.id}: credits ${cp}+${cpend} pending exceed debits ${dp}`);
    }
    if (isUserKind(a.kind) && cp < dp) problems.push(`${a.id}: user account negative`);
    // Pending totals must be exactly what the open pending transfers reserve, no more.
    if ((pendingDebits.get(a.id) ?? 0n) !== dpend) problems.push(`${a.id}: debits pending ${dpend} not backed`);
    if ((pendingCredits.get(a.id) ?? 0n) !== cpend) problems.push(`${a.id}: credits pending ${cpend} not backed`);
  }
  if (posted !== 0n) problems.push(`posted balances sum to ${posted}, not zero`);
  if (pending !== 0n) problems.push(`pending balances sum to ${pending}, not zero`);
  return problems;
}

/** Throws (a bug, never a business outcome) when an invariant is broken. */
export function assertInvariants(ledger: LedgerApi): void {
  const problems = checkInvariants(ledger);
  if (problems.length > 0) throw new Error(`ledger invariants broken:\n${problems.join('\n')}`);
}
