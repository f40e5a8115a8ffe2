/**
 * The command loop on real stores (a SQLite file and a fresh PostgreSQL database): group
 * commit, durability across a restart (replay rebuilds the same memory), rejected commands
 * journaled with their time effects, fail-stop on a failed commit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAccelerators, listRegions } from '../src/core/catalog/index.js';
import { accountIds } from '../src/core/ledger/chart.js';
import { ExchangeCore } from '../src/exchange/core.js';
import { CommandLoop, resultJson } from '../src/exchange/loop.js';
import { Projection } from '../src/exchange/projection.js';
import { openPostgresStore, openSqliteStore, type Store } from '../src/store/index.js';
import { createTestDatabase, type TestDatabase } from './support/pg.js';

const catalog = { accelerators: listAccelerators(), regions: listRegions() };
const A100 = 'nvidia-a100-sxm4-40g';
const T0 = Date.UTC(2026, 0, 1);

interface Adapter {
  readonly name: string;
  open(): Promise<Store>;
}

let dir = '';
let pgdb: TestDatabase | null = null;
const adapters: Adapter[] = [
  { name: 'sqlite', open: () => openSqliteStore({ file: join(dir, 'loop.db') }) },
  { name: 'postgres', open: () => openPostgresStore({ url: pgdb!.url }) },
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'suanli-loop-'));
  pgdb = await createTestDatabase();
});
afterAll(async () => {
  await pgdb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function start(store: Store, clock: () => number, onFatal?: (e: unknown) => void): Promise<CommandLoop> {
  await store.migrate();
  return CommandLoop.open(new ExchangeCore(catalog), store, new Projection(catalog.accelerators), { clock, ...(onFatal ? { onFatal } : {}) });
}

const balance = (loop: CommandLoop, id: string): bigint => {
  const a = loop.core.ledger.getAccount(id)!;
  return a.creditsPostedFen - a.debitsPostedFen;
};

describe('resultJson', () => {
  it('writes exactly what JSON.stringify of { ok, code, events } writes', () => {
    const core = new ExchangeCore(catalog);
    const results = [
      core.apply({ type: 'openAccount', now: T0, userId: 'rj' }),
      core.apply({ type: 'openAccount', now: T0, userId: 'rj' }), // rejected: ACCOUNT_EXISTS
      core.apply({ type: 'deposit', now: T0, userId: 'rj', amountFen: '12', transferId: 'rj-d' }),
      core.apply({ type: 'deposit', now: T0, userId: 'nobody', amountFen: '12', transferId: 'rj-x' }),
      core.apply({ type: 'tick', now: T0 + 1 }),
      { ok: true as const, events: [{ type: 'lease_ready' as const, leaseId: 'l"\\\u0000', buyerId: '算力', access: { a: [1, null, '\ud800'] } }], transfers: [] },
    ];
    for (const r of results) {
      expect(resultJson(r)).toBe(JSON.stringify(r.ok ? { ok: true, events: r.events } : { ok: false, code: r.code, events: r.events }));
    }
  });
});

describe.each(adapters)('command loop on $name', (adapter) => {
  it('commits, survives a restart by replay, and answers only after the commit', async () => {
    let now = T0;
    const clock = (): number => now;
    const store = await adapter.open();
    const loop = await start(store, clock);
    const results = await Promise.all([
      loop.submit({ type: 'openAccount', now: 0, userId: 'prov' }),
      loop.submit({ type: 'openAccount', now: 0, userId: 'buyer' }),
    ]);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(await store.lastJournalSeq()).toBe(2); // both in one group commit, both durable
    await loop.submit({ type: 'deposit', now: 0, userId: 'buyer', amountFen: '1000000', transferId: 'd1' });
    await loop.submit({ type: 'registerNode', now: 0, nodeId: 'n1', providerId: 'prov', acceleratorId: A100, regionId: 'cn-beijing', gpuCount: 8, kind: 'manual' });
    await loop.submit({ type: 'placeAsk', now: 0, orderId: 'a1', providerId: 'prov', nodeIds: ['n1'], priceFenPerGpuHour: 2270 });
    const bid = await loop.submit({
      type: 'placeBid', now: 0, orderId: 'b1', buyerId: 'buyer', acceleratorIds: [A100], quantity: { kind: 'gpus', gpus: 3 }, hours: 2, limitFen: 2500,
    });
    expect(bid.ok && bid.events.some((e) => e.type === 'trade')).toBe(true);
    // Ticks with a one-minute settlement cadence (as the server sends): nothing to settle at
    // 30 s (not journaled), the lease's first 70 s at 70 s; replay must settle exactly so.
    now += 30_000;
    expect((await loop.submit({ type: 'tick', now: 0, settleEveryMs: 60_000 })).transfers).toEqual([]);
    now += 40_000;
    expect((await loop.submit({ type: 'tick', now: 0, settleEveryMs: 60_000 })).transfers.length).toBeGreaterThan(0);
    expect(loop.core.leaseBilling('l1')!.billedUntilMs).toBe(now);
    const journal = await store.journalAfter(0, 100);
    expect(JSON.parse(journal[journal.length - 1]!.commandJson)).toMatchObject({ type: 'tick', settleEveryMs: 60_000 });
    now += 3_600_000 - 70_000;
    expect((await loop.submit({ type: 'tick', now: 0 })).ok).toBe(true);
    // A rejected command is answered (not thrown) and journaled.
    const bad = await loop.submit({ type: 'cancel', now: 0, orderId: 'nope', ownerId: 'buyer' });
    expect(bad).toMatchObject({ ok: false, code: 'ORDER_NOT_FOUND' });

    // read models
    const trades = await store.listTrades({ market: `${A100}@cn-beijing`, limit: 10 });
    expect(trades.items.map((t) => [t.gpus, t.priceFenPerGpuHour])).toEqual([[3, 2270]]);
    const leases = await store.listLeases({ userId: 'buyer', role: 'buyer', limit: 10 });
    expect(leases.items[0]).toMatchObject({ id: 'l1', state: 'active', gpuIndices: [0, 1, 2] });
    const order = await store.getOrder('b1');
    expect(order).toMatchObject({ status: 'filled', remaining: 0, side: 'bid' });
    const cash = await store.accountTransfers({ accountId: accountIds.cash('buyer'), limit: 100 });
    expect(cash.items.some((t) => t.code === 'deposit' && t.amountFen === 1_000_000n)).toBe(true);

    const earnings = balance(loop, accountIds.earnings('prov'));
    expect(earnings).toBe(6_810n - 340n); // the first hour, minus the 5% fee (rounded down)
    const seq = loop.journalSeq;
    await store.close();

    // restart: a new process would do exactly this
    const store2 = await adapter.open();
    const loop2 = await start(store2, clock);
    expect(loop2.journalSeq).toBe(seq);
    expect(balance(loop2, accountIds.earnings('prov'))).toBe(earnings);
    // the same transfers, not just the same balances (a tick replayed at another cadence would differ)
    const ids = (l: CommandLoop): string[] => l.core.ledger.getAccountTransfers(accountIds.escrow('buyer')).map((t) => t.id);
    expect(ids(loop2)).toEqual(ids(loop));
    expect(loop2.core.engine.depth(`${A100}@cn-beijing`)).toEqual(loop.core.engine.depth(`${A100}@cn-beijing`));
    // and it keeps going where it left off
    now += 3_600_000;
    await loop2.submit({ type: 'tick', now: 0 });
    expect(balance(loop2, accountIds.earnings('prov'))).toBe(13_620n - 681n);
    expect(await store2.getLease('l1')).toMatchObject({ state: 'ended', endReason: 'completed' });
    await store2.close();
  });

  it('many small group commits, pipelined: each read by onApplied at its own batch, answered and published after its own commit, in order, replayed identically', async () => {
    let now = T0 + 100 * 3_600_000;
    const clock = (): number => ++now;
    const store = await adapter.open();
    await store.migrate();
    // What `onApplied` sees (the live feed reads books and balances then): memory exactly at its batch.
    const applied: [lastSeqOfBatch: number, memorySeq: number][] = [];
    // Each batch's send, once committed: the batch is in the store by then, and sends keep batch order.
    const sent: [lastSeqOfBatch: number, storedUpTo: number][] = [];
    const committedHook: number[] = [];
    let current: CommandLoop | null = null;
    const inFlight = new Set<number>();
    let storedUpTo = 0;
    let appliedDuringCommit = 0;
    const core = new ExchangeCore(catalog);
    const apply = core.apply.bind(core);
    core.apply = (command) => {
      if (inFlight.size > 0) appliedDuringCommit++;
      return apply(command);
    };
    const loop = await CommandLoop.open(core, store, new Projection(catalog.accelerators), {
      clock,
      maxBatch: 7,
      onApplied: (b) => {
        const last = b.entries[b.entries.length - 1]!.seq;
        applied.push([last, current!.journalSeq]);
        return (c) => {
          expect(c.entries).toBe(b.entries);
          sent.push([last, storedUpTo]);
        };
      },
      onCommitted: (c) => committedHook.push(c.entries[c.entries.length - 1]!.seq),
    });
    current = loop;
    // Slow commits, so the loop has time to apply the next batch meanwhile (it must).
    const commit = store.commit.bind(store);
    store.commit = async (batch) => {
      const last = batch.journal?.at(-1)?.seq ?? 0;
      inFlight.add(last);
      await new Promise((r) => setTimeout(r, 5));
      await commit(batch);
      inFlight.delete(last);
      storedUpTo = Math.max(storedUpTo, last);
    };
    await loop.submit({ type: 'openAccount', now: 0, userId: 'pl-prov' });
    await loop.submit({ type: 'openAccount', now: 0, userId: 'pl-buyer' });
    await loop.submit({ type: 'deposit', now: 0, userId: 'pl-buyer', amountFen: '100000000', transferId: 'pl-d' });
    for (let n = 0; n < 8; n++) {
      await loop.submit({ type: 'registerNode', now: 0, nodeId: `pl-n${n}`, providerId: 'pl-prov', acceleratorId: A100, regionId: 'cn-shanghai', gpuCount: 8, kind: 'manual' });
      await loop.submit({ type: 'placeAsk', now: 0, orderId: `pl-a${n}`, providerId: 'pl-prov', nodeIds: [`pl-n${n}`], priceFenPerGpuHour: 2000 + n });
    }
    const committed: number[] = [];
    const answered: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        loop
          .submit({ type: 'placeBid', now: 0, orderId: `pl-b${i}`, buyerId: 'pl-buyer', acceleratorIds: [A100], quantity: { kind: 'gpus', gpus: 1 }, hours: 1, limitFen: 2500, timeInForce: 'IOC' })
          .then(async (r) => {
            answered.push(i);
            // Durable before it is answered: the order is in the store already.
            if ((await store.getOrder(`pl-b${i}`)) !== undefined) committed.push(i);
            return r;
          }),
      ),
    );
    expect(results.every((r) => r.ok && r.events.some((e) => e.type === 'trade'))).toBe(true);
    expect(answered).toEqual(Array.from({ length: 64 }, (_, i) => i)); // in order
    expect(committed).toHaveLength(64);
    expect(applied.length).toBeGreaterThan(9); // 64 bids in batches of at most 7
    for (const [lastSeq, memorySeq] of applied) expect(memorySeq).toBe(lastSeq);
    expect(sent.map(([last]) => last)).toEqual(applied.map(([last]) => last));
    expect(committedHook).toEqual(applied.map(([last]) => last));
    for (const [lastSeq, storedSeq] of sent) expect(storedSeq).toBe(lastSeq);
    expect(appliedDuringCommit).toBeGreaterThan(20); // pipelined: the next batch is applied while one commits
    const journal = await store.journalAfter(0, 10_000);
    expect(journal.map((e) => e.seq)).toEqual(Array.from({ length: loop.journalSeq }, (_, i) => i + 1));
    const earnings = balance(loop, accountIds.earnings('pl-prov'));
    await store.close();

    const store2 = await adapter.open();
    const loop2 = await start(store2, clock);
    expect(loop2.journalSeq).toBe(loop.journalSeq);
    expect(balance(loop2, accountIds.earnings('pl-prov'))).toBe(earnings);
    expect(loop2.core.engine.depth(`${A100}@cn-shanghai`)).toEqual(loop.core.engine.depth(`${A100}@cn-shanghai`));
    await store2.close();
  });

  it('stops (fail-stop) when a commit fails with more batches waiting: every caller after it is rejected, none hangs', async () => {
    const store = await adapter.open();
    let fatal = 0;
    await store.migrate();
    const loop = await CommandLoop.open(new ExchangeCore(catalog), store, new Projection(catalog.accelerators), {
      clock: () => T0 + 200 * 3_600_000,
      maxBatch: 3,
      onFatal: () => {
        fatal++;
      },
    });
    const before = await store.lastJournalSeq();
    const commit = store.commit.bind(store);
    let commits = 0;
    store.commit = async (batch) => {
      if (++commits === 2) throw new Error('disk full');
      return commit(batch);
    };
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => loop.submit({ type: 'openAccount', now: 0, userId: `fs-${i}` })));
    expect(outcomes.slice(0, 3).every((o) => o.status === 'fulfilled')).toBe(true); // the first batch committed
    expect(outcomes.slice(3).every((o) => o.status === 'rejected')).toBe(true);
    expect(fatal).toBe(1);
    expect(await store.lastJournalSeq()).toBe(before + 3);
    await expect(loop.submit({ type: 'tick', now: 0 })).rejects.toThrow(/stopped/);
    await store.close();
  });

  it('applies a large next batch in slices while a commit is in flight, and answers every command in order', async () => {
    const store = await adapter.open();
    await store.migrate();
    const core = new ExchangeCore(catalog);
    const apply = core.apply.bind(core);
    let applied = 0;
    core.apply = (command) => {
      applied++;
      return apply(command);
    };
    const loop = await CommandLoop.open(core, store, new Projection(catalog.accelerators), { clock: () => T0 + 300 * 3_600_000 });
    const commit = store.commit.bind(store);
    let commits = 0;
    store.commit = async (batch) => {
      commits++;
      await new Promise((r) => setTimeout(r, 20));
      return commit(batch);
    };
    const before = await store.lastJournalSeq();
    const order: number[] = [];
    applied = 0; // not counting the replay of what earlier tests stored
    const first = loop.submit({ type: 'openAccount', now: 0, userId: 'sl-0' }).then(() => order.push(0));
    await new Promise((r) => setImmediate(r)); // the first batch (one command) is committing now
    const rest = Array.from({ length: 300 }, (_, i) => loop.submit({ type: 'openAccount', now: 0, userId: `sl-${i + 1}` }).then(() => order.push(i + 1)));
    // I/O gets a turn between slices: a callback queued now runs before the 300 are all applied.
    let appliedWhenIoRan = -1;
    setImmediate(() => (appliedWhenIoRan = applied));
    await Promise.all([first, ...rest]);
    expect(appliedWhenIoRan).toBeGreaterThan(1);
    expect(appliedWhenIoRan).toBeLessThan(301);
    expect(order).toEqual(Array.from({ length: 301 }, (_, i) => i));
    expect(commits).toBeLessThanOrEqual(3); // the 300 applied while the first committed: one or two more commits, not one per slice
    expect(await store.lastJournalSeq()).toBe(before + 301);
    await store.close();
  });

  it('stops (fail-stop) when the core throws while a commit is in flight: the committing batch is answered, the next is rejected and never stored', async () => {
    const store = await adapter.open();
    await store.migrate();
    let fatal = 0;
    const core = new ExchangeCore(catalog);
    const apply = core.apply.bind(core);
    core.apply = (command) => {
      if (command.type === 'openAccount' && command.userId === 'ct-boom') throw new Error('core bug');
      return apply(command);
    };
    const loop = await CommandLoop.open(core, store, new Projection(catalog.accelerators), {
      clock: () => T0 + 400 * 3_600_000,
      onFatal: () => void fatal++,
    });
    const commit = store.commit.bind(store);
    store.commit = async (batch) => {
      await new Promise((r) => setTimeout(r, 20));
      return commit(batch);
    };
    const before = await store.lastJournalSeq();
    const committing = loop.submit({ type: 'openAccount', now: 0, userId: 'ct-0' });
    await new Promise((r) => setImmediate(r)); // committing now
    const next = Promise.allSettled(['ct-1', 'ct-boom', 'ct-2'].map((userId) => loop.submit({ type: 'openAccount', now: 0, userId })));
    await expect(committing).resolves.toMatchObject({ ok: true });
    const outcomes = await next;
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(fatal).toBe(1);
    expect(await store.lastJournalSeq()).toBe(before + 1);
    await store.close();
  });

  it('stops (fail-stop) when a commit fails, and refuses further commands', async () => {
    const store = await adapter.open();
    let fatal: unknown = null;
    const loop = await start(store, () => T0 + 10 * 3_600_000, (e) => {
      fatal = e;
    });
    await store.close(); // every later commit fails
    await expect(loop.submit({ type: 'openAccount', now: 0, userId: 'late' })).rejects.toBeDefined();
    expect(fatal).not.toBeNull();
    await expect(loop.submit({ type: 'openAccount', now: 0, userId: 'later' })).rejects.toThrow(/stopped/);
  });

  it('stops (fail-stop) when the core throws, rejecting the batch instead of hanging, and commits none of it', async () => {
    const store = await adapter.open();
    let fatal: unknown = null;
    const loop = await start(store, () => T0, (e) => {
      fatal = e;
    });
    const before = await store.lastJournalSeq();
    const apply = loop.core.apply.bind(loop.core);
    loop.core.apply = (cmd) => {
      if (cmd.type === 'openAccount' && cmd.userId === 'boom') throw new Error('core bug');
      return apply(cmd);
    };
    const first = loop.submit({ type: 'openAccount', now: 0, userId: 'fine' });
    const second = loop.submit({ type: 'openAccount', now: 0, userId: 'boom' });
    await expect(second).rejects.toThrow(/core bug/);
    await expect(first).rejects.toThrow(/core bug/); // same batch: memory ran ahead, nothing acknowledged
    expect(fatal).toBeInstanceOf(Error);
    expect(await store.lastJournalSeq()).toBe(before);
    await expect(loop.submit({ type: 'tick', now: 0 })).rejects.toThrow(/stopped/);
    await store.close();
  });
});
