import { afterEach, describe, expect, it } from 'vitest';
import { accountIds, deposit } from '../ledger/chart.js';
import { assertInvariants } from '../ledger/invariants.js';
import { IMPLEMENTATIONS } from '../ledger/testkit.js';
import { availableFen, balanceFen, type LedgerApi } from '../ledger/types.js';
import { bidWorstCaseFen, chargeFen, computeBidHoldFen } from './billing.js';
import { A100, A100_BEIJING, BEIJING, HOUR_MS, T0, balances, feesFen, market, placeAndTrade, unwrap } from './fixture.js';
import { fillBid, holdForBid, releaseHold, type HoldForBidArgs } from './hold.js';
import { accrue, endLease } from './lease.js';
import { fundProgramme, grantVoucher, type GrantVoucherArgs, type VoucherGrant } from './voucher.js';

const CASH = 50_000n;
const WORST = bidWorstCaseFen(2500, 2, 4 * HOUR_MS); // 20_000 fen
const BID: HoldForBidArgs = {
  bidId: 'B1',
  buyerId: 'buyer',
  amountFen: WORST,
  scope: { ...A100_BEIJING, maxPriceFenPerGpuHour: 2500 },
  vouchers: [],
};

describe.each(IMPLEMENTATIONS)('bid holds on %s', (_name, make) => {
  let ledger: LedgerApi;
  const cashAvailable = () => availableFen(ledger.getAccount(accountIds.cash('buyer'))!);
  const sponsorFen = () => balanceFen(ledger.getAccount(accountIds.sponsor('city'))!);
  afterEach(() => assertInvariants(ledger));

  function voucher(patch: Partial<GrantVoucherArgs> = {}): VoucherGrant {
    if (ledger.getAccount(accountIds.sponsor('city')) === undefined) {
      unwrap(fundProgramme(ledger, { programmeId: 'city', transferId: 'fund', amountFen: 1_000_000n }, T0));
    }
    const args: GrantVoucherArgs = {
      grantId: 'g1', programmeId: 'city', userId: 'buyer', amountFen: 8_000n, expiresAtMs: T0 + 10 * HOUR_MS,
      scope: { acceleratorIds: [A100], regionIds: [BEIJING], maxPriceFenPerGpuHour: 3000 }, ...patch,
    };
    return unwrap(grantVoucher(ledger, args, T0));
  }

  it('holds the worst case from cash as a pending transfer into escrow', () => {
    ledger = market(make, CASH);
    const hold = unwrap(holdForBid(ledger, BID, T0));
    expect(hold).toMatchObject({ state: 'held', heldFen: WORST, fills: 0 });
    expect(hold.sources).toEqual([{ funding: 'cash', pendingTransferId: 'bid:B1:hold:0', debitAccountId: 'user:buyer:cash', amountFen: WORST }]);
    expect(cashAvailable()).toBe(CASH - WORST);
    expect(ledger.getAccount(accountIds.escrow('buyer'))!.creditsPendingFen).toBe(WORST);
    const retry = holdForBid(ledger, BID, T0 + 5);
    expect(retry).toMatchObject({ ok: true, replayed: true, value: hold });
    expect(cashAvailable()).toBe(CASH - WORST);
  });

  it('replays a hold from the ledger, and needs the vouchers it drew on to do so', () => {
    ledger = market(make, CASH);
    const g = voucher({ amountFen: 6_000n });
    const hold = unwrap(holdForBid(ledger, { ...BID, vouchers: [g] }, T0));
    expect(holdForBid(ledger, { ...BID, vouchers: [g] }, T0)).toMatchObject({ ok: true, replayed: true, value: hold });
    expect(holdForBid(ledger, BID, T0)).toEqual({ ok: false, code: 'voucher_unknown' });
    expect(holdForBid(ledger, { ...BID, vouchers: [g], amountFen: WORST + 1n }, T0)).toMatchObject({
      ok: false,
      transferResult: 'exists_with_different_fields',
    });
    expect(holdForBid(ledger, { ...BID, vouchers: [g], timeoutMs: 60_000 }, T0)).toMatchObject({
      ok: false,
      transferResult: 'exists_with_different_fields',
    });
  });

  it('refuses a bid the buyer cannot cover, holding nothing', () => {
    ledger = market(make, WORST - 1n);
    expect(holdForBid(ledger, BID, T0)).toMatchObject({ ok: false, code: 'ledger_rejected', transferResult: 'exceeds_credits' });
    expect(cashAvailable()).toBe(WORST - 1n);
    expect(holdForBid(ledger, { ...BID, bidId: 'B2', amountFen: -1n }, T0)).toEqual({ ok: false, code: 'amount_invalid' });
    // a bid whose worst case rounds to 0 fen holds nothing and still trades
    const free = unwrap(holdForBid(ledger, { ...BID, bidId: 'B3', amountFen: 0n }, T0));
    expect(free.sources).toEqual([]);
    const fill = unwrap(fillBid(ledger, free, { leaseId: 'L0', costFen: 0n, remainingFen: 0n }, T0));
    expect(fill.funding).toEqual({ voucherParts: [], cashFen: 0n });
    expect(holdForBid(ledger, { ...BID, bidId: 'x:y' }, T0)).toEqual({ ok: false, code: 'id_invalid' });
  });

  it('draws vouchers first, earliest expiry first, only where the scope covers the bid', () => {
    ledger = market(make, CASH);
    const late = voucher({ grantId: 'late', amountFen: 3_000n, expiresAtMs: T0 + 9 * HOUR_MS });
    const soon = voucher({ grantId: 'soon', amountFen: 4_000n, expiresAtMs: T0 + 2 * HOUR_MS });
    const wrongRegion = voucher({ grantId: 'gz', scope: { regionIds: ['cn-guizhou'] } });
    const tooCheap = voucher({ grantId: 'cheap', scope: { maxPriceFenPerGpuHour: 2000 } });
    const expired = voucher({ grantId: 'old', expiresAtMs: T0 + 1 });
    const hold = unwrap(holdForBid(ledger, { ...BID, vouchers: [late, wrongRegion, tooCheap, expired, soon] }, T0 + 1));
    expect(hold.sources.map((s) => [s.funding, s.debitAccountId, s.amountFen])).toEqual([
      ['voucher', soon.accountId, 4_000n],
      ['voucher', late.accountId, 3_000n],
      ['cash', 'user:buyer:cash', WORST - 7_000n],
    ]);
    expect(ledger.getAccount(accountIds.voucherEscrow('buyer'))!.creditsPendingFen).toBe(7_000n);
  });

  it('re-sizes the hold to the trade price and releases the rest at once', () => {
    ledger = market(make, CASH);
    const hold = unwrap(holdForBid(ledger, BID, T0));
    const costFen = chargeFen(2270, 2, 4 * HOUR_MS); // 18_160
    const fill = unwrap(fillBid(ledger, hold, { leaseId: 'L1', costFen, remainingFen: 0n }, T0));
    expect(fill.funding).toEqual({ voucherParts: [], cashFen: costFen });
    expect(fill.hold).toMatchObject({ state: 'closed', heldFen: 0n, sources: [], fills: 1 });
    expect(balances(ledger, 'buyer')).toMatchObject({ cash: CASH - costFen, escrow: costFen });
    expect(cashAvailable()).toBe(CASH - costFen);
    expect(fillBid(ledger, fill.hold, { leaseId: 'L2', costFen, remainingFen: 0n }, T0)).toEqual({ ok: false, code: 'hold_not_active' });
  });

  it('fills a bid in parts, keeping the remaining worst case reserved, then releases it', () => {
    ledger = market(make, CASH);
    const g = voucher({ amountFen: 6_000n });
    const hold = unwrap(holdForBid(ledger, { ...BID, vouchers: [g] }, T0));
    const first = unwrap(fillBid(ledger, hold, { leaseId: 'L1', costFen: 9_000n, remainingFen: 10_000n }, T0 + 1000));
    expect(first.funding).toEqual({
      voucherParts: [{ grantId: 'g1', programmeId: 'city', accountId: g.accountId, expiresAtMs: g.expiresAtMs, amountFen: 6_000n }],
      cashFen: 3_000n,
    });
    expect(first.hold.sources.map((s) => [s.funding, s.amountFen])).toEqual([['cash', 10_000n]]);
    expect(cashAvailable()).toBe(CASH - 3_000n - 10_000n);
    const second = unwrap(fillBid(ledger, first.hold, { leaseId: 'L2', costFen: 4_000n, remainingFen: 5_000n }, T0 + 2000));
    expect(second.hold.heldFen).toBe(5_000n);
    const released = unwrap(releaseHold(ledger, second.hold, T0 + 3000));
    expect(released).toMatchObject({ state: 'closed', heldFen: 0n, sources: [] });
    expect(cashAvailable()).toBe(CASH - 7_000n);
    expect(balances(ledger, 'buyer')).toMatchObject({ escrow: 7_000n, voucherEscrow: 6_000n });
    const again = releaseHold(ledger, second.hold, T0 + 4000);
    expect(again.ok).toBe(true);
    expect(cashAvailable()).toBe(CASH - 7_000n);
  });

  it('tops the escrow up from cash when the trade costs more than was held', () => {
    ledger = market(make, CASH);
    const hold = unwrap(holdForBid(ledger, { ...BID, amountFen: 1_000n }, T0));
    const fill = unwrap(fillBid(ledger, hold, { leaseId: 'L1', costFen: 1_500n, remainingFen: 0n }, T0));
    expect(fill.funding.cashFen).toBe(1_500n);
    expect(balances(ledger, 'buyer')).toMatchObject({ cash: CASH - 1_500n, escrow: 1_500n });
  });

  it('pays nothing from a voucher that expired before the trade, and sends it home', () => {
    ledger = market(make, CASH);
    const g = voucher({ amountFen: 6_000n, expiresAtMs: T0 + HOUR_MS });
    const hold = unwrap(holdForBid(ledger, { ...BID, vouchers: [g] }, T0));
    const fill = unwrap(fillBid(ledger, hold, { leaseId: 'L1', costFen: 18_000n, remainingFen: 0n }, T0 + HOUR_MS));
    expect(fill.funding).toEqual({ voucherParts: [], cashFen: 18_000n });
    expect(balanceFen(ledger.getAccount(g.accountId)!)).toBe(0n);
    expect(sponsorFen()).toBe(1_000_000n);
  });

  it('releases a cancelled bid, sweeping expired voucher money to the sponsor', () => {
    ledger = market(make, CASH);
    const g = voucher({ amountFen: 6_000n, expiresAtMs: T0 + HOUR_MS });
    const hold = unwrap(holdForBid(ledger, { ...BID, vouchers: [g] }, T0));
    unwrap(releaseHold(ledger, hold, T0 + HOUR_MS));
    expect(cashAvailable()).toBe(CASH);
    expect(balanceFen(ledger.getAccount(g.accountId)!)).toBe(0n);
    expect(sponsorFen()).toBe(1_000_000n);
  });

  it('times a hold on the ledger clock, and releases a lapsed hold without tripping over its expiry', () => {
    ledger = market(make, CASH);
    ledger.expirePending(T0 + 5_000); // the ledger clock is ahead of the caller's
    const hold = unwrap(holdForBid(ledger, { ...BID, timeoutMs: 60_000 }, T0));
    expect(hold.expiresAtMs).toBe(T0 + 65_000);
    expect(ledger.getTransfer('bid:B1:hold:0')!.timestampMs + 60_000).toBe(hold.expiresAtMs);
    // released exactly when it lapses: the ledger expires it first, the release must not void it
    expect(releaseHold(ledger, hold, T0 + 65_000)).toMatchObject({ ok: true, value: { state: 'closed' } });
    expect(ledger.getPendingStatus('bid:B1:hold:0')).toBe('expired');
    expect(cashAvailable()).toBe(CASH);
  });

  it('lets a hold lapse at its timeout; the lapsed hold cannot trade', () => {
    ledger = market(make, CASH);
    const hold = unwrap(holdForBid(ledger, { ...BID, timeoutMs: 60_000 }, T0));
    expect(hold.expiresAtMs).toBe(T0 + 60_000);
    expect(ledger.expirePending(T0 + 60_000)).toEqual(['bid:B1:hold:0']);
    expect(cashAvailable()).toBe(CASH);
    expect(fillBid(ledger, hold, { leaseId: 'L1', costFen: 1n, remainingFen: 0n }, T0 + 30_000)).toEqual({ ok: false, code: 'hold_not_active' });
    expect(releaseHold(ledger, hold, T0 + 60_000).ok).toBe(true);
  });

  it('spends voucher-funded escrow first and refunds each source what it did not spend', () => {
    ledger = market(make, CASH);
    const g = voucher({ amountFen: 5_000n });
    const { lease } = placeAndTrade(ledger, { priceFenPerGpuHour: 2270, gpuCount: 3, durationMs: 2 * HOUR_MS, feeBps: 500, vouchers: [g] });
    expect(lease.funding.cashFen).toBe(13_620n - 5_000n);
    const at30 = unwrap(accrue(ledger, lease, T0 + 30 * 60_000)); // 3405 charged, all voucher
    expect(at30.settled).toMatchObject({ voucherChargeFen: 3_405n, cashChargeFen: 0n, voucherFeeFen: 170n });
    const ended = unwrap(endLease(ledger, at30, T0 + HOUR_MS, 'buyer_stopped')); // 6810 charged
    expect(ended.settled).toEqual({ voucherChargeFen: 5_000n, cashChargeFen: 1_810n, voucherFeeFen: 250n, cashFeeFen: 90n });
    expect(ended.refund).toEqual({ voucherFen: 0n, cashFen: 13_620n - 5_000n - 1_810n, toSponsorFen: 0n });
    expect(balances(ledger, 'buyer')).toEqual({ cash: CASH - 1_810n, escrow: 0n, voucherEscrow: 0n, earnings: 0n });
    expect(balances(ledger, 'prov').earnings).toBe(6_810n - 340n);
    expect(feesFen(ledger)).toBe(340n);
  });

  it('refunds unused voucher money to a valid voucher, and to the sponsor once it has expired', () => {
    ledger = market(make, CASH);
    const g = voucher({ amountFen: 20_000n, expiresAtMs: T0 + 90 * 60_000 });
    const { lease } = placeAndTrade(ledger, { priceFenPerGpuHour: 2270, gpuCount: 3, durationMs: 2 * HOUR_MS, feeBps: 500, vouchers: [g] });
    expect(lease.funding.cashFen).toBe(0n);
    const stillValid = unwrap(endLease(ledger, lease, T0 + HOUR_MS, 'job_exited'));
    expect(stillValid.refund).toEqual({ voucherFen: 13_620n - 6_810n, cashFen: 0n, toSponsorFen: 0n });
    expect(balanceFen(ledger.getAccount(g.accountId)!)).toBe(20_000n - 6_810n);

    const l2 = placeAndTrade(ledger, { leaseId: 'L2', priceFenPerGpuHour: 2270, gpuCount: 1, durationMs: HOUR_MS, feeBps: 500, vouchers: [g] }).lease;
    const sponsorBefore = sponsorFen();
    const afterExpiry = unwrap(endLease(ledger, l2, T0 + 90 * 60_000, 'buyer_stopped'));
    expect(afterExpiry.refund).toEqual({ voucherFen: 0n, cashFen: 0n, toSponsorFen: 0n }); // a whole hour used
    const l3 = placeAndTrade(ledger, { leaseId: 'L3', priceFenPerGpuHour: 2270, gpuCount: 1, durationMs: HOUR_MS, feeBps: 500, vouchers: [g], startMs: T0 + 80 * 60_000 }).lease;
    const ended = unwrap(endLease(ledger, l3, T0 + 95 * 60_000, 'buyer_stopped'));
    expect(ended.refund.toSponsorFen).toBe(2270n - 567n);
    expect(sponsorFen()).toBe(sponsorBefore + 2270n - 567n);
  });
  it('holds a compute-amount bid for the whole GPUs it will buy, so the trade needs nothing more', () => {
    ledger = market(make, CASH);
    // 2.5 P on 312-TFLOPS GPUs for 1 h at 10_000 fen per P-hour: 9 GPUs, not 8.01
    const heldFen = computeBidHoldFen({ limitFenPerPHour: 10_000, remainingDeciTflops: 25_000, acceleratorDeciTflops: [3120], gpusPerNode: undefined, durationMs: HOUR_MS });
    const hold = unwrap(holdForBid(ledger, { ...BID, amountFen: heldFen }, T0));
    const costFen = chargeFen(3120, 9, HOUR_MS); // the dearest ask the limit admits
    const fill = unwrap(fillBid(ledger, hold, { leaseId: 'L1', costFen, remainingFen: 0n }, T0));
    expect(costFen).toBeLessThanOrEqual(heldFen);
    expect(heldFen - costFen).toBe(39n); // the unused 0.0039 P·h of bound is released, not spent
    expect(ledger.getTransfer('bid:B1:fill:L1:topup')).toBeUndefined();
    expect(fill.funding.cashFen).toBe(costFen);
  });

  it('holds enough when a compute bid mixes GPU sizes: 0.3 then 0.5 for 0.4, with no cash beyond the hold', () => {
    // The engine can buy one 0.3 and then, for the 0.1 left, one 0.5: 0.8 for 0.4 asked. The bound
    // (remaining − 1 + largest GPU) holds 0.8, and after the first fill re-reserves 0.5.
    const sizes = { limitFenPerPHour: 10_000, acceleratorDeciTflops: [3, 5], gpusPerNode: undefined, durationMs: HOUR_MS };
    const heldFen = computeBidHoldFen({ ...sizes, remainingDeciTflops: 4 });
    const afterFirstFen = computeBidHoldFen({ ...sizes, remainingDeciTflops: 1 });
    expect([heldFen, afterFirstFen]).toEqual([8n, 5n]);
    ledger = market(make, heldFen);
    const hold = unwrap(holdForBid(ledger, { ...BID, amountFen: heldFen }, T0));
    const first = unwrap(fillBid(ledger, hold, { leaseId: 'L1', costFen: 3n, remainingFen: afterFirstFen }, T0));
    unwrap(fillBid(ledger, first.hold, { leaseId: 'L2', costFen: 5n, remainingFen: 0n }, T0));
    expect(ledger.getTransfer('bid:B1:fill:L1:topup')).toBeUndefined();
    expect(ledger.getTransfer('bid:B1:fill:L2:topup')).toBeUndefined();
    expect(balances(ledger, 'buyer')).toMatchObject({ cash: 0n, escrow: 8n });
  });
});
