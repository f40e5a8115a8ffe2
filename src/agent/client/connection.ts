/**
 * The agent's WebSocket session with the exchange (`{server}/api/v1/agent/ws`, bearer node
 * token): `hello` → `welcome` → heartbeats up, lease commands down; reconnects with backoff.
 *
 * - Every incoming frame is parsed with `ExchangeMessageSchema`; one that does not parse is
 *   logged and ignored (the exchange is the one that closes on bad messages).
 * - The outbox is flushed only after `welcome`: by then the exchange has registered this
 *   session, and reconciliation has run, so the queued reports follow the state they describe.
 * - Liveness: a ping with every heartbeat; a session that hears nothing (no message, no pong)
 *   for MISSED_HEARTBEATS_OFFLINE intervals is dropped and redialled — the exchange would
 *   count this node offline by then anyway.
 * - Reconnect delays: exponential backoff with full jitter, capped at one heartbeat interval once
 *   the interval is known (see `policyForInterval`).
 * - Close 4401 (or HTTP 401/403 on the upgrade): the node token is revoked or unknown; 4409:
 *   another agent took this node over. Both end the session for good (`finished`).
 */
import WebSocket from 'ws';
import {
  AGENT_WS_PATH,
  AgentCloseCodes,
  ExchangeMessageSchema,
  MAX_AGENT_MESSAGE_BYTES,
  MAX_LOG_LINES_PER_MESSAGE,
  MISSED_HEARTBEATS_OFFLINE,
  type AgentMessage,
  type ExchangeMessage,
} from '../protocol.js';
import { backoffDelayMs, policyForInterval, type BackoffPolicy } from './backoff.js';
import type { HealthSource } from './health.js';
import type { Outbox } from './outbox.js';

export type HelloMessage = Extract<AgentMessage, { type: 'hello' }>;
export type WelcomeMessage = Extract<ExchangeMessage, { type: 'welcome' }>;
export type LeaseCommand = Exclude<ExchangeMessage, WelcomeMessage>;

export type SessionEnd =
  | { readonly reason: 'stopped' }
  | { readonly reason: 'unauthorized' | 'replaced'; readonly message: string };

export type LogLevel = 'info' | 'warn' | 'error';

export interface SessionOptions {
  /** The exchange's base URL (http/https). */
  readonly server: string;
  readonly nodeToken: string;
  readonly hello: () => HelloMessage;
  readonly onWelcome: (welcome: WelcomeMessage) => void;
  readonly onCommand: (command: LeaseCommand) => void;
  readonly outbox: Outbox;
  readonly health: HealthSource;
  /** Overrides the exchange's `heartbeatIntervalMs`. */
  readonly heartbeatMs?: number;
  readonly backoff: BackoffPolicy;
  readonly random: () => number;
  readonly clock: () => number;
  readonly log: (level: LogLevel, text: string) => void;
  /** How long log lines may wait to be batched (events go at once). */
  readonly logFlushMs?: number;
}

const HANDSHAKE_TIMEOUT_MS = 15_000;
const CLOSE_WAIT_MS = 2_000;
/** Past this much unsent data on the socket, the outbox waits instead of buffering more. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const BACKPRESSURE_RETRY_MS = 50;
const DEFAULT_LOG_FLUSH_MS = 200;
/** The exchange's clock may differ this much before the agent warns (it enforces ends on its own). */
const CLOCK_SKEW_WARN_MS = 5_000;

