/**
 * End to end with real processes: `suanli serve` on a SQLite file, `suanli agent` with fake GPUs
 * and the process runtime, and a buyer over HTTP. Bid → lease → the workload runs on exactly the
 * leased GPUs (it writes to its scratch dir and prints) → the buyer reads its logs → the lease
 * ends → the workload is stopped and its scratch wiped → the ledger is exact to the fen.
 * Then the faults: the agent killed mid-lease (interrupted, credited), and the exchange stopped
 * for a while (the workload keeps running; the lease resumes cleanly on restart).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, CLI, Client, type ServerProcess, startAgentProcess, startServer, waitFor } from './support/processes.js';

const H100 = 'nvidia-h100-sxm5-80g';
const REGION = 'cn-guizhou-guiyang';
const HEARTBEAT_MS = 250;
/** 1 fen per GPU-second: amounts below are easy to check by hand. */
const PRICE = 3_600;
/** 10 fen per GPU-second where a short downtime must be worth a visible SLA credit. */
const DEAR_PRICE = 36_000;
const DEPOSIT = 10_000_000;

/** The buyer's workload: proves which GPUs it was given and where its scratch is, then keeps printing. */
const WORKLOAD_SCRIPT = [
  "const fs = require('fs');",
  "fs.writeFileSync(require('path').join(process.env.SUANLI_SCRATCH, 'proof.txt'), `${process.env.CUDA_VISIBLE_DEVICES}|${process.env.NVIDIA_VISIBLE_DEVICES}`);",
  "console.log('visible=' + process.env.CUDA_VISIBLE_DEVICES);",
  "console.log('scratch=' + process.env.SUANLI_SCRATCH);",
  "setInterval(() => console.log('tick'), 100);",
].join('\n');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let dir = '';
const cleanups: (() => void)[] = [];
beforeAll(() => {
  expect(existsSync(CLI)).toBe(true); // built once by test/global-setup.ts
  dir = mkdtempSync(join(tmpdir(), 'suanli-e2e-'));
});
afterAll(() => {
  for (const f of cleanups.reverse()) f();
  rmSync(dir, { recursive: true, force: true });
});

interface World {
  server: ServerProcess;
  port: number;
  admin: Client;
  provider: Client;
  buyer: Client;
  buyerId: string;
  providerId: string;
  agent: AgentProcess;
  stateDir: string;
  nodeId: string;
}

function serverArgs(heartbeatMs: number, port?: number): string[] {
  return ['--agent-heartbeat-ms', String(heartbeatMs), ...(port === undefined ? [] : ['--port', String(port)])];
}

function killLater(p: { proc: { kill(s: NodeJS.Signals): boolean } }): void {
  cleanups.push(() => p.proc.kill('SIGKILL'));
}

/** A fresh exchange with one provider running one agent (8 fake H100s, an ask at PRICE) and a funded buyer. */
async function world(name: string, price = PRICE, heartbeatMs = HEARTBEAT_MS): Promise<World> {
  const server = await startServer(join(dir, `${name}.db`), true, serverArgs(heartbeatMs));
  killLater(server);
  const port = Number(new URL(server.url).port);
  const admin = new Client(server.url);
  expect((await admin.call('POST', '/auth/login', server.admin)).status).toBe(200);
  const provider = new Client(server.url);
  const buyer = new Client(server.url);
  const p = await provider.call('POST', '/auth/signup', { email: `p-${name}@e2e.test`, password: 'provider-pass-1', role: 'provider', displayName: 'P' });
  const b = await buyer.call('POST', '/auth/signup', { email: `b-${name}@e2e.test`, password: 'buyer-pass-123', role: 'buyer', displayName: 'B' });
  expect([p.status, b.status]).toEqual([201, 201]);
  expect((await admin.call('POST', '/admin/deposits', { userId: b.body.user.id, amountFen: String(DEPOSIT) })).status).toBe(201);

  const token = await provider.call('POST', '/enrollment-tokens', { regionId: REGION, acceleratorId: H100, gpuCount: 8 });
  expect(token.status).toBe(201);
  expect(token.body.command).toContain(`--token ${token.body.token}`);
  const stateDir = join(dir, `${name}-agent`);
  const agent = startAgentProcess(['--server', server.url, '--token', token.body.token, '--state-dir', stateDir, '--fake-gpus', `${H100}:8`, '--runtime', 'process', '--grace-ms', '500']);
  killLater(agent);
  const node = await waitFor('the agent node online', async () => {
    const nodes = await provider.call('GET', '/nodes');
    return (nodes.body.items as { id: string; online?: boolean; kind: string }[]).find((n) => n.kind === 'agent' && n.online);
  });
  const ask = await provider.call('POST', '/asks', { nodeIds: [node.id], priceFenPerGpuHour: price });
  expect(ask.status).toBe(201);
  return { server, port, admin, provider, buyer, buyerId: b.body.user.id, providerId: p.body.user.id, agent, stateDir, nodeId: node.id };
}

