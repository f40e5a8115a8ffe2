import { afterEach, describe, expect, it } from 'vitest';
import { AccountFlags, TransferFlags as F, type CreateTransferResult } from './codes.js';
import { assertInvariants } from './invariants.js';
import { Ledger } from './ledger.js';
import { IMPLEMENTATIONS, T0, fixture } from './testkit.js';
import { MAX_BATCH, MAX_FEN, availableFen, balanceFen, type LedgerApi, type TransferInput } from './types.js';

const deposit = (id: string, to: string, amountFen: bigint, extra: Partial<TransferInput> = {}): TransferInput => ({
  id,
  debitAccountId: 'world',
  creditAccountId: to,
  amountFen,
  code: 'deposit',
  ...extra,
});
const pay = (id: string, from: string, to: string, amountFen: bigint, extra: Partial<TransferInput> = {}): TransferInput => ({
  id,
  debitAccountId: from,
  creditAccountId: to,
  amountFen,
  code: 'settle',
  ...extra,
});

describe.each(IMPLEMENTATIONS)('%s transfers', (_name, make) => {
  let ledger: LedgerApi;
  const run = (batch: readonly TransferInput[], nowMs = T0): readonly CreateTransferResult[] =>
    ledger.createTransfers(batch, nowMs);
  const one = (t: TransferInput, nowMs = T0): CreateTransferResult => run([t], nowMs)[0]!;
  const bal = (id: string): bigint => balanceFen(ledger.getAccount(id)!);

  afterEach(() => assertInvariants(ledger));

  it('posts a deposit to both sides and records it', () => {
    ledger = fixture(make);
    expect(one(deposit('d1', 'alice', 1000n, { userData: 'x' }), T0 + 5)).toBe('ok');
    expect(bal('alice')).toBe(1000n);
    expect(bal('world')).toBe(-1000n);
    expect(ledger.getTransfer('d1')).toEqual({
      id: 'd1', debitAccountId: 'world', creditAccountId: 'alice', amountFen: 1000n, code: 'deposit',
      flags: 0, pendingId: '', timeoutMs: 0, userData: 'x', timestampMs: T0 + 5, seq: 1,
    });
    expect(ledger.getAccountTransfers('alice').map((t) => t.id)).toEqual(['d1']);
  });

  it('answers a retry with exists, the same id with other fields with exists_with_different_fields', () => {
    ledger = fixture(make);
    expect(one(deposit('d1', 'alice', 1000n))).toBe('ok');
    expect(one(deposit('d1', 'alice', 1000n))).toBe('exists');
    // The linked bit is batch structure, not identity.
    expect(run([deposit('d1', 'alice', 1000n, { flags: F.linked }), deposit('d2', 'bob', 1n)])).toEqual(['exists', 'ok']);
    expect(one(deposit('d1', 'alice', 1001n))).toBe('exists_with_different_fields');
    expect(one(deposit('d1', 'bob', 1000n))).toBe('exists_with_different_fields');
    expect(one(deposit('d1', 'alice', 1000n, { userData: 'other' }))).toBe('exists_with_different_fields');
    expect(bal('alice')).toBe(1000n);
  });

  it('remembers transient failures: a retry returns id_already_failed, not a new outcome', () => {
    ledger = fixture(make);
    expect(one(pay('p1', 'alice', 'bob', 500n))).toBe('exceeds_credits');
    expect(one(deposit('d1', 'alice', 1000n))).toBe('ok');
    expect(one(pay('p1', 'alice', 'bob', 500n))).toBe('id_already_failed');
    expect(one(pay('p2', 'alice', 'nobody', 5n))).toBe('credit_account_not_found');
    expect(one(pay('p2', 'alice', 'bob', 5n))).toBe('id_already_failed');
    // Input errors are not remembered: the caller may fix the input and reuse the id.
    expect(one(pay('p3', 'alice', 'bob', 0n))).toBe('amount_must_be_positive');
    expect(one(pay('p3', 'alice', 'bob', 5n))).toBe('ok');
  });

  it('rejects malformed input with stable codes', () => {
    ledger = fixture(make);
    const cases: readonly [Partial<TransferInput>, CreateTransferResult][] = [
      [{ id: '' }, 'id_must_not_be_empty'],
      [{ flags: 64 }, 'reserved_flag'],
      [{ flags: -1 }, 'reserved_flag'],
      [{ flags: 1.5 }, 'reserved_flag'],
      [{ flags: F.pending | F.postPending }, 'flags_are_mutually_exclusive'],
      [{ flags: F.postPending | F.voidPending }, 'flags_are_mutually_exclusive'],
      [{ flags: F.postPending | F.balancingDebit, pendingId: 'x' }, 'flags_are_mutually_exclusive'],
      [{ code: 'bogus' as TransferInput['code'] }, 'code_invalid'],
      [{ flags: F.postPending }, 'pending_id_required'],
      [{ flags: F.voidPending, pendingId: 'SELF' }, 'pending_id_must_be_different'],
      [{ pendingId: 'x' }, 'pending_id_must_be_empty'],
      [{ flags: F.pending, timeoutMs: -1 }, 'timeout_invalid'],
      [{ flags: F.pending, timeoutMs: 0.5 }, 'timeout_invalid'],
      [{ flags: F.pending, timeoutMs: Number.MAX_SAFE_INTEGER }, 'timeout_invalid'],
      [{ timeoutMs: 10 }, 'timeout_reserved_for_pending_transfer'],
      [{ debitAccountId: '' }, 'debit_account_id_required'],
      [{ creditAccountId: undefined }, 'credit_account_id_required'],
      [{ creditAccountId: 'world' }, 'same_debit_and_credit_account'],
      [{ amountFen: 0n }, 'amount_must_be_positive'],
      [{ amountFen: -5n }, 'amount_must_be_positive'],
      [{ amountFen: undefined }, 'amount_must_be_positive'],
      [{ debitAccountId: 'nobody' }, 'debit_account_not_found'],
      [{ creditAccountId: 'nobody' }, 'credit_account_not_found'],
    ];
    cases.forEach(([patch, code], i) => {
      const t = { ...deposit(`bad${i}`, 'alice', 10n), ...patch };
      const input = t.pendingId === 'SELF' ? { ...t, pendingId: t.id } : t;
      expect(one(input), code).toBe(code);
    });
    expect(ledger.getAccount('alice')!.creditsPostedFen).toBe(0n);
  });

  it('keeps user accounts from going negative (exceeds_credits) and the world from receiving more than it gave (exceeds_debits)', () => {
    ledger = fixture(make);
    expect(one(deposit('d1', 'alice', 100n))).toBe('ok');
    expect(one(pay('p1', 'alice', 'bob', 101n))).toBe('exceeds_credits');
    expect(one(pay('p2', 'alice', 'bob', 100n))).toBe('ok');
    expect(one(pay('w1', 'bob', 'world', 60n, { code: 'withdrawal' }))).toBe('ok');
    expect(one(pay('w2', 'free', 'world', 41n, { code: 'withdrawal' }))).toBe('exceeds_debits');
    expect(one(pay('w3', 'free', 'world', 40n, { code: 'withdrawal' }))).toBe('ok');
    expect(bal('free')).toBe(-40n); // unrestricted account may go negative
    expect(bal('world')).toBe(0n);
  });

  it('rejects totals beyond 2^63 − 1 with overflow', () => {
    ledger = fixture(make);
    expect(one(deposit('d1', 'alice', MAX_FEN))).toBe('ok');
    expect(one(deposit('d2', 'bob', 1n))).toBe('overflow'); // world's debits would pass the limit
    expect(one(pay('p1', 'free', 'alice', 1n))).toBe('overflow'); // alice's credits would
    expect(one(pay('p2', 'alice', 'bob', MAX_FEN))).toBe('ok');
  });

  it('commits linked chains all-or-nothing', () => {
    ledger = fixture(make);
    expect(one(deposit('d1', 'alice', 100n))).toBe('ok');
    const results = run([
      pay('a', 'alice', 'bob', 60n, { flags: F.linked }),
      pay('b', 'alice', 'bob', 60n, { flags: F.linked }),
      pay('c', 'bob', 'alice', 1n),
      pay('d', 'alice', 'bob', 10n),
    ]);
    expect(results).toEqual(['linked_event_failed', 'exceeds_credits', 'linked_event_failed', 'ok']);
    expect(bal('alice')).toBe(90n);
    expect(ledger.getTransfer('a')).toBeUndefined();
    expect(ledger.getTransfer('d')!.seq).toBe(2); // rolled-back events leave no gap
    // the failed chain's ids other than the failing one are free to use
    expect(one(pay('a', 'alice', 'bob', 1n))).toBe('ok');
  });

  it('rolls back pending, post and void inside a failed chain', () => {
    ledger = fixture(make);
    run([deposit('d1', 'alice', 100n), pay('h1', 'alice', 'bob', 50n, { flags: F.pending })]);
    const results = run([
      { id: 'post', pendingId: 'h1', code: 'hold', flags: F.postPending | F.linked, amountFen: 20n },
      pay('h2', 'alice', 'bob', 30n, { flags: F.pending | F.linked }),
      pay('x', 'bob', 'alice', 1000n),
    ]);
    expect(results).toEqual(['linked_event_failed', 'linked_event_failed', 'exceeds_credits']);
    expect(ledger.getPendingStatus('h1')).toBe('pending');
    expect(ledger.getPendingStatus('h2')).toBeUndefined();
    expect(ledger.getAccount('alice')!.debitsPendingFen).toBe(50n);
    expect(availableFen(ledger.getAccount('alice')!)).toBe(50n);
  });

  it('treats an open chain at the end of a batch as linked_event_chain_open', () => {
    ledger = fixture(make);
    const results = run([deposit('d1', 'alice', 1n), deposit('d2', 'alice', 1n, { flags: F.linked }), deposit('d3', 'alice', 1n, { flags: F.linked })]);
    expect(results).toEqual(['ok', 'linked_event_failed', 'linked_event_chain_open']);
    expect(bal('alice')).toBe(1n);
  });

  it('accepts chains of retries as exists (a linked batch can be resent whole)', () => {
    ledger = fixture(make);
    const chain = [deposit('d1', 'alice', 5n, { flags: F.linked }), pay('p1', 'alice', 'bob', 5n)];
    expect(run(chain)).toEqual(['ok', 'ok']);
    expect(run(chain)).toEqual(['exists', 'exists']);
    expect(bal('bob')).toBe(5n);
  });

  it('refuses oversized batches whole', () => {
    ledger = fixture(make);
    const batch = Array.from({ length: MAX_BATCH + 1 }, (_, i) => deposit(`d${i}`, 'alice', 1n));
    expect(new Set(run(batch))).toEqual(new Set(['batch_too_large']));
    expect(bal('alice')).toBe(0n);
  });

  it('moves at most what is available with balancing transfers', () => {
    ledger = fixture(make);
    run([deposit('d1', 'alice', 70n), pay('h', 'alice', 'bob', 20n, { flags: F.pending })]);
    expect(one(pay('b1', 'alice', 'bob', 1000n, { flags: F.balancingDebit }))).toBe('ok');
    expect(ledger.getTransfer('b1')!.amountFen).toBe(50n); // 70 posted − 20 reserved
    expect(one(pay('b2', 'alice', 'bob', 1000n, { flags: F.balancingDebit }))).toBe('ok');
    expect(ledger.getTransfer('b2')!.amountFen).toBe(0n);
    expect(one(pay('b2', 'alice', 'bob', 1000n, { flags: F.balancingDebit }))).toBe('exists');
    // balancing credit: the world may take back at most what it gave
    expect(one(pay('b3', 'free', 'world', 1000n, { flags: F.balancingCredit, code: 'withdrawal' }))).toBe('ok');
    expect(ledger.getTransfer('b3')!.amountFen).toBe(70n);
    expect(one(pay('b4', 'free', 'world', 1000n, { flags: F.balancingCredit, code: 'withdrawal' }))).toBe('ok');
    expect(ledger.getTransfer('b4')!.amountFen).toBe(0n);
  });

  it('never lets the clock run backwards', () => {
    ledger = fixture(make);
    one(deposit('d1', 'alice', 1n), T0 + 1000);
    one(deposit('d2', 'alice', 1n), T0 + 10);
    expect(ledger.getTransfer('d2')!.timestampMs).toBe(T0 + 1000);
    expect(ledger.clockMs).toBe(T0 + 1000);
  });

  it('lists accounts by owner and all accounts in creation order', () => {
    ledger = fixture(make);
    expect(ledger.getAccountsByOwner('alice').map((a) => a.id)).toEqual(['alice']);
    expect(ledger.listAccounts().map((a) => a.id)).toEqual(['world', 'fees', 'alice', 'bob', 'free']);
    expect(ledger.getAccount('nobody')).toBeUndefined();
    expect(ledger.getAccountTransfers('nobody')).toEqual([]);
    expect(ledger.getAccount('alice')!.flags).toBe(AccountFlags.debitsMustNotExceedCredits);
  });
});

describe('Ledger.transfersAfter (what the exchange persists per command)', () => {
  it('lists the transfers committed after a seq, in commit order, none of a failed chain', () => {
    const ledger = fixture(() => new Ledger({ checkInvariantsEveryBatch: true })) as Ledger;
    ledger.createTransfers([deposit('d1', 'alice', 100n)], T0);
    const from = ledger.lastSeq;
    const results = ledger.createTransfers(
      [
        pay('h1', 'alice', 'bob', 50n, { flags: F.pending }),
        pay('a', 'alice', 'bob', 10n, { flags: F.linked }),
        pay('b', 'bob', 'alice', 1000n),
        { id: 'p1', pendingId: 'h1', code: 'hold', flags: F.postPending },
      ],
      T0,
    );
    expect(results).toEqual(['ok', 'linked_event_failed', 'exceeds_credits', 'ok']);
    expect(ledger.transfersAfter(from).map((t) => [t.id, t.seq])).toEqual([['h1', 2], ['p1', 3]]);
    expect(ledger.lastSeq).toBe(3);
    expect(ledger.transfersAfter(ledger.lastSeq)).toEqual([]);
  });
});
