/**
 * Property tests (fast-check): random, shrinkable command streams over a small id space, so
 * retries, collisions, posts of unknown pendings and linked failures happen all the time.
 */
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { TransferFlags as F, TRANSFER_CODES } from './codes.js';
import { checkInvariants } from './invariants.js';
import { Ledger } from './ledger.js';
import { ReferenceLedger } from './reference.js';
import { SIM_ACCOUNTS } from './sim.js';
import { T0 } from './testkit.js';
import { MAX_FEN, type LedgerApi, type TransferInput } from './types.js';

const ACCOUNT = fc.constantFrom('world', 'fees', 'u0', 'u1', 'u2', 's0', 'ghost');
const ID = fc.integer({ min: 0, max: 40 }).map((n) => `t${n}`);
const AMOUNT = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 1n, max: 5_000n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: -2n, max: 0n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: MAX_FEN - 10n, max: MAX_FEN }) },
);

const plain: fc.Arbitrary<TransferInput> = fc
  .record({
    id: ID,
    debitAccountId: ACCOUNT,
    creditAccountId: ACCOUNT,
    amountFen: AMOUNT,
    code: fc.constantFrom(...TRANSFER_CODES),
    pending: fc.boolean(),
    balancing: fc.constantFrom(0, 0, 0, F.balancingDebit, F.balancingCredit),
    linked: fc.boolean(),
    timeoutMs: fc.constantFrom(0, 0, 500, 5_000),
  })
  .map(({ pending, balancing, linked, timeoutMs, ...t }) => ({
    ...t,
    flags: (pending ? F.pending : 0) | balancing | (linked ? F.linked : 0),
    timeoutMs: pending ? timeoutMs : 0,
  }));

const resolving: fc.Arbitrary<TransferInput> = fc
  .record({ id: ID, pendingId: ID, post: fc.boolean(), amountFen: fc.option(AMOUNT, { nil: undefined }), linked: fc.boolean() })
  .map(({ post, linked, ...t }) => ({
    ...t,
    code: post ? ('hold' as const) : ('release' as const),
    flags: (post ? F.postPending : F.voidPending) | (linked ? F.linked : 0),
  }));

type Step = { readonly dtMs: number; readonly batch: readonly TransferInput[] } | { readonly dtMs: number; readonly expire: true };
const STEP: fc.Arbitrary<Step> = fc.oneof(
  { weight: 9, arbitrary: fc.record({ dtMs: fc.nat(3_000), batch: fc.array(fc.oneof(plain, plain, resolving), { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ dtMs: fc.nat(10_000), expire: fc.constant(true as const) }) },
);

function open(ledger: LedgerApi): LedgerApi {
  ledger.createAccounts(SIM_ACCOUNTS, T0);
  return ledger;
}

function play(ledger: LedgerApi, steps: readonly Step[], startMs = T0): unknown[] {
  let nowMs = startMs;
  return steps.map((s) => {
    nowMs += s.dtMs;
    return 'batch' in s ? ledger.createTransfers(s.batch, nowMs) : ledger.expirePending(nowMs);
  });
}

describe('ledger properties', () => {
  it('the fast ledger and the reference give the same answers and balances, and stay sound', () => {
    fc.assert(
      fc.property(fc.array(STEP, { maxLength: 40 }), (steps) => {
        const fast = open(new Ledger());
        const reference = open(new ReferenceLedger());
        let nowMs = T0;
        for (const s of steps) {
          nowMs += s.dtMs;
          const a = 'batch' in s ? fast.createTransfers(s.batch, nowMs) : fast.expirePending(nowMs);
          const b = 'batch' in s ? reference.createTransfers(s.batch, nowMs) : reference.expirePending(nowMs);
          expect(a).toEqual(b);
          expect(fast.listAccounts()).toEqual(reference.listAccounts());
          expect(checkInvariants(fast)).toEqual([]);
          expect(checkInvariants(reference)).toEqual([]);
        }
        expect(fast.listOpenPending()).toEqual(reference.listOpenPending());
      }),
      { numRuns: 300 },
    );
  });

  it('replaying a whole command log moves no money a second time', () => {
    fc.assert(
      fc.property(fc.array(STEP, { maxLength: 40 }), fc.nat(100_000), (steps, laterMs) => {
        const ledger = open(new Ledger({ checkInvariantsEveryBatch: true }));
        play(ledger, steps);
        const before = ledger.listAccounts().map((a) => [a.debitsPostedFen, a.creditsPostedFen]);
        const replies = play(ledger, steps.filter((s) => 'batch' in s), ledger.clockMs + laterMs).flat() as string[];
        expect(replies.filter((r) => r === 'ok')).toEqual([]);
        expect(isDeepStrictEqual(before, ledger.listAccounts().map((a) => [a.debitsPostedFen, a.creditsPostedFen]))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a pending transfer posted in part moves exactly the posted amount and frees the rest', () => {
    // postFen drawn within the hold, so no run is discarded (a pre-filter threw half away)
    const heldThenPost = fc.bigInt({ min: 1n, max: 10n ** 15n }).chain((held) => fc.tuple(fc.constant(held), fc.bigInt({ min: 1n, max: held })));
    fc.assert(
      fc.property(heldThenPost, ([heldFen, postFen]) => {
        const ledger = open(new Ledger({ checkInvariantsEveryBatch: true }));
        const results = ledger.createTransfers(
          [
            { id: 'd', debitAccountId: 'world', creditAccountId: 'u0', amountFen: heldFen, code: 'deposit' },
            { id: 'h', debitAccountId: 'u0', creditAccountId: 'u1', amountFen: heldFen, code: 'hold', flags: F.pending },
            { id: 'p', pendingId: 'h', amountFen: postFen, code: 'hold', flags: F.postPending },
          ],
          T0,
        );
        expect(results).toEqual(['ok', 'ok', 'ok']);
        const u0 = ledger.getAccount('u0')!;
        expect(u0.creditsPostedFen - u0.debitsPostedFen - u0.debitsPendingFen).toBe(heldFen - postFen);
        expect(ledger.getAccount('u1')!.creditsPostedFen).toBe(postFen);
      }),
    );
  });
});
