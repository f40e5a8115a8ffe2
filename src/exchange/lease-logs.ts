/**
 * Lease logs on their way to the store: numbered per lease (seq from 1, never repeated, even
 * across restarts: the first line of a lease continues from the stored maximum), written in
 * batches through the loop's writer, and bounded twice: at most `maxPending` lines wait in
 * memory (the oldest are dropped beyond it) and at most `maxPerLease` stay stored per lease.
 */
import type { LeaseLogRow, Store } from '../store/port.js';
import type { CommandLoop } from './loop.js';

export interface LeaseLogOptions {
  readonly maxPerLease: number;
  readonly maxPending: number;
  /** Whether the lease may still log (its counter is forgotten once it is not and all is written). */
  readonly isLive: (leaseId: string) => boolean;
  readonly log?: (obj: object, msg: string) => void;
}

export class LeaseLogs {
  private readonly seqs = new Map<string, number>();
  private readonly loads = new Map<string, Promise<void>>();
  private pending: LeaseLogRow[] = [];
  private flushing = false;
  private dropped = 0;

  constructor(
    private readonly loop: CommandLoop,
    private readonly store: Store,
    private readonly o: LeaseLogOptions,
  ) {}

  get droppedLines(): number {
    return this.dropped;
  }

  /** Queues the lines; returns the seq of the first. */
  async append(leaseId: string, stream: LeaseLogRow['stream'], lines: readonly string[], atMs: number): Promise<number> {
    await this.loadSeq(leaseId);
    let seq = this.seqs.get(leaseId) ?? 0;
    const first = seq + 1;
    for (const line of lines) this.pending.push({ leaseId, seq: ++seq, stream, line, atMs });
    this.seqs.set(leaseId, seq);
    const over = this.pending.length - this.o.maxPending;
    if (over > 0) {
      this.pending.splice(0, over);
      this.dropped += over;
    }
    return first;
  }

  /** Writes what waits, with the cuts that keep each lease's log bounded, in one transaction. */
  async flush(): Promise<void> {
    if (this.flushing || this.pending.length === 0) return;
    this.flushing = true;
    const rows = this.pending;
    this.pending = [];
    try {
      const last = new Map<string, number>();
      for (const r of rows) last.set(r.leaseId, r.seq);
      const cuts = [...last].filter(([, seq]) => seq > this.o.maxPerLease).map(([leaseId, seq]) => ({ leaseId, upToSeq: seq - this.o.maxPerLease }));
      // Lines that would be cut at once are not written at all.
      const cutOf = new Map(cuts.map((c) => [c.leaseId, c.upToSeq]));
      const kept = rows.filter((r) => r.seq > (cutOf.get(r.leaseId) ?? 0));
      await this.loop.write({ leaseLogs: kept, ...(cuts.length > 0 ? { deletes: { leaseLogsUpTo: cuts } } : {}) });
      const waiting = new Set(this.pending.map((r) => r.leaseId));
      for (const id of this.seqs.keys()) if (!this.o.isLive(id) && !waiting.has(id)) this.seqs.delete(id);
    } catch (err) {
      this.o.log?.({ err: String(err), lines: rows.length }, 'writing lease logs failed');
    } finally {
      this.flushing = false;
    }
  }

  /** Once per lease, however many sessions ask at the same time: seqs must never repeat. */
  private async loadSeq(leaseId: string): Promise<void> {
    if (this.seqs.has(leaseId)) return;
    let loading = this.loads.get(leaseId);
    if (!loading) {
      loading = this.store.lastLeaseLogSeq(leaseId).then(
        (seq) => {
          if (!this.seqs.has(leaseId)) this.seqs.set(leaseId, seq);
          this.loads.delete(leaseId);
        },
        (err: unknown) => {
          this.loads.delete(leaseId);
          throw err;
        },
      );
      this.loads.set(leaseId, loading);
    }
    await loading;
  }
}
