/**
 * Prometheus metrics on a registry of our own (never prom-client's global one, so two exchanges
 * in one process — tests — do not collide). Labels are bounded sets only: command types, order
 * sides and outcomes, rejection codes, route templates (never raw paths), status codes.
 *
 * Wiring: `observeBatch` from what the loop's `onApplied` returns (or its `onCommitted`); `instrumentCore(core)` once, to time
 * each command in the core; `httpMiddleware()` (Hono) or `observeHttp` from the API; `wsHooks()`
 * into the LiveFeed; `metricsHandler()` at GET /metrics.
 */
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CoreCommand, CoreResult, ExchangeCore } from '../exchange/core.js';
import type { AgentHubHooks } from '../exchange/agent-hub.js';
import type { CommittedBatch } from '../exchange/loop.js';
import type { DropReason, LiveFeedHooks } from './ws.js';

export type OrderOutcome = 'rejected' | 'filled' | 'partial' | 'rested' | 'cancelled' | 'accepted';

export interface MetricsOptions {
  /** Node process metrics (heap, event-loop lag, GC…) with the `suanli_` prefix; default true. */
  readonly processMetrics?: boolean;
}

export interface HttpObservation {
  readonly method: string;
  /** The route template (`/api/v1/orders/:id`), never the raw path. */
  readonly route: string;
  readonly status: number;
  readonly durationMs: number;
}

const MS_PER_HOUR = 3_600_000;

