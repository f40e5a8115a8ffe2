/**
 * The monthly statement a finance team wants from a user: money in and out of the user's
 * accounts by transfer code, voucher and cash apart, plus the compute bill and the earnings.
 * Movements between a user's own accounts (cash → escrow, escrow → cash) are not income or
 * spending and are left out; the per-account statement (ledger/statement.ts) shows them.
 */
import { isUserKind, type AccountKind, type TransferCode } from '../ledger/codes.js';
import { movesPostedMoney } from '../ledger/statement.js';
import type { LedgerApi } from '../ledger/types.js';

export type Funding = 'cash' | 'voucher' | 'earnings';

export interface InvoiceLine {
  readonly code: TransferCode;
  readonly funding: Funding;
  readonly inFen: bigint;
  readonly outFen: bigint;
  readonly count: number;
}

export interface MonthlyStatement {
  readonly userId: string;
  /** 'YYYY-MM'. */
  readonly month: string;
  readonly fromMs: number;
  readonly toMs: number;
  /** Sorted by funding, then code. */
  readonly lines: readonly InvoiceLine[];
  /** What the user paid for compute (provider share plus platform fee), by source. */
  readonly compute: { readonly voucherFen: bigint; readonly cashFen: bigint; readonly totalFen: bigint };
  /** What the user earned as a provider, and what left the earnings again. */
  readonly earnings: { readonly grossFen: bigint; readonly slaPaidFen: bigint; readonly withdrawnFen: bigint };
}

const FUNDING: Partial<Record<AccountKind, Funding>> = {
  user_cash: 'cash',
  user_escrow: 'cash',
  user_voucher: 'voucher',
  user_voucher_escrow: 'voucher',
  user_earnings: 'earnings',
};

const COMPUTE_CODES: ReadonlySet<TransferCode> = new Set<TransferCode>(['settle', 'voucher_spend', 'fee']);

/**
 * Month window in epoch ms. `utcOffsetMinutes` shifts the month to a local calendar
 * (480 for China Standard Time); the default is UTC, as at every other edge.
 */
export function monthWindow(month: string, utcOffsetMinutes = 0): { fromMs: number; toMs: number } | undefined {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const monthIndex = Number(m[2]) - 1;
  if (monthIndex < 0 || monthIndex > 11 || !Number.isSafeInteger(utcOffsetMinutes)) return undefined;
  const offsetMs = utcOffsetMinutes * 60_000;
  return { fromMs: Date.UTC(year, monthIndex, 1) - offsetMs, toMs: Date.UTC(year, monthIndex + 1, 1) - offsetMs };
}

export function monthlyStatement(
  ledger: LedgerApi,
  userId: string,
  month: string,
  utcOffsetMinutes = 0,
): MonthlyStatement | undefined {
  const window = monthWindow(month, utcOffsetMinutes);
  if (window === undefined) return undefined;
  const accounts = ledger.getAccountsByOwner(userId).filter((a) => isUserKind(a.kind));
  const own = new Set(accounts.map((a) => a.id));
  const totals = new Map<string, { code: TransferCode; funding: Funding; inFen: bigint; outFen: bigint; count: number }>();
  for (const account of accounts) {
    const funding = FUNDING[account.kind]!;
    for (const t of ledger.getAccountTransfers(account.id)) {
      if (!movesPostedMoney(t) || t.timestampMs < window.fromMs || t.timestampMs >= window.toMs) continue;
      if (own.has(t.debitAccountId) && own.has(t.creditAccountId)) continue;
      const key = `${funding}/${t.code}`;
      const line = totals.get(key) ?? { code: t.code, funding, inFen: 0n, outFen: 0n, count: 0 };
      if (t.creditAccountId === account.id) line.inFen += t.amountFen;
      else line.outFen += t.amountFen;
      line.count += 1;
      totals.set(key, line);
    }
  }
  const lines = [...totals.values()].sort((a, b) =>
    a.funding !== b.funding ? (a.funding < b.funding ? -1 : 1) : a.code < b.code ? -1 : a.code > b.code ? 1 : 0,
  );
  const sum = (pick: (l: InvoiceLine) => boolean, side: 'inFen' | 'outFen'): bigint =>
    lines.filter(pick).reduce((s, l) => s + l[side], 0n);
  const voucherFen = sum((l) => l.funding === 'voucher' && COMPUTE_CODES.has(l.code), 'outFen');
  const cashFen = sum((l) => l.funding === 'cash' && COMPUTE_CODES.has(l.code), 'outFen');
  return {
    userId,
    month,
    ...window,
    lines,
    compute: { voucherFen, cashFen, totalFen: voucherFen + cashFen },
    earnings: {
      grossFen: sum((l) => l.funding === 'earnings' && (l.code === 'settle' || l.code === 'voucher_spend'), 'inFen'),
      slaPaidFen: sum((l) => l.funding === 'earnings' && l.code === 'sla_credit', 'outFen'),
      withdrawnFen: sum((l) => l.funding === 'earnings' && l.code === 'withdrawal', 'outFen'),
    },
  };
}
