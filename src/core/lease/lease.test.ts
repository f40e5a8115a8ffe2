import { afterEach, describe, expect, it } from 'vitest';
import { accountIds, withdraw } from '../ledger/chart.js';
import { assertInvariants } from '../ledger/invariants.js';
import { Ledger } from '../ledger/ledger.js';
import { IMPLEMENTATIONS } from '../ledger/testkit.js';
import type { LedgerApi } from '../ledger/types.js';
import { HOUR_MS, T0, balances, feesFen, market, placeAndTrade, unwrap } from './fixture.js';
import { accrue, endLease, interruptLease, openLease, type LeaseBilling } from './lease.js';

const EXAMPLE = { priceFenPerGpuHour: 2270, gpuCount: 3, durationMs: 2 * HOUR_MS, feeBps: 500 } as const;
const CASH = 100_000n;

/** Settles every `everyMs` from start to end, then ends the lease at its end. */
function settleEvery(ledger: LedgerApi, lease: LeaseBilling, everyMs: number): LeaseBilling {
  let current = lease;
  for (let at = lease.startMs + everyMs; at < lease.endMs; at += everyMs) current = unwrap(accrue(ledger, current, at));
  return unwrap(endLease(ledger, current, lease.endMs, 'completed'));
}

describe('per-second lease billing on the fast ledger', () => {
  it('costs exactly 136.20 CNY when settled every second', () => {
    const ledger = market(() => new Ledger(), CASH);
    const ended = settleEvery(ledger, placeAndTrade(ledger, EXAMPLE).lease, 1000);
    expect(ended.settlements).toBe(7199);
    expect(balances(ledger, 'buyer')).toEqual({ cash: CASH - 13_620n, escrow: 0n, voucherEscrow: 0n, earnings: 0n });
    expect(balances(ledger, 'prov').earnings).toBe(12_939n);
    expect(feesFen(ledger)).toBe(681n);
    assertInvariants(ledger);
  });
});

