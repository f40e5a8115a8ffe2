import { afterEach, describe, expect, it } from 'vitest';
import { accountIds } from '../ledger/chart.js';
import { assertInvariants } from '../ledger/invariants.js';
import { IMPLEMENTATIONS } from '../ledger/testkit.js';
import { balanceFen, type LedgerApi } from '../ledger/types.js';
import { A100, A100_BEIJING, BEIJING, HOUR_MS, T0, market, unwrap } from './fixture.js';
import { expireVoucher, fundProgramme, grantVoucher, voucherCoversBid, voucherScopeAllows, type GrantVoucherArgs } from './voucher.js';

const GRANT: GrantVoucherArgs = {
  grantId: 'g1',
  programmeId: 'beijing-2024',
  userId: 'buyer',
  amountFen: 5_000n,
  expiresAtMs: T0 + 30 * 24 * HOUR_MS,
  scope: { acceleratorIds: [A100], regionIds: [BEIJING], maxPriceFenPerGpuHour: 3000 },
};

describe('voucher scope', () => {
  const scope = GRANT.scope;
  it('allows a spend inside every dimension of the scope', () => {
    expect(voucherScopeAllows(scope, { acceleratorId: A100, regionId: BEIJING, priceFenPerGpuHour: 3000 })).toBe(true);
    expect(voucherScopeAllows(scope, { acceleratorId: 'huawei-910b', regionId: BEIJING, priceFenPerGpuHour: 100 })).toBe(false);
    expect(voucherScopeAllows(scope, { acceleratorId: A100, regionId: 'cn-guizhou', priceFenPerGpuHour: 100 })).toBe(false);
    expect(voucherScopeAllows(scope, { acceleratorId: A100, regionId: BEIJING, priceFenPerGpuHour: 3001 })).toBe(false);
    expect(voucherScopeAllows({}, { acceleratorId: 'x', regionId: 'y', priceFenPerGpuHour: 1e9 })).toBe(true);
  });

  it('covers a bid only if everything the bid may buy is in scope', () => {
    expect(voucherCoversBid(scope, A100_BEIJING)).toBe(true);
    expect(voucherCoversBid(scope, { ...A100_BEIJING, regionIds: undefined })).toBe(false); // any region
    expect(voucherCoversBid({ ...scope, regionIds: undefined }, { ...A100_BEIJING, regionIds: undefined })).toBe(true);
    expect(voucherCoversBid(scope, { ...A100_BEIJING, acceleratorIds: [A100, 'huawei-910b'] })).toBe(false);
    expect(voucherCoversBid(scope, { ...A100_BEIJING, maxPriceFenPerGpuHour: 3001 })).toBe(false);
  });
});

describe.each(IMPLEMENTATIONS)('voucher programmes on %s', (_name, make) => {
  let ledger: LedgerApi;
  const sponsorFen = () => balanceFen(ledger.getAccount(accountIds.sponsor('beijing-2024'))!);
  afterEach(() => assertInvariants(ledger));

  function funded(amountFen = 100_000n): void {
    ledger = market(make, 0n);
    unwrap(fundProgramme(ledger, { programmeId: 'beijing-2024', transferId: 'fund1', amountFen }, T0));
  }

  it('funds a programme from outside and grants scoped, expiring vouchers from it', () => {
    funded();
    expect(sponsorFen()).toBe(100_000n);
    const grant = unwrap(grantVoucher(ledger, GRANT, T0));
    expect(grant.accountId).toBe('user:buyer:voucher:g1');
    expect(balanceFen(ledger.getAccount(grant.accountId)!)).toBe(5_000n);
    expect(sponsorFen()).toBe(95_000n);
    const retry = grantVoucher(ledger, GRANT, T0);
    expect(retry.ok && retry.replayed).toBe(true);
    expect(sponsorFen()).toBe(95_000n);
  });

  it('cannot grant more than the programme holds', () => {
    funded(1_000n);
    expect(grantVoucher(ledger, GRANT, T0)).toMatchObject({ ok: false, code: 'ledger_rejected', transferResult: 'exceeds_credits' });
  });

  it('rejects bad grants and funding', () => {
    funded();
    expect(grantVoucher(ledger, { ...GRANT, grantId: 'a:b' }, T0)).toEqual({ ok: false, code: 'id_invalid' });
    expect(grantVoucher(ledger, { ...GRANT, amountFen: 0n }, T0)).toEqual({ ok: false, code: 'amount_must_be_positive' });
    expect(grantVoucher(ledger, { ...GRANT, expiresAtMs: T0 }, T0)).toEqual({ ok: false, code: 'expiry_invalid' });
    expect(grantVoucher(ledger, { ...GRANT, scope: { maxPriceFenPerGpuHour: 0 } }, T0)).toEqual({ ok: false, code: 'scope_invalid' });
    expect(grantVoucher(ledger, { ...GRANT, scope: { regionIds: [] } }, T0)).toEqual({ ok: false, code: 'scope_invalid' });
    expect(fundProgramme(ledger, { programmeId: 'p', transferId: 'f2', amountFen: -1n }, T0)).toEqual({ ok: false, code: 'amount_must_be_positive' });
    expect(fundProgramme(ledger, { programmeId: '', transferId: 'f2', amountFen: 1n }, T0)).toEqual({ ok: false, code: 'id_invalid' });
  });

  it('sends expired voucher balance back to the sponsor', () => {
    funded();
    const grant = unwrap(grantVoucher(ledger, GRANT, T0));
    expect(expireVoucher(ledger, grant, grant.expiresAtMs - 1)).toEqual({ ok: false, code: 'voucher_not_expired' });
    const swept = expireVoucher(ledger, grant, grant.expiresAtMs);
    expect(swept.ok && swept.value).toBe(5_000n);
    expect(sponsorFen()).toBe(100_000n);
    expect(balanceFen(ledger.getAccount(grant.accountId)!)).toBe(0n);
    const again = expireVoucher(ledger, grant, grant.expiresAtMs);
    expect(again.ok && again.replayed && again.value).toBe(5_000n);
    const later = expireVoucher(ledger, grant, grant.expiresAtMs + 1);
    expect(later.ok && later.value).toBe(0n);
    expect(ledger.getTransfer(`voucher:g1:expire:${grant.expiresAtMs}`)!.code).toBe('voucher_expire');
  });
});
