import { describe, expect, it } from 'vitest';
import { accountIds, deposit, withdraw } from '../ledger/chart.js';
import { accountStatement } from '../ledger/statement.js';
import { IMPLEMENTATIONS } from '../ledger/testkit.js';
import { A100, BEIJING, HOUR_MS, T0, market, placeAndTrade, unwrap } from './fixture.js';
import { accrue, endLease, interruptLease } from './lease.js';
import { monthWindow, monthlyStatement } from './statement.js';
import { fundProgramme, grantVoucher } from './voucher.js';

const EXAMPLE = { priceFenPerGpuHour: 2270, gpuCount: 3, durationMs: 2 * HOUR_MS, feeBps: 500 } as const;

describe('month windows', () => {
  it('cuts months in UTC by default, or in a local calendar', () => {
    expect(monthWindow('2024-08')).toEqual({ fromMs: Date.UTC(2024, 7, 1), toMs: Date.UTC(2024, 8, 1) });
    expect(monthWindow('2024-12')!.toMs).toBe(Date.UTC(2025, 0, 1));
    expect(monthWindow('2024-08', 480)!.fromMs).toBe(Date.UTC(2024, 6, 31, 16));
    expect(monthWindow('2024-13')).toBeUndefined();
    expect(monthWindow('2024-8')).toBeUndefined();
  });
});

describe.each(IMPLEMENTATIONS)('statements on %s', (_name, make) => {
  it('lists an account with its running balance, by window and by page', () => {
    const ledger = market(make, 100_000n);
    const { lease } = placeAndTrade(ledger, EXAMPLE);
    unwrap(endLease(ledger, unwrap(accrue(ledger, lease, T0 + HOUR_MS)), T0 + 2 * HOUR_MS, 'completed'));
    const escrow = accountStatement(ledger, accountIds.escrow('buyer'))!;
    expect(escrow.lines.map((l) => [l.code, l.debitFen, l.creditFen, l.balanceFen])).toEqual([
      ['hold', 0n, 13_620n, 13_620n],
      ['settle', 6_470n, 0n, 7_150n],
      ['fee', 340n, 0n, 6_810n],
      ['settle', 6_469n, 0n, 341n],
      ['fee', 341n, 0n, 0n],
    ]);
    expect(escrow.openingBalanceFen).toBe(0n);
    expect(escrow.closingBalanceFen).toBe(0n);
    expect(escrow.lines[1]!.counterpartyAccountId).toBe(accountIds.earnings('prov'));

    const cash = accountStatement(ledger, accountIds.cash('buyer'), { fromMs: T0 + 1 })!;
    expect(cash.openingBalanceFen).toBe(100_000n - 13_620n);
    expect(cash.lines).toEqual([]);
    expect(cash.closingBalanceFen).toBe(100_000n - 13_620n);

    const page1 = accountStatement(ledger, accountIds.escrow('buyer'), { limit: 2 })!;
    expect(page1.lines.length).toBe(2);
    const page2 = accountStatement(ledger, accountIds.escrow('buyer'), { limit: 2, afterSeq: page1.nextAfterSeq })!;
    expect(page2.openingBalanceFen).toBe(7_150n);
    expect(page2.lines.map((l) => l.balanceFen)).toEqual([6_810n, 341n]);
    expect(accountStatement(ledger, 'nope')).toBeUndefined();
  });

  it('totals a user month by code, voucher and cash apart', () => {
    const ledger = market(make, 100_000n);
    unwrap(fundProgramme(ledger, { programmeId: 'city', transferId: 'fund', amountFen: 50_000n }, T0));
    const scope = { acceleratorIds: [A100], regionIds: [BEIJING] };
    const g = unwrap(grantVoucher(ledger, { grantId: 'g1', programmeId: 'city', userId: 'buyer', amountFen: 5_000n, expiresAtMs: T0 + 30 * 24 * HOUR_MS, scope }, T0));
    const { lease } = placeAndTrade(ledger, { ...EXAMPLE, vouchers: [g] });
    unwrap(endLease(ledger, lease, T0 + HOUR_MS, 'buyer_stopped')); // 6810 charged: 5000 voucher, 1810 cash
    const l2 = placeAndTrade(ledger, { ...EXAMPLE, leaseId: 'L2', startMs: T0 + HOUR_MS }).lease;
    unwrap(interruptLease(ledger, l2, { interruptedAtMs: T0 + HOUR_MS, slaCreditMultipleBps: 10_000 }, T0 + HOUR_MS + 60_000));
    expect(withdraw(ledger, { transferId: 'w1', userId: 'prov', from: 'earnings', amountFen: 1_000n }, T0 + 2 * HOUR_MS)).toBe('ok');
    expect(deposit(ledger, { transferId: 'd-sept', userId: 'buyer', amountFen: 7n }, Date.UTC(2024, 8, 1))).toBe('ok');

    const buyer = monthlyStatement(ledger, 'buyer', '2024-08')!;
    // L2 was lost the moment it started: nothing billed, 1× the minute of downtime credited
    const l2DowntimeFen = (2270n * 3n * 60_000n) / 3_600_000n; // 113
    expect(buyer.compute).toEqual({ voucherFen: 5_000n, cashFen: 1_810n, totalFen: 6_810n });
    expect(buyer.lines.map((l) => [l.funding, l.code, l.inFen, l.outFen])).toEqual([
      ['cash', 'deposit', 100_000n, 0n],
      ['cash', 'fee', 0n, 90n],
      ['cash', 'settle', 0n, 1_720n],
      ['cash', 'sla_credit', l2DowntimeFen, 0n],
      ['voucher', 'fee', 0n, 250n],
      ['voucher', 'voucher_grant', 5_000n, 0n],
      ['voucher', 'voucher_spend', 0n, 4_750n],
    ]);
    expect(monthlyStatement(ledger, 'buyer', '2024-09')!.lines).toEqual([
      { code: 'deposit', funding: 'cash', inFen: 7n, outFen: 0n, count: 1 },
    ]);

    const prov = monthlyStatement(ledger, 'prov', '2024-08')!;
    expect(prov.earnings).toEqual({ grossFen: 4_750n + 1_720n, slaPaidFen: l2DowntimeFen, withdrawnFen: 1_000n });
    expect(prov.compute.totalFen).toBe(0n);
    expect(monthlyStatement(ledger, 'buyer', 'August')).toBeUndefined();
  });
});
