/**
 * Property test of the billing rules end to end: random leases (price, size, fee, vouchers,
 * settlement instants, how they end) run in lockstep on the fast and the reference ledger.
 * Both must agree on every answer, and the money must add up exactly.
 */
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { accountIds } from '../ledger/chart.js';
import { checkInvariants } from '../ledger/invariants.js';
import { Ledger } from '../ledger/ledger.js';
import { ReferenceLedger } from '../ledger/reference.js';
import { availableFen, balanceFen, type LedgerApi } from '../ledger/types.js';
import { bpsOf, chargeFen, computeBidHoldFen } from './billing.js';
import { A100, BEIJING, HOUR_MS, T0, balances, feesFen, market, unwrap } from './fixture.js';
import { fillBid, holdForBid } from './hold.js';
import { accrue, endLease, interruptLease, openLease, type LeaseBilling } from './lease.js';
import { fundProgramme, grantVoucher } from './voucher.js';

const CASE = fc.record({
  price: fc.integer({ min: 1, max: 50_000 }),
  limitExtra: fc.integer({ min: 0, max: 5_000 }),
  gpus: fc.integer({ min: 1, max: 16 }),
  durationMs: fc.integer({ min: 1_000, max: 72 * HOUR_MS }),
  feeBps: fc.integer({ min: 0, max: 3_000 }),
  voucherFen: fc.bigInt({ min: 0n, max: 2_000_000n }),
  voucherLifeMs: fc.integer({ min: 1, max: 80 * HOUR_MS }),
  cuts: fc.array(fc.double({ min: 0, max: 1.2, noNaN: true }), { maxLength: 12 }),
  endAt: fc.double({ min: 0, max: 1.2, noNaN: true }),
  how: fc.constantFrom('completed', 'buyer_stopped', 'interrupted'),
  downMs: fc.integer({ min: 0, max: 10 * 60_000 }),
  slaBps: fc.integer({ min: 0, max: 50_000 }),
});
type Case = typeof CASE extends fc.Arbitrary<infer C> ? C : never;

/** Runs one case on one ledger, returning every operation's answer for comparison. */
function runCase(ledger: LedgerApi, c: Case): { answers: unknown[]; lease: LeaseBilling; before: LeaseBilling; endMs: number } {
  const answers: unknown[] = [];
  const record = <T>(r: T): T => (answers.push(r), r);
  const vouchers = [];
  if (c.voucherFen > 0n) {
    unwrap(fundProgramme(ledger, { programmeId: 'city', transferId: 'fund', amountFen: c.voucherFen }, T0));
    const scope = { acceleratorIds: [A100], regionIds: [BEIJING] };
    vouchers.push(unwrap(record(grantVoucher(ledger, { grantId: 'g', programmeId: 'city', userId: 'buyer', amountFen: c.voucherFen, expiresAtMs: T0 + c.voucherLifeMs, scope }, T0))));
  }
  const limit = c.price + c.limitExtra;
  const worst = chargeFen(limit, c.gpus, c.durationMs);
  const scope = { acceleratorIds: [A100], regionIds: [BEIJING], maxPriceFenPerGpuHour: limit };
  const hold = unwrap(record(holdForBid(ledger, { bidId: 'B', buyerId: 'buyer', amountFen: worst, scope, vouchers }, T0)));
  const cost = chargeFen(c.price, c.gpus, c.durationMs);
  const fill = unwrap(record(fillBid(ledger, hold, { leaseId: 'L', costFen: cost, remainingFen: 0n }, T0)));
  const terms = { leaseId: 'L', buyerId: 'buyer', providerId: 'prov', priceFenPerGpuHour: c.price, gpuCount: c.gpus, startMs: T0, durationMs: c.durationMs, feeBps: c.feeBps };
  let lease = unwrap(openLease(terms, fill.funding));
  const at = (f: number): number => T0 + Math.floor(f * c.durationMs);
  for (const cut of [...c.cuts].sort((a, b) => a - b)) lease = unwrap(record(accrue(ledger, lease, at(cut))));
  const endMs = Math.max(at(c.endAt), lease.billedUntilMs);
  const before = lease;
  lease =
    c.how === 'interrupted'
      ? unwrap(record(interruptLease(ledger, lease, { interruptedAtMs: endMs - c.downMs, slaCreditMultipleBps: c.slaBps }, endMs)))
      : unwrap(record(endLease(ledger, lease, endMs, c.how === 'completed' ? 'completed' : 'buyer_stopped')));
  return { answers, lease, before, endMs };
}

