/**
 * A LedgerApi that records which transfers a command wrote, so the command loop can persist
 * exactly those (and tell the users whose balances moved). Pure: wraps an in-memory ledger, which
 * numbers what it commits gap-free in commit order, so a command's transfers are those numbered
 * after the ledger's last seq at `begin` (a rolled-back chain gives its numbers back).
 */
import type { CreateAccountResult, CreateTransferResult } from '../core/ledger/codes.js';
import type { Ledger } from '../core/ledger/ledger.js';
import type { Account, AccountInput, LedgerApi, PendingStatus, Transfer, TransferInput } from '../core/ledger/types.js';

export type { LedgerApi, Transfer };

export class LedgerRecorder implements LedgerApi {
  /** The ledger's last seq at `begin`: what was committed since has a higher one (seq is gap-free). */
  private fromSeq = 0;

  constructor(readonly inner: Ledger) {}

  begin(): void {
    this.fromSeq = this.inner.lastSeq;
  }

  /** Transfers committed since `begin`, in commit order. */
  end(): Transfer[] {
    return this.inner.transfersAfter(this.fromSeq);
  }

  createAccounts(batch: readonly AccountInput[], nowMs: number): readonly CreateAccountResult[] {
    return this.inner.createAccounts(batch, nowMs);
  }

  createTransfers(batch: readonly TransferInput[], nowMs: number): readonly CreateTransferResult[] {
    return this.inner.createTransfers(batch, nowMs);
  }

  expirePending(nowMs: number): readonly string[] {
    return this.inner.expirePending(nowMs);
  }
  getAccount(id: string): Account | undefined {
    return this.inner.getAccount(id);
  }
  getTransfer(id: string): Transfer | undefined {
    return this.inner.getTransfer(id);
  }
  getPendingStatus(pendingId: string): PendingStatus | undefined {
    return this.inner.getPendingStatus(pendingId);
  }
  getAccountTransfers(accountId: string): readonly Transfer[] {
    return this.inner.getAccountTransfers(accountId);
  }
  getAccountsByOwner(ownerId: string): readonly Account[] {
    return this.inner.getAccountsByOwner(ownerId);
  }
  listAccounts(): readonly Account[] {
    return this.inner.listAccounts();
  }
  listOpenPending(): readonly Transfer[] {
    return this.inner.listOpenPending();
  }
  get clockMs(): number {
    return this.inner.clockMs;
  }
}
