/**
 * Store ingest: commands per second through `Store.commit` when the command loop group-commits
 * B commands per transaction. Each command writes what a matching bid does: one journal row,
 * two order upserts, one trade, one lease, three transfers. Durable settings (SQLite WAL with
 * synchronous=FULL; PostgreSQL with its server's fsync settings), so this measures fsyncs.
 * Usage: node dist/bench/ingest-store.js [--url postgres://…|path] [--commands N] [--batches 1,10,100] [--json]
 * Without --url it uses a SQLite file in a fresh temp folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type CommitBatch, type JournalEntry, type LeaseRow, type OrderRow, type TradeRow, type TransferRow } from '../src/store/index.js';
import { latencyStats, round } from './stats.js';

const T0 = 1_767_225_600_000;
const HOUR = 3_600_000;

interface Options {
  readonly url: string | null;
  readonly commands: number;
  readonly batches: readonly number[];
  readonly json: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const commands = Number(arg('--commands') ?? 20_000);
  if (!Number.isSafeInteger(commands) || commands <= 0 || commands > 10_000_000) throw new Error('--commands must be 1…10,000,000');
  const batches = (arg('--batches') ?? '1,10,100').split(',').map(Number);
  if (!batches.every((b) => Number.isSafeInteger(b) && b > 0 && b <= 10_000)) throw new Error('--batches must be integers 1…10,000');
  return { url: arg('--url') ?? null, commands, batches, json: argv.includes('--json') };
}

/** Everything one command writes; `n` numbers commands across runs so ids never repeat. */
function commandRows(n: number, seq: number): Required<Pick<CommitBatch, 'journal' | 'orders' | 'trades' | 'leases' | 'transfers'>> {
  const atMs = T0 + n;
  const journal: JournalEntry = {
    seq,
    atMs,
    kind: 'placeBid',
    commandJson: JSON.stringify({ type: 'placeBid', now: atMs, orderId: `b${n}`, buyerId: `u${n % 1000}`, hours: 24, limitFen: 2_500 }),
    resultJson: JSON.stringify({ ok: true, events: [{ type: 'trade', tradeId: `t${n}` }] }),
  };
  const order = (id: string, side: 'ask' | 'bid', userId: string): OrderRow => ({
    id,
    userId,
    side,
    markets: ['nvidia-h100@beijing'],
    specJson: '{"type":"placeBid"}',
    status: side === 'bid' ? 'filled' : 'active',
    remaining: side === 'bid' ? 0 : 8,
    priceFen: 2_270,
    createdAtMs: atMs,
    updatedAtMs: atMs,
  });
  const trade: TradeRow = {
    id: `t${n}`,
    bidId: `b${n}`,
    askId: `a${n % 100}`,
    buyerId: `u${n % 1000}`,
    providerId: `p${n % 100}`,
    market: 'nvidia-h100@beijing',
    gpus: 8,
    priceFenPerGpuHour: 2_270,
    startMs: atMs,
    endMs: atMs + 24 * HOUR,
    atMs,
    seq,
  };
  const lease: LeaseRow = {
    id: `l${n}`,
    tradeId: trade.id,
    nodeId: `node${n % 5000}`,
    buyerId: trade.buyerId,
    providerId: trade.providerId,
    market: trade.market,
    gpuIndices: [0, 1, 2, 3, 4, 5, 6, 7],
    priceFenPerGpuHour: 2_270,
    startMs: trade.startMs,
    endMs: trade.endMs,
    state: 'pending',
    endedAtMs: null,
    endReason: null,
    createdAtMs: atMs,
    updatedAtMs: atMs,
  };
  const transfer = (k: number, amountFen: bigint): TransferRow => ({
    id: `x${n}.${k}`,
    debitAccountId: `cash:${trade.buyerId}`,
    creditAccountId: `escrow:${trade.buyerId}`,
    amountFen,
    code: 'hold',
    flags: 0,
    pendingId: null,
    userData: lease.id,
    atMs,
    seq: seq * 3 + k,
  });
  return {
    journal: [journal],
    orders: [order(`b${n}`, 'bid', trade.buyerId), order(`a${n % 100}`, 'ask', trade.providerId)],
    trades: [trade],
    leases: [lease],
    transfers: [transfer(0, 480_000n), transfer(1, 435_840n), transfer(2, 44_160n)],
  };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const dir = options.url === null ? mkdtempSync(join(tmpdir(), 'suanli-bench-')) : null;
  const location = options.url ?? join(dir!, 'bench.db');
  const store = await openStore(location);
  const results: { batch: number; commandsPerSec: number; commitsPerSec: number; p50Ms: number; p99Ms: number }[] = [];
  try {
    await store.migrate();
    let seq = await store.lastJournalSeq();
    let n = seq; // command numbers continue across runs against one database
    for (const batchSize of options.batches) {
      const commits = Math.ceil(options.commands / batchSize);
      const samples = new Float64Array(commits);
      const started = process.hrtime.bigint();
      for (let c = 0; c < commits; c++) {
        const parts = Array.from({ length: Math.min(batchSize, options.commands - c * batchSize) }, () => commandRows(++n, ++seq));
        const batch: CommitBatch = {
          journal: parts.flatMap((p) => p.journal),
          orders: parts.flatMap((p) => p.orders),
          trades: parts.flatMap((p) => p.trades),
          leases: parts.flatMap((p) => p.leases),
          transfers: parts.flatMap((p) => p.transfers),
        };
        const t = process.hrtime.bigint();
        await store.commit(batch);
        samples[c] = Number(process.hrtime.bigint() - t);
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const lat = latencyStats(samples);
      results.push({
        batch: batchSize,
        commandsPerSec: Math.round(options.commands / seconds),
        commitsPerSec: Math.round(commits / seconds),
        p50Ms: round(lat.p50Us / 1e3, 3),
        p99Ms: round(lat.p99Us / 1e3, 3),
      });
    }
  } finally {
    await store.close();
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  }
  if (options.json) {
    console.log(JSON.stringify({ store: store.dialect, commands: options.commands, results }));
    return;
  }
  console.log(`store ingest, ${store.dialect}, ${options.commands} commands per run (1 journal, 2 orders, 1 trade, 1 lease, 3 transfers each)`);
  for (const r of results) {
    console.log(
      `  ${String(r.batch).padStart(5)} per commit: ${String(r.commandsPerSec).padStart(8)} commands/s, ${String(r.commitsPerSec).padStart(6)} commits/s, commit p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
