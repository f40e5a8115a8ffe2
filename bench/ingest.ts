/**
 * bench:ingest — acknowledged (committed) orders per second through the command loop, with
 * group commit against one transaction per order, in the same run on the same kind of store,
 * for SQLite (WAL, synchronous=FULL) and PostgreSQL (the tests' server, a fresh database per
 * mode from test/support/pg.ts, dropped after). Each order is a real bid through the core: a
 * hold, a match against an offline-capacity ask, a lease, its transfers, journal and read-model
 * rows. Before the timed runs, each store runs both modes once, untimed, on a throwaway store
 * (see WARMUP_BATCHED), so neither timed run pays for the JIT warming up.
 * Each store then runs ROUNDS timed rounds, batched and one by one alternately (the machine's
 * speed and its fsync latency drift), and reports the medians and their ratio.
 * It also measures each store's own floor: the batches of the last round's two runs (captured as
 * the loop committed them) written again, one after another, on a fresh database: for SQLite the
 * write plans executed on one connection in one thread, exactly as the writer thread executes
 * them but with nothing else to do (no core, no projection, no JSON, no hop between threads); for
 * PostgreSQL through the store's own commit (one statement per batch). What that reaches batched,
 * divided by the exchange's one-by-one rate, bounds the ratio any command loop over these rows
 * could show.
 * Usage: npm run bench:ingest [-- --orders N] [-- --rounds N] [-- --json] [-- --no-pg]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listAccelerators, listRegions } from '../src/core/catalog/index.js';
import { ExchangeCore } from '../src/exchange/core.js';
import { CommandLoop } from '../src/exchange/loop.js';
import { Projection } from '../src/exchange/projection.js';
import BetterSqlite3 from 'better-sqlite3';
import { prepareBatch } from '../src/store/batch-writer.js';
import { openPostgresStore, openSqliteStore, type Store } from '../src/store/index.js';
import type { CommitBatch } from '../src/store/port.js';
import { executePlan, planBatch, sqlitePragmas, type WritePlan } from '../src/store/sqlite/batch-writer.js';
import { createTestDatabase } from '../test/support/pg.js';
import { median, round } from './stats.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const orders = Number(args[args.indexOf('--orders') + 1] ?? 0) || 5_000;
const ROUNDS = Number(args[args.indexOf('--rounds') + 1] ?? 0) || 3;
/**
 * Untimed bids per store before the timed runs, group commit then one by one: enough that the
 * JIT has compiled the whole path (300 left the first timed run about a third slower than later
 * runs in the same process). One by one, each warm-up bid waits for an fsync, so it runs fewer.
 */
const WARMUP_BATCHED = 3_000;
const WARMUP_SINGLE = 300;
const catalog = { accelerators: listAccelerators(), regions: listRegions() };
const A100 = 'nvidia-a100-sxm4-40g';

/** What a run committed: every batch, and how many of them came before the timed bids. */
interface Captured {
  readonly batches: CommitBatch[];
  untimed: number;
}

