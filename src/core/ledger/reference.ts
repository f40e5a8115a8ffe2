/**
 * The reference ledger: deliberately naive, written apart from the fast one, sharing its
 * test suite. State is two append-only lists (accounts, transfer records); every balance is
 * recomputed from the full transfer list; a failed linked chain is undone by truncating the
 * lists. Slow by design: use it only in tests, with short histories.
 */
import {
  ACCOUNT_KINDS,
  TRANSFER_CODES,
  TRANSIENT_TRANSFER_RESULTS,
  isUserKind,
  type CreateAccountResult,
  type CreateTransferResult,
} from './codes.js';
import {
  MAX_BATCH,
  MAX_FEN,
  type Account,
  type AccountInput,
  type LedgerApi,
  type PendingStatus,
  type Transfer,
  type TransferInput,
} from './types.js';

interface Record {
  readonly transfer: Transfer;
  readonly input: TransferInput;
}

interface Totals {
  dp: bigint;
  cp: bigint;
  dpend: bigint;
  cpend: bigint;
}

const has = (flags: number, bit: number): boolean => Math.floor(flags / bit) % 2 === 1;
const LINKED = 1;
const PENDING = 2;
const POST = 4;
const VOID = 8;
const BAL_DEBIT = 16;
const BAL_CREDIT = 32;
const DMNEC = 2;
const CMNED = 4;
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const clamp0 = (a: bigint): bigint => (a < 0n ? 0n : a);

export class ReferenceLedger implements LedgerApi {
  private accounts: { readonly input: AccountInput; readonly timestampMs: number }[] = [];
  private records: Record[] = [];
  private expired: string[] = [];
  private failed: string[] = [];
  private clock = 0;

  get clockMs(): number {
    return this.clock;
  }

  createAccounts(batch: readonly AccountInput[], nowMs: number): readonly CreateAccountResult[] {
    this.clock = Math.max(this.clock, nowMs);
    if (batch.length > MAX_BATCH) return batch.map(() => 'batch_too_large');
    return this.chains(batch, 7, (a) => this.createAccount(a), () => this.accounts.length, (n) => {
      this.accounts = this.accounts.slice(0, n);
    });
  }

  createTransfers(batch: readonly TransferInput[], nowMs: number): readonly CreateTransferResult[] {
    this.clock = Math.max(this.clock, nowMs);
    this.expireDue();
    if (batch.length > MAX_BATCH) return batch.map(() => 'batch_too_large');
    return this.chains(batch, 63, (t) => this.createTransfer(t), () => this.records.length, (n) => {
      this.records = this.records.slice(0, n);
    });
  }

  expirePending(nowMs: number): readonly string[] {
    this.clock = Math.max(this.clock, nowMs);
    return this.expireDue();
  }

  getAccount(id: string): Account | undefined {
    const a = this.accounts.find((x) => x.input.id === id);
    return a === undefined ? undefined : this.withTotals(a, this.totalsAll());
  }

  private withTotals(a: { readonly input: AccountInput; readonly timestampMs: number }, all: Map<string, Totals>): Account {
    const t = all.get(a.input.id) ?? { dp: 0n, cp: 0n, dpend: 0n, cpend: 0n };
    return {
      id: a.input.id,
      kind: a.input.kind,
      ownerId: a.input.ownerId,
      flags: a.input.flags,
      debitsPostedFen: t.dp,
      creditsPostedFen: t.cp,
      debitsPendingFen: t.dpend,
      creditsPendingFen: t.cpend,
      timestampMs: a.timestampMs,
    };
  }

  getTransfer(id: string): Transfer | undefined {
    return this.records.find((r) => r.transfer.id === id)?.transfer;
  }

  getPendingStatus(pendingId: string): PendingStatus | undefined {
    const p = this.getTransfer(pendingId);
    return p === undefined || !has(p.flags, PENDING) ? undefined : this.statusOf(pendingId);
  }

  /** Ids of pending transfers that are no longer open (posted, voided or expired). */
  private closed(): Set<string> {
    const closed = new Set<string>(this.expired);
    for (const r of this.records) if (r.transfer.pendingId !== '') closed.add(r.transfer.pendingId);
    return closed;
  }

  getAccountTransfers(accountId: string): readonly Transfer[] {
    return this.records
      .map((r) => r.transfer)
      .filter((t) => t.debitAccountId === accountId || t.creditAccountId === accountId);
  }

  getAccountsByOwner(ownerId: string): readonly Account[] {
    const all = this.totalsAll();
    return this.accounts.filter((a) => a.input.ownerId === ownerId).map((a) => this.withTotals(a, all));
  }

  listAccounts(): readonly Account[] {
    const all = this.totalsAll();
    return this.accounts.map((a) => this.withTotals(a, all));
  }

  listOpenPending(): readonly Transfer[] {
    const closed = this.closed();
    return this.records.map((r) => r.transfer).filter((t) => has(t.flags, PENDING) && !closed.has(t.id));
  }

