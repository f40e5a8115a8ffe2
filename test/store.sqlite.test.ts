/**
 * What is SQLite's own in the store (the contract suite covers what both stores share): a file
 * store commits on a writer thread, so the event loop runs while a commit writes and syncs; an
 * in-memory store commits on its one connection; a closed store refuses writes clearly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JournalEntry, JournalSequenceError, openSqliteStore } from '../src/store/index.js';
import { prepareBatch } from '../src/store/batch-writer.js';
import { SqliteThreadWriter } from '../src/store/sqlite/batch-writer.js';
import { cachedStatements } from '../src/store/sqlite/index.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'suanli-sqlite-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function entry(seq: number, text = 'x'): JournalEntry {
  return { seq, atMs: 1_767_225_600_000 + seq, kind: 'test', commandJson: JSON.stringify({ seq, text }), resultJson: '{"ok":true,"events":[]}' };
}

/** How many turns of the event loop pass while `work` is pending. */
async function turnsDuring(work: Promise<unknown>): Promise<number> {
  let turns = 0;
  let pending = true;
  const spin = (): void => {
    if (!pending) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  try {
    await work;
  } finally {
    pending = false;
  }
  return turns;
}

describe('SQLite store', () => {
  it('commits a file store on a writer thread: the event loop keeps turning while a big batch is written and synced', async () => {
    const file = join(dir, 'thread.db');
    const store = await openSqliteStore({ file });
    await store.migrate();
    // About 40 MB of journal text: far longer to write than a few turns of an idle event loop.
    const big = 'y'.repeat(2_000);
    const batch = Array.from({ length: 20_000 }, (_, i) => entry(i + 1, big));
    const turns = await turnsDuring(store.commit({ journal: batch }));
    expect(turns).toBeGreaterThan(20);
    // Durable and visible to the store's reads (its own connection) and to another connection.
    expect(await store.lastJournalSeq()).toBe(20_000);
    const other = new BetterSqlite3(file, { readonly: true });
    expect(other.prepare('select count(*) as n from journal').get()).toEqual({ n: 20_000 });
    other.close();
    await store.close();
  });

  it('lands many small writes asked at once in the order asked', async () => {
    const store = await openSqliteStore({ file: join(dir, 'small.db') });
    await store.migrate();
    await store.commit({ journal: [entry(1)] });
    await store.commit({ journal: [entry(2)] });
    // (Whether the event loop turns during one small commit is a race with the thread's answer,
    // so it is not asserted; the big batch above shows the commit runs off the event loop.)
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.commit({ journal: [entry(i + 3)] })));
    expect((await store.journalAfter(0, 100)).map((e) => e.seq)).toEqual(Array.from({ length: 52 }, (_, i) => i + 1));
    await store.close();
  });

  it('answers writes in order, with the same errors as before the thread: a journal gap is a JournalSequenceError, a duplicate key the driver error', async () => {
    const store = await openSqliteStore({ file: join(dir, 'order.db') });
    await store.migrate();
    const writes = [store.commit({ journal: [entry(1)] }), store.commit({ journal: [entry(2), entry(3)] }), store.commit({ journal: [entry(5)] })];
    const settled = await Promise.allSettled(writes);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(JournalSequenceError);
    const trade = { id: 'dup-t', bidId: 'b', askId: 'a', buyerId: 'u', providerId: 'p', market: 'm', gpus: 1, priceFenPerGpuHour: 1, startMs: 1, endMs: 2, atMs: 1, seq: 1 };
    const dup = store.commit({ journal: [entry(4)], trades: [trade, trade] });
    await expect(dup).rejects.toThrow(/UNIQUE/);
    await expect(dup).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    // All or nothing: the failed batch's journal row is not there, and the next one still fits.
    expect(await store.lastJournalSeq()).toBe(3);
    await store.commit({ journal: [entry(4)] });
    expect(await store.lastJournalSeq()).toBe(4);
    await store.close();
  });

  it('refuses a write after close with a clear error, and closes twice harmlessly', async () => {
    const store = await openSqliteStore({ file: join(dir, 'closed.db') });
    await store.migrate();
    await store.commit({ journal: [entry(1)] });
    await store.close();
    await store.close();
    await expect(store.commit({ journal: [entry(2)] })).rejects.toThrow(/store is closed/);
    // What was committed before the close is in the file.
    const other = new BetterSqlite3(join(dir, 'closed.db'), { readonly: true });
    expect(other.prepare('select max(seq) as m from journal').get()).toEqual({ m: 1 });
    other.close();
  });

  it('rejects the writes waiting and every later one when the writer thread dies (the command loop then stops)', async () => {
    const file = join(dir, 'dies.db');
    const store = await openSqliteStore({ file });
    await store.migrate();
    await store.close();
    const writer = new SqliteThreadWriter(file, 1_000);
    await writer.write(prepareBatch({ journal: [entry(1)] }));
    const big = 'z'.repeat(2_000);
    const waiting = writer.write(prepareBatch({ journal: Array.from({ length: 5_000 }, (_, i) => entry(i + 2, big)) }));
    await writer.worker.terminate();
    await expect(waiting).rejects.toThrow(/writer thread exited/);
    await expect(writer.write(prepareBatch({ journal: [entry(2)] }))).rejects.toThrow(/writer thread exited/);
    await writer.close();
  });

  it('commits an in-memory store on its one connection', async () => {
    const store = await openSqliteStore({ file: ':memory:' });
    await store.migrate();
    await store.commit({ journal: [entry(1), entry(2)] });
    await expect(store.commit({ journal: [entry(4)] })).rejects.toThrow(JournalSequenceError);
    expect(await store.lastJournalSeq()).toBe(2);
    expect((await store.journalAfter(0, 10)).map((e) => e.seq)).toEqual([1, 2]);
    await store.close();
    await expect(store.commit({ journal: [entry(3)] })).rejects.toThrow(/store is closed/);
  });

  it('keeps the read connection\'s prepared statements by SQL text: reused when idle, fresh while one iterates, the least recently used dropped', () => {
    const sqlite = new BetterSqlite3(':memory:');
    const db = cachedStatements(sqlite, 2);
    const a = db.prepare('select 1 as x');
    expect(db.prepare('select 1 as x')).toBe(a);
    expect(a.all([])).toEqual([{ x: 1 }]);
    // While `a` is iterating it cannot run again: the same text gets a statement of its own.
    const rows = a.iterate([]);
    rows.next();
    const during = db.prepare('select 1 as x');
    expect(during).not.toBe(a);
    expect(during.all([])).toEqual([{ x: 1 }]);
    rows.return?.();
    expect(db.prepare('select 1 as x')).toBe(a);
    // Size 2: a third text drops the least recently used (`select 2`, since `select 1` was just used).
    const b = db.prepare('select 2 as x');
    expect(db.prepare('select 1 as x')).toBe(a);
    db.prepare('select 3 as x');
    expect(db.prepare('select 1 as x')).toBe(a);
    expect(db.prepare('select 2 as x')).not.toBe(b);
    // A kept statement follows a schema change (SQLite prepares it again itself).
    sqlite.exec('create table t (v int)');
    const ins = db.prepare('insert into t (v) values (?)');
    ins.run([1]);
    sqlite.exec('alter table t add column w int');
    expect(db.prepare('insert into t (v) values (?)')).toBe(ins);
    ins.run([2]);
    expect(sqlite.prepare('select v, w from t order by v').all()).toEqual([{ v: 1, w: null }, { v: 2, w: null }]);
    db.close();
    expect(sqlite.open).toBe(false);
  });
});
