/**
 * A scripted agent for tests: a real `ws` client that speaks src/agent/protocol.ts, validates
 * every message the exchange sends, and heartbeats on its own until told to go silent.
 */
import { WebSocket } from 'ws';
import { type AgentMessage, type ExchangeMessage, ExchangeMessageSchema, type HardwareReport } from '../../src/agent/protocol.js';
import { waitFor } from './processes.js';

export class ScriptedAgent {
  readonly received: ExchangeMessage[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];
  private beat: NodeJS.Timeout | null = null;
  private seq = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      this.received.push(ExchangeMessageSchema.parse(JSON.parse(String(raw))));
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.silence();
      this.wake();
    });
  }

  static connect(baseUrl: string, nodeToken: string | null): Promise<ScriptedAgent> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/v1/agent/ws`, nodeToken === null ? {} : { headers: { authorization: `Bearer ${nodeToken}` } });
    const agent = new ScriptedAgent(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(agent));
      ws.once('error', reject);
    });
  }

  send(m: AgentMessage | string): void {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }

  hello(hardware: HardwareReport, running: Extract<AgentMessage, { type: 'hello' }>['running'] = []): void {
    this.send({ type: 'hello', protocol: 1, agentVersion: 'test', hardware, running });
  }

  /** Heartbeats every `everyMs` (well inside the exchange's interval) until `silence()`. */
  heartbeat(everyMs: number): void {
    this.silence();
    const once = (): void => this.send({ type: 'heartbeat', seq: this.seq++, atMs: Date.now(), gpus: [{ index: 0, healthy: true, utilizationPct: 97, memoryUsedMiB: 30_000, temperatureC: 61 }] });
    once();
    this.beat = setInterval(once, everyMs);
  }

  silence(): void {
    if (this.beat) clearInterval(this.beat);
    this.beat = null;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves on the next message or close, or after 50 ms. */
  private tick(): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 50);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** The first message at index >= `from` that matches. */
  async next<T extends ExchangeMessage['type']>(type: T, match: (m: Extract<ExchangeMessage, { type: T }>) => boolean = () => true, from = 0, ms = 10_000): Promise<Extract<ExchangeMessage, { type: T }>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.received.slice(from).find((m): m is Extract<ExchangeMessage, { type: T }> => m.type === type && match(m as Extract<ExchangeMessage, { type: T }>));
      if (found) return found;
      if (this.closed) throw new Error(`closed (${this.closed.code} ${this.closed.reason}) before ${type}`);
      if (Date.now() > deadline) throw new Error(`no ${type} within ${ms} ms; got ${JSON.stringify(this.received.map((m) => m.type))}`);
      await this.tick();
    }
  }

  async waitClosed(ms = 10_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('not closed');
      await this.tick();
    }
    return this.closed;
  }

  close(): void {
    this.silence();
    this.ws.close();
  }
}

/** Polls `probe` until it returns a value that is not undefined (event-driven code, real timers). */
export function eventually<T>(probe: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  return waitFor(what, probe, ms, 25);
}