export function agentSocketUrl(server: string): string {
  const url = new URL(server);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${AGENT_WS_PATH}`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

export class AgentSession {
  private ws: WebSocket | null = null;
  private welcomed = false;
  private openedAtMs = 0;
  private lastHeardMs = 0;
  private failures = 0;
  private seq = 0;
  /** The interval of the last session's heartbeats (null before the first welcome). */
  private intervalMs: number | null = null;
  private stopped = false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private endSession: (end: SessionEnd) => void = () => undefined;
  /** Settles when the session ends for good: `stop()`, a revoked token, or a takeover. */
  readonly finished: Promise<SessionEnd>;

  constructor(private readonly options: SessionOptions) {
    this.finished = new Promise((resolve) => {
      this.endSession = resolve;
    });
  }

  /** True between `welcome` and the socket closing. */
  get connected(): boolean {
    return this.welcomed && this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.connect();
  }

  /** The outbox has something new: events leave now, log lines after a short batching wait. */
  notify(kind: 'event' | 'log'): void {
    if (!this.connected) return;
    if (kind === 'event' || this.options.outbox.pendingLogLines >= MAX_LOG_LINES_PER_MESSAGE) {
      this.flush();
      return;
    }
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, this.options.logFlushMs ?? DEFAULT_LOG_FLUSH_MS);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clearTimers();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    const ws = this.ws;
    if (ws !== null && ws.readyState !== WebSocket.CLOSED) {
      // Send what is queued (a last lease.stopped…) before saying goodbye.
      if (this.connected) this.flush();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          ws.terminate();
          resolve();
        }, CLOSE_WAIT_MS);
        ws.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
        else ws.close(1000, 'agent stopping');
      });
    }
    this.endSession({ reason: 'stopped' });
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(agentSocketUrl(this.options.server), {
      headers: { authorization: `Bearer ${this.options.nodeToken}` },
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      maxPayload: MAX_AGENT_MESSAGE_BYTES,
    });
    this.ws = ws;
    this.welcomed = false;
    let httpStatus: number | null = null;

    ws.on('open', () => {
      this.openedAtMs = this.options.clock();
      this.lastHeardMs = this.openedAtMs;
      this.send(this.options.hello());
    });
    ws.on('message', (data, isBinary) => {
      this.lastHeardMs = this.options.clock();
      if (isBinary) {
        this.options.log('warn', 'ignored a binary frame from the exchange');
        return;
      }
      this.receive(data.toString());
    });
    ws.on('pong', () => {
      this.lastHeardMs = this.options.clock();
    });
    ws.on('error', (err) => {
      const status = /Unexpected server response: (\d+)/.exec(err.message);
      if (status) httpStatus = Number(status[1]);
      if (!this.stopped) this.options.log('warn', `connection to the exchange: ${err.message}`);
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearTimers();
      const wasWelcomed = this.welcomed;
      this.welcomed = false;
      if (this.stopped) return;
      const why = reason.toString();
      if (code === AgentCloseCodes.unauthorized || httpStatus === 401 || httpStatus === 403) {
        this.stopped = true;
        this.endSession({
          reason: 'unauthorized',
          message: `the exchange refused this node's token (${httpStatus !== null ? `HTTP ${httpStatus}` : `close ${code}`}${why ? `: ${why}` : ''}): it was revoked or the node was removed`,
        });
        return;
      }
      if (code === AgentCloseCodes.replaced) {
        this.stopped = true;
        this.endSession({ reason: 'replaced', message: `another agent connected as this node (close ${code}${why ? `: ${why}` : ''}); this one stops` });
        return;
      }
      if (code === AgentCloseCodes.badMessage) this.options.log('error', `the exchange rejected a message from this agent (close 4400${why ? `: ${why}` : ''})`);
      const sessionMs = wasWelcomed ? this.options.clock() - this.openedAtMs : 0;
      if (sessionMs >= this.options.backoff.stableAfterMs) this.failures = 0;
      const delayMs = backoffDelayMs(this.failures, policyForInterval(this.options.backoff, this.intervalMs), this.options.random);
      this.failures++;
      this.options.log('warn', `disconnected from the exchange (close ${code}${why ? `: ${why}` : ''}); reconnecting in ${delayMs} ms`);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.connect();
      }, delayMs);
    });
  }

  private receive(text: string): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.options.log('warn', 'ignored a frame from the exchange that is not JSON');
      return;
    }
    const parsed = ExchangeMessageSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.options.log('warn', `ignored an invalid message from the exchange (${issue?.path.join('.') ?? ''}: ${issue?.message ?? '?'})`);
      return;
    }
    const msg = parsed.data;
    if (msg.type === 'welcome') {
      this.welcomed = true;
      const skewMs = msg.serverTimeMs - this.options.clock();
      if (Math.abs(skewMs) > CLOCK_SKEW_WARN_MS) {
        this.options.log('warn', `this host's clock is ${Math.round(-skewMs / 1000)} s off the exchange's: lease ends are enforced on this clock; run NTP`);
      }
      this.options.onWelcome(msg);
      this.flush();
      this.startHeartbeats(this.options.heartbeatMs ?? msg.heartbeatIntervalMs);
      return;
    }
    if (msg.type === 'error') {
      this.options.log('error', `the exchange says: ${msg.code}: ${msg.message}`);
      return;
    }
    this.options.onCommand(msg);
  }

  private startHeartbeats(intervalMs: number): void {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.intervalMs = intervalMs;
    const beat = (): void => {
      const ws = this.ws;
      if (ws === null || !this.connected) return;
      if (this.options.clock() - this.lastHeardMs > MISSED_HEARTBEATS_OFFLINE * intervalMs) {
        this.options.log('warn', `no word from the exchange for ${MISSED_HEARTBEATS_OFFLINE} heartbeats; reconnecting`);
        ws.terminate();
        return;
      }
      ws.ping();
      const seq = this.seq++;
      void this.options.health().then((gpus) => {
        if (this.ws === ws && this.connected) this.send({ type: 'heartbeat', seq, atMs: this.options.clock(), gpus });
      });
    };
    beat();
    this.heartbeatTimer = setInterval(beat, intervalMs);
  }

  private flush(): void {
    const ws = this.ws;
    if (this.flushTimer !== null) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    while (ws !== null && this.connected) {
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        this.flushTimer = setTimeout(() => {
          this.flushTimer = null;
          this.flush();
        }, BACKPRESSURE_RETRY_MS);
        return;
      }
      const msg = this.options.outbox.shift();
      if (msg === undefined) return;
      this.send(msg);
    }
  }

  private send(msg: AgentMessage): void {
    const text = JSON.stringify(msg);
    if (Buffer.byteLength(text) > MAX_AGENT_MESSAGE_BYTES) {
      this.options.log('error', `dropped a ${msg.type} message over ${MAX_AGENT_MESSAGE_BYTES} bytes`);
      return;
    }
    this.ws?.send(text);
  }

  private clearTimers(): void {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.heartbeatTimer = null;
    this.flushTimer = null;
  }
}