  private chains<E extends { readonly flags?: number }, R extends string>(
    batch: readonly E[],
    maxFlags: number,
    one: (e: E) => R,
    mark: () => number,
    truncate: (n: number) => void,
  ): (R | 'linked_event_failed' | 'linked_event_chain_open')[] {
    const out: (R | 'linked_event_failed' | 'linked_event_chain_open')[] = [];
    let chain: number[] = [];
    let start = mark();
    const linked = (e: E): boolean => {
      const f = e.flags ?? 0;
      return Number.isInteger(f) && f >= 0 && f <= maxFlags && has(f, LINKED);
    };
    batch.forEach((e, i) => {
      chain.push(i);
      if (linked(e) && i < batch.length - 1) return;
      if (linked(e)) {
        for (const k of chain) out[k] = k === i ? 'linked_event_chain_open' : 'linked_event_failed';
      } else {
        let failed = false;
        for (const k of chain) {
          if (failed) {
            out[k] = 'linked_event_failed';
            continue;
          }
          const r = one(batch[k]!);
          out[k] = r;
          if (r !== 'ok' && r !== 'exists') {
            failed = true;
            truncate(start);
            for (const before of chain) if (before < k) out[before] = 'linked_event_failed';
          }
        }
      }
      chain = [];
      start = mark();
    });
    return out;
  }

  private createAccount(a: AccountInput): CreateAccountResult {
    if (a.id === '') return 'id_must_not_be_empty';
    if (!Number.isInteger(a.flags) || a.flags < 0 || a.flags > 7) return 'reserved_flag';
    if (has(a.flags, DMNEC) && has(a.flags, CMNED)) return 'flags_are_mutually_exclusive';
    if (!ACCOUNT_KINDS.includes(a.kind)) return 'kind_invalid';
    if (isUserKind(a.kind) && !has(a.flags, DMNEC)) return 'flags_invalid_for_kind';
    const input: AccountInput = { id: a.id, kind: a.kind, ownerId: a.ownerId, flags: has(a.flags, LINKED) ? a.flags - 1 : a.flags };
    const old = this.accounts.find((x) => x.input.id === a.id);
    if (old !== undefined) {
      return JSON.stringify(old.input) === JSON.stringify(input) ? 'exists' : 'exists_with_different_fields';
    }
    this.accounts.push({ input, timestampMs: this.clock });
    return 'ok';
  }

  /** Canonical text of an input, for comparing a retry with the original. */
  private static key(t: TransferInput): string {
    const flags = t.flags ?? 0;
    return [
      t.id,
      t.debitAccountId ?? '',
      t.creditAccountId ?? '',
      t.amountFen === undefined ? 'none' : t.amountFen.toString(),
      t.code,
      has(flags, LINKED) ? flags - 1 : flags,
      t.pendingId ?? '',
      t.timeoutMs ?? 0,
      t.userData ?? '',
    ].join('\u0000');
  }

  private createTransfer(t: TransferInput): CreateTransferResult {
    const r = this.check(t);
    if (r !== 'ok') {
      if (TRANSIENT_TRANSFER_RESULTS.has(r)) this.failed.push(t.id);
      return r;
    }
    return 'ok';
  }

