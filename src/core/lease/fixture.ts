/**
 * Test fixtures for the billing rules: a ledger with the platform, a buyer and a provider,
 * and a one-call path from bid to billed lease. Tests run it on both ledger implementations.
 */
import { deposit, openPlatformAccounts, openUserAccounts } from '../ledger/chart.js';
import { balanceFen, type LedgerApi } from '../ledger/types.js';
import { accountIds } from '../ledger/chart.js';
import { bidWorstCaseFen, chargeFen } from './billing.js';
import { fillBid, holdForBid, type BidHold } from './hold.js';
import { openLease, type LeaseBilling } from './lease.js';
import type { OpResult } from './result.js';
import type { BidScope, VoucherGrant } from './voucher.js';

export const T0 = Date.UTC(2024, 7, 15, 2, 0, 0); // 2024-08-15 10:00 China time
export const HOUR_MS = 3_600_000;
export const A100 = 'nvidia-a100-sxm4-40g';
export const BEIJING = 'cn-beijing';

export function unwrap<T>(r: OpResult<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.code} ${r.transferResult ?? ''} ${r.transferId ?? ''}`);
  return r.value;
}

/** Platform, buyer 'buyer' with `cashFen` deposited, provider 'prov'. */
export function market(make: () => LedgerApi, cashFen: bigint): LedgerApi {
  const ledger = make();
  if (openPlatformAccounts(ledger, T0) !== 'ok') throw new Error('platform');
  for (const user of ['buyer', 'prov']) if (openUserAccounts(ledger, user, T0) !== 'ok') throw new Error(user);
  if (cashFen > 0n && deposit(ledger, { transferId: 'dep:buyer', userId: 'buyer', amountFen: cashFen }, T0) !== 'ok') {
    throw new Error('deposit');
  }
  return ledger;
}

export function balances(ledger: LedgerApi, userId: string): Record<'cash' | 'escrow' | 'voucherEscrow' | 'earnings', bigint> {
  const b = (id: string): bigint => balanceFen(ledger.getAccount(id)!);
  return {
    cash: b(accountIds.cash(userId)),
    escrow: b(accountIds.escrow(userId)),
    voucherEscrow: b(accountIds.voucherEscrow(userId)),
    earnings: b(accountIds.earnings(userId)),
  };
}

export function feesFen(ledger: LedgerApi): bigint {
  return balanceFen(ledger.getAccount(accountIds.fees)!);
}

export interface LeaseSpec {
  readonly leaseId?: string;
  readonly priceFenPerGpuHour: number;
  readonly limitFenPerGpuHour?: number;
  readonly gpuCount: number;
  readonly durationMs: number;
  readonly feeBps: number;
  readonly vouchers?: readonly VoucherGrant[];
  readonly startMs?: number;
}

export const A100_BEIJING: BidScope = { acceleratorIds: [A100], regionIds: [BEIJING], maxPriceFenPerGpuHour: 2270 };

/** Bid at the limit, trade at the price, open the lease: what the exchange does on a match. */
export function placeAndTrade(ledger: LedgerApi, spec: LeaseSpec): { hold: BidHold; lease: LeaseBilling } {
  const leaseId = spec.leaseId ?? 'L1';
  const limit = spec.limitFenPerGpuHour ?? spec.priceFenPerGpuHour;
  const startMs = spec.startMs ?? T0;
  const held = unwrap(
    holdForBid(
      ledger,
      {
        bidId: `B-${leaseId}`,
        buyerId: 'buyer',
        amountFen: bidWorstCaseFen(limit, spec.gpuCount, spec.durationMs),
        scope: { ...A100_BEIJING, maxPriceFenPerGpuHour: limit },
        vouchers: spec.vouchers ?? [],
      },
      startMs,
    ),
  );
  const costFen = chargeFen(spec.priceFenPerGpuHour, spec.gpuCount, spec.durationMs);
  const fill = unwrap(fillBid(ledger, held, { leaseId, costFen, remainingFen: 0n }, startMs));
  const lease = unwrap(
    openLease(
      {
        leaseId,
        buyerId: 'buyer',
        providerId: 'prov',
        priceFenPerGpuHour: spec.priceFenPerGpuHour,
        gpuCount: spec.gpuCount,
        startMs,
        durationMs: spec.durationMs,
        feeBps: spec.feeBps,
      },
      fill.funding,
    ),
  );
  return { hold: fill.hold, lease };
}
