/**
 * Seeded random command streams for the ledger (TigerBeetle VOPR style): the simulation test
 * runs them against the fast and the reference ledger and compares every answer; the
 * benchmark uses the same PRNG. Pure and deterministic: a seed replays a run exactly.
 */
import { AccountFlags as A, TransferFlags as F, TRANSFER_CODES } from './codes.js';
import { MAX_FEN, type AccountInput, type TransferInput } from './types.js';
import { mulberry32 } from '../prng.js';

/** The shared seeded PRNG (mulberry32). */
export const prng = mulberry32;

export const SIM_ACCOUNTS: readonly AccountInput[] = [
  { id: 'world', kind: 'world', ownerId: '', flags: A.creditsMustNotExceedDebits },
  { id: 'fees', kind: 'platform_fees', ownerId: '', flags: A.debitsMustNotExceedCredits },
  ...['u0', 'u1', 'u2', 'u3', 'u4'].map(
    (id): AccountInput => ({ id, kind: 'user_cash', ownerId: id, flags: A.debitsMustNotExceedCredits }),
  ),
  { id: 's0', kind: 'sponsor', ownerId: 'p0', flags: A.none },
];

/** Accounts that appear during a run, so `account_not_found` turns into success later. */
export const SIM_LATE_ACCOUNTS: readonly AccountInput[] = [
  { id: 'late0', kind: 'user_escrow', ownerId: 'u0', flags: A.debitsMustNotExceedCredits },
  { id: 'late1', kind: 'sponsor', ownerId: 'p1', flags: A.none },
];

export type SimStep =
  | { readonly kind: 'transfers'; readonly nowMs: number; readonly batch: readonly TransferInput[] }
  | { readonly kind: 'accounts'; readonly nowMs: number; readonly batch: readonly AccountInput[] }
  | { readonly kind: 'expire'; readonly nowMs: number };

/** Generates steps; remembers ids it used so it can retry, post and void them. */
export class SimGenerator {
  private readonly rand: () => number;
  private nowMs: number;
  private next = 0;
  private readonly sent: TransferInput[] = [];
  private readonly pendings: string[] = [];
  private readonly mainIds = SIM_ACCOUNTS.map((a) => a.id);
  private readonly rareIds = SIM_LATE_ACCOUNTS.map((a) => a.id).concat('ghost');

  constructor(seed: number, startMs: number) {
    this.rand = prng(seed);
    this.nowMs = startMs;
  }

  private int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  private chance(p: number): boolean {
    return this.rand() < p;
  }

  private amount(): bigint {
    const r = this.rand();
    if (r < 0.02) return BigInt(this.int(3)) - 1n; // 0 or negative: rejected
    if (r < 0.03) return MAX_FEN - BigInt(this.int(1000)); // pushes toward overflow
    if (r < 0.4) return BigInt(1 + this.int(100));
    return BigInt(1 + this.int(100_000));
  }

  private account(): string {
    return this.chance(0.06) ? this.pick(this.rareIds) : this.pick(this.mainIds);
  }

  /** Feedback from the ledger: only pending transfers that exist are worth posting or voiding. */
  observe(batch: readonly TransferInput[], results: readonly string[]): void {
    batch.forEach((t, i) => {
      if (results[i] === 'ok' && ((t.flags ?? 0) & F.pending) !== 0) this.pendings.push(t.id);
    });
    if (this.pendings.length > 200) this.pendings.splice(0, 100);
  }

  step(): SimStep {
    const r = this.rand();
    // Time mostly moves forward, sometimes stands still, rarely steps back (the ledger clamps).
    this.nowMs += this.chance(0.05) ? -this.int(2000) : this.int(3000);
    if (r < 0.01) return { kind: 'expire', nowMs: this.nowMs };
    if (r < 0.015) {
      const late = this.pick(SIM_LATE_ACCOUNTS);
      const variant = this.chance(0.2) ? { ...late, ownerId: 'someone-else' } : late;
      return { kind: 'accounts', nowMs: this.nowMs, batch: [variant] };
    }
    const size = 1 + this.int(this.chance(0.3) ? 6 : 2);
    const chained = this.chance(0.35);
    const batch: TransferInput[] = [];
    for (let i = 0; i < size; i++) {
      const t = this.transfer();
      const last = i === size - 1;
      const link = chained && (!last || this.chance(0.03));
      batch.push(link ? { ...t, flags: (t.flags ?? 0) | F.linked } : t);
    }
    return { kind: 'transfers', nowMs: this.nowMs, batch };
  }

  private transfer(): TransferInput {
    const r = this.rand();
    if (r < 0.08 && this.sent.length > 0) {
      const old = this.pick(this.sent);
      return this.chance(0.7) ? old : { ...old, amountFen: (old.amountFen ?? 0n) + 1n };
    }
    if ((r < 0.3 && this.pendings.length > 0) || (r < 0.32 && this.sent.length > 0)) {
      return this.remember(this.resolve());
    }
    const id = `t${this.next++}`;
    const from = this.chance(0.3) ? 'world' : this.account();
    const to = this.chance(0.03) ? from : this.account();
    let flags = 0;
    let timeoutMs = 0;
    if (this.chance(0.35)) {
      flags |= F.pending;
      if (this.chance(0.6)) timeoutMs = 1 + this.int(20_000);
    }
    if (this.chance(0.1)) flags |= F.balancingDebit;
    if (this.chance(0.05)) flags |= F.balancingCredit;
    if (this.chance(0.01)) flags |= this.pick([F.postPending, 64, F.voidPending]);
    if (this.chance(0.01)) timeoutMs = this.pick([-1, 5]);
    const t: TransferInput = {
      id: this.chance(0.005) ? '' : id,
      debitAccountId: from,
      creditAccountId: to,
      amountFen: this.amount(),
      code: this.chance(0.005) ? ('nonsense' as TransferInput['code']) : this.pick(TRANSFER_CODES),
      flags,
      timeoutMs,
    };
    // Rare malformed shapes, so every input rejection is compared between the two ledgers too.
    const malformed = this.rand();
    if (malformed < 0.004) return this.remember({ ...t, pendingId: this.pick(this.pendings.concat('t0')) });
    if (malformed < 0.008) return this.remember({ ...t, debitAccountId: undefined });
    if (malformed < 0.012) return this.remember({ ...t, creditAccountId: '' });
    return this.remember(t);
  }

  private resolve(): TransferInput {
    const recent = this.pendings.slice(-20);
    const pendingId = this.chance(0.9) && recent.length > 0 ? this.pick(recent) : this.pick(this.sent).id;
    const id = `t${this.next++}`;
    const isPost = this.chance(0.6);
    const t: TransferInput = {
      id,
      pendingId: this.chance(0.01) ? id : pendingId,
      code: isPost ? 'hold' : 'release',
      flags: isPost ? F.postPending : F.voidPending,
    };
    const r = this.rand();
    if (r < 0.3) return { ...t, amountFen: BigInt(this.int(150_000)) };
    if (r < 0.35) return { ...t, debitAccountId: this.account() };
    if (r < 0.4) return { ...t, creditAccountId: this.account() };
    return t;
  }

  private remember(t: TransferInput): TransferInput {
    this.sent.push(t);
    return t;
  }
}
