/**
 * What the agent owes the exchange, held while it is disconnected and batched while it is not.
 *
 * Two bounded queues share one sequence so messages leave in the order they happened (a lease's
 * last log lines before its `lease.exited`):
 * - lease events (`lease.ready/exited/stopped/failed`) matter for billing: kept up to
 *   `maxEvents`, oldest dropped only past that (with a warning);
 * - log lines: kept up to `maxLogLines` / `maxLogBytes`, oldest dropped first; the next batch of
 *   that lease and stream starts with a marker line saying how many were lost.
 * A log batch holds at most MAX_LOG_LINES_PER_MESSAGE lines and stays well under
 * MAX_AGENT_MESSAGE_BYTES (500 lines × 4096 chars would not).
 */
import { MAX_AGENT_MESSAGE_BYTES, MAX_LOG_LINE_CHARS, MAX_LOG_LINES_PER_MESSAGE, type AgentMessage } from '../protocol.js';

export type LeaseEventMessage = Extract<AgentMessage, { type: 'lease.ready' | 'lease.exited' | 'lease.stopped' | 'lease.failed' }>;
export type LogMessage = Extract<AgentMessage, { type: 'lease.log' }>;
export type LogStream = LogMessage['stream'];

export interface OutboxLimits {
  readonly maxEvents: number;
  readonly maxLogLines: number;
  readonly maxLogBytes: number;
  /** Serialized size one `lease.log` message may reach (leaves room for the envelope). */
  readonly maxBatchBytes: number;
}

export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = {
  maxEvents: 1_000,
  maxLogLines: 10_000,
  maxLogBytes: 8 * 1024 * 1024,
  maxBatchBytes: MAX_AGENT_MESSAGE_BYTES - 16 * 1024,
};

interface QueuedEvent {
  readonly seq: number;
  readonly message: LeaseEventMessage;
}

interface QueuedLine {
  readonly seq: number;
  readonly leaseId: string;
  readonly stream: LogStream;
  readonly line: string;
  /** Bytes the line adds to a serialized `lines` array (quotes, escapes, comma). */
  readonly bytes: number;
}

export class Outbox {
  private seq = 0;
  private readonly events: QueuedEvent[] = [];
  private readonly lines: QueuedLine[] = [];
  private logBytes = 0;
  /** Lines dropped per `leaseId\0stream`, reported in that stream's next batch. */
  private readonly dropped = new Map<string, number>();
  private droppedEvents = 0;

  constructor(private readonly limits: OutboxLimits = DEFAULT_OUTBOX_LIMITS) {}

  get pendingEvents(): number {
    return this.events.length;
  }

  get pendingLogLines(): number {
    return this.lines.length;
  }

  /** Events dropped since the start because the queue was full. */
  get eventsDropped(): number {
    return this.droppedEvents;
  }

  pushEvent(message: LeaseEventMessage): void {
    this.events.push({ seq: this.seq++, message });
    while (this.events.length > this.limits.maxEvents) {
      this.events.shift();
      this.droppedEvents++;
    }
  }

  pushLog(leaseId: string, stream: LogStream, line: string): void {
    const cut = line.length > MAX_LOG_LINE_CHARS ? line.slice(0, MAX_LOG_LINE_CHARS) : line;
    const bytes = Buffer.byteLength(JSON.stringify(cut)) + 1;
    this.lines.push({ seq: this.seq++, leaseId, stream, line: cut, bytes });
    this.logBytes += bytes;
    while (this.lines.length > this.limits.maxLogLines || this.logBytes > this.limits.maxLogBytes) {
      const old = this.lines.shift();
      if (old === undefined) break;
      this.logBytes -= old.bytes;
      const key = dropKey(old.leaseId, old.stream);
      this.dropped.set(key, (this.dropped.get(key) ?? 0) + 1);
    }
  }

  isEmpty(): boolean {
    return this.events.length === 0 && this.lines.length === 0;
  }

  /** The next message to send, in order, or undefined when nothing is queued. */
  shift(): LeaseEventMessage | LogMessage | undefined {
    const event = this.events[0];
    const line = this.lines[0];
    if (event === undefined && line === undefined) return undefined;
    if (line === undefined || (event !== undefined && event.seq < line.seq)) {
      this.events.shift();
      return event?.message;
    }
    return this.takeBatch(line.leaseId, line.stream, event?.seq ?? Number.POSITIVE_INFINITY);
  }

  /** Consecutive lines of one lease and stream, up to the line and byte limits. */
  private takeBatch(leaseId: string, stream: LogStream, beforeSeq: number): LogMessage {
    const out: string[] = [];
    let bytes = 0;
    const key = dropKey(leaseId, stream);
    const lost = this.dropped.get(key);
    if (lost !== undefined) {
      this.dropped.delete(key);
      const marker = `[suanli-agent: ${lost} earlier log line${lost === 1 ? '' : 's'} dropped: the agent's log buffer was full]`;
      out.push(marker);
      bytes += marker.length + 3;
    }
    while (out.length < MAX_LOG_LINES_PER_MESSAGE) {
      const next = this.lines[0];
      if (next === undefined || next.seq > beforeSeq || next.leaseId !== leaseId || next.stream !== stream) break;
      if (out.length > 0 && bytes + next.bytes > this.limits.maxBatchBytes) break;
      this.lines.shift();
      this.logBytes -= next.bytes;
      out.push(next.line);
      bytes += next.bytes;
    }
    return { type: 'lease.log', leaseId, stream, lines: out };
  }
}

function dropKey(leaseId: string, stream: LogStream): string {
  return `${leaseId}\u0000${stream}`;
}