describe.each(IMPLEMENTATIONS)('lease billing on %s', (_name, make) => {
  let ledger: LedgerApi;
  afterEach(() => assertInvariants(ledger));

  it.each([
    ['every minute', 60_000],
    ['every 7 seconds', 7_000],
    ['once', 2 * HOUR_MS],
  ])('costs exactly 136.20 CNY when settled %s, fee 500 bps split exactly', (_how, everyMs) => {
    ledger = market(make, CASH);
    const { lease } = placeAndTrade(ledger, EXAMPLE);
    expect(balances(ledger, 'buyer')).toEqual({ cash: CASH - 13_620n, escrow: 13_620n, voucherEscrow: 0n, earnings: 0n });
    const ended = settleEvery(ledger, lease, everyMs);
    expect(ended.state).toBe('ended');
    expect(ended.settled).toEqual({ voucherChargeFen: 0n, cashChargeFen: 13_620n, voucherFeeFen: 0n, cashFeeFen: 681n });
    expect(ended.refund).toEqual({ voucherFen: 0n, cashFen: 0n, toSponsorFen: 0n });
    expect(balances(ledger, 'buyer')).toEqual({ cash: CASH - 13_620n, escrow: 0n, voucherEscrow: 0n, earnings: 0n });
    expect(balances(ledger, 'prov').earnings).toBe(12_939n);
    expect(feesFen(ledger)).toBe(681n);
  });

  it('ended by the buyer after 37 min 13 s costs the per-second amount and refunds the rest at once', () => {
    ledger = market(make, CASH);
    const { lease } = placeAndTrade(ledger, EXAMPLE);
    const midway = unwrap(accrue(ledger, lease, T0 + 20 * 60_000));
    const ended = unwrap(endLease(ledger, midway, T0 + (37 * 60 + 13) * 1000, 'buyer_stopped'));
    expect(ended.endReason).toBe('buyer_stopped');
    expect(ended.billedUntilMs).toBe(T0 + 2_233_000);
    expect(ended.refund.cashFen).toBe(13_620n - 4224n);
    expect(balances(ledger, 'buyer')).toEqual({ cash: CASH - 4224n, escrow: 0n, voucherEscrow: 0n, earnings: 0n });
    expect(balances(ledger, 'prov').earnings).toBe(4224n - 211n);
    expect(feesFen(ledger)).toBe(211n);
  });

  it('bills nothing before the start and nothing past the end', () => {
    ledger = market(make, CASH);
    const { lease } = placeAndTrade(ledger, { ...EXAMPLE, startMs: T0 + HOUR_MS });
    const early = unwrap(accrue(ledger, lease, T0));
    expect(early.settlements).toBe(0);
    expect(balances(ledger, 'prov').earnings).toBe(0n);
    const late = unwrap(accrue(ledger, early, T0 + 10 * HOUR_MS));
    expect(late.billedUntilMs).toBe(lease.endMs);
    expect(balances(ledger, 'prov').earnings + feesFen(ledger)).toBe(13_620n);
    // a clock that steps back bills nothing and never un-bills
    const back = unwrap(accrue(ledger, late, T0 + 2 * HOUR_MS));
    expect(back.settled).toEqual(late.settled);
    expect(unwrap(endLease(ledger, back, T0 + 10 * HOUR_MS, 'completed')).refund.cashFen).toBe(0n);
  });

  it('is idempotent: retrying a settlement with the same lease state moves nothing twice', () => {
    ledger = market(make, CASH);
    const { lease } = placeAndTrade(ledger, EXAMPLE);
    const first = accrue(ledger, lease, T0 + 60_000);
    const retry = accrue(ledger, lease, T0 + 60_000);
    expect(first.ok && !first.replayed).toBe(true);
    expect(retry.ok && retry.replayed).toBe(true);
    expect(balances(ledger, 'prov').earnings + feesFen(ledger)).toBe(chargeAtMinute());
    // the same settlement number for a different instant is a caller bug, refused by the ledger
    const wrong = accrue(ledger, lease, T0 + 120_000);
    expect(wrong).toMatchObject({ ok: false, code: 'ledger_rejected', transferResult: 'exists_with_different_fields' });
  });

  it('refuses to bill a lease that has ended', () => {
    ledger = market(make, CASH);
    const { lease } = placeAndTrade(ledger, EXAMPLE);
    const ended = unwrap(endLease(ledger, lease, T0 + HOUR_MS, 'job_exited'));
    expect(accrue(ledger, ended, T0 + HOUR_MS)).toEqual({ ok: false, code: 'lease_not_active' });
    expect(endLease(ledger, ended, T0 + HOUR_MS, 'completed')).toEqual({ ok: false, code: 'lease_not_active' });
    expect(interruptLease(ledger, ended, { interruptedAtMs: T0, slaCreditMultipleBps: 10_000 }, T0)).toEqual({ ok: false, code: 'lease_not_active' });
  });

  it('stops billing at a provider-caused interruption, refunds the rest and credits 2× the downtime from earnings', () => {
    ledger = market(make, CASH);
    const { lease } = placeAndTrade(ledger, EXAMPLE);
    // node lost at 60 min, detected 30 s later (three missed heartbeats)
    const billed = unwrap(accrue(ledger, lease, T0 + 60 * 60_000));
    const ended = unwrap(interruptLease(ledger, billed, { interruptedAtMs: T0 + 60 * 60_000, slaCreditMultipleBps: 20_000 }, T0 + 60 * 60_000 + 30_000));
    const chargedFen = 6_810n; // 60 min: the buyer pays nothing for the 30 s of downtime
    const downtimeFen = (2270n * 3n * 3_630_000n) / 3_600_000n - chargedFen; // 6866 − 6810 = 56
    expect(ended.endReason).toBe('provider_interrupted');
    expect(ended.billedUntilMs).toBe(T0 + 60 * 60_000);
    expect(ended.slaCreditFen).toBe(112n);
    expect(ended.slaCreditFen).toBe(2n * downtimeFen);
    expect(ended.slaShortfallFen).toBe(0n);
    expect(ended.refund.cashFen).toBe(13_620n - chargedFen);
    expect(balances(ledger, 'buyer')).toEqual({ cash: CASH - chargedFen + 112n, escrow: 0n, voucherEscrow: 0n, earnings: 0n });
    expect(balances(ledger, 'prov').earnings).toBe(chargedFen - 340n - 112n);
    expect(feesFen(ledger)).toBe(340n);
  });

  it('pays back downtime that was billed before the interruption was detected', () => {
    ledger = market(make, CASH);
    const { lease } = placeAndTrade(ledger, EXAMPLE);
    // settled at 60.5 min while the node (lost at 60 min) still looked alive; detected at 61 min
    const billed = unwrap(accrue(ledger, lease, T0 + 60 * 60_000 + 30_000));
    const ended = unwrap(interruptLease(ledger, billed, { interruptedAtMs: T0 + 60 * 60_000, slaCreditMultipleBps: 10_000 }, T0 + 61 * 60_000));
    const at61Fen = (2270n * 3n * 3_660_000n) / 3_600_000n; // 6923
    expect(ended.billedUntilMs).toBe(T0 + 60 * 60_000 + 30_000); // a settlement never runs backwards
    expect(ended.slaCreditFen).toBe(6866n - 6810n + (at61Fen - 6810n)); // billed downtime back + 1× the downtime
    // net: the buyer pays exactly the first 60 minutes and gets 1× the downtime on top
    expect(balances(ledger, 'buyer').cash).toBe(CASH - 6810n + (at61Fen - 6810n));
    expect(balances(ledger, 'prov').earnings + feesFen(ledger)).toBe(6866n - ended.slaCreditFen);
  });

  it('caps the SLA credit at what the provider holds and records the shortfall', () => {
    ledger = market(make, CASH);
    const { lease } = placeAndTrade(ledger, EXAMPLE);
    const billed = unwrap(accrue(ledger, lease, T0 + HOUR_MS));
    const earned = balances(ledger, 'prov').earnings; // 6810 − 340 = 6470
    expect(withdraw(ledger, { transferId: 'w1', userId: 'prov', from: 'earnings', amountFen: earned - 100n }, T0 + HOUR_MS)).toBe('ok');
    // 30 min of downtime at 10× = far more than the provider has left
    const ended = unwrap(interruptLease(ledger, billed, { interruptedAtMs: T0 + HOUR_MS, slaCreditMultipleBps: 100_000 }, T0 + 90 * 60_000));
    const dueFen = (10_215n - 6_810n) * 10n;
    expect(ended.billedUntilMs).toBe(T0 + HOUR_MS);
    expect(ended.slaCreditFen).toBe(100n);
    expect(ended.slaShortfallFen).toBe(dueFen - 100n);
    expect(balances(ledger, 'prov').earnings).toBe(0n);
    expect(balances(ledger, 'buyer').cash).toBe(CASH - 6_810n + 100n);
  });

  it('validates terms when a lease opens', () => {
    ledger = market(make, CASH);
    const terms = { leaseId: 'L9', buyerId: 'buyer', providerId: 'prov', ...EXAMPLE, startMs: T0 };
    const funding = { voucherParts: [], cashFen: 13_620n };
    expect(openLease(terms, funding).ok).toBe(true);
    expect(openLease({ ...terms, leaseId: 'a:b' }, funding)).toEqual({ ok: false, code: 'id_invalid' });
    expect(openLease({ ...terms, gpuCount: 0 }, funding)).toEqual({ ok: false, code: 'terms_invalid' });
    expect(openLease({ ...terms, feeBps: 10_001 }, funding)).toEqual({ ok: false, code: 'terms_invalid' });
    expect(openLease(terms, { voucherParts: [], cashFen: 13_619n })).toEqual({ ok: false, code: 'funding_short' });
    const { lease } = placeAndTrade(ledger, EXAMPLE);
    expect(interruptLease(ledger, lease, { interruptedAtMs: T0, slaCreditMultipleBps: -1 }, T0)).toEqual({ ok: false, code: 'terms_invalid' });
    expect(ledger.getAccount(accountIds.escrow('buyer'))!.creditsPostedFen).toBe(13_620n);
  });
});

function chargeAtMinute(): bigint {
  return (2270n * 3n * 60_000n) / 3_600_000n;
}