export class Metrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;

  private readonly orders = new Counter({
    name: 'suanli_orders_total',
    help: 'Orders placed, by side and outcome (rejected, filled, partial, rested, cancelled by IOC/FOK, accepted)',
    labelNames: ['side', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly commands = new Counter({
    name: 'suanli_commands_total',
    help: 'Commands committed, by type and outcome (ok or rejected)',
    labelNames: ['command', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly rejections = new Counter({
    name: 'suanli_command_rejections_total',
    help: 'Rejected commands by stable rejection code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  private readonly trades = new Counter({ name: 'suanli_trades_total', help: 'Trades matched', registers: [this.registry] });
  private readonly tradedGpus = new Counter({ name: 'suanli_traded_gpus_total', help: 'GPUs traded (sum over trades)', registers: [this.registry] });
  private readonly tradedGpuHours = new Counter({ name: 'suanli_traded_gpu_hours_total', help: 'GPU-hours traded (GPUs × lease hours)', registers: [this.registry] });
  private readonly leasesCreated = new Counter({ name: 'suanli_leases_created_total', help: 'Leases created', registers: [this.registry] });
  private readonly leasesEnded = new Counter({
    name: 'suanli_leases_ended_total',
    help: 'Leases ended, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly matchLatency = new Histogram({
    name: 'suanli_match_latency_seconds',
    help: 'Time to apply one command in the in-memory core (matching and ledger), by command type',
    labelNames: ['command'] as const,
    buckets: [0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [this.registry],
  });
  private readonly batchSize = new Histogram({
    name: 'suanli_commit_batch_size',
    help: 'Commands per group commit',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry],
  });
  private readonly commitLatency = new Histogram({
    name: 'suanli_commit_latency_seconds',
    help: 'Time to write one batch to the store (one transaction)',
    buckets: [0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly journalSeq = new Gauge({ name: 'suanli_journal_seq', help: 'Last committed journal sequence number', registers: [this.registry] });
  private readonly wsClients = new Gauge({ name: 'suanli_ws_clients', help: 'Open live-feed WebSocket connections', registers: [this.registry] });
  private readonly agentsConnected = new Gauge({ name: 'suanli_agents_connected', help: 'Host agents with an open session', registers: [this.registry] });
  private readonly agentHeartbeats = new Counter({ name: 'suanli_agent_heartbeats_total', help: 'Agent heartbeats received (kept in memory, never journaled)', registers: [this.registry] });
  private readonly agentNodesLost = new Counter({ name: 'suanli_agent_nodes_lost_total', help: 'Agent nodes taken offline after missed heartbeats', registers: [this.registry] });
  private readonly wsDropped = new Counter({
    name: 'suanli_ws_dropped_total',
    help: 'Live-feed sockets closed by the server, by reason (slow, heartbeat, idle)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly httpRequests = new Counter({
    name: 'suanli_http_requests_total',
    help: 'HTTP requests by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly httpDuration = new Histogram({
    name: 'suanli_http_request_duration_seconds',
    help: 'HTTP request duration by method and route template',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  constructor(options: MetricsOptions = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'suanli_' });
  }

  /** Once a batch is committed: batch size, commit latency, orders, trades, leases. */
  observeBatch(batch: CommittedBatch): void {
    this.batchSize.observe(batch.entries.length);
    this.commitLatency.observe(Math.max(0, batch.commitMs) / 1000);
    let last = 0;
    for (const { command, result, seq } of batch.entries) {
      last = Math.max(last, seq);
      this.observeResult(command, result);
    }
    if (last > 0) this.journalSeq.set(last);
  }

  private observeResult(command: CoreCommand, result: CoreResult): void {
    this.commands.inc({ command: command.type, outcome: result.ok ? 'ok' : 'rejected' });
    if (!result.ok) this.rejections.inc({ code: result.code });
    if (command.type === 'placeBid' || command.type === 'placeAsk') {
      this.orders.inc({ side: command.type === 'placeBid' ? 'bid' : 'ask', outcome: orderOutcome(command.orderId, result) });
    }
    for (const e of result.events) {
      if (e.type === 'trade') {
        this.trades.inc();
        this.tradedGpus.inc(e.gpus);
        this.tradedGpuHours.inc((e.gpus * (e.endMs - e.startMs)) / MS_PER_HOUR);
      } else if (e.type === 'lease_created') this.leasesCreated.inc();
      else if (e.type === 'lease_ended') this.leasesEnded.inc({ reason: e.reason });
    }
  }

  /** Times a command in the core (the match latency). */
  observeApply(command: string, seconds: number): void {
    this.matchLatency.observe({ command }, seconds);
  }

  /** Wraps `core.apply` so every command is timed; returns a function that unwraps it. */
  instrumentCore(core: ExchangeCore): () => void {
    const original = core.apply;
    const inner = original.bind(core);
    core.apply = (cmd: CoreCommand): CoreResult => {
      const t0 = process.hrtime.bigint();
      try {
        return inner(cmd);
      } finally {
        this.observeApply(cmd.type, Number(process.hrtime.bigint() - t0) / 1e9);
      }
    };
    return () => {
      core.apply = original;
    };
  }

  observeHttp(o: HttpObservation): void {
    const status = String(o.status);
    this.httpRequests.inc({ method: o.method, route: o.route, status });
    this.httpDuration.observe({ method: o.method, route: o.route }, Math.max(0, o.durationMs) / 1000);
  }

  /** Hono middleware that records every request under its route template. */
  httpMiddleware(): MiddlewareHandler {
    return async (c, next) => {
      const t0 = performance.now();
      try {
        await next();
      } finally {
        const status = c.res.status;
        let route = routePath(c, -1);
        if (status === 404 && route.endsWith('*')) route = 'unmatched';
        this.observeHttp({ method: c.req.method, route, status, durationMs: performance.now() - t0 });
      }
    };
  }

  setWsClients(n: number): void {
    this.wsClients.set(n);
  }

  wsDrop(reason: DropReason): void {
    this.wsDropped.inc({ reason });
  }

  /** Hooks for `agentHub.setHooks(metrics.agentHooks())`. */
  agentHooks(): AgentHubHooks {
    return { connected: (n) => this.agentsConnected.set(n), heartbeat: () => this.agentHeartbeats.inc(), nodeLost: () => this.agentNodesLost.inc() };
  }

  /** Hooks for `new LiveFeed(core, store, { hooks: metrics.wsHooks() })`. */
  wsHooks(): LiveFeedHooks {
    return { clients: (n) => this.setWsClients(n), dropped: (r) => this.wsDrop(r) };
  }

  /** The text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** A fetch-style handler for GET /metrics (Hono: `app.get('/metrics', metrics.metricsHandler())`). */
  metricsHandler(): () => Promise<Response> {
    return async () => new Response(await this.text(), { status: 200, headers: { 'content-type': this.contentType } });
  }
}

export function createMetrics(options?: MetricsOptions): Metrics {
  return new Metrics(options);
}

/** How an order placement ended up, from its own events. */
export function orderOutcome(orderId: string, result: CoreResult): OrderOutcome {
  if (!result.ok) return 'rejected';
  let traded = false;
  let rested = false;
  for (const e of result.events) {
    if (e.type === 'order_filled' && e.orderId === orderId) return 'filled';
    if (e.type === 'order_cancelled' && e.orderId === orderId) return 'cancelled';
    if (e.type === 'order_rested' && e.orderId === orderId) rested = true;
    if (e.type === 'trade' && (e.bidId === orderId || e.askId === orderId)) traded = true;
  }
  if (rested) return traded ? 'partial' : 'rested';
  return 'accepted';
}