async function run(open: () => Promise<Store>, maxBatch: number, count: number, capture?: Captured): Promise<number> {
  const store = await open();
  await store.migrate();
  if (capture) {
    const commit = store.commit.bind(store);
    store.commit = (batch) => {
      capture.batches.push(batch);
      return commit(batch);
    };
  }
  let t = Date.UTC(2026, 0, 1);
  const loop = await CommandLoop.open(new ExchangeCore(catalog), store, new Projection(catalog.accelerators), {
    clock: () => ++t,
    maxBatch,
  });
  await loop.submit({ type: 'openAccount', now: 0, userId: 'dc' });
  await loop.submit({ type: 'openAccount', now: 0, userId: 'buyer' });
  await loop.submit({ type: 'deposit', now: 0, userId: 'buyer', amountFen: '100000000000', transferId: 'd' });
  // Enough 8-GPU servers for every bid, one ask per server at slightly different prices.
  for (let n = 0; n * 8 < count; n++) {
    await loop.submit({ type: 'registerNode', now: 0, nodeId: `n${n}`, providerId: 'dc', acceleratorId: A100, regionId: 'cn-guizhou-guiyang', gpuCount: 8, kind: 'manual' });
    await loop.submit({ type: 'placeAsk', now: 0, orderId: `a${n}`, providerId: 'dc', nodeIds: [`n${n}`], priceFenPerGpuHour: 2000 + (n % 50) });
  }
  if (capture) capture.untimed = capture.batches.length;
  const started = process.hrtime.bigint();
  const results = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      loop.submit({
        type: 'placeBid', now: 0, orderId: `b${i}`, buyerId: 'buyer', acceleratorIds: [A100], quantity: { kind: 'gpus', gpus: 1 }, hours: 1,
        limitFen: 2270, timeInForce: 'IOC',
      }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const failed = results.filter((r) => !r.ok).length;
  if (failed > 0) throw new Error(`${failed} bids were rejected`);
  await store.close();
  return Math.round(count / seconds);
}

/** The store alone on the rows of one round (see the file header), orders/s. */
interface StoreFloor {
  readonly batched: number;
  readonly oneByOne: number;
  /** `batched` over the exchange's own one-by-one median: the most any loop over these rows could show. */
  readonly boundOnRatio: number;
}

interface StoreReport {
  /** Medians of the rounds, orders/s. */
  readonly batched: number;
  readonly oneByOne: number;
  readonly ratio: number;
  readonly rounds: { readonly batched: number; readonly oneByOne: number }[];
  floor?: StoreFloor;
}

type RunOne = (maxBatch: number, count: number, capture?: Captured) => Promise<number>;

/** Warms both modes up untimed, then ROUNDS alternating timed rounds (the last one captured); `open(maxBatch, count)` runs one. */
async function measure(open: RunOne): Promise<{ report: StoreReport; last: { batched: Captured; oneByOne: Captured } }> {
  await open(1_000, WARMUP_BATCHED);
  await open(1, WARMUP_SINGLE);
  const rounds: { batched: number; oneByOne: number }[] = [];
  const last = { batched: { batches: [], untimed: 0 } as Captured, oneByOne: { batches: [], untimed: 0 } as Captured };
  for (let r = 0; r < ROUNDS; r++) {
    const final = r === ROUNDS - 1;
    rounds.push({ batched: await open(1_000, orders, final ? last.batched : undefined), oneByOne: await open(1, orders, final ? last.oneByOne : undefined) });
  }
  const batched = Math.round(median(rounds.map((x) => x.batched)));
  const oneByOne = Math.round(median(rounds.map((x) => x.oneByOne)));
  return { report: { batched, oneByOne, ratio: round(batched / oneByOne, 1), rounds }, last };
}

/** Writes a run's captured batches through a fresh store's commit, one after another; orders/s over the timed batches only. */
async function storeAlone(store: Store, captured: Captured): Promise<number> {
  try {
    await store.migrate();
    for (let i = 0; i < captured.untimed; i++) await store.commit(captured.batches[i]!);
    const started = process.hrtime.bigint();
    for (let i = captured.untimed; i < captured.batches.length; i++) await store.commit(captured.batches[i]!);
    return Math.round(orders / (Number(process.hrtime.bigint() - started) / 1e9));
  } finally {
    await store.close();
  }
}

/**
 * Executes a run's captured plans on a fresh database file (schema from the migrations) the way
 * the writer thread does, one transaction per batch; orders/s over the timed batches only.
 */
async function sqliteAlone(file: string, captured: Captured): Promise<number> {
  const schema = await openSqliteStore({ file });
  await schema.migrate();
  await schema.close();
  const plans: WritePlan[] = captured.batches.map((b) => planBatch(prepareBatch(b)));
  const db = new BetterSqlite3(file);
  try {
    for (const p of sqlitePragmas(5_000)) db.pragma(p);
    const cache = new Map<string, BetterSqlite3.Statement>();
    const write = db.transaction((plan: WritePlan) => executePlan(db, cache, plan)).immediate;
    for (let i = 0; i < captured.untimed; i++) write(plans[i]!);
    const started = process.hrtime.bigint();
    for (let i = captured.untimed; i < plans.length; i++) write(plans[i]!);
    return Math.round(orders / (Number(process.hrtime.bigint() - started) / 1e9));
  } finally {
    db.close();
  }
}

/** The store alone on both runs of the last round (`alone` writes one run's batches on a fresh database). */
async function floorOf(report: StoreReport, last: { batched: Captured; oneByOne: Captured }, alone: (c: Captured) => Promise<number>): Promise<StoreFloor> {
  const batched = await alone(last.batched);
  const oneByOne = await alone(last.oneByOne);
  return { batched, oneByOne, boundOnRatio: round(batched / report.oneByOne, 1) };
}

async function main(): Promise<void> {
  const report: Record<string, StoreReport> = {};
  const dir = mkdtempSync(join(tmpdir(), 'suanli-ingest-'));
  try {
    let n = 0;
    const { report: sqlite, last } = await measure((maxBatch, count, capture) => run(() => openSqliteStore({ file: join(dir, `run${++n}.db`) }), maxBatch, count, capture));
    sqlite.floor = await floorOf(sqlite, last, (captured) => sqliteAlone(join(dir, `alone${++n}.db`), captured));
    report.sqlite = sqlite;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!args.includes('--no-pg')) {
    const { report: postgres, last } = await measure(async (maxBatch, count, capture) => {
      const db = await createTestDatabase();
      try {
        return await run(() => openPostgresStore({ url: db.url }), maxBatch, count, capture);
      } finally {
        await db.drop();
      }
    });
    postgres.floor = await floorOf(postgres, last, async (captured) => {
      const db = await createTestDatabase();
      try {
        return await storeAlone(await openPostgresStore({ url: db.url }), captured);
      } finally {
        await db.drop();
      }
    });
    report.postgres = postgres;
  }
  if (json) {
    console.log(JSON.stringify({ orders, rounds: ROUNDS, node: process.version, ...report, target: { ratio: 20 } }));
    return;
  }
  console.log(`bench:ingest — ${orders} acknowledged bids (hold, match, lease, transfers, journal) through the command loop, median of ${ROUNDS} rounds, ${process.version}`);
  for (const [name, r] of Object.entries(report)) {
    console.log(`${name.padEnd(9)} group commit ${String(r.batched).padStart(7)} orders/s   one transaction per order ${String(r.oneByOne).padStart(6)} orders/s   ratio ${r.ratio}× (target ≥ 20×)`);
    const f = r.floor;
    if (f) {
      console.log(
        `${''.padEnd(9)} the store alone, the last round's own writes: ${f.batched} orders/s batched, ${f.oneByOne} one by one` +
          ` (${round(f.batched / f.oneByOne, 1)}×); ${f.batched} over the exchange's ${r.oneByOne} one by one = ${f.boundOnRatio}×, the most any loop could show here`,
      );
    }
  }
}

void main();
