/**
 * bench:http — orders per second and latency through HTTP on loopback. The exchange runs as its
 * own process (`suanli serve` on a fresh SQLite file, no demo, rate limit raised); this process
 * is the load generator: C concurrent keep-alive clients posting IOC bids for one GPU-hour
 * (each one a hold, a match, a lease and a journal entry, acknowledged only once committed).
 * Usage: npm run bench:http [-- --orders N] [-- --concurrency C] [-- --json]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { latencyStats, round } from './stats.js';

const args = process.argv.slice(2);
const flag = (name: string, d: number): number => Number(args[args.indexOf(name) + 1] ?? 0) || d;
const json = args.includes('--json');
const orders = flag('--orders', 5_000);
const concurrency = flag('--concurrency', 32);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const A100 = 'nvidia-a100-sxm4-40g';
const ADMIN = { email: 'admin@bench.local', password: 'bench-admin-password' };

function start(db: string): Promise<{ proc: ChildProcess; url: string }> {
  return new Promise((res, rej) => {
    const proc = spawn(
      process.execPath,
      [...(process.env.BENCH_SERVER_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_SERVER_PROF] : []), join(root, 'dist/src/cli/index.js'), 'serve', '--port', '0', '--no-demo', '--db', db, '--admin-email', ADMIN.email, '--rate-limit', '1000000'],
      { env: { ...process.env, SUANLI_ADMIN_PASSWORD: ADMIN.password, LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (url) res({ proc, url });
    });
    proc.on('exit', (code) => rej(new Error(`server exited with ${code}`)));
  });
}

class Client {
  cookie = '';
  constructor(private readonly base: string) {}
  async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.base}/api/v1${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(this.cookie ? { cookie: this.cookie } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const m = /suanli_session=[^;]+/.exec(res.headers.get('set-cookie') ?? '');
    if (m) this.cookie = m[0];
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }
}

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
