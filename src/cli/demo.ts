/**
 * `suanli demo`: a live demo market in the terminal (what `npm start` runs until `suanli serve`
 * exists). The real catalog and matching engine, in this process, fed by the scripted providers
 * and seeded trader of src/sim/demo-market.ts. The wall clock is read here and only here.
 *
 * Text frames by default (the screen is cleared between frames only when stdout is a terminal);
 * `--json` prints one JSON object per step, one per line. Usage errors exit 2, like `estimate`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  fenToYuan,
  formatFenPerGpuHour,
  formatYuanPerServerMonth,
  getAccelerator,
  getRegion,
  groupThousands,
  pflopsOfNode,
  formatPflops,
  wanPerServerMonthFromFenPerGpuHour,
  yuanPerServerMonthFromGpuHour,
} from '../core/catalog/index.js';
import { type DemoRow, type DemoStats, type DemoTrade, DemoMarket, RECENT_TRADES } from '../sim/demo-market.js';
import { USAGE_EXIT_CODE } from './estimate.js';

const DEFAULT_SEED = 1;
const DEFAULT_INTERVAL_MS = 1000;
const TRADES_SHOWN = 8;
const MAX_INTERVAL_MS = 3_600_000;

interface DemoOptions {
  readonly seed: number;
  readonly intervalMs: number;
  readonly steps?: number;
  readonly json?: boolean;
}

function intArg(min: number, max: number): (raw: string) => number {
  return (raw: string): number => {
    const s = raw.trim().replace(/_/g, '');
    const n = Number(s);
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number in ${min}..${max}.`);
    }
    return n;
  };
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('a live demo market in the terminal: simulated providers and buyers on the real matching engine, in-process')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : USAGE_EXIT_CODE);
    })
    .addOption(new Option('--seed <n>', 'seed of the demo trader (same seed, same market)').argParser(intArg(0, 2 ** 32 - 1)).default(DEFAULT_SEED))
    .addOption(new Option('--interval-ms <ms>', 'wall-clock milliseconds between steps').argParser(intArg(0, MAX_INTERVAL_MS)).default(DEFAULT_INTERVAL_MS))
    .addOption(new Option('--steps <n>', 'stop after n steps (default: run until Ctrl-C)').argParser(intArg(1, Number.MAX_SAFE_INTEGER)))
    .addOption(new Option('--json', 'print one JSON object per step, one per line'))
    .action(async (opts: DemoOptions) => {
      await runDemo(opts);
    });
}

async function runDemo(opts: DemoOptions): Promise<void> {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0); // `suanli demo | head` is fine
    throw err;
  });
  const tty = process.stdout.isTTY === true && !opts.json;
  const stop = new AbortController();
  const onSigint = (): void => stop.abort();
  process.once('SIGINT', onSigint);

  const market = new DemoMarket({ seed: opts.seed });
  market.seed(Date.now());
  if (!opts.json && !tty) process.stdout.write(`${header(opts)}\n\n`);

  let step = 0;
  try {
    while (!stop.signal.aborted && (opts.steps === undefined || step < opts.steps)) {
      if (step > 0) {
        try {
          await sleep(opts.intervalMs, undefined, { signal: stop.signal });
        } catch {
          break; // Ctrl-C while waiting
        }
      }
      const tradesBefore = market.stats().trades;
      const nowMs = Date.now();
      market.step(nowMs);
      step++;
      const stats = market.stats();
      const newTrades = market.recentTrades(Math.min(stats.trades - tradesBefore, RECENT_TRADES));
      if (opts.json) {
        const line = { step, seed: opts.seed, nowMs, at: new Date(nowMs).toISOString(), markets: market.snapshot(), trades: newTrades, stats };
        process.stdout.write(`${JSON.stringify(line)}\n`);
      } else {
        const text = frame(opts, step, nowMs, market.snapshot(), market.recentTrades(TRADES_SHOWN), stats, tty);
        process.stdout.write(tty ? `\x1b[H\x1b[2J${text}` : `${text}\n`);
      }
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  const rejected = market.stats().rejected;
  if (rejected > 0) process.stderr.write(`demo: the engine refused ${rejected} demo command(s), e.g. ${JSON.stringify(market.rejections()[0])}\n`);
  if (!opts.json && stop.signal.aborted) process.stdout.write(`\nstopped after ${step} step(s).\n`);
}

// ───────────────────────────── text frames ─────────────────────────────

function header(opts: DemoOptions): string {
  return [
    `suanli demo — an in-process demo of the matching engine (seed ${opts.seed})`,
    'Simulated providers and buyers trade on the real engine and catalog inside this process: no',
    'server, no ledger, no GPUs. The HTTP exchange comes with `suanli serve` in a later release.',
  ].join('\n');
}

function frame(opts: DemoOptions, step: number, nowMs: number, rows: readonly DemoRow[], trades: readonly DemoTrade[], s: DemoStats, tty: boolean): string {
  const lines: string[] = [];
  if (tty) lines.push(header(opts), '');
  const leasedPct = s.gpusTotal > 0 ? Math.round((100 * s.gpusLeasedNow) / s.gpusTotal) : 0;
  const stop = opts.steps === undefined ? ' · Ctrl-C to stop' : ` of ${opts.steps}`;
  lines.push(
    `step ${step}${stop} · ${clockTime(nowMs)} UTC · ${s.gpusLeasedNow}/${s.gpusTotal} GPUs leased (${leasedPct}%) · ` +
      `${s.trades} trades · turnover ¥${groupThousands(fenToYuan(s.turnoverFen), 2)} · ${s.restingBids} bids resting`,
    '',
  );
  lines.push(...table(rows));
  lines.push('', 'Latest trades (price per GPU-hour; whole 8-GPU servers also per server-month)');
  if (trades.length === 0) lines.push('  none yet');
  for (const t of trades) lines.push(`  ${tradeLine(t)}`);
  return `${lines.join('\n')}\n`;
}

const dash = '—';

function yuan2(fen: number | null): string {
  return fen === null ? dash : groupThousands(fenToYuan(fen), 2);
}

function table(rows: readonly DemoRow[]): string[] {
  const head = ['Model', 'Region', 'Hub', 'Side', 'Best ask', 'Best bid', 'Last', 'Free/All', 'Trades', 'Ask per server'];
  const unit = ['', '', '', '', '¥/卡·时', '¥/卡·时', '¥/卡·时', 'GPUs', '', '万元/台·月'];
  const right = [false, false, false, false, true, true, true, true, true, true];
  const body = rows.map((r) => [
    shortModel(r.modelName),
    `${r.regionNameZh} ${shortRegion(r.regionName)}`,
    r.hubNameZh,
    r.side,
    yuan2(r.bestAskFen),
    yuan2(r.bestBidFen),
    yuan2(r.lastTradeFen),
    `${r.freeGpus}/${r.totalGpus}`,
    String(r.trades),
    r.gpusPerNode === 8 && r.bestAskFen !== null ? groupThousands(wanPerServerMonthFromFenPerGpuHour(r.bestAskFen, 8), 2) : dash,
  ]);
  const all = [head, unit, ...body];
  const widths = head.map((_, c) => Math.max(...all.map((row) => displayWidth(row[c]!))));
  const fmt = (row: readonly string[]): string =>
    `  ${row.map((cell, c) => (right[c] ? padStart(cell, widths[c]!) : padEnd(cell, widths[c]!))).join('  ')}`.trimEnd();
  return [fmt(head), fmt(unit), ...body.map(fmt)];
}

function tradeLine(t: DemoTrade): string {
  const acc = getAccelerator(t.market.split('@')[0]!);
  const region = getRegion(t.market.split('@')[1]!);
  const what = `${t.gpus} × ${acc ? shortModel(acc.name) : t.market}`;
  const where = region ? region.nameZh : t.market;
  let price = formatFenPerGpuHour(t.priceFenPerGpuHour);
  if (t.gpus % 8 === 0 && (t.bidKind === 'server' || t.bidKind === 'compute-ascend')) {
    price += ` (${formatYuanPerServerMonth(yuanPerServerMonthFromGpuHour(fenToYuan(t.priceFenPerGpuHour), 8))})`;
  }
  const compute = acc && t.bidKind?.startsWith('compute') ? ` = ${formatPflops(pflopsOfNode(acc, t.gpus), 2)}` : '';
  return `${clockTime(t.atMs)}  ${t.buyerId} ← ${t.providerId}  ${what}${compute} @ ${where}  ${price} × ${t.hours} h  [${t.bidKind ?? '?'}]`;
}

function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

function shortModel(name: string): string {
  return name.replace(/^NVIDIA /, '').replace(/^(GeForce|Tesla) /, '').replace(/^Huawei /, '');
}

/** "Gui'an New Area, Guizhou" → "Gui'an New Area": the hub column says the rest. */
function shortRegion(name: string): string {
  return name.split(',')[0]!;
}

/** Terminal columns: CJK ideographs and full-width forms take two. */
function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const wide =
      (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6);
    w += wide ? 2 : 1;
  }
  return w;
}

function padEnd(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - displayWidth(s)));
}

function padStart(s: string, width: number): string {
  return ' '.repeat(Math.max(0, width - displayWidth(s))) + s;
}
