/**
 * Lease logs through the real command loop on a SQLite file: numbered per lease from the stored
 * maximum (so a restart never repeats a seq), the last N kept per lease, and a bounded backlog.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAccelerators, listRegions } from '../src/core/catalog/index.js';
import { ExchangeCore } from '../src/exchange/core.js';
import { LeaseLogs } from '../src/exchange/lease-logs.js';
import { CommandLoop } from '../src/exchange/loop.js';
import { Projection } from '../src/exchange/projection.js';
import { openSqliteStore, type Store } from '../src/store/index.js';

let dir = '';
let store: Store;
let loop: CommandLoop;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'suanli-logs-'));
  store = await openSqliteStore({ file: join(dir, 'logs.db') });
  await store.migrate();
  const catalog = { accelerators: listAccelerators(), regions: listRegions() };
  loop = await CommandLoop.open(new ExchangeCore(catalog), store, new Projection(catalog.accelerators), { clock: () => Date.UTC(2026, 0, 1) });
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const seqs = async (leaseId: string): Promise<number[]> => (await store.leaseLogs({ leaseId, afterSeq: 0, limit: 100 })).map((l) => l.seq);

describe('lease logs', () => {
  it('keeps the last N lines per lease and continues numbering after a restart', async () => {
    const logs = new LeaseLogs(loop, store, { maxPerLease: 3, maxPending: 100, isLive: () => true });
    expect(await logs.append('l1', 'stdout', ['a', 'b'], 1)).toBe(1);
    expect(await logs.append('l1', 'stderr', ['c', 'd', 'e'], 2)).toBe(3);
    expect(await logs.append('l2', 'stdout', ['x'], 3)).toBe(1);
    await logs.flush();
    expect(await seqs('l1')).toEqual([3, 4, 5]);
    expect(await seqs('l2')).toEqual([1]);
    // A new writer (as after a restart) starts after the stored maximum, and concurrent appends never share a seq.
    const again = new LeaseLogs(loop, store, { maxPerLease: 3, maxPending: 100, isLive: () => true });
    const firsts = await Promise.all([again.append('l1', 'stdout', ['f'], 4), again.append('l1', 'stdout', ['g'], 4)]);
    expect(firsts.sort()).toEqual([6, 7]);
    await again.flush();
    expect(await seqs('l1')).toEqual([5, 6, 7]);
  });

  it('drops the oldest waiting lines beyond its backlog bound, and counts them', async () => {
    const logs = new LeaseLogs(loop, store, { maxPerLease: 100, maxPending: 2, isLive: () => false });
    await logs.append('l3', 'stdout', ['1', '2', '3', '4'], 1);
    expect(logs.droppedLines).toBe(2);
    await logs.flush();
    expect((await store.leaseLogs({ leaseId: 'l3', afterSeq: 0, limit: 10 })).map((l) => l.line)).toEqual(['3', '4']);
  });
});
