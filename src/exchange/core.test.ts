import { describe, expect, it } from 'vitest';
import { listAccelerators, listRegions } from '../core/catalog/index.js';
import { accountIds } from '../core/ledger/chart.js';
import { MS_PER_HOUR, type PlaceBid } from '../core/market/types.js';
import { mulberry32 } from '../core/prng.js';
import { type CoreCommand, type CoreResult, ExchangeCore } from './core.js';

const H = MS_PER_HOUR;
const T0 = Date.UTC(2026, 0, 1);
const A100 = 'nvidia-a100-sxm4-40g';
const BJ = 'cn-beijing';
const catalog = { accelerators: listAccelerators(), regions: listRegions() };

function setup(extra: readonly CoreCommand[] = []): { core: ExchangeCore; run: (c: CoreCommand) => CoreResult; log: CoreCommand[] } {
  const core = new ExchangeCore(catalog);
  const log: CoreCommand[] = [];
  const run = (c: CoreCommand): CoreResult => {
    log.push(c);
    const r = core.apply(c);
    core.check(); // ledger sums to zero, no user account negative, books valid: after every command
    return r;
  };
  const ok = (c: CoreCommand): void => {
    const r = run(c);
    if (!r.ok) throw new Error(`${c.type}: ${r.code} ${r.message}`);
  };
  ok({ type: 'openAccount', now: T0, userId: 'prov' });
  ok({ type: 'openAccount', now: T0, userId: 'buyer' });
  ok({ type: 'deposit', now: T0, userId: 'buyer', amountFen: '100000', transferId: 'dep1' });
  ok({ type: 'registerNode', now: T0, nodeId: 'n1', providerId: 'prov', acceleratorId: A100, regionId: BJ, gpuCount: 8, kind: 'agent' });
  ok({ type: 'placeAsk', now: T0, orderId: 'a1', providerId: 'prov', nodeIds: ['n1'], priceFenPerGpuHour: 2270 });
  for (const c of extra) ok(c);
  return { core, run, log };
}

const bal = (core: ExchangeCore, id: string): bigint => {
  const a = core.ledger.getAccount(id)!;
  return a.creditsPostedFen - a.debitsPostedFen;
};
const held = (core: ExchangeCore, id: string): bigint => core.ledger.getAccount(id)!.debitsPendingFen;

const bid3x2h = (now = T0): PlaceBid => ({
  type: 'placeBid', now, orderId: 'b1', buyerId: 'buyer', acceleratorIds: [A100], quantity: { kind: 'gpus', gpus: 3 }, hours: 2, limitFen: 2500,
});

type Run = ReturnType<typeof setup>;
const MONEY_ACCOUNTS = [accountIds.escrow('buyer'), accountIds.cash('buyer'), accountIds.earnings('prov'), accountIds.fees];

/** Every account `bid3x2h` moves money between holds the same in both runs. */
function expectSameMoney(a: Run, b: Run): void {
  for (const id of MONEY_ACCOUNTS) expect(bal(a.core, id)).toBe(bal(b.core, id));
}

/** The 3-GPU lease ticked every second for `seconds`, settled at every tick and once a minute. */
function everyTickAndPerMinute(seconds: number): { every: Run; cadence: Run } {
  const every = setup([bid3x2h()]);
  const cadence = setup([bid3x2h()]);
  for (let s = 1; s <= seconds; s++) {
    every.run({ type: 'tick', now: T0 + s * 1_000 });
    cadence.run({ type: 'tick', now: T0 + s * 1_000, settleEveryMs: 60_000 });
  }
  return { every, cadence };
}

/** Accounts with their balances and holds, as text (bigints as decimal strings). */
const accountsJson = (core: ExchangeCore): string => JSON.stringify(core.ledger.listAccounts(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));

