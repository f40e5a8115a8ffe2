/**
 * bench:http — orders per second and latency through HTTP on loopback. The exchange runs as its
 * own process (`suanli serve` on a fresh SQLite file, no demo, rate limit raised); this process
 * is the load generator: C concurrent keep-alive clients posting IOC bids for one GPU-hour
 * (each one a hold, a match, a lease and a journal entry, acknowledged only once committed).
 * Usage: npm run bench:http [-- --orders N] [-- --concurrency C] [-- --json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_ADMIN as ADMIN, Client, startServer as start } from './server.js';
import { latencyStats, round } from './stats.js';

const args = process.argv.slice(2);
const flag = (name: string, d: number): number => Number(args[args.indexOf(name) + 1] ?? 0) || d;
const json = args.includes('--json');
const orders = flag('--orders', 5_000);
const concurrency = flag('--concurrency', 32);
const A100 = 'nvidia-a100-sxm4-40g';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'suanli-http-'));
  const { proc, url } = await start(join(dir, 'bench.db'));
  try {
    const admin = new Client(url);
    await admin.call('POST', '/auth/login', ADMIN);
    const provider = new Client(url);
    const buyer = new Client(url);
    await provider.call('POST', '/auth/signup', { email: 'p@bench.local', password: 'provider-password', role: 'provider', displayName: 'P' });
    const b = await buyer.call('POST', '/auth/signup', { email: 'b@bench.local', password: 'buyer-password-1', role: 'buyer', displayName: 'B' });
    await admin.call('POST', '/admin/deposits', { userId: b.body.user.id, amountFen: '100000000000' });
    for (let n = 0; n * 8 < orders; n++) {
      const node = await provider.call('POST', '/nodes', { acceleratorId: A100, regionId: 'cn-guizhou-guiyang', gpuCount: 8, kind: 'manual' });
      await provider.call('POST', '/asks', { nodeIds: [node.body.node.id], priceFenPerGpuHour: 2000 + (n % 40) });
    }
    const lat: number[] = [];
    let next = 0;
    let failed = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < orders) {
          next++;
          const s = process.hrtime.bigint();
          const r = await buyer.call('POST', '/bids', { acceleratorIds: [A100], gpus: 1, hours: 1, limitFenPerGpuHour: 2500, timeInForce: 'IOC' });
          lat.push(Number(process.hrtime.bigint() - s));
          if (r.status !== 201) failed++;
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const report = { orders, concurrency, failed, ordersPerSecond: Math.round(orders / seconds), latency: latencyStats(Float64Array.from(lat)), node: process.version };
    if (json) console.log(JSON.stringify(report));
    else {
      console.log(`bench:http — ${orders} IOC bids over HTTP on loopback, ${concurrency} keep-alive clients, server in its own process (SQLite, synchronous=FULL), ${process.version}`);
      console.log(`${report.ordersPerSecond} orders/s  p50 ${round(report.latency.p50Us / 1000, 2)} ms  p99 ${round(report.latency.p99Us / 1000, 2)} ms  longest ${report.latency.maxMs} ms  failed ${failed}`);
    }
  } finally {
    proc.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