  private check(t: TransferInput): CreateTransferResult {
    const flags = t.flags ?? 0;
    const resolving = has(flags, POST) || has(flags, VOID);
    const timeoutMs = t.timeoutMs ?? 0;
    const debitId = t.debitAccountId ?? '';
    const creditId = t.creditAccountId ?? '';
    if (t.id === '') return 'id_must_not_be_empty';
    if (!Number.isInteger(flags) || flags < 0 || flags > 63) return 'reserved_flag';
    const twoPhase = [PENDING, POST, VOID].filter((bit) => has(flags, bit)).length;
    if (twoPhase > 1 || (resolving && (has(flags, BAL_DEBIT) || has(flags, BAL_CREDIT)))) {
      return 'flags_are_mutually_exclusive';
    }
    if (!TRANSFER_CODES.includes(t.code)) return 'code_invalid';
    if (resolving && (t.pendingId ?? '') === '') return 'pending_id_required';
    if (resolving && t.pendingId === t.id) return 'pending_id_must_be_different';
    if (!resolving && (t.pendingId ?? '') !== '') return 'pending_id_must_be_empty';
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0 || !Number.isSafeInteger(this.clock + timeoutMs)) {
      return 'timeout_invalid';
    }
    if (timeoutMs !== 0 && !has(flags, PENDING)) return 'timeout_reserved_for_pending_transfer';
    if (!resolving && debitId === '') return 'debit_account_id_required';
    if (!resolving && creditId === '') return 'credit_account_id_required';
    if (!resolving && debitId === creditId) return 'same_debit_and_credit_account';
    if (!resolving && (t.amountFen ?? 0n) <= 0n) return 'amount_must_be_positive';
    if (resolving && t.amountFen !== undefined && t.amountFen <= 0n) return 'amount_must_be_positive';
    const old = this.records.find((r) => r.transfer.id === t.id);
    if (old !== undefined) {
      return ReferenceLedger.key(old.input) === ReferenceLedger.key(t) ? 'exists' : 'exists_with_different_fields';
    }
    if (this.failed.includes(t.id)) return 'id_already_failed';
    return resolving ? this.resolve(t, has(flags, POST)) : this.transfer(t, flags, debitId, creditId, timeoutMs);
  }

  private transfer(t: TransferInput, flags: number, debitId: string, creditId: string, timeoutMs: number): CreateTransferResult {
    if (!this.accounts.some((a) => a.input.id === debitId)) return 'debit_account_not_found';
    if (!this.accounts.some((a) => a.input.id === creditId)) return 'credit_account_not_found';
    const all = this.totalsAll();
    const d = this.withTotals(this.accounts.find((a) => a.input.id === debitId)!, all);
    const c = this.withTotals(this.accounts.find((a) => a.input.id === creditId)!, all);
    let amount = t.amountFen!;
    if (has(flags, BAL_DEBIT)) amount = min(amount, clamp0(d.creditsPostedFen - d.debitsPostedFen - d.debitsPendingFen));
    if (has(flags, BAL_CREDIT)) amount = min(amount, clamp0(c.debitsPostedFen - c.creditsPostedFen - c.creditsPendingFen));
    const debitsAfter = d.debitsPostedFen + d.debitsPendingFen + amount;
    const creditsAfter = c.creditsPostedFen + c.creditsPendingFen + amount;
    if (debitsAfter > MAX_FEN || creditsAfter > MAX_FEN) return 'overflow';
    if (has(d.flags, DMNEC) && debitsAfter > d.creditsPostedFen) return 'exceeds_credits';
    if (has(c.flags, CMNED) && creditsAfter > c.debitsPostedFen) return 'exceeds_debits';
    this.append(t, debitId, creditId, amount, timeoutMs);
    return 'ok';
  }

  private resolve(t: TransferInput, isPost: boolean): CreateTransferResult {
    const p = this.getTransfer(t.pendingId!);
    if (p === undefined) return 'pending_not_found';
    if (!has(p.flags, PENDING)) return 'pending_not_pending';
    if ((t.debitAccountId ?? '') !== '' && t.debitAccountId !== p.debitAccountId) return 'pending_has_different_debit_account';
    if ((t.creditAccountId ?? '') !== '' && t.creditAccountId !== p.creditAccountId) return 'pending_has_different_credit_account';
    const status = this.statusOf(p.id);
    if (status === 'posted') return 'pending_already_posted';
    if (status === 'voided') return 'pending_already_voided';
    if (status === 'expired') return 'pending_expired';
    if (isPost && t.amountFen !== undefined && t.amountFen > p.amountFen) return 'post_exceeds_pending';
    if (!isPost && t.amountFen !== undefined && t.amountFen !== p.amountFen) return 'pending_has_different_amount';
    const amount = isPost ? (t.amountFen ?? p.amountFen) : p.amountFen;
    this.append(t, p.debitAccountId, p.creditAccountId, amount, 0);
    return 'ok';
  }

  private append(t: TransferInput, debitId: string, creditId: string, amountFen: bigint, timeoutMs: number): void {
    const transfer: Transfer = {
      id: t.id,
      debitAccountId: debitId,
      creditAccountId: creditId,
      amountFen,
      code: t.code,
      flags: t.flags ?? 0,
      pendingId: t.pendingId ?? '',
      timeoutMs,
      userData: t.userData ?? '',
      timestampMs: this.clock,
      seq: this.records.length + 1,
    };
    this.records.push({ transfer, input: t });
  }

  private statusOf(pendingId: string): PendingStatus {
    for (const r of this.records) {
      if (r.transfer.pendingId !== pendingId) continue;
      if (has(r.transfer.flags, POST)) return 'posted';
      if (has(r.transfer.flags, VOID)) return 'voided';
    }
    return this.expired.includes(pendingId) ? 'expired' : 'pending';
  }

  /** Replays the whole transfer list: every account's four totals, from nothing. */
  private totalsAll(): Map<string, Totals> {
    const closed = this.closed();
    const all = new Map<string, Totals>();
    const of = (id: string): Totals => {
      let t = all.get(id);
      if (t === undefined) all.set(id, (t = { dp: 0n, cp: 0n, dpend: 0n, cpend: 0n }));
      return t;
    };
    for (const { transfer: x } of this.records) {
      if (has(x.flags, VOID)) continue;
      const d = of(x.debitAccountId);
      const c = of(x.creditAccountId);
      if (!has(x.flags, PENDING)) {
        d.dp += x.amountFen;
        c.cp += x.amountFen;
      } else if (!closed.has(x.id)) {
        d.dpend += x.amountFen;
        c.cpend += x.amountFen;
      }
    }
    return all;
  }

  private expireDue(): string[] {
    const closed = this.closed();
    const due = this.records
      .map((r) => r.transfer)
      .filter((x) => has(x.flags, PENDING) && x.timeoutMs > 0 && x.timestampMs + x.timeoutMs <= this.clock)
      .filter((x) => !closed.has(x.id))
      .sort((a, b) => a.timestampMs + a.timeoutMs - (b.timestampMs + b.timeoutMs) || a.seq - b.seq)
      .map((x) => x.id);
    this.expired.push(...due);
    return due;
  }
}
