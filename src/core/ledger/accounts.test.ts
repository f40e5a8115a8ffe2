import { describe, expect, it } from 'vitest';
import { AccountFlags as A, type AccountKind } from './codes.js';
import { BatchCheck, type AccountState } from './account-state.js';
import { checkInvariants } from './invariants.js';
import { IMPLEMENTATIONS, T0 } from './testkit.js';
import { MAX_BATCH, type Account, type AccountInput, type LedgerApi } from './types.js';

const acct = (id: string, flags: number = A.debitsMustNotExceedCredits, kind: AccountKind = 'user_cash'): AccountInput => ({
  id,
  kind,
  ownerId: 'u1',
  flags,
});

describe.each(IMPLEMENTATIONS)('%s accounts', (_name, make) => {
  it('creates accounts with zero totals and answers retries', () => {
    const ledger = make();
    expect(ledger.createAccounts([acct('a')], T0)).toEqual(['ok']);
    expect(ledger.getAccount('a')).toEqual({
      id: 'a', kind: 'user_cash', ownerId: 'u1', flags: A.debitsMustNotExceedCredits,
      debitsPostedFen: 0n, creditsPostedFen: 0n, debitsPendingFen: 0n, creditsPendingFen: 0n, timestampMs: T0,
    });
    expect(ledger.createAccounts([acct('a')], T0)).toEqual(['exists']);
    expect(ledger.createAccounts([acct('a', A.debitsMustNotExceedCredits | A.linked), acct('b')], T0)).toEqual(['exists', 'ok']);
    expect(ledger.createAccounts([{ ...acct('a'), ownerId: 'u2' }], T0)).toEqual(['exists_with_different_fields']);
    expect(ledger.createAccounts([acct('a', A.debitsMustNotExceedCredits, 'user_escrow')], T0)).toEqual(['exists_with_different_fields']);
  });

  it('rejects malformed accounts with stable codes', () => {
    const ledger = make();
    expect(
      ledger.createAccounts(
        [
          acct(''),
          acct('x', 8),
          acct('x', -1),
          acct('x', A.debitsMustNotExceedCredits | A.creditsMustNotExceedDebits),
          acct('x', 0, 'planet' as AccountKind),
          acct('x', 0, 'user_cash'),
          acct('x', A.creditsMustNotExceedDebits, 'user_earnings'),
        ],
        T0,
      ),
    ).toEqual([
      'id_must_not_be_empty',
      'reserved_flag',
      'reserved_flag',
      'flags_are_mutually_exclusive',
      'kind_invalid',
      'flags_invalid_for_kind',
      'flags_invalid_for_kind',
    ]);
    expect(ledger.listAccounts()).toEqual([]);
  });

  it('creates linked accounts all-or-nothing', () => {
    const ledger = make();
    const results = ledger.createAccounts(
      [acct('a', A.debitsMustNotExceedCredits | A.linked), acct('b', A.debitsMustNotExceedCredits | A.linked), acct(''), acct('c')],
      T0,
    );
    expect(results).toEqual(['linked_event_failed', 'linked_event_failed', 'id_must_not_be_empty', 'ok']);
    expect(ledger.listAccounts().map((a) => a.id)).toEqual(['c']);
    expect(ledger.getAccountsByOwner('u1').map((a) => a.id)).toEqual(['c']);
    expect(ledger.createAccounts([acct('d'), acct('e', A.debitsMustNotExceedCredits | A.linked)], T0)).toEqual([
      'ok',
      'linked_event_chain_open',
    ]);
    expect(ledger.createAccounts(Array.from({ length: MAX_BATCH + 1 }, (_, i) => acct(`z${i}`)), T0)[0]).toBe('batch_too_large');
  });
});

describe('checkInvariants', () => {
  const account = (patch: Partial<Account>): Account => ({
    id: 'a', kind: 'user_cash', ownerId: 'u', flags: A.debitsMustNotExceedCredits,
    debitsPostedFen: 0n, creditsPostedFen: 0n, debitsPendingFen: 0n, creditsPendingFen: 0n, timestampMs: 0, ...patch,
  });
  const view = (accounts: Account[]): LedgerApi => ({ listAccounts: () => accounts, listOpenPending: () => [] }) as unknown as LedgerApi;

  it('finds balances that do not sum to zero, negative users, and unbacked pending amounts', () => {
    expect(checkInvariants(view([account({ creditsPostedFen: 5n })]))).toContain('posted balances sum to 5, not zero');
    const broken = checkInvariants(
      view([
        account({ id: 'u', debitsPostedFen: 5n, flags: 0 }),
        account({ id: 'w', kind: 'world', flags: A.creditsMustNotExceedDebits, creditsPostedFen: 5n, debitsPendingFen: 3n }),
      ]),
    );
    expect(broken).toEqual([
      'u: user account negative',
      'w: credits 5+0 pending exceed debits 0',
      'w: debits pending 3 not backed',
      'pending balances sum to -3, not zero',
    ]);
  });
});

describe('the per-batch check (always on)', () => {
  const state = (id: string, kind: AccountKind, flags: number): AccountState => ({
    id, kind, ownerId: 'u', flags, timestampMs: 0, dp: 0n, cp: 0n, dpend: 0n, cpend: 0n, history: [],
  });

  it('passes a balanced batch and throws on one that creates money, overdraws or reserves unbacked money', () => {
    const check = new BatchCheck();
    /** A balanced posted movement, touched first as the ledger does. */
    const move = (dr: AccountState, cr: AccountState, fen: bigint): void => {
      check.touch(dr);
      check.touch(cr);
      dr.dp += fen;
      cr.cp += fen;
    };
    const world = state('w', 'world', A.creditsMustNotExceedDebits);
    const cash = state('c', 'user_cash', A.debitsMustNotExceedCredits);
    move(world, cash, 10n);
    expect(() => check.end()).not.toThrow();

    check.touch(cash);
    cash.cp += 1n; // credited without a debit anywhere
    expect(() => check.end()).toThrow('does not sum to zero');

    check.touch(cash);
    check.touch(world);
    cash.dpend += 12n; // reserves more than the 11 posted
    world.cpend += 12n;
    expect(() => check.end()).toThrow('on account c');
    cash.dpend -= 12n;
    world.cpend -= 12n;

    // a user account below zero is caught even if it somehow lacked its flag
    const fees = state('f', 'platform_fees', A.none);
    const bare = state('b', 'user_earnings', A.none);
    move(bare, fees, 20n);
    expect(() => check.end()).toThrow('on account b');
  });
});
