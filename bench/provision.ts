/**
 * bench:provision — time from a bid to its workload running, over real processes on loopback:
 * the exchange (`suanli serve`, fresh SQLite file, synchronous=FULL), one `suanli agent` with 8
 * fake H100s and the process runtime, and this process as the buyer. For each of N leases (one
 * at a time) it posts an IOC bid for one GPU-hour carrying a workload (`sh -c 'echo running;
 * exec sleep 600'`) and waits, on its `user` feed, for
 *   ready — the agent's `lease.ready` (the workload's process was spawned on the leased GPU),
 *   log   — the workload's first output line `running` (it is executing), relayed agent → exchange → buyer,
 * both timed from the moment the bid was sent; then it ends the lease early, which stops the
 * workload, and goes on. Target: p99 ≤ 500 ms.
 * Usage: npm run bench:provision [-- --leases N] [-- --json]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { BENCH_ADMIN, Client, root, startServer } from './server.js';
import { latencyStats, round } from './stats.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const leases = Number(args.includes('--leases') ? args[args.indexOf('--leases') + 1] : 200);
const H100 = 'nvidia-h100-sxm5-80g';
const REGION = 'cn-guizhou-guiyang';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for feed messages about a lease, whether they arrive before or after we ask. */
class Feed {
  private readonly seen = new Map<string, number>();
  private readonly waiting = new Map<string, (atMs: number) => void>();
  constructor(ws: WebSocket) {
    ws.on('message', (raw) => {
      const at = performance.now();
      const m = JSON.parse(String(raw)) as { channel?: string; data?: { type?: string; leaseId?: string; lines?: string[] } };
      const d = m.data;
      if (m.channel !== 'user' || !d?.leaseId) return;
      if (d.type === 'lease_ready') this.hit(`ready:${d.leaseId}`, at);
      if (d.type === 'lease_log' && d.lines?.includes('running')) this.hit(`log:${d.leaseId}`, at);
    });
  }
  private hit(key: string, at: number): void {
    if (this.seen.has(key)) return;
    this.seen.set(key, at);
    this.waiting.get(key)?.(at);
  }
  when(key: string, timeoutMs: number): Promise<number> {
    const at = this.seen.get(key);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`no ${key} within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(key, (v) => {
        clearTimeout(t);
        res(v);
      });
    });
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'suanli-provision-'));
  const { proc, url } = await startServer(join(dir, 'provision.db'));
  let agent: ChildProcess | undefined;
  try {
    const admin = new Client(url);
    await admin.call('POST', '/auth/login', BENCH_ADMIN);
    const provider = new Client(url);
    const buyer = new Client(url);
    await provider.call('POST', '/auth/signup', { email: 'p@bench.local', password: 'provider-password', role: 'provider', displayName: 'P' });
    const b = await buyer.call('POST', '/auth/signup', { email: 'b@bench.local', password: 'buyer-password-1', role: 'buyer', displayName: 'B' });
    await admin.call('POST', '/admin/deposits', { userId: b.body.user.id, amountFen: '100000000000' });

    const token = await provider.call('POST', '/enrollment-tokens', { regionId: REGION, acceleratorId: H100, gpuCount: 8 });
    if (token.status !== 201) throw new Error(`enrollment token: ${JSON.stringify(token.body)}`);
    agent = spawn(
      process.execPath,
      [join(root, 'dist/src/cli/index.js'), 'agent', '--server', url, '--token', token.body.token, '--state-dir', join(dir, 'agent'), '--fake-gpus', `${H100}:8`, '--runtime', 'process', '--grace-ms', '1000'],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'silent' } },
    );
    let nodeId: string | undefined;
    for (let i = 0; i < 200 && !nodeId; i++) {
      const nodes = await provider.call('GET', '/nodes');
      nodeId = (nodes.body.items as { id: string; online?: boolean }[]).find((n) => n.online)?.id;
      if (!nodeId) await sleep(50);
    }
    if (!nodeId) throw new Error('the agent never came online');
    const ask = await provider.call('POST', '/asks', { nodeIds: [nodeId], priceFenPerGpuHour: 2_000 });
    if (ask.status !== 201) throw new Error(`ask: ${JSON.stringify(ask.body)}`);

    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/ws`, { headers: { cookie: buyer.cookie } });
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    const feed = new Feed(ws);
    ws.send(JSON.stringify({ op: 'subscribe', channel: 'user' }));
    await sleep(200);

    const ready: number[] = [];
    const logged: number[] = [];
    for (let i = 0; i < leases; i++) {
      const t0 = performance.now();
      const r = await buyer.call('POST', '/bids', {
        acceleratorIds: [H100], gpus: 1, hours: 1, limitFenPerGpuHour: 2_500, timeInForce: 'IOC',
        workload: { runtime: 'process', command: ['sh', '-c', 'echo running; exec sleep 600'] },
      });
      const leaseId: string | undefined = r.body?.leases?.[0]?.id;
      if (r.status !== 201 || !leaseId) throw new Error(`bid ${i}: ${r.status} ${JSON.stringify(r.body)}`);
      ready.push((await feed.when(`ready:${leaseId}`, 10_000)) - t0);
      logged.push((await feed.when(`log:${leaseId}`, 10_000)) - t0);
      const end = await buyer.call('POST', `/leases/${leaseId}/end`);
      if (end.status !== 200) throw new Error(`end ${leaseId}: ${JSON.stringify(end.body)}`);
    }
    ws.close();
    const toNs = (xs: number[]): Float64Array => Float64Array.from(xs.map((x) => x * 1e6));
    const r = { leases, ready: latencyStats(toNs(ready)), firstLog: latencyStats(toNs(logged)), target: { p99Ms: 500 }, node: process.version };
    if (json) console.log(JSON.stringify(r));
    else {
      const ms = (us: number): number => round(us / 1000, 1);
      console.log(`bench:provision — ${leases} leases, bid sent → workload running, exchange + agent (process runtime, fake GPUs) as separate processes on loopback, ${process.version}`);
      console.log(`ready (spawned):     p50 ${ms(r.ready.p50Us)} ms  p99 ${ms(r.ready.p99Us)} ms  longest ${r.ready.maxMs} ms`);
      console.log(`first output line:   p50 ${ms(r.firstLog.p50Us)} ms  p99 ${ms(r.firstLog.p99Us)} ms  longest ${r.firstLog.maxMs} ms   (target p99 ≤ 500 ms)`);
    }
  } finally {
    agent?.kill('SIGTERM');
    proc.kill('SIGTERM');
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
