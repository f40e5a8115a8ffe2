/**
 * The agent protocol end to end: `startServer` on loopback over a real SQLite file and a real
 * PostgreSQL database, real HTTP,
 * and a scripted agent on a real WebSocket. A job that matches an agent node reaches its agent as
 * `lease.start`; ready/logs/exit flow back to the buyer (REST and live feed); a task is billed for
 * exactly the seconds it ran; silence takes the node offline and interrupts its leases with an
 * SLA credit; reconnecting reconciles; a restart of the exchange keeps the leases running.
 * Heartbeats are short here (500 ms); nothing asserts how fast anything happened.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { balanceFen } from '../src/core/ledger/types.js';
import { type RunningServer, startServer } from '../src/cli/serve.js';
import { A100, hardware } from './support/agent-fixtures.js';
import { eventually, ScriptedAgent } from './support/agent-client.js';
import { FAST_ARGON2, NO_RATE_LIMIT, ok } from './support/api-harness.js';
import { createTestDatabase, type TestDatabase } from './support/pg.js';

const HEARTBEAT_MS = 500;
const PRICE = 36_000; // fen per GPU-hour = 10 fen per GPU-second
const MARKET = `${A100}@cn-beijing`;
const ADMIN_PASSWORD = 'correct horse battery admin';

interface Reply {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
}

/** A user over real HTTP, keeping its session cookie. */
class User {
  cookie = '';
  id = '';
  constructor(private readonly base: () => string) {}