async function bid(w: World, gpus: number, limit = PRICE + 400, rematch = false): Promise<{ leaseId: string; gpuIndices: number[] }> {
  const r = await w.buyer.call('POST', '/bids', {
    acceleratorIds: [H100], gpus, hours: 1, limitFenPerGpuHour: limit, timeInForce: 'IOC', ...(rematch ? { rematch: true } : {}),
    workload: { runtime: 'process', command: [process.execPath, '-e', WORKLOAD_SCRIPT], env: { E2E_MARK: 'yes' } },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect(r.body.leases).toHaveLength(1);
  return { leaseId: r.body.leases[0].id, gpuIndices: r.body.leases[0].gpuIndices };
}

async function activeLease(w: World, leaseId: string): Promise<{ pid: number; lease: any }> {
  const lease = await waitFor('the lease active with access', async () => {
    const l = (await w.buyer.call('GET', `/leases/${leaseId}`)).body.lease;
    return l.state === 'active' && l.access ? l : undefined;
  });
  expect(lease.access).toMatchObject({ kind: 'process' });
  return { pid: lease.access.pid as number, lease };
}

describe('agent end to end (real exchange, real agent, process runtime)', () => {
  it('runs the workload on the leased GPUs, shows its logs, stops and wipes it at the end, and bills it exactly', async () => {
    const w = await world('happy');
    const { leaseId, gpuIndices } = await bid(w, 2);
    expect(gpuIndices).toHaveLength(2);
    const { pid, lease } = await activeLease(w, leaseId);
    expect(alive(pid)).toBe(true);
    expect(lease.attestation).toBe('unverified'); // fake GPUs are marked wherever the node appears

    // The workload sees exactly the leased GPUs, in its own scratch dir.
    const scratch = join(w.stateDir, 'scratch', leaseId);
    const proof = await waitFor('the workload’s proof file', () => (existsSync(join(scratch, 'proof.txt')) ? readFileSync(join(scratch, 'proof.txt'), 'utf8') : undefined));
    expect(proof).toBe(`${gpuIndices.join(',')}|${gpuIndices.join(',')}`);

    // The buyer reads its output; the provider cannot.
    const logs = await waitFor('the workload’s logs', async () => {
      const r = await w.buyer.call('GET', `/leases/${leaseId}/logs`);
      const lines = (r.body.items as { line: string }[]).map((l) => l.line);
      return lines.includes('tick') ? lines : undefined;
    });
    expect(logs).toContain(`visible=${gpuIndices.join(',')}`);
    expect(logs).toContain(`scratch=${scratch}`);
    expect((await w.provider.call('GET', `/leases/${leaseId}/logs`)).status).toBe(404);

    // The buyer ends it: the workload stops, its scratch is wiped, billing is exact.
    await new Promise((r) => setTimeout(r, 1_200));
    const ended = await w.buyer.call('POST', `/leases/${leaseId}/end`);
    expect(ended.status).toBe(200);
    await waitFor('the workload stopped', () => (alive(pid) ? undefined : true));
    await waitFor('the scratch dir wiped', () => (existsSync(scratch) ? undefined : true));
    const after = (await w.buyer.call('GET', `/leases/${leaseId}`)).body.lease;
    expect(after).toMatchObject({ state: 'ended', endReason: 'buyer' });

    const elapsedMs = Date.parse(after.endedAt) - Date.parse(after.startAt);
    const chargedFen = Math.floor((PRICE * 2 * elapsedMs) / 3_600_000); // price × GPUs × time, per second and finer
    expect(chargedFen).toBeGreaterThan(0);
    const bal = (await w.buyer.call('GET', '/balances')).body;
    expect(bal).toMatchObject({ cashFen: String(DEPOSIT - chargedFen), escrowFen: '0', heldFen: '0' });
    const platform = (await w.admin.call('GET', '/admin/ledger')).body;
    const feeFen = Number(platform.totals.feesFen);
    expect(feeFen).toBe(Math.floor((chargedFen * 500) / 10_000));
    expect((await w.provider.call('GET', '/balances')).body.earningsFen).toBe(String(chargedFen - feeFen));
    expect(platform.totals.sumFen).toBe('0');
    // The stop reached the agent and it said so.
    await waitFor('the stop in the lease log', async () => {
      const r = await w.buyer.call('GET', `/leases/${leaseId}/logs?after=0&limit=2000`);
      return (r.body.items as { line: string; stream: string }[]).some((l) => l.stream === 'system' && /scratch wiped/.test(l.line)) ? true : undefined;
    });
  }, 90_000);

  it('interrupts and credits the lease when the agent dies mid-lease, and re-matches the rest for a buyer who asked', async () => {
    const w = await world('killed', DEAR_PRICE);
    const { leaseId } = await bid(w, 1, DEAR_PRICE, true);
    const { pid } = await activeLease(w, leaseId);
    // Somewhere else to go: one more GPU in the same market, listed after the lease started.
    const spare = await w.provider.call('POST', '/nodes', { acceleratorId: H100, regionId: REGION, gpuCount: 1, kind: 'manual' });
    expect(spare.status).toBe(201);
    expect((await w.provider.call('POST', '/asks', { nodeIds: [spare.body.node.id], priceFenPerGpuHour: DEAR_PRICE })).status).toBe(201);
    cleanups.push(() => {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
    // Run a while first: the credit comes out of what the provider earned on this lease.
    await new Promise((r) => setTimeout(r, 2_000));
    w.agent.proc.kill('SIGKILL');
    await w.agent.exited;
    const lease = await waitFor('the lease interrupted', async () => {
      const l = (await w.buyer.call('GET', `/leases/${leaseId}`)).body.lease;
      return l.state === 'ended' ? l : undefined;
    }, 20_000);
    expect(lease.endReason).toBe('node_lost');
    const node = (await w.provider.call('GET', `/nodes/${w.nodeId}`)).body.node;
    expect(node).toMatchObject({ status: 'offline', online: false });
    // The buyer paid for the time before the agent went silent only, and got an SLA credit on top.
    const statement = (await w.buyer.call('GET', '/statement?account=cash')).body.items as { code: string; creditFen: string }[];
    const credit = statement.find((t) => t.code === 'sla_credit');
    expect(credit, JSON.stringify(statement)).toBeDefined();
    expect(BigInt(credit!.creditFen)).toBeGreaterThan(0n);
    expect((await w.admin.call('GET', '/admin/ledger')).body.totals.sumFen).toBe('0');
    // The remaining time was re-placed as the buyer's bid and landed on the spare GPU.
    const rematched = await waitFor('the re-matched bid', async () => {
      const o = await w.buyer.call('GET', `/orders/r-${leaseId}`);
      return o.status === 200 && o.body.order.status === 'filled' ? o.body.order : undefined;
    });
    expect(rematched).toMatchObject({ side: 'bid', priceFen: DEAR_PRICE });
    const leases = (await w.buyer.call('GET', '/leases?state=active')).body.items as { nodeId: string; gpuIndices: number[] }[];
    expect(leases).toMatchObject([{ nodeId: spare.body.node.id, gpuIndices: [0] }]);
    // A new bid does not land on the dead node.
    const r = await w.buyer.call('POST', '/bids', { acceleratorIds: [H100], gpus: 1, hours: 1, limitFenPerGpuHour: DEAR_PRICE, timeInForce: 'IOC' });
    expect(r.body.leases ?? []).toHaveLength(0);
  }, 90_000);

  it('retires a node: its token stops working at once, the agent stops its workloads and exits 4, the lease is refunded', async () => {
    const w = await world('revoked');
    const { leaseId } = await bid(w, 1);
    const { pid } = await activeLease(w, leaseId);
    const r = await w.provider.call('POST', `/nodes/${w.nodeId}/revoke`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ revokedCredentials: 1, endedLeases: [leaseId], node: { status: 'offline', online: false } });
    expect(await w.agent.exited).toBe(4);
    await waitFor('the workload stopped', () => (alive(pid) ? undefined : true));
    expect((await w.buyer.call('GET', `/leases/${leaseId}`)).body.lease).toMatchObject({ state: 'ended', endReason: 'provider' });
    expect((await w.buyer.call('GET', '/balances')).body).toMatchObject({ escrowFen: '0', heldFen: '0' });
    // The same state dir cannot come back: its token is refused.
    const again = startAgentProcess(['--state-dir', w.stateDir, '--fake-gpus', `${H100}:8`, '--runtime', 'process']);
    killLater(again);
    expect(await again.exited).toBe(4);
    // A manual node has no token to revoke.
    const manual = await w.provider.call('POST', '/nodes', { acceleratorId: H100, regionId: REGION, gpuCount: 1, kind: 'manual' });
    expect((await w.provider.call('POST', `/nodes/${manual.body.node.id}/revoke`)).body.error.code).toBe('NOT_AN_AGENT_NODE');
  }, 90_000);

  it('keeps the workload running while the exchange is down, and resumes the lease on restart', async () => {
    // A slower heartbeat here: after the restart the agent has one offline window (3 beats) to
    // reconnect, which must not depend on how loaded the test machine is.
    const heartbeatMs = 1_000;
    const w = await world('restart', PRICE, heartbeatMs);
    const { leaseId } = await bid(w, 1);
    const { pid } = await activeLease(w, leaseId);
    w.server.proc.kill('SIGTERM');
    await w.server.exited;
    // Longer than the offline window: the agent must not stop the workload on its own.
    await new Promise((r) => setTimeout(r, heartbeatMs * 4));
    expect(alive(pid)).toBe(true);

    const again = await startServer(join(dir, 'restart.db'), false, serverArgs(heartbeatMs, w.port));
    killLater(again);
    const buyer = new Client(again.url);
    expect((await buyer.call('POST', '/auth/login', { email: 'b-restart@e2e.test', password: 'buyer-pass-123' })).status).toBe(200);
    const provider = new Client(again.url);
    expect((await provider.call('POST', '/auth/login', { email: 'p-restart@e2e.test', password: 'provider-pass-1' })).status).toBe(200);
    await waitFor('the agent reconnected', async () => ((await provider.call('GET', `/nodes/${w.nodeId}`)).body.node.online ? true : undefined));
    // Past the offline window after restart: still the same lease, same process, still billed.
    await new Promise((r) => setTimeout(r, heartbeatMs * 4));
    const lease = (await buyer.call('GET', `/leases/${leaseId}`)).body.lease;
    expect(lease).toMatchObject({ state: 'active', endReason: null, access: { kind: 'process', pid } });
    expect(alive(pid)).toBe(true);
    const ticks = await waitFor('logs after the restart', async () => {
      const r = await buyer.call('GET', `/leases/${leaseId}/logs?limit=2000`);
      const items = r.body.items as { line: string; at: string }[];
      const late = items.filter((l) => l.line === 'tick' && Date.parse(l.at) > Date.now() - 1_000);
      return late.length > 0 ? late : undefined;
    });
    expect(ticks.length).toBeGreaterThan(0);
    expect((await buyer.call('POST', `/leases/${leaseId}/end`)).status).toBe(200);
    await waitFor('the workload stopped', () => (alive(pid) ? undefined : true));
  }, 90_000);
});
