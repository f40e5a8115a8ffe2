/**
 * Shared test fixtures: both ledger implementations behind one factory list, so every test
 * of the rules runs against the fast ledger and the naive reference alike.
 */
import { AccountFlags } from './codes.js';
import { Ledger } from './ledger.js';
import { ReferenceLedger } from './reference.js';
import type { AccountInput, LedgerApi } from './types.js';

export const IMPLEMENTATIONS: readonly (readonly [string, () => LedgerApi])[] = [
  ['Ledger', () => new Ledger({ checkInvariantsEveryBatch: true })],
  ['ReferenceLedger', () => new ReferenceLedger()],
];

export const T0 = 1_720_000_000_000;

/** A small chart: the world, fees, two users' cash, and an unrestricted account. */
export const FIXTURE_ACCOUNTS: readonly AccountInput[] = [
  { id: 'world', kind: 'world', ownerId: '', flags: AccountFlags.creditsMustNotExceedDebits },
  { id: 'fees', kind: 'platform_fees', ownerId: '', flags: AccountFlags.debitsMustNotExceedCredits },
  { id: 'alice', kind: 'user_cash', ownerId: 'alice', flags: AccountFlags.debitsMustNotExceedCredits },
  { id: 'bob', kind: 'user_cash', ownerId: 'bob', flags: AccountFlags.debitsMustNotExceedCredits },
  { id: 'free', kind: 'sponsor', ownerId: 'p1', flags: AccountFlags.none },
];

export function fixture(make: () => LedgerApi): LedgerApi {
  const ledger = make();
  const results = ledger.createAccounts(FIXTURE_ACCOUNTS, T0);
  if (results.some((r) => r !== 'ok')) throw new Error(`fixture accounts: ${results.join(',')}`);
  return ledger;
}