describe('lease billing properties', () => {
  it('agrees on both ledgers and every fen is accounted for', () => {
    fc.assert(
      fc.property(CASE, (c) => {
        const worst = chargeFen(c.price + c.limitExtra, c.gpus, c.durationMs);
        const cash = worst + 1n;
        const fast = market(() => new Ledger({ checkInvariantsEveryBatch: true }), cash);
        const reference = market(() => new ReferenceLedger(), cash);
        const a = runCase(fast, c);
        const b = runCase(reference, c);
        expect(isDeepStrictEqual(a, b)).toBe(true);
        expect(isDeepStrictEqual(fast.listAccounts(), reference.listAccounts())).toBe(true);
        expect(checkInvariants(reference)).toEqual([]);

        const { lease } = a;
        const charged = chargeFen(c.price, c.gpus, lease.billedUntilMs - T0);
        const fee = bpsOf(charged, c.feeBps);
        const voucherSpent = lease.settled.voucherChargeFen;
        const buyer = balances(fast, 'buyer');
        const prov = balances(fast, 'prov');
        expect(buyer.escrow).toBe(0n);
        expect(buyer.voucherEscrow).toBe(0n);
        expect(feesFen(fast)).toBe(fee);
        expect(prov.earnings + lease.slaCreditFen).toBe(charged - fee);
        expect(buyer.cash).toBe(cash - (charged - voucherSpent) + lease.slaCreditFen);
        const voucherLeft = c.voucherFen > 0n ? balanceFen(fast.getAccount(accountIds.voucher('buyer', 'g'))!) : 0n;
        const sponsor = c.voucherFen > 0n ? balanceFen(fast.getAccount(accountIds.sponsor('city'))!) : 0n;
        expect(voucherLeft + sponsor + voucherSpent).toBe(c.voucherFen);
        expect(lease.settled.voucherChargeFen + lease.settled.cashChargeFen).toBe(charged);
        const cost = (ms: number): bigint => chargeFen(c.price, c.gpus, ms - T0);
        const detectedMs = Math.max(Math.min(Math.max(a.endMs, T0), T0 + c.durationMs), a.before.billedUntilMs);
        if (c.how !== 'interrupted') {
          expect(lease.slaCreditFen + lease.slaShortfallFen).toBe(0n);
          expect(lease.billedUntilMs).toBe(detectedMs);
        } else {
          // Billing stops at the interruption unless a settlement already went past it; the
          // credit pays back billed downtime and adds the multiple of the whole downtime.
          const downFromMs = Math.min(Math.max(a.endMs - c.downMs, T0), detectedMs);
          expect(lease.billedUntilMs).toBe(Math.max(downFromMs, a.before.billedUntilMs));
          const due = cost(lease.billedUntilMs) - cost(downFromMs) + bpsOf(cost(detectedMs) - cost(downFromMs), c.slaBps);
          expect(lease.slaCreditFen + lease.slaShortfallFen).toBe(due);
          // Nothing was withdrawn: the credit is capped only by what this lease earned the provider.
          const earned = charged - fee;
          expect(lease.slaCreditFen).toBe(due < earned ? due : earned);
        }
      }),
      { numRuns: 150 },
    );
  });
});

/**
 * A compute-amount bid on one accelerator, filled in random parts the way the engine fills it
 * (whole GPUs, whole `gpusPerNode` groups, never more than the rounded-up need, at any price
 * within the limit). The buyer has exactly the hold in cash, so a fill that needed one fen
 * more than was held would be refused: every fill must fit, and what is left is released.
 */
describe('compute-amount bid holds', () => {
  const FILLS = fc.array(fc.record({ share: fc.double({ min: 0, max: 1, noNaN: true }), price: fc.double({ min: 0, max: 1, noNaN: true }) }), {
    minLength: 1,
    maxLength: 6,
  });
  it('a hold sized by computeBidHoldFen covers every fill, part by part', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 40_000 }), // 10 to 4000 TFLOPS per GPU
        fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
        fc.integer({ min: 1, max: 300_000 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 1, max: 48 }),
        FILLS,
        (gpuDeciTflops, gpusPerNode, amountDeciTflops, limitSeed, hours, fills) => {
          // a limit that admits at least 1 fen per GPU-hour on this accelerator
          const limitFenPerPHour = Math.max(limitSeed, Math.ceil(10_000 / gpuDeciTflops));
          const maxPrice = Math.floor((limitFenPerPHour * gpuDeciTflops) / 10_000);
          const durationMs = hours * HOUR_MS;
          const holdOf = (remaining: number): bigint =>
            computeBidHoldFen({ limitFenPerPHour, remainingDeciTflops: remaining, acceleratorDeciTflops: [gpuDeciTflops], gpusPerNode, durationMs });
          const heldFen = holdOf(amountDeciTflops);
          const ledger = market(() => new Ledger({ checkInvariantsEveryBatch: true }), heldFen);
          const scope = { acceleratorIds: [A100], maxPriceFenPerGpuHour: maxPrice };
          let hold = unwrap(holdForBid(ledger, { bidId: 'B', buyerId: 'buyer', amountFen: heldFen, scope, vouchers: [] }, T0));
          let remaining = amountDeciTflops;
          let spentFen = 0n;
          const group = gpusPerNode ?? 1;
          for (let k = 0; k < fills.length && remaining > 0; k++) {
            const f = fills[k]!;
            // the engine's need: whole GPUs, then whole groups; the last fill takes all of it
            const needGpus = Math.ceil(Math.ceil(remaining / gpuDeciTflops) / group) * group;
            const share = k === fills.length - 1 ? 1 : f.share;
            const gpus = Math.max(group, Math.floor((share * needGpus) / group) * group);
            const price = Math.max(1, Math.floor(f.price * maxPrice));
            const costFen = chargeFen(price, gpus, durationMs);
            remaining -= gpus * gpuDeciTflops;
            const remainingFen = remaining > 0 ? holdOf(remaining) : 0n;
            const fill = fillBid(ledger, hold, { leaseId: `L${k}`, costFen, remainingFen }, T0);
            expect(fill.ok).toBe(true);
            if (!fill.ok) return;
            expect(fill.value.funding.cashFen).toBe(costFen);
            expect(ledger.getTransfer(`bid:B:fill:L${k}:topup`)).toBeUndefined();
            hold = fill.value.hold;
            spentFen += costFen;
          }
          expect(hold.state).toBe('closed');
          expect(availableFen(ledger.getAccount(accountIds.cash('buyer'))!)).toBe(heldFen - spentFen);
          expect(balances(ledger, 'buyer').escrow).toBe(spentFen);
        },
      ),
      { numRuns: 200 },
    );
  });
});
