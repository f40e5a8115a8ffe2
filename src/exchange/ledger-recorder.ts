/**
 * A LedgerApi that records which transfers a command wrote, so the command loop can persist
 * exactly those (and tell the users whose balances moved). Pure: wraps an in-memory ledger.
 */
import type { CreateAccountResult, CreateTransferResult } from '../core/ledger/codes.js';
import type { Account, AccountInput, LedgerApi, PendingStatus, Transfer, TransferInput } from '../core/ledger/types.js';

export type { LedgerApi, Transfer };

export class LedgerRecorder implements LedgerApi {
  private readonly written: string[] = [];

  constructor(readonly inner: LedgerApi) {}

  begin(): void {
    this.written.length = 0;
  }

  /** Transfers committed since `begin`, in commit order. */
  end(): Transfer[] {
    const out: Transfer[] = [];
    const written = this.written;
    let sorted = true;
    for (let i = 0; i < written.length; i++) {
      const t = this.inner.getTransfer(written[i]!);
      if (t === undefined) continue;
      if (out.length > 0 && out[out.length - 1]!.seq > t.seq) sorted = false;
      out.push(t);
    }
    // Written in seq order as a rule: sort only if not.
    if (!sorted) out.sort((a, b) => a.seq - b.seq);
    written.length = 0;
    return out;
  }

  createAccounts(batch: readonly AccountInput[], nowMs: number): readonly CreateAccountResult[] {
    return this.inner.createAccounts(batch, nowMs);
  }

  createTransfers(batch: readonly TransferInput[], nowMs: number): readonly CreateTransferResult[] {
    const results = this.inner.createTransfers(batch, nowMs);
    for (let i = 0; i < results.length; i++) if (results[i] === 'ok') this.written.push(batch[i]!.id);
    return results;
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
