/**
 * Ledger throughput in memory: transfers per second through `Ledger.createTransfers`, for
 * simple transfers and for linked chains of four, in full batches. Reports the median of
 * several runs. Usage: node dist/bench/ledger.js [--json] [--runs N] [--transfers N]
 */
import { AccountFlags, TransferFlags } from '../src/core/ledger/codes.js';
import { Ledger } from '../src/core/ledger/ledger.js';
import { mulberry32 } from '../src/core/prng.js';
import { MAX_BATCH, type AccountInput, type TransferInput } from '../src/core/ledger/types.js';
import { median } from './stats.js';

const ACCOUNTS = 10_000;
const CHAIN = 4;
const T0 = 1_720_000_000_000;

interface Options {
  readonly json: boolean;
  readonly runs: number;
  readonly transfers: number;
}

function parseArgs(argv: readonly string[]): Options {
  const value = (name: string, fallback: number): number => {
    const i = argv.indexOf(name);
    const n = i >= 0 ? Number(argv[i + 1]) : fallback;
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`);
    return n;
  };
  return { json: argv.includes('--json'), runs: value('--runs', 5), transfers: value('--transfers', 400_000) };
}

function accounts(): AccountInput[] {
  const list: AccountInput[] = [{ id: 'world', kind: 'world', ownerId: '', flags: AccountFlags.creditsMustNotExceedDebits }];
  for (let i = 0; i < ACCOUNTS; i++) {
    list.push({ id: `u${i}`, kind: 'user_cash', ownerId: `u${i}`, flags: AccountFlags.debitsMustNotExceedCredits });
  }
  return list;
}

/** A funded ledger, built outside the timed section. */
function freshLedger(): Ledger {
  const ledger = new Ledger();
  const list = accounts();
  for (let i = 0; i < list.length; i += MAX_BATCH) ledger.createAccounts(list.slice(i, i + MAX_BATCH), T0);
  const deposits: TransferInput[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    deposits.push({ id: `dep${i}`, debitAccountId: 'world', creditAccountId: `u${i}`, amountFen: 10n ** 12n, code: 'deposit' });
  }
  for (let i = 0; i < deposits.length; i += MAX_BATCH) ledger.createTransfers(deposits.slice(i, i + MAX_BATCH), T0);
  return ledger;
}

/** Full batches of random user-to-user transfers; `chain` > 1 links them in chains. */
function workload(total: number, chain: number, seed: number): TransferInput[][] {
  const rand = mulberry32(seed);
  const perBatch = MAX_BATCH - (MAX_BATCH % chain);
  const batches: TransferInput[][] = [];
  for (let n = 0; n < total; ) {
    const batch: TransferInput[] = [];
    for (let k = 0; k < perBatch && n < total; k++, n++) {
      const from = Math.floor(rand() * ACCOUNTS);
      const to = (from + 1 + Math.floor(rand() * (ACCOUNTS - 1))) % ACCOUNTS;
      const linked = chain > 1 && k % chain !== chain - 1;
      batch.push({
        id: `t${n}`,
        debitAccountId: `u${from}`,
        creditAccountId: `u${to}`,
        amountFen: BigInt(1 + Math.floor(rand() * 10_000)),
        code: 'settle',
        flags: linked ? TransferFlags.linked : TransferFlags.none,
      });
    }
    batches.push(batch);
  }
  return batches;
}

function timeRun(batches: readonly TransferInput[][]): number {
  const ledger = freshLedger();
  let count = 0;
  const start = process.hrtime.bigint();
  let nowMs = T0;
  for (const batch of batches) {
    const results = ledger.createTransfers(batch, ++nowMs);
    count += results.length;
    if (results[0] !== 'ok') throw new Error(`bench transfer failed: ${results[0]}`);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return count / seconds;
}

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  const report: Record<string, { medianPerSecond: number; runsPerSecond: number[] }> = {};
  for (const [name, chain] of [['simple', 1], ['linked', CHAIN]] as const) {
    const batches = workload(options.transfers, chain, 42);
    timeRun(batches.slice(0, 5)); // warm up the JIT
    const runs = Array.from({ length: options.runs }, () => timeRun(batches));
    report[name] = { medianPerSecond: Math.round(median(runs)), runsPerSecond: runs.map(Math.round) };
  }
  const meta = { transfersPerRun: options.transfers, runs: options.runs, batchSize: MAX_BATCH, chainLength: CHAIN, accounts: ACCOUNTS, node: process.version };
  if (options.json) {
    console.log(JSON.stringify({ bench: 'ledger', ...meta, ...report }));
    return;
  }
  const fmt = (n: number) => n.toLocaleString('en-US');
  console.log(
    `ledger: ${fmt(report['simple']!.medianPerSecond)} transfers/s simple, ` +
      `${fmt(report['linked']!.medianPerSecond)} transfers/s linked (chains of ${CHAIN}); ` +
      `median of ${options.runs} runs × ${fmt(options.transfers)} transfers, batches of ${MAX_BATCH}, node ${process.version}`,
  );
}

main();