  async call(method: string, path: string, body?: unknown): Promise<Reply> {
    const res = await fetch(`${this.base()}/api/v1${path}`, {
      method, headers: { ...(this.cookie ? { cookie: this.cookie } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const m = /suanli_session=[^;]*/.exec(res.headers.get('set-cookie') ?? '');
    if (m) this.cookie = m[0];
    const text = await res.text();
    return { status: res.status, body: text === '' ? null : JSON.parse(text) };
  }

  get = (path: string): Promise<Reply> => this.call('GET', path);
  post = (path: string, body: unknown = {}): Promise<Reply> => this.call('POST', path, body);
}

let dir = '';
let pgdb: TestDatabase | null = null;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'suanli-agent-'));
  pgdb = await createTestDatabase();
});
afterAll(async () => {
  await pgdb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const stores = [
  { name: 'a SQLite file', db: (): string => join(dir, 'suanli.db') },
  { name: 'PostgreSQL', db: (): string => pgdb!.url },
];

describe.each(stores)('agent protocol over a real server on $name', ({ db }) => {
  let running: RunningServer;
  const base = (): string => running.url;
  const start = async (): Promise<RunningServer> =>
    startServer({
      db: db(), port: 0, demo: false, adminPassword: ADMIN_PASSWORD, agentHeartbeatIntervalMs: HEARTBEAT_MS, tickIntervalMs: 200, log: () => undefined,
      config: { argon2: FAST_ARGON2, rateLimit: NO_RATE_LIMIT, authRateLimit: NO_RATE_LIMIT },
    });
  beforeAll(async () => {
    running = await start();
  });
  afterAll(async () => {
    await running?.close();
  });

  const admin = new User(base);
  const provider = new User(base);
  const buyer = new User(base);
  let nodeId = '';
  let nodeToken = '';
  let agent: ScriptedAgent;
  let feed: WebSocket;
  const feedMessages: { data: { type: string; leaseId?: string; lines?: string[]; access?: unknown } }[] = [];

  const signup = async (u: User, name: string, role: 'buyer' | 'provider'): Promise<void> => {
    u.id = ok(await u.post('/auth/signup', { email: `${name}@agent.test`, password: 'correct horse battery', role, displayName: name }), 201).body.user.id;
  };
  const lease = async (id: string, who: User = buyer) => ok(await who.get(`/leases/${id}`)).body.lease;
  const balances = async (who: User) => ok(await who.get('/balances')).body;
  const feeFen = (): bigint => {
    const fees = running.ctx.core.ledger.getAccount('platform:fees');
    return fees ? balanceFen(fees) : 0n;
  };
  /** Bills exactly what the core does: floor(price × GPUs × ms / 1 h) on the total. */
  const chargeOf = (l: { startAt: string; endedAt: string }, gpus: number): bigint => (BigInt(PRICE) * BigInt(gpus) * BigInt(Date.parse(l.endedAt) - Date.parse(l.startAt))) / 3_600_000n;

  beforeAll(async () => {
    ok(await admin.post('/auth/login', { email: 'admin@suanli.local', password: ADMIN_PASSWORD }));
    await signup(provider, 'prov', 'provider');
    await signup(buyer, 'buyer', 'buyer');
    ok(await admin.post('/admin/deposits', { userId: buyer.id, amountFen: '10000000' }), 201);
    const { token, command } = ok(await provider.post('/enrollment-tokens', { regionId: 'cn-beijing', acceleratorId: A100, gpuCount: 2 }), 201).body;
    expect(command).toBe(`suanli agent --server ${running.url} --token ${token}`);
    ({ nodeId, nodeToken } = ok(await new User(base).post('/agent/enroll', { token, hardware: hardware(2), agentVersion: 'test' }), 201).body);
    ok(await provider.post('/asks', { nodeIds: [nodeId], priceFenPerGpuHour: PRICE }), 201);
    feed = new WebSocket(`${running.url.replace('http', 'ws')}/api/v1/ws`, { headers: { cookie: buyer.cookie } });
    feed.on('message', (raw) => feedMessages.push(JSON.parse(String(raw))));
    await new Promise((resolve, reject) => feed.once('open', resolve).once('error', reject));
    feed.send(JSON.stringify({ op: 'subscribe', channel: 'user' }));
  });
  afterAll(() => {
    agent?.close();
    feed?.close();
  });

  it('says welcome, then pushes lease.start when a job matches; ready, logs and exit flow back; the task is billed for the seconds it ran', async () => {
    agent = await ScriptedAgent.connect(base(), nodeToken);
    agent.hello(hardware(2));
    expect(await agent.next('welcome')).toMatchObject({ nodeId, heartbeatIntervalMs: HEARTBEAT_MS, leases: [] });
    agent.heartbeat(HEARTBEAT_MS / 3);
    const node = await eventually(async () => {
      const n = ok(await provider.get(`/nodes/${nodeId}`)).body.node;
      return n.lastHeartbeatAt !== null ? n : undefined;
    }, 'a heartbeat');
    expect(node).toMatchObject({ kind: 'agent', attestation: 'verified', online: true, gpus: [{ index: 0, healthy: true, utilizationPct: 97 }] });

    const cashBefore = BigInt((await balances(buyer)).cashFen);
    const feesBefore = feeFen();
    const earningsBefore = BigInt((await balances(provider)).earningsFen);
    const placed = ok(
      await buyer.post('/jobs', {
        acceleratorIds: [A100], regionIds: ['cn-beijing'], gpus: 2, hours: 1, limitFenPerGpuHour: PRICE, timeInForce: 'IOC',
        workload: { runtime: 'process', command: ['sh', '-c', 'echo hi'], env: { API_TOKEN: 's3cret' } },
      }),
      201,
    ).body;
    expect(placed.leases).toHaveLength(1);
    expect(placed.leases[0].state).toBe('provisioning');
    const leaseId: string = placed.leases[0].id;

    const start = await agent.next('lease.start', (m) => m.lease.leaseId === leaseId);
    expect(start.lease).toMatchObject({ gpuIndices: [0, 1], workload: { runtime: 'process', command: ['sh', '-c', 'echo hi'], env: { API_TOKEN: 's3cret' }, mode: 'task' } });
    expect((await lease(leaseId)).state).toBe('provisioning');

    agent.send({ type: 'lease.ready', leaseId, atMs: Date.now(), access: { kind: 'process', pid: 4242 } });
    const ready = await eventually(async () => {
      const l = await lease(leaseId);
      return l.state === 'active' ? l : undefined;
    }, 'the lease to be active');
    expect(ready.access).toEqual({ kind: 'process', pid: 4242 });
    const providerView = await lease(leaseId, provider);
    expect(providerView).toMatchObject({ access: null, attestation: 'verified', workload: { envNames: ['API_TOKEN'] } });
    expect(JSON.stringify(providerView)).not.toContain('s3cret');

    agent.send({ type: 'lease.log', leaseId, stream: 'stdout', lines: ['step 1', 'step 2'] });
    agent.send({ type: 'lease.log', leaseId, stream: 'stderr', lines: ['warn: slow disk'] });
    const logs = await eventually(async () => {
      const page = ok(await buyer.get(`/leases/${leaseId}/logs`)).body;
      return page.items.length >= 3 ? page : undefined;
    }, 'the log lines to be stored');
    expect(logs.items.map((l: { seq: number; stream: string; line: string }) => [l.seq, l.stream, l.line])).toEqual([
      [1, 'stdout', 'step 1'], [2, 'stdout', 'step 2'], [3, 'stderr', 'warn: slow disk'],
    ]);
    expect(ok(await buyer.get(`/leases/${leaseId}/logs?after=2`)).body).toMatchObject({ items: [{ seq: 3 }], nextAfter: 3 });
    expect((await provider.get(`/leases/${leaseId}/logs`)).status).toBe(404);
    await eventually(async () => (feedMessages.some((m) => m.data?.type === 'lease_log' && m.data.leaseId === leaseId) ? true : undefined), 'lease_log on the feed');
    expect(feedMessages.find((m) => m.data?.type === 'lease_ready' && m.data.leaseId === leaseId)?.data.access).toEqual({ kind: 'process', pid: 4242 });

    await new Promise((r) => setTimeout(r, 250)); // let it run a little, so the charge is not zero
    const exitedAtMs = Date.now();
    agent.send({ type: 'lease.exited', leaseId, atMs: exitedAtMs, exitCode: 0, signal: null });
    expect(await agent.next('lease.stop', (m) => m.leaseId === leaseId)).toMatchObject({ reason: 'job_exited' });
    const ended = await eventually(async () => {
      const l = await lease(leaseId);
      return l.state === 'ended' ? l : undefined;
    }, 'the lease to end');
    expect(ended.endReason).toBe('job_exited');
    // Billed up to the exit the agent reported (or a settlement tick just after it), never to
    // when the exchange got round to ending it (`endedAt`, later under load).
    const charge = cashBefore - BigInt((await balances(buyer)).cashFen);
    const fee = (charge * 500n) / 10_000n;
    expect(charge).toBeGreaterThanOrEqual(chargeOf({ startAt: ended.startAt, endedAt: new Date(exitedAtMs).toISOString() }, 2));
    expect(charge).toBeLessThanOrEqual(chargeOf(ended, 2));
    expect(charge).toBeGreaterThan(0n);
    expect(charge).toBeLessThan(BigInt(PRICE) * 2n); // a few seconds, not the hour held
    expect((await balances(buyer)).heldFen).toBe('0');
    expect(BigInt((await balances(provider)).earningsFen) - earningsBefore).toBe(charge - fee);
    expect(feeFen() - feesBefore).toBe(fee);
    // The GPUs are back on the market at once.
    expect(ok(await buyer.get(`/markets/${MARKET}/book`)).body.asks).toEqual([{ priceFenPerGpuHour: PRICE, gpus: 2 }]);
    await eventually(async () => (feedMessages.some((m) => m.data?.type === 'lease_ended' && m.data.leaseId === leaseId) ? true : undefined), 'lease_ended on the feed');
  });

  it('a failed provisioning fails the lease and refunds the buyer; a lease of another node is not this agent’s to report', async () => {
    const cashBefore = BigInt((await balances(buyer)).cashFen);
    const placed = ok(
      await buyer.post('/jobs', {
        acceleratorIds: [A100], regionIds: ['cn-beijing'], gpus: 1, hours: 1, limitFenPerGpuHour: PRICE, timeInForce: 'IOC',
        workload: { runtime: 'docker', image: 'no/such-image:latest' },
      }),
      201,
    ).body;
    const leaseId: string = placed.leases[0].id;
    await agent.next('lease.start', (m) => m.lease.leaseId === leaseId);
    const seen = agent.received.length;
    agent.send({ type: 'lease.ready', leaseId: 'l-not-mine', atMs: Date.now(), access: { kind: 'process', pid: 1 } });
    expect(await agent.next('error', () => true, seen)).toMatchObject({ code: 'UNKNOWN_LEASE' });
    agent.send({ type: 'lease.failed', leaseId, atMs: Date.now(), error: 'pull access denied for no/such-image' });
    const failed = await eventually(async () => {
      const l = await lease(leaseId);
      return l.state === 'failed' ? l : undefined;
    }, 'the lease to fail');
    expect(failed.endReason).toBe('provision_failed');
    expect(await agent.next('lease.stop', (m) => m.leaseId === leaseId)).toBeDefined();
    // Billed at most for the moments it existed, and credited as a provider fault: never more than that.
    expect(BigInt((await balances(buyer)).cashFen)).toBeGreaterThanOrEqual(cashBefore - chargeOf(failed, 1));
    expect((await balances(buyer)).heldFen).toBe('0');
    const logs = await eventually(async () => {
      const items = ok(await buyer.get(`/leases/${leaseId}/logs`)).body.items;
      return items.length > 0 ? items : undefined;
    }, 'the failure in the log');
    expect(logs[0]).toMatchObject({ stream: 'system', line: 'provisioning failed: pull access denied for no/such-image' });
  });

  it('a second session replaces the first (4409), and welcome lists the leases that should run', async () => {
    const placed = ok(
      await buyer.post('/bids', {
        acceleratorIds: [A100], regionIds: ['cn-beijing'], gpus: 1, hours: 1, limitFenPerGpuHour: PRICE, timeInForce: 'IOC',
        workload: { runtime: 'docker', image: 'pytorch/pytorch:2.4.0', sshPublicKey: 'ssh-ed25519 AAAA test' },
      }),
      201,
    ).body;
    const leaseId: string = placed.leases[0].id;
    await agent.next('lease.start', (m) => m.lease.leaseId === leaseId);
    agent.send({ type: 'lease.ready', leaseId, atMs: Date.now(), access: { kind: 'ssh', host: '10.0.0.5', port: 2222, user: 'root' } });
    await eventually(async () => ((await lease(leaseId)).state === 'active' ? true : undefined), 'active');

    const second = await ScriptedAgent.connect(base(), nodeToken);
    expect(await agent.waitClosed()).toMatchObject({ code: 4409 });
    second.hello(hardware(2), [{ leaseId, state: 'running' }]);
    const welcome = await second.next('welcome');
    expect(welcome.leases.map((l) => l.leaseId)).toEqual([leaseId]);
    expect(welcome.leases[0]!.workload).toMatchObject({ runtime: 'docker', image: 'pytorch/pytorch:2.4.0', mode: 'lease' });
    second.heartbeat(HEARTBEAT_MS / 3);
    agent = second;
  });

  it('missed heartbeats: the node goes offline, its asks stop matching, its leases end with an SLA credit; hello brings it back', async () => {
    const running1 = ok(await buyer.get('/leases?state=active')).body.items as { id: string }[];
    expect(running1).toHaveLength(1);
    const leaseId = running1[0]!.id;
    // A lease sold for later on the node's other GPU: its start passes while the node is lost.
    const later = ok(
      await buyer.post('/bids', {
        acceleratorIds: [A100], regionIds: ['cn-beijing'], gpus: 1, hours: 1, limitFenPerGpuHour: PRICE, timeInForce: 'IOC',
        startAt: new Date(Date.now() + 12 * HEARTBEAT_MS).toISOString(),
      }),
      201,
    ).body;
    const laterId: string = later.leases[0].id;
    expect((await lease(laterId)).state).toBe('pending');
    const cashBefore = BigInt((await balances(buyer)).cashFen);
    agent.silence(); // the socket stays open: only the heartbeats stop
    await eventually(async () => ((await lease(leaseId)).state === 'ended' ? true : undefined), 'the lease to be interrupted');
    const ended = await lease(leaseId);
    expect(ended.endReason).toBe('node_lost');
    // Downtime since the last heartbeat is credited from the provider's earnings, on top of the refund.
    const statement = ok(await buyer.get('/statement?account=cash&limit=500')).body.items as { code: string; creditFen: string; transferId: string }[];
    const credit = statement.find((t) => t.code === 'sla_credit' && t.transferId === `lease:${leaseId}:sla`);
    expect(BigInt(credit?.creditFen ?? '0')).toBeGreaterThan(0n);
    expect(BigInt((await balances(buyer)).cashFen)).toBeGreaterThan(cashBefore);
    expect(ok(await provider.get(`/nodes/${nodeId}`)).body.node).toMatchObject({ status: 'offline', online: false });
    // The silent session is dropped before its leases end, so no lease.stop can reach it (the welcome after a reconnect omits the lease).
    expect(await agent.waitClosed()).toEqual({ code: 1001, reason: 'no heartbeat' });
    // The later lease was not due when the node was lost; once it is due on a node still silent, it ends unbilled.
    expect((await lease(laterId)).state).toBe('pending');
    await eventually(async () => ((await lease(laterId)).state === 'ended' ? true : undefined), 'the later lease to end');
    expect(await lease(laterId)).toMatchObject({ endReason: 'node_lost' });
    const laterMoves = (ok(await buyer.get('/statement?account=cash&limit=500')).body.items as { code: string; transferId: string; creditFen: string }[])
      .filter((t) => t.transferId.startsWith(`lease:${laterId}:`));
    expect(laterMoves.map((t) => t.code)).toContain('refund');
    // A settlement tick may bill it before the hub notices (at most half a heartbeat interval):
    // whatever was billed after the start goes back to the buyer as SLA credit, so the provider
    // keeps nothing from it.
    const providerMoves = (ok(await provider.get('/statement?account=earnings&limit=500')).body.items as { transferId: string; creditFen: string; debitFen: string }[])
      .filter((t) => t.transferId.startsWith(`lease:${laterId}:`));
    expect(providerMoves.reduce((net, t) => net + BigInt(t.creditFen) - BigInt(t.debitFen), 0n)).toBeLessThanOrEqual(0n);
    expect(BigInt((await balances(buyer)).escrowFen)).toBe(0n);
    // Its ask no longer matches.
    const miss = ok(await buyer.post('/bids', { acceleratorIds: [A100], regionIds: ['cn-beijing'], gpus: 1, hours: 1, limitFenPerGpuHour: PRICE, timeInForce: 'IOC' }), 201).body;
    expect(miss.leases).toEqual([]);
    expect(ok(await buyer.get(`/markets/${MARKET}/book`)).body.asks).toEqual([]);
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toMatch(/^suanli_agent_nodes_lost_total 1$/m);
    expect(metrics).toMatch(/^suanli_agent_heartbeats_total [1-9]/m);

    agent = await ScriptedAgent.connect(base(), nodeToken);
    agent.hello(hardware(2), [{ leaseId, state: 'running' }]);
    expect((await agent.next('welcome')).leases).toEqual([]); // the agent stops what it still runs
    agent.heartbeat(HEARTBEAT_MS / 3);
    await eventually(async () => (ok(await provider.get(`/nodes/${nodeId}`)).body.node.status === 'online' ? true : undefined), 'online again');
    expect(ok(await buyer.get(`/markets/${MARKET}/book`)).body.asks).toEqual([{ priceFenPerGpuHour: PRICE, gpus: 2 }]);
    expect(await (await fetch(`${running.url}/metrics`)).text()).toMatch(/^suanli_agents_connected 1$/m);
  });

  it('refuses bad tokens (4401) and bad messages (4400); fake GPUs are traded but flagged in the market', async () => {
    const nobody = await ScriptedAgent.connect(base(), 'x'.repeat(43));
    expect((await nobody.waitClosed()).code).toBe(4401);
    const anonymous = await ScriptedAgent.connect(base(), null);
    expect((await anonymous.waitClosed()).code).toBe(4401);

    const { token } = ok(await provider.post('/enrollment-tokens', { regionId: 'cn-shanghai' }), 201).body;
    const fake = ok(await new User(base).post('/agent/enroll', { token, hardware: hardware(1, { fake: true }), agentVersion: 'test' }), 201).body;
    expect(fake.attestation).toBe('unverified');
    ok(await provider.post('/asks', { nodeIds: [fake.nodeId], priceFenPerGpuHour: PRICE }), 201);
    const market = ok(await buyer.get('/markets')).body.items.find((m: { market: string }) => m.market === `${A100}@cn-shanghai`);
    expect(market).toMatchObject({ unverifiedNodes: 1, verified: false });
    expect(ok(await buyer.get('/markets')).body.items.find((m: { market: string }) => m.market === MARKET)).toMatchObject({ unverifiedNodes: 0, verified: true });

    const garbage = await ScriptedAgent.connect(base(), fake.nodeToken);
    garbage.send('{not json');
    expect((await garbage.waitClosed()).code).toBe(4400);
    const wrongShape = await ScriptedAgent.connect(base(), fake.nodeToken);
    wrongShape.send(JSON.stringify({ type: 'hello', protocol: 1 }));
    expect((await wrongShape.waitClosed()).code).toBe(4400);
    const noHello = await ScriptedAgent.connect(base(), fake.nodeToken);
    noHello.send({ type: 'lease.ready', leaseId: 'l-x', atMs: 1, access: { kind: 'process', pid: 1 } });
    expect((await noHello.waitClosed()).code).toBe(4400);
  });

  it('an exchange restart keeps the leases: the agent reconnects within the grace window and the lease resumes', async () => {
    const placed = ok(
      await buyer.post('/bids', {
        acceleratorIds: [A100], regionIds: ['cn-beijing'], gpus: 1, hours: 1, limitFenPerGpuHour: PRICE, timeInForce: 'IOC',
        workload: { runtime: 'process', command: ['sleep', '3600'] },
      }),
      201,
    ).body;
    const leaseId: string = placed.leases[0].id;
    await agent.next('lease.start', (m) => m.lease.leaseId === leaseId);
    agent.send({ type: 'lease.ready', leaseId, atMs: Date.now(), access: { kind: 'process', pid: 777 } });
    await eventually(async () => ((await lease(leaseId)).state === 'active' ? true : undefined), 'active');

    feed.close();
    await running.close();
    await agent.waitClosed(); // the workload keeps running on the host; only the session is gone
    running = await start();
    agent = await ScriptedAgent.connect(base(), nodeToken);
    agent.hello(hardware(2), [{ leaseId, state: 'running' }]);
    const welcome = await agent.next('welcome');
    expect(welcome.leases.map((l) => l.leaseId)).toEqual([leaseId]);
    agent.heartbeat(HEARTBEAT_MS / 3);
    // Longer than one offline window: the node stays online and the lease keeps running.
    await new Promise((r) => setTimeout(r, 4 * HEARTBEAT_MS));
    const after = await lease(leaseId);
    expect(after).toMatchObject({ state: 'active', endReason: null, access: { kind: 'process', pid: 777 } });
    expect(ok(await provider.get(`/nodes/${nodeId}`)).body.node).toMatchObject({ status: 'online', online: true });
    ok(await buyer.post(`/leases/${leaseId}/end`));
    expect(await agent.next('lease.stop', (m) => m.leaseId === leaseId)).toMatchObject({ reason: 'buyer' });
  });
});
