/**
 * bench:fleet — how many agents one exchange process holds at a 10 s heartbeat with none missed.
 * The exchange runs as its own process (`suanli serve`, fresh SQLite file); this process enrolls
 * nodes through the real HTTP API (one-time token → node token, 8 fake H100s each) and then
 * starts simulated agents in worker processes (bench/fleet-agents.ts: real WebSockets speaking
 * the agent protocol). For each fleet size it holds the fleet for three heartbeat intervals and
 * more, then reads the exchange's /metrics (nodes declared lost, heartbeats taken) and its CPU
 * time from /proc. A node counts as missed if the exchange declared it lost during the hold.
 * The ceiling here is the process's open-file limit (`ulimit -n`): one socket per agent.
 * Usage: npm run bench:fleet [-- --nodes 1000,5000,10000,19000] [-- --interval-ms 10000] [-- --hold-s 35] [-- --json]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fakeHardware, FLEET_ACCELERATOR } from './fleet-hardware.js';
import { Client, cpuSecondsOf, root, rssMiBOf, startServer } from './server.js';
import { round } from './stats.js';

const args = process.argv.slice(2);
const opt = (name: string, d: string): string => (args.includes(name) ? args[args.indexOf(name) + 1]! : d);
const json = args.includes('--json');
const sizes = opt('--nodes', '1000,5000,10000,19000').split(',').map(Number);
const intervalMs = Number(opt('--interval-ms', '10000'));
const holdS = Number(opt('--hold-s', String(Math.ceil((3.5 * intervalMs) / 1000))));
const AGENTS_PER_WORKER = 6_000;
const REGION = 'cn-ningxia-zhongwei';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function metrics(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m) out.set(m[1]!, (out.get(m[1]!) ?? 0) + Number(m[2]));
  }
  return out;
}
const metric = (m: Map<string, number>, re: RegExp): number => [...m].filter(([k]) => re.test(k)).reduce((s, [, v]) => s + v, 0);

/** Enrolls `count` more nodes through the API, `concurrency` at a time. */
async function enroll(provider: Client, url: string, count: number, into: { nodeId: string; nodeToken: string }[]): Promise<void> {
  const hardware = fakeHardware();
  let left = count;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (left > 0) {
        left--;
        const t = await provider.call('POST', '/enrollment-tokens', { regionId: REGION, acceleratorId: FLEET_ACCELERATOR, gpuCount: 8 });
        if (t.status !== 201) throw new Error(`enrollment token: ${t.status} ${JSON.stringify(t.body)}`);
        const res = await fetch(`${url}/api/v1/agent/enroll`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: t.body.token, hardware, agentVersion: 'bench' }),
        });
        const body = (await res.json()) as { nodeId: string; nodeToken: string };
        if (res.status !== 201 && res.status !== 200) throw new Error(`enroll: ${res.status} ${JSON.stringify(body)}`);
        into.push({ nodeId: body.nodeId, nodeToken: body.nodeToken });
      }
    }),
  );
}

interface Row {
  readonly nodes: number;
  readonly connected: number;
  readonly missed: number;
  readonly heartbeatsPerSecond: number;
  readonly exchangeCpuPct: number;
  readonly exchangeRssMiB: number;
  readonly enrollSeconds: number;
  readonly connectSeconds: number;
}

interface Worker {
  readonly proc: ChildProcess;
  readonly connected: Promise<void>;
  readonly report: Promise<Record<string, number>>;
}

function startWorker(dir: string, k: number, url: string, nodes: readonly { nodeId: string; nodeToken: string }[]): Worker {
  const file = join(dir, `plan-${k}.json`);
  writeFileSync(file, JSON.stringify({ url, intervalMs, connectPerSecond: 1_000, nodes }));
  const proc = spawn(process.execPath, ['--max-old-space-size=4096', join(root, 'dist/bench/fleet-agents.js'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout! });
  let onConnected!: () => void;
  let onReport!: (r: Record<string, number>) => void;
  const connected = new Promise<void>((r) => (onConnected = r));
  const report = new Promise<Record<string, number>>((r) => (onReport = r));
  lines.on('line', (line) => {
    const m = JSON.parse(line) as { phase: string } & Record<string, number>;
    if (m.phase === 'connected') onConnected();
    if (m.phase === 'report') onReport(m);
  });
  return { proc, connected, report };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'suanli-fleet-'));
  const { proc, url } = await startServer(join(dir, 'fleet.db'), ['--agent-heartbeat-ms', String(intervalMs)]);
    const rows: Row[] = [];
  try {
    const provider = new Client(url);
    await provider.call('POST', '/auth/signup', { email: 'fleet@bench.local', password: 'provider-password', role: 'provider', displayName: 'Fleet' });
    const nodes: { nodeId: string; nodeToken: string }[] = [];
    let workers: Worker[] = [];
    let connectedUpTo = 0;
    for (const size of sizes) {
      const enrollStart = performance.now();
      await enroll(provider, url, size - nodes.length, nodes);
      const enrollS = (performance.now() - enrollStart) / 1000;
      // The agents already running stay; new workers bring up only this stage's new nodes.
      const added: Worker[] = [];
      for (let from = connectedUpTo; from < size; from += AGENTS_PER_WORKER) {
        added.push(startWorker(dir, workers.length + added.length, url, nodes.slice(from, Math.min(size, from + AGENTS_PER_WORKER))));
      }
      connectedUpTo = size;
      workers = [...workers, ...added];
      const connectStart = performance.now();
      await Promise.all(added.map((w) => w.connected));
      const connectS = (performance.now() - connectStart) / 1000;
      await sleep(intervalMs); // every agent has sent its first heartbeat
      const before = await metrics(url);
      const cpu0 = cpuSecondsOf(proc.pid!);
      const t0 = performance.now();
      await sleep(holdS * 1000);
      const cpuS = cpuSecondsOf(proc.pid!) - cpu0;
      const wallS = (performance.now() - t0) / 1000;
      const after = await metrics(url);
      const lost = metric(after, /nodes_lost/) - metric(before, /nodes_lost/);
      const beats = metric(after, /heartbeats/) - metric(before, /heartbeats/);
      const row: Row = {
        nodes: size, connected: metric(after, /agents_connected/), missed: lost, heartbeatsPerSecond: round(beats / wallS, 1),
        exchangeCpuPct: round((cpuS / wallS) * 100, 1), exchangeRssMiB: rssMiBOf(proc.pid!),
        enrollSeconds: round(enrollS, 1), connectSeconds: round(connectS, 1),
      };
      rows.push(row);
      if (!json) console.log(JSON.stringify(row));
    }
    for (const w of workers) w.proc.kill('SIGTERM');
    const reports = await Promise.all(workers.map((w) => w.report));
    const held = rows.filter((r) => r.missed === 0 && r.connected >= r.nodes).map((r) => r.nodes);
    const summary = { intervalMs, holdS, stages: rows, largestHeld: held.length ? Math.max(...held) : 0, agentLagMs: Math.max(...reports.map((r) => r['maxLagMs'] ?? 0)), agentReconnects: reports.reduce((t, r) => t + (r['reconnects'] ?? 0), 0), target: { nodes: 20_000 } };
    if (json) console.log(JSON.stringify(summary));
    else console.log(`bench:fleet — largest fleet held with no missed heartbeat: ${summary.largestHeld} nodes at ${intervalMs / 1000} s (target 20,000); worst agent-side send lag ${summary.agentLagMs} ms; ${summary.agentReconnects} agent redials in the last stage; ${process.version}`);
  } finally {
    proc.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
