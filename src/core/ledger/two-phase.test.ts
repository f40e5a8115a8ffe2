import { afterEach, describe, expect, it } from 'vitest';
import { TransferFlags as F, type CreateTransferResult } from './codes.js';
import { assertInvariants } from './invariants.js';
import { IMPLEMENTATIONS, T0, fixture } from './testkit.js';
import { availableFen, balanceFen, type LedgerApi, type TransferInput } from './types.js';

const hold = (id: string, amountFen: bigint, timeoutMs = 0): TransferInput => ({
  id,
  debitAccountId: 'alice',
  creditAccountId: 'bob',
  amountFen,
  code: 'hold',
  flags: F.pending,
  timeoutMs,
});
const post = (id: string, pendingId: string, extra: Partial<TransferInput> = {}): TransferInput => ({
  id,
  pendingId,
  code: 'hold',
  flags: F.postPending,
  ...extra,
});
const voidOf = (id: string, pendingId: string, extra: Partial<TransferInput> = {}): TransferInput => ({
  id,
  pendingId,
  code: 'release',
  flags: F.voidPending,
  ...extra,
});

describe.each(IMPLEMENTATIONS)('%s two-phase transfers', (_name, make) => {
  let ledger: LedgerApi;
  const one = (t: TransferInput, nowMs = T0): CreateTransferResult => ledger.createTransfers([t], nowMs)[0]!;
  const alice = () => ledger.getAccount('alice')!;

  function funded(): void {
    ledger = fixture(make);
    expect(one({ id: 'd', debitAccountId: 'world', creditAccountId: 'alice', amountFen: 1000n, code: 'deposit' })).toBe('ok');
  }

  afterEach(() => assertInvariants(ledger));

  it('reserves on pending, then posts in full', () => {
    funded();
    expect(one(hold('h', 300n))).toBe('ok');
    expect(alice().debitsPendingFen).toBe(300n);
    expect(balanceFen(alice())).toBe(1000n);
    expect(availableFen(alice())).toBe(700n);
    expect(one(hold('h2', 701n))).toBe('exceeds_credits');
    expect(ledger.getPendingStatus('h')).toBe('pending');
    expect(one(post('p', 'h'))).toBe('ok');
    expect(ledger.getPendingStatus('p')).toBeUndefined(); // only pending transfers have a status
    expect(ledger.getPendingStatus('h')).toBe('posted');
    expect(ledger.getTransfer('p')).toMatchObject({ debitAccountId: 'alice', creditAccountId: 'bob', amountFen: 300n, pendingId: 'h' });
    expect(alice().debitsPendingFen).toBe(0n);
    expect(balanceFen(alice())).toBe(700n);
    expect(balanceFen(ledger.getAccount('bob')!)).toBe(300n);
  });

  it('posts in part and lets the rest go', () => {
    funded();
    one(hold('h', 300n));
    expect(one(post('p', 'h', { amountFen: 301n }))).toBe('post_exceeds_pending');
    expect(one(post('p2', 'h', { amountFen: 0n }))).toBe('amount_must_be_positive');
    expect(one(post('p3', 'h', { amountFen: 120n, debitAccountId: 'alice', creditAccountId: 'bob' }))).toBe('ok');
    expect(balanceFen(alice())).toBe(880n);
    expect(availableFen(alice())).toBe(880n);
    expect(one(post('p4', 'h'))).toBe('pending_already_posted');
    expect(one(voidOf('v', 'h'))).toBe('pending_already_posted');
  });

  it('voids, and refuses to resolve twice', () => {
    funded();
    one(hold('h', 300n));
    expect(one(voidOf('v0', 'h', { amountFen: 299n }))).toBe('pending_has_different_amount');
    expect(one(voidOf('v1', 'h', { amountFen: 300n }))).toBe('ok');
    expect(ledger.getTransfer('v1')!.amountFen).toBe(300n);
    expect(balanceFen(alice())).toBe(1000n);
    expect(availableFen(alice())).toBe(1000n);
    expect(one(voidOf('v2', 'h'))).toBe('pending_already_voided');
    expect(one(post('p', 'h'))).toBe('pending_already_voided');
  });

  it('checks what a post or void refers to', () => {
    funded();
    one(hold('h', 300n));
    expect(one(post('p1', 'nope'))).toBe('pending_not_found');
    expect(one(post('p2', 'd'))).toBe('pending_not_pending');
    expect(one(post('p3', 'h', { debitAccountId: 'bob' }))).toBe('pending_has_different_debit_account');
    expect(one(post('p4', 'h', { creditAccountId: 'alice' }))).toBe('pending_has_different_credit_account');
    expect(one(post('p5', 'h'))).toBe('ok');
    expect(one(post('p5', 'h'))).toBe('exists');
  });

  it('expires pending transfers at the start of the next batch, earliest deadline first', () => {
    funded();
    expect(ledger.createTransfers([hold('late', 100n, 5000), hold('early', 100n, 1000), hold('never', 100n), hold('tie', 100n, 1000)], T0)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(ledger.expirePending(T0 + 999)).toEqual([]);
    expect(ledger.expirePending(T0 + 1000)).toEqual(['early', 'tie']);
    expect(availableFen(alice())).toBe(800n);
    expect(one(post('p', 'early'), T0 + 1000)).toBe('pending_expired');
    expect(one(post('q', 'late'), T0 + 4999)).toBe('ok');
    expect(ledger.expirePending(T0 + 1_000_000)).toEqual([]);
    expect(ledger.getPendingStatus('early')).toBe('expired');
    expect(ledger.getPendingStatus('never')).toBe('pending');
  });

  it('expires due holds before applying a batch at a later time', () => {
    funded();
    one(hold('h', 1000n, 60_000));
    expect(one(hold('h2', 1n), T0 + 59_999)).toBe('exceeds_credits');
    expect(one(hold('h3', 1000n), T0 + 60_000)).toBe('ok');
    expect(ledger.getPendingStatus('h')).toBe('expired');
    expect(one(voidOf('v', 'h'), T0 + 60_000)).toBe('pending_expired');
  });

  it('keeps a rolled-back pending from expiring later', () => {
    funded();
    const results = ledger.createTransfers([{ ...hold('h', 10n, 100), flags: F.pending | F.linked }, hold('x', 5000n)], T0);
    expect(results).toEqual(['linked_event_failed', 'exceeds_credits']);
    expect(one(hold('h', 10n, 100_000), T0)).toBe('ok');
    expect(ledger.expirePending(T0 + 100)).toEqual([]);
    expect(ledger.getPendingStatus('h')).toBe('pending');
  });

  it('reserves with a balancing pending and lists open pending transfers', () => {
    funded();
    one(hold('a', 900n));
    expect(one({ ...hold('b', 500n), flags: F.pending | F.balancingDebit })).toBe('ok');
    expect(ledger.getTransfer('b')!.amountFen).toBe(100n);
    expect(ledger.listOpenPending().map((t) => t.id)).toEqual(['a', 'b']);
    one(voidOf('v', 'a'));
    expect(ledger.listOpenPending().map((t) => t.id)).toEqual(['b']);
  });
  it('answers a retry of every transfer kind with exists, and the same id with other fields with exists_with_different_fields', () => {
    funded();
    const h = { ...hold('h', 300n, 10_000), userData: 'bid' };
    const p = post('p', 'h', { amountFen: 100n });
    const h2 = hold('h2', 50n);
    const v = voidOf('v', 'h2');
    const b = { id: 'b', debitAccountId: 'alice', creditAccountId: 'bob', amountFen: 10_000n, code: 'settle' as const, flags: F.balancingDebit };
    expect(ledger.createTransfers([h, p, h2, v, b], T0)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    const moved = ledger.getAccount('alice')!;
    // Same fields: exists, even though the pendings are resolved and the balances moved since.
    expect(ledger.createTransfers([h, p, h2, v, b], T0 + 1)).toEqual(['exists', 'exists', 'exists', 'exists', 'exists']);
    // The linked bit is batch structure, not identity.
    expect(ledger.createTransfers([{ ...p, flags: F.postPending | F.linked }, v], T0 + 1)).toEqual(['exists', 'exists']);
    const changed: readonly TransferInput[] = [
      { ...h, timeoutMs: 20_000 },
      { ...h, amountFen: 301n },
      { ...h, flags: F.none, timeoutMs: 0 },
      { ...h, userData: 'other' },
      { ...p, amountFen: 101n },
      { ...p, amountFen: undefined }, // "post it all" is another request than "post 100"
      { ...p, pendingId: 'h2' },
      { ...p, code: 'settle' },
      { ...p, debitAccountId: 'alice' }, // naming the pending's own account is still another input
      { ...v, flags: F.postPending },
      { ...v, amountFen: 50n },
      { ...b, amountFen: 9_999n },
      { ...b, flags: F.none },
    ];
    for (const t of changed) expect(one(t, T0 + 2), JSON.stringify(t, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}` : x))).toBe('exists_with_different_fields');
    expect(ledger.getAccount('alice')).toEqual(moved);
  });

  it('rolls back a chain whose last event fails after earlier ones created, posted and voided pendings', () => {
    funded();
    expect(ledger.createTransfers([hold('a', 100n), hold('b', 100n)], T0)).toEqual(['ok', 'ok']);
    const before = ledger.listAccounts();
    const chain: TransferInput[] = [
      { ...hold('c', 100n, 5_000), flags: F.pending | F.linked },
      post('pa', 'a', { flags: F.postPending | F.linked, amountFen: 40n }),
      voidOf('vb', 'b', { flags: F.voidPending | F.linked }),
      { id: 'x', debitAccountId: 'alice', creditAccountId: 'bob', amountFen: 10_000n, code: 'settle' },
    ];
    expect(ledger.createTransfers(chain, T0)).toEqual(['linked_event_failed', 'linked_event_failed', 'linked_event_failed', 'exceeds_credits']);
    expect(ledger.listAccounts()).toEqual(before);
    expect(ledger.listOpenPending().map((t) => t.id)).toEqual(['a', 'b']);
    expect([ledger.getTransfer('c'), ledger.getTransfer('pa'), ledger.getTransfer('vb')]).toEqual([undefined, undefined, undefined]);
    expect(ledger.expirePending(T0 + 5_000)).toEqual([]); // the rolled-back pending never expires
    // the chain without its failing event goes through whole
    expect(ledger.createTransfers(chain.slice(0, 3).map((t, i) => (i === 2 ? { ...t, flags: F.voidPending } : t)), T0 + 5_000)).toEqual(['ok', 'ok', 'ok']);
  });
});
