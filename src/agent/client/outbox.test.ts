import { describe, expect, it } from 'vitest';
import { MAX_LOG_LINE_CHARS, MAX_LOG_LINES_PER_MESSAGE, MAX_AGENT_MESSAGE_BYTES, AgentMessageSchema } from '../protocol.js';
import { LineSplitter } from './lines.js';
import { DEFAULT_OUTBOX_LIMITS, Outbox } from './outbox.js';

function drain(box: Outbox): ReturnType<Outbox['shift']>[] {
  const out: ReturnType<Outbox['shift']>[] = [];
  for (let m = box.shift(); m !== undefined; m = box.shift()) out.push(m);
  return out;
}

describe('Outbox', () => {
  it('keeps events and log lines in the order they happened, batching consecutive lines', () => {
    const box = new Outbox();
    box.pushEvent({ type: 'lease.ready', leaseId: 'L1', atMs: 1, access: { kind: 'process', pid: 9 } });
    box.pushLog('L1', 'stdout', 'a');
    box.pushLog('L1', 'stdout', 'b');
    box.pushLog('L1', 'stderr', 'oops');
    box.pushLog('L1', 'stdout', 'c');
    box.pushEvent({ type: 'lease.exited', leaseId: 'L1', atMs: 2, exitCode: 0, signal: null });
    box.pushLog('L1', 'stdout', 'late');
    expect(drain(box)).toEqual([
      { type: 'lease.ready', leaseId: 'L1', atMs: 1, access: { kind: 'process', pid: 9 } },
      { type: 'lease.log', leaseId: 'L1', stream: 'stdout', lines: ['a', 'b'] },
      { type: 'lease.log', leaseId: 'L1', stream: 'stderr', lines: ['oops'] },
      { type: 'lease.log', leaseId: 'L1', stream: 'stdout', lines: ['c'] },
      { type: 'lease.exited', leaseId: 'L1', atMs: 2, exitCode: 0, signal: null },
      { type: 'lease.log', leaseId: 'L1', stream: 'stdout', lines: ['late'] },
    ]);
    expect(box.isEmpty()).toBe(true);
  });

  it('caps a batch at MAX_LOG_LINES_PER_MESSAGE lines and under the message byte limit', () => {
    const box = new Outbox();
    for (let i = 0; i < 1_234; i++) box.pushLog('L', 'stdout', `line ${i}`);
    const sizes = drain(box).map((m) => (m?.type === 'lease.log' ? m.lines.length : -1));
    expect(sizes).toEqual([MAX_LOG_LINES_PER_MESSAGE, MAX_LOG_LINES_PER_MESSAGE, 234]);

    const wide = 'é'.repeat(MAX_LOG_LINE_CHARS); // 2 bytes each in UTF-8
    for (let i = 0; i < 200; i++) box.pushLog('L', 'stdout', wide);
    const batches = drain(box);
    expect(batches.length).toBeGreaterThan(1);
    for (const m of batches) {
      expect(Buffer.byteLength(JSON.stringify(m))).toBeLessThanOrEqual(MAX_AGENT_MESSAGE_BYTES);
      expect(AgentMessageSchema.safeParse(m).success).toBe(true);
    }
    expect(batches.flatMap((m) => (m?.type === 'lease.log' ? m.lines : []))).toHaveLength(200);
  });

  it('drops the oldest lines when full and says so in that stream\'s next batch', () => {
    const box = new Outbox({ ...DEFAULT_OUTBOX_LIMITS, maxLogLines: 3 });
    for (const l of ['1', '2', '3', '4', '5']) box.pushLog('L', 'stdout', l);
    expect(box.pendingLogLines).toBe(3);
    expect(drain(box)).toEqual([
      { type: 'lease.log', leaseId: 'L', stream: 'stdout', lines: ["[suanli-agent: 2 earlier log lines dropped: the agent's log buffer was full]", '3', '4', '5'] },
    ]);
    box.pushLog('L', 'stdout', '6');
    expect(drain(box)).toEqual([{ type: 'lease.log', leaseId: 'L', stream: 'stdout', lines: ['6'] }]);
  });

  it('bounds lease events too, oldest dropped and counted', () => {
    const box = new Outbox({ ...DEFAULT_OUTBOX_LIMITS, maxEvents: 2 });
    for (let i = 0; i < 4; i++) box.pushEvent({ type: 'lease.stopped', leaseId: `L${i}`, atMs: i, scratchWiped: true });
    expect(box.eventsDropped).toBe(2);
    expect(drain(box).map((m) => (m && 'leaseId' in m ? m.leaseId : ''))).toEqual(['L2', 'L3']);
  });

  it('cuts a line longer than MAX_LOG_LINE_CHARS', () => {
    const box = new Outbox();
    box.pushLog('L', 'stdout', 'x'.repeat(MAX_LOG_LINE_CHARS + 10));
    const m = box.shift();
    expect(m?.type === 'lease.log' ? m.lines[0]?.length : 0).toBe(MAX_LOG_LINE_CHARS);
  });
});

describe('LineSplitter', () => {
  it('splits chunks into lines, across chunk and UTF-8 boundaries, CRLF included', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    const bytes = Buffer.from('héllo\r\nwor', 'utf8');
    s.push(bytes.subarray(0, 2)); // cuts 'é' in half
    s.push(bytes.subarray(2));
    s.push('ld\n\nlast');
    s.end();
    expect(lines).toEqual(['héllo', 'world', '', 'last']);
  });

  it('cuts an endless line and skips its tail up to the newline', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l), 10);
    s.push('abcdefghijklmnop');
    s.push('qrstuvwxyz\nnext\n');
    s.end();
    expect(lines).toEqual(['abcd [cut]', 'next']);
  });
});
