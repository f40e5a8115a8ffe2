/** Per-account statement: posted transfers in commit order with a running balance. */
import { TransferFlags, type TransferCode } from './codes.js';
import type { LedgerApi, Transfer } from './types.js';

export interface StatementLine {
  readonly seq: number;
  readonly transferId: string;
  readonly timestampMs: number;
  readonly code: TransferCode;
  readonly counterpartyAccountId: string;
  readonly debitFen: bigint;
  readonly creditFen: bigint;
  /** Posted balance (credits − debits) after this line. */
  readonly balanceFen: bigint;
}

export interface AccountStatement {
  readonly accountId: string;
  readonly openingBalanceFen: bigint;
  readonly closingBalanceFen: bigint;
  readonly lines: readonly StatementLine[];
  /** Pass as `afterSeq` to read the next page; undefined on the last page. */
  readonly nextAfterSeq: number | undefined;
}

export interface StatementWindow {
  /** Inclusive. */
  readonly fromMs?: number;
  /** Exclusive. */
  readonly toMs?: number;
  readonly afterSeq?: number;
  readonly limit?: number;
}

export const STATEMENT_MAX_LINES = 10_000;

/** Pending reservations and voids move no posted money; only these lines change a balance. */
export function movesPostedMoney(t: Transfer): boolean {
  return (t.flags & (TransferFlags.pending | TransferFlags.voidPending)) === 0;
}

export function accountStatement(
  ledger: LedgerApi,
  accountId: string,
  window: StatementWindow = {},
): AccountStatement | undefined {
  if (ledger.getAccount(accountId) === undefined) return undefined;
  const fromMs = window.fromMs ?? -Infinity;
  const toMs = window.toMs ?? Infinity;
  const afterSeq = window.afterSeq ?? 0;
  const limit = Math.max(1, Math.min(window.limit ?? 1000, STATEMENT_MAX_LINES));
  let balance = 0n;
  let opening: bigint | undefined;
  let nextAfterSeq: number | undefined;
  const lines: StatementLine[] = [];
  for (const t of ledger.getAccountTransfers(accountId)) {
    if (!movesPostedMoney(t)) continue;
    const inWindow = t.timestampMs >= fromMs && t.timestampMs < toMs;
    if (t.timestampMs >= toMs) break;
    if (inWindow && t.seq > afterSeq) {
      if (lines.length === limit) {
        nextAfterSeq = lines[lines.length - 1]!.seq;
        break;
      }
      opening ??= balance;
    }
    const isDebit = t.debitAccountId === accountId;
    balance += isDebit ? -t.amountFen : t.amountFen;
    if (!inWindow || t.seq <= afterSeq) continue;
    lines.push({
      seq: t.seq,
      transferId: t.id,
      timestampMs: t.timestampMs,
      code: t.code,
      counterpartyAccountId: isDebit ? t.creditAccountId : t.debitAccountId,
      debitFen: isDebit ? t.amountFen : 0n,
      creditFen: isDebit ? 0n : t.amountFen,
      balanceFen: balance,
    });
  }
  return {
    accountId,
    openingBalanceFen: opening ?? balance,
    closingBalanceFen: lines.length > 0 ? lines[lines.length - 1]!.balanceFen : (opening ?? balance),
    lines,
    nextAfterSeq,
  };
}
