/**
 * Crash test with real processes: `suanli serve` on a SQLite file, bids sent over HTTP from this
 * process, SIGKILL of the server in the middle of the load, restart on the same file. Every
 * acknowledged order must be there; nothing half-written (every filled bid has its lease); the
 * restarted server replays the journal and checks the ledger sums to zero before it listens.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI as cli, Client, startServer } from './support/processes.js';

const A100 = 'nvidia-a100-sxm4-40g';

let dir = '';
beforeAll(() => {
  expect(existsSync(cli)).toBe(true); // built once by test/global-setup.ts
  dir = mkdtempSync(join(tmpdir(), 'suanli-crash-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('crash: SIGKILL mid-load, restart, nothing acknowledged lost, nothing half-written', () => {
  it('keeps every acknowledged bid across a SIGKILL', async () => {
    const db = join(dir, 'crash.db');
    const first = await startServer(db, true);
    expect(first.admin).not.toBeNull();
    // One exchange per store: a second server on the same file is refused while the first runs
    // (and, below, the SIGKILLed first leaves no lock behind: the restart takes it).
    const twin = spawnSync(process.execPath, [cli, 'serve', '--db', db, '--port', '0', '--no-demo'], { encoding: 'utf8', timeout: 30_000 });
    expect([twin.status, twin.stderr.trim()]).toEqual([1, `store: another exchange is using this database (its lock ${db}.lock is held); stop it first`]);
    const admin = new Client(first.url);
    expect((await admin.call('POST', '/auth/login', first.admin)).status).toBe(200);
    const provider = new Client(first.url);
    const buyer = new Client(first.url);
    const p = await provider.call('POST', '/auth/signup', { email: 'p@crash.test', password: 'provider-pass-1', role: 'provider', displayName: 'P' });
    const b = await buyer.call('POST', '/auth/signup', { email: 'b@crash.test', password: 'buyer-pass-123', role: 'buyer', displayName: 'B' });
    expect([p.status, b.status]).toEqual([201, 201]);
    expect((await admin.call('POST', '/admin/deposits', { userId: b.body.user.id, amountFen: '100000000' })).status).toBe(201);
    for (let i = 0; i < 40; i++) {
      const node = await provider.call('POST', '/nodes', { acceleratorId: A100, regionId: 'cn-beijing', gpuCount: 8, kind: 'manual' });
      expect(node.status).toBe(201);
      expect((await provider.call('POST', '/asks', { nodeIds: [node.body.node.id], priceFenPerGpuHour: 2270 + (i % 5) })).status).toBe(201);
    }

    const acked: string[] = [];
    let sent = 0;
    let killed = false;
    const worker = async (): Promise<void> => {
      while (!killed && sent < 2_000) {
        sent++;
        try {
          const r = await buyer.call(
            'POST', '/bids',
            { acceleratorIds: [A100], gpus: 1, hours: 1, limitFenPerGpuHour: 2500, timeInForce: 'IOC' },
            { 'idempotency-key': `k${sent}` },
          );
          if (r.status === 201) acked.push(r.body.order.id);
          else if (r.status === 429) await new Promise((w) => setTimeout(w, 100)); // per-user rate limit
          else throw new Error(`bid answered ${r.status}: ${JSON.stringify(r.body)}`);
        } catch (e) {
          // the server died under us: unacknowledged, may or may not have been committed
          if (!killed) throw e;
        }
        if (acked.length >= 80 && !killed) {
          killed = true;
          first.proc.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    expect(killed).toBe(true);
    await first.exited;

    // Restart on the same file: replay, ledger check, then listen.
    const second = await startServer(db, false);
    try {
      const again = new Client(second.url);
      expect((await again.call('POST', '/auth/login', { email: 'b@crash.test', password: 'buyer-pass-123' })).status).toBe(200);
      for (const id of acked) {
        const o = await again.call('GET', `/orders/${id}`);
        expect(o.status, `acknowledged order ${id} lost`).toBe(200);
      }
      // nothing half-written: every filled bid has its lease, and no lease lacks its bid
      const orders: any[] = [];
      for (let cursor: string | null = null; ; ) {
        const page = await again.call('GET', `/orders?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
        orders.push(...page.body.items);
        cursor = page.body.nextCursor;
        if (!cursor) break;
      }
      const leases: any[] = [];
      for (let cursor: string | null = null; ; ) {
        const page = await again.call('GET', `/leases?role=buyer&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
        leases.push(...page.body.items);
        cursor = page.body.nextCursor;
        if (!cursor) break;
      }
      const filled = orders.filter((o) => o.status === 'filled').length;
      expect(filled).toBeGreaterThanOrEqual(acked.length);
      expect(leases.length).toBe(filled);
      const bal = await again.call('GET', '/balances');
      // 1 GPU × 1 h at 22.70–22.74 each: what left cash is exactly what the leases cost
      const spent = leases.reduce((s, l) => s + BigInt(l.priceFenPerGpuHour), 0n);
      expect(BigInt(bal.body.cashFen)).toBe(100_000_000n - spent);
    } finally {
      second.proc.kill('SIGTERM');
    }
  }, 120_000);
});
