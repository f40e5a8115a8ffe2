/**
 * The edges `suanli serve` adds around the REST app: the WebSocket live feed and Prometheus
 * metrics (with HTTP timing), wired to the command loop's batches (read when applied, sent when committed).
 */
import type { Server } from 'node:http';
import type { AppContext } from './context.js';
import { authenticateRequest } from './identity.js';
import { createLogger } from './log.js';
import { createMetrics } from './metrics.js';
import { LiveFeed } from './ws.js';
import type { OnApplied } from '../exchange/loop.js';
import type { MiddlewareHandler } from 'hono';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { ApiEnv } from './context.js';

export interface Edge {
  readonly middleware?: readonly MiddlewareHandler[];
  readonly routes?: (app: OpenAPIHono<ApiEnv>) => void;
  /** The loop's `onApplied` (see LoopOptions): read memory now, send once committed. */
  readonly onApplied?: OnApplied;
  readonly attach?: (server: Server) => void;
  readonly close?: () => Promise<void> | void;
}

/** One JSON log line per request (pino; LOG_LEVEL, `silent` under tests). No bodies, no secrets. */
function requestLog(): MiddlewareHandler {
  const log = createLogger({ name: 'http' });
  return async (c, next) => {
    const started = performance.now();
    await next();
    log.info({ method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round((performance.now() - started) * 10) / 10 }, 'request');
  };
}

/** Metrics, request logs and the live feed for one running exchange. */
export function liveEdges(ctx: AppContext): Edge {
  const metrics = createMetrics();
  const log = createLogger({ name: 'exchange' });
  const uninstrument = metrics.instrumentCore(ctx.core);
  const feed = new LiveFeed(ctx.core, ctx.store, { hooks: metrics.wsHooks(), log: createLogger({ name: 'ws' }) });
  const handler = metrics.metricsHandler();
  // Host agents' lease logs go to their buyers' feeds; their counts to /metrics.
  ctx.agents?.setHooks(metrics.agentHooks());
  ctx.agents?.setUserSink((userId, data) => feed.notifyUser(userId, data));
  return {
    middleware: [metrics.httpMiddleware(), requestLog()],
    routes: (app) => {
      app.get('/metrics', () => handler());
    },
    onApplied: (applied) => {
      const send = feed.prepare(applied);
      return (batch) => {
        metrics.observeBatch(batch);
        send();
        log.debug({ commands: batch.entries.length, commitMs: batch.commitMs, lastSeq: batch.entries[batch.entries.length - 1]?.seq }, 'committed');
      };
    },
    attach: (server) => feed.attach(server, '/api/v1/ws', authenticateRequest(ctx.store, ctx.clock)),
    close: () => {
      feed.close();
      uninstrument();
    },
  };
}