describe('exchange core: engine and ledger together', () => {
  it('a 3-GPU lease at 22.70 CNY/GPU-hour for 2 h costs exactly 136.20 CNY, fee 5% split exactly', () => {
    const { core, run } = setup();
    const r = run(bid3x2h());
    expect(r.ok).toBe(true);
    expect(r.events.map((e) => e.type)).toContain('lease_created');
    // the trade posted the full cost into escrow and released the rest of the worst case
    expect(bal(core, accountIds.escrow('buyer'))).toBe(13_620n);
    expect(bal(core, accountIds.cash('buyer'))).toBe(100_000n - 13_620n);
    expect(held(core, accountIds.cash('buyer'))).toBe(0n);
    // settle every simulated minute for two hours
    for (let m = 1; m <= 120; m++) expect(run({ type: 'tick', now: T0 + m * 60_000 }).ok).toBe(true);
    expect(bal(core, accountIds.escrow('buyer'))).toBe(0n);
    expect(bal(core, accountIds.earnings('prov'))).toBe(12_939n);
    expect(bal(core, accountIds.fees)).toBe(681n);
    expect(core.leaseBilling('l1')).toBeUndefined(); // closed
  });

  it('settling once or every minute gives the same money', () => {
    const a = setup([bid3x2h()]);
    a.run({ type: 'tick', now: T0 + 2 * H });
    const b = setup([bid3x2h()]);
    for (let m = 1; m <= 120; m++) b.run({ type: 'tick', now: T0 + m * 60_000 });
    expectSameMoney(a, b);
  });

  it('ticks every second with a one-minute cadence settle each lease once a minute, and end with the same money', () => {
    const everyTick = setup([bid3x2h()]);
    const perMinute = setup([bid3x2h()]);
    let transfersEveryTick = 0;
    let transfersPerMinute = 0;
    const settledAt: number[] = [];
    // Two hours and a minute of one-second ticks: the lease ends at two hours on both.
    for (let s = 1; s <= 2 * 3_600 + 60; s++) {
      const now = T0 + s * 1_000;
      transfersEveryTick += everyTick.run({ type: 'tick', now }).transfers.length;
      const r = perMinute.run({ type: 'tick', now, settleEveryMs: 60_000 });
      expect(r.ok).toBe(true);
      if (r.transfers.length > 0 && s < 2 * 3_600) settledAt.push(s);
      transfersPerMinute += r.transfers.length;
    }
    // Settled at each whole minute of the lease, nowhere between.
    expect(settledAt).toEqual(Array.from({ length: 119 }, (_, k) => (k + 1) * 60));
    // 7,842 transfers against 240 (two per settlement, and the closing ones).
    expect(transfersEveryTick).toBeGreaterThan(30 * transfersPerMinute);
    expectSameMoney(perMinute, everyTick);
    expect(bal(perMinute.core, accountIds.earnings('prov'))).toBe(12_939n);
  });

  it('between settlements a lease is not billed, and ending it early still bills to the millisecond', () => {
    const { every, cadence } = everyTickAndPerMinute(90);
    // 90 s in: the cadence run settled once, at 60 s.
    expect(cadence.core.leaseBilling('l1')!.billedUntilMs).toBe(T0 + 60_000);
    const end = T0 + 90_500;
    for (const x of [every, cadence]) expect(x.run({ type: 'endLease', now: end, leaseId: 'l1', reason: 'buyer' }).ok).toBe(true);
    // 3 GPUs × 22.70 CNY/h × 90.5 s = 1.712 CNY, floored to 1.71; both runs end identically.
    expect(bal(cadence.core, accountIds.earnings('prov')) + bal(cadence.core, accountIds.fees)).toBe(171n);
    expectSameMoney(cadence, every);
  });

  it('a node lost between settlements: the buyer ends the same at any cadence; the platform takes no fee on downtime it never billed', () => {
    const { every, cadence } = everyTickAndPerMinute(100);
    // Silent since 70 s, found at 100 s: every-tick settling had billed the 30 s of downtime.
    for (const x of [every, cadence]) {
      expect(x.run({ type: 'endLease', now: T0 + 100_000, leaseId: 'l1', reason: 'node_lost', interruptedAtMs: T0 + 70_000 }).ok).toBe(true);
    }
    const buyerPaid = (x: Run): bigint => 100_000n - bal(x.core, accountIds.cash('buyer'));
    expect(buyerPaid(cadence)).toBe(buyerPaid(every));
    const net = (x: Run): bigint => bal(x.core, accountIds.earnings('prov')) + bal(x.core, accountIds.fees);
    expect(net(cadence)).toBe(net(every));
    // The fee on the billed downtime (5% of 30 s) stayed with the platform and came out of the
    // provider's earnings through the credit; at a one-minute cadence it was never billed.
    expect(bal(every.core, accountIds.fees)).toBe((2270n * 3n * 100_000n) / 3_600_000n / 20n);
    expect(bal(cadence.core, accountIds.fees)).toBe((2270n * 3n * 70_000n) / 3_600_000n / 20n);
  });

  it('a task whose exit is reported late: time settled past the exit stays billed, so the less often leases settle, the closer the bill is to the exit', () => {
    const { every, cadence } = everyTickAndPerMinute(100);
    // Exited at 70 s, reported at 100 s.
    for (const x of [every, cadence]) {
      expect(x.run({ type: 'endLease', now: T0 + 100_000, leaseId: 'l1', reason: 'job_exited', interruptedAtMs: T0 + 70_000 }).ok).toBe(true);
    }
    const paid = (x: Run): bigint => 100_000n - bal(x.core, accountIds.cash('buyer'));
    expect(paid(every)).toBe((2270n * 3n * 100_000n) / 3_600_000n); // settled up to 100 s: never runs backwards
    expect(paid(cadence)).toBe((2270n * 3n * 70_000n) / 3_600_000n); // settled up to 60 s, billed to the exit
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i: random leases (vouchers expiring mid-lease, early ends) end with the same money at any cadence', (seed) => {
    const rnd = mulberry32(seed);
    const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
    // One script of commands; each cadence runs it with its own ticks.
    const script: CoreCommand[] = [
      { type: 'registerNode', now: T0, nodeId: 'n2', providerId: 'prov', acceleratorId: A100, regionId: BJ, gpuCount: 8, kind: 'agent' },
      { type: 'placeAsk', now: T0, orderId: 'a2', providerId: 'prov', nodeIds: ['n2'], priceFenPerGpuHour: 1999 },
      { type: 'fundProgramme', now: T0, programmeId: 'city', amountFen: '50000', transferId: 'fund1' },
      // A voucher that expires during the leases: its unused escrow goes to the sponsor, not back to it.
      { type: 'grantVoucher', now: T0, grantId: 'g1', programmeId: 'city', userId: 'buyer', amountFen: String(int(1_000, 9_000)), expiresAtMs: T0 + int(10, 90) * 60_000, scope: { acceleratorIds: [A100] } },
    ];
    const ends: CoreCommand[] = [];
    for (let b = 1; b <= 6; b++) {
      const at = T0 + int(0, 60) * 60_000 + int(0, 59_999);
      script.push({ type: 'placeBid', now: at, orderId: `rb${b}`, buyerId: 'buyer', acceleratorIds: [A100], quantity: { kind: 'gpus', gpus: int(1, 3) }, hours: int(1, 2), limitFen: 2500, timeInForce: 'IOC' });
      // Ends at their own time (an end that says it stopped earlier, a task's exit or a lost node,
      // depends on what was settled by then: see the two tests before this one).
      if (rnd() < 0.6) ends.push({ type: 'endLease', now: at + int(1, 5_000_000), leaseId: '', reason: rnd() < 0.5 ? 'buyer' : 'admin' });
    }
    const outcome = (settleEveryMs: number | undefined): string => {
      const { core, run } = setup();
      const timed = [...script.slice(4).map((c, i) => ({ c, i })), ...ends.map((c, i) => ({ c, i: 100 + i }))].sort((x, y) => x.c.now - y.c.now || x.i - y.i);
      for (const c of script.slice(0, 4)) expect(run(c).ok).toBe(true);
      const leases: string[] = [];
      let next = 0;
      // Ticks every 7 s for 4 hours, the script's commands at their times between them.
      for (let t = T0 + 7_000; t <= T0 + 4 * H; t += 7_000) {
        for (; next < timed.length && timed[next]!.c.now <= t; next++) {
          const c = timed[next]!.c;
          if (c.type === 'endLease') {
            // Ends the oldest lease still running (the same one in every run: same script).
            const open = leases.find((id) => core.leaseBilling(id)?.state === 'active');
            if (open !== undefined) expect(run({ ...c, leaseId: open }).ok).toBe(true);
          } else {
            for (const e of run(c).events) if (e.type === 'lease_created') leases.push(e.leaseId);
          }
        }
        run({ type: 'tick', now: t, ...(settleEveryMs === undefined ? {} : { settleEveryMs }) });
      }
      expect(leases.length).toBeGreaterThan(0);
      expect(leases.every((id) => core.leaseBilling(id) === undefined)).toBe(true); // all ended
      return JSON.stringify(core.ledger.listAccounts().map((a) => [a.id, (a.creditsPostedFen - a.debitsPostedFen).toString(), a.debitsPendingFen.toString()]));
    };
    const everyTick = outcome(undefined);
    expect(outcome(60_000)).toBe(everyTick);
    expect(outcome(3_600_000)).toBe(everyTick);
  });

  it.each([-1, 1.5, 86_400_001, Number.NaN])('a tick with settleEveryMs %s is refused with INVALID_TICK and changes nothing', (bad) => {
    const { core, run } = setup([bid3x2h()]);
    const before = accountsJson(core);
    const r = run({ type: 'tick', now: T0 + 2 * H, settleEveryMs: bad });
    expect(r).toMatchObject({ ok: false, code: 'INVALID_TICK', events: [], transfers: [] });
    expect(accountsJson(core)).toBe(before);
    expect(core.leaseBilling('l1')).toBeDefined(); // the term is over, but the refused tick did not end it
  });

  it('ending after 37 min 13 s bills exactly that and refunds the rest at once', () => {
    const { core, run } = setup([bid3x2h()]);
    const end = T0 + 37 * 60_000 + 13_000;
    expect(run({ type: 'endLease', now: end, leaseId: 'l1', reason: 'buyer' }).ok).toBe(true);
    const charged = (2270n * 3n * BigInt(end - T0)) / 3_600_000n; // floor(price × GPUs × ms / 3.6e6)
    expect(charged).toBe(4_224n);
    expect(bal(core, accountIds.cash('buyer'))).toBe(100_000n - charged);
    expect(bal(core, accountIds.escrow('buyer'))).toBe(0n);
    expect(bal(core, accountIds.fees) + bal(core, accountIds.earnings('prov'))).toBe(charged);
    // the GPUs are back on the market
    expect(core.engine.depth(`${A100}@${BJ}`).asks).toEqual([{ priceFenPerGpuHour: 2270, gpus: 8 }]);
  });

  it('a provider-caused end refunds the rest and pays an SLA credit from earnings', () => {
    const { core, run } = setup([bid3x2h()]);
    run({ type: 'tick', now: T0 + H });
    const earningsBefore = bal(core, accountIds.earnings('prov'));
    expect(run({ type: 'endLease', now: T0 + H, leaseId: 'l1', reason: 'node_lost' }).ok).toBe(true);
    expect(bal(core, accountIds.escrow('buyer'))).toBe(0n);
    expect(bal(core, accountIds.cash('buyer'))).toBe(100_000n - 6_810n); // paid exactly the first hour
    expect(bal(core, accountIds.earnings('prov'))).toBeLessThanOrEqual(earningsBefore);
  });

  it('a node found silent: its downtime since the last heartbeat is paid back and credited twice over', () => {
    const { core, run } = setup([bid3x2h()]);
    run({ type: 'tick', now: T0 + H }); // billed the full first hour, 6,810 fen
    const r = run({ type: 'endLease', now: T0 + H, leaseId: 'l1', reason: 'node_lost', interruptedAtMs: T0 + H - 60_000 });
    expect(r.ok).toBe(true);
    // The last minute's value is 6,810 − floor(6,810 × 59/60) = 114 fen: repaid, plus 2 × 114 credit.
    expect(r.events.find((e) => e.type === 'lease_billed')).toMatchObject({ slaCreditFen: '342', chargedFen: '6810' });
    expect(bal(core, accountIds.cash('buyer'))).toBe(100_000n - 6_810n + 342n);
    // A claimed interruption after `now` is ignored (it is `now`).
    const later = setup([bid3x2h()]);
    expect(later.run({ type: 'endLease', now: T0 + H, leaseId: 'l1', reason: 'node_lost', interruptedAtMs: T0 + 2 * H }).events.find((e) => e.type === 'lease_billed')).toMatchObject({ slaCreditFen: '0' });
  });

  it('a task that exited is billed up to its reported exit, never before what was settled nor after now', () => {
    const { core, run } = setup([bid3x2h()]);
    const exit = T0 + 10 * 60_000;
    expect(run({ type: 'endLease', now: exit + 5_000, leaseId: 'l1', reason: 'job_exited', interruptedAtMs: exit }).ok).toBe(true);
    const charged = (2270n * 3n * 600_000n) / 3_600_000n; // exactly the 10 minutes it ran
    expect(bal(core, accountIds.cash('buyer'))).toBe(100_000n - charged);
    // Already settled past the reported exit: billing stays where it was.
    const settled = setup([bid3x2h()]);
    settled.run({ type: 'tick', now: T0 + 20 * 60_000 });
    settled.run({ type: 'endLease', now: T0 + 20 * 60_000, leaseId: 'l1', reason: 'job_exited', interruptedAtMs: exit });
    expect(bal(settled.core, accountIds.cash('buyer'))).toBe(100_000n - (2270n * 3n * 1_200_000n) / 3_600_000n);
    // A claimed exit after `now` is ignored (it is `now`).
    const late = setup([bid3x2h()]);
    late.run({ type: 'endLease', now: exit, leaseId: 'l1', reason: 'job_exited', interruptedAtMs: exit + H });
    expect(bal(late.core, accountIds.cash('buyer'))).toBe(100_000n - charged);
  });

  it('an agent reports a lease ready (access rides on the event) and only a running lease can be', () => {
    const { run } = setup([bid3x2h()]);
    const access = { kind: 'ssh', host: '10.0.0.5', port: 2222, user: 'root' };
    expect(run({ type: 'leaseReady', now: T0 + 1_000, leaseId: 'l1', access })).toMatchObject({
      ok: true, events: [{ type: 'lease_ready', leaseId: 'l1', buyerId: 'buyer', access }], transfers: [],
    });
    expect(run({ type: 'leaseReady', now: T0 + 1_000, leaseId: 'l9', access })).toMatchObject({ ok: false, code: 'LEASE_NOT_FOUND' });
    const future = setup([{ ...bid3x2h(), startAt: T0 + H }]);
    expect(future.run({ type: 'leaseReady', now: T0 + 1, leaseId: 'l1', access })).toMatchObject({ ok: false, code: 'LEASE_NOT_STARTED' });
  });

  it('a lease whose provisioning failed ends as the provider’s fault: billed to the second, the rest refunded', () => {
    const { core, run } = setup([bid3x2h()]);
    const r = run({ type: 'leaseFailed', now: T0 + 10_000, leaseId: 'l1', error: 'image not found' });
    expect(r.ok).toBe(true);
    expect(r.events.map((e) => e.type)).toEqual(expect.arrayContaining(['lease_ended', 'lease_billed', 'lease_failed']));
    expect(r.events.at(-1)).toEqual({ type: 'lease_failed', leaseId: 'l1', error: 'image not found' });
    expect(bal(core, accountIds.escrow('buyer'))).toBe(0n);
    expect(bal(core, accountIds.cash('buyer'))).toBeGreaterThanOrEqual(100_000n - 19n); // 3 × 22.70 × 10 s = 18.9 fen at most
    expect(run({ type: 'leaseFailed', now: T0 + 20_000, leaseId: 'l1', error: 'again' })).toMatchObject({ ok: false, code: 'LEASE_NOT_FOUND' });
  });

  it('a bid beyond the balance is refused with INSUFFICIENT_FUNDS and changes nothing', () => {
    const { core, run } = setup();
    const before = JSON.stringify(core.ledger.listAccounts(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    const r = run({ ...bid3x2h(), quantity: { kind: 'gpus', gpus: 8 }, hours: 24 });
    expect(r).toMatchObject({ ok: false, code: 'INSUFFICIENT_FUNDS' });
    expect(r.transfers).toEqual([]);
    const after = JSON.stringify(core.ledger.listAccounts(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    expect(after).toBe(before);
    expect(core.engine.depth(`${A100}@${BJ}`).bids).toEqual([]);
  });

  it('a resting bid holds its worst case; cancelling releases all of it', () => {
    const { core, run } = setup();
    run({ ...bid3x2h(), limitFen: 2000 }); // below the ask: rests
    expect(held(core, accountIds.cash('buyer'))).toBe(12_000n); // 2000 × 3 × 2
    expect(run({ type: 'cancel', now: T0 + 1, orderId: 'b1', ownerId: 'buyer' }).ok).toBe(true);
    expect(held(core, accountIds.cash('buyer'))).toBe(0n);
    expect(bal(core, accountIds.cash('buyer'))).toBe(100_000n);
  });

  it('raising a resting bid re-holds the new worst case, then trades at the ask price', () => {
    const { core, run } = setup();
    run({ ...bid3x2h(), limitFen: 2000 });
    const r = run({ type: 'amend', now: T0 + 1, orderId: 'b1', ownerId: 'buyer', priceFen: 2300 });
    expect(r.ok).toBe(true);
    expect(r.events.some((e) => e.type === 'trade')).toBe(true);
    expect(held(core, accountIds.cash('buyer'))).toBe(0n);
    expect(bal(core, accountIds.escrow('buyer'))).toBe(13_620n);
  });

  it('an amend the engine refuses after a bigger worst case moves no money and leaves the bid as it was', () => {
    const { core, run } = setup();
    // 8 GPUs on whole 8-GPU nodes, below the ask: rests holding 2000 × 8 × 2 = 32_000
    expect(run({ ...bid3x2h(), limitFen: 2000, quantity: { kind: 'gpus', gpus: 8 }, gpusPerNode: 8 }).ok).toBe(true);
    expect(held(core, accountIds.cash('buyer'))).toBe(32_000n);
    // 12 is not a multiple of gpusPerNode, and would need a bigger hold (48_000)
    const r = run({ type: 'amend', now: T0 + 1, orderId: 'b1', ownerId: 'buyer', remaining: 12 });
    expect(r).toMatchObject({ ok: false, code: 'INVALID_GPUS_PER_NODE' });
    expect(r.transfers).toEqual([]);
    expect(held(core, accountIds.cash('buyer'))).toBe(32_000n);
    // too many GPUs for any bid: refused before any money moves, too
    const big = run({ type: 'amend', now: T0 + 2, orderId: 'b1', ownerId: 'buyer', remaining: 1_000_008 });
    expect(big).toMatchObject({ ok: false, code: 'INVALID_QUANTITY' });
    expect(big.transfers).toEqual([]);
    expect(core.bidHoldFen('b1')).toBe(32_000n);
  });

  it('refuses asks and bids from users without an account', () => {
    const { run } = setup();
    expect(run({ ...bid3x2h(), buyerId: 'ghost', orderId: 'b9' })).toMatchObject({ ok: false, code: 'ACCOUNT_NOT_FOUND' });
    expect(run({ type: 'registerNode', now: T0, nodeId: 'n9', providerId: 'ghost', acceleratorId: A100, regionId: BJ, gpuCount: 1, kind: 'agent' })).toMatchObject({
      ok: false,
      code: 'ACCOUNT_NOT_FOUND',
    });
  });

  it('vouchers pay before cash, within their scope', () => {
    const { core, run } = setup();
    expect(run({ type: 'fundProgramme', now: T0, programmeId: 'city', amountFen: '50000', transferId: 'fund1' }).ok).toBe(true);
    expect(
      run({ type: 'grantVoucher', now: T0, grantId: 'g1', programmeId: 'city', userId: 'buyer', amountFen: '5000', expiresAtMs: T0 + 30 * 24 * H, scope: { acceleratorIds: [A100] } }).ok,
    ).toBe(true);
    expect(run({ ...bid3x2h(), regionIds: [BJ] }).ok).toBe(true);
    // the 5000 fen voucher went first, cash paid the rest of 13_620
    expect(bal(core, accountIds.cash('buyer'))).toBe(100_000n - 8_620n);
    expect(bal(core, accountIds.voucherEscrow('buyer')) + bal(core, accountIds.escrow('buyer'))).toBe(13_620n);
  });

  it('an expired voucher goes back to its sponsor on the next tick, once, and never pays again', () => {
    const { core, run } = setup();
    run({ type: 'fundProgramme', now: T0, programmeId: 'city', amountFen: '50000', transferId: 'fund1' });
    run({ type: 'grantVoucher', now: T0, grantId: 'g1', programmeId: 'city', userId: 'buyer', amountFen: '5000', expiresAtMs: T0 + H, scope: {} });
    const sponsor = accountIds.sponsor('city');
    const sponsorBefore = bal(core, sponsor);
    expect(run({ type: 'tick', now: T0 + H - 1 }).events).toEqual([]);
    const r = run({ type: 'tick', now: T0 + H });
    expect(r.events).toContainEqual({ type: 'voucher_expired', grantId: 'g1', userId: 'buyer', returnedFen: '5000' });
    expect(bal(core, sponsor) - sponsorBefore).toBe(5_000n);
    expect(bal(core, core.vouchersOf('buyer')[0]!.accountId)).toBe(0n);
    expect(run({ type: 'tick', now: T0 + 2 * H }).events).toEqual([]); // swept once
  });

  it('replaying the same commands gives the same events and the same ledger', () => {
    const a = setup([bid3x2h()]);
    a.run({ type: 'tick', now: T0 + H });
    a.run({ type: 'endLease', now: T0 + H + 5_000, leaseId: 'l1', reason: 'job_exited' });
    const b = new ExchangeCore(catalog);
    const replay = a.log.map((c) => b.apply(c));
    const c = new ExchangeCore(catalog);
    const again = a.log.map((cmd) => c.apply(cmd));
    const json = (x: unknown): string => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    expect(json(again)).toBe(json(replay));
    expect(json(b.ledger.listAccounts())).toBe(json(a.core.ledger.listAccounts()));
  });
});
