/**
 * `suanli serve`: the exchange in one process. Opens the store (SQLite file by default,
 * PostgreSQL for a postgres:// URL), migrates, replays the journal into the core, seeds an
 * admin (and a demo market unless --no-demo) on an empty journal, ticks the core every second
 * (expiry, lease ends, and billing: each running lease settled once a minute by default, see
 * TickCommand in src/exchange/core.ts), and serves the REST API. SIGINT/SIGTERM: stop ticks,
 * stop accepting, let the loop drain, close the store.
 */
import { attachAgentEndpoint } from '../api/agent-ws.js';
import { liveEdges } from '../api/edges.js';
import { AgentHub } from '../exchange/agent-hub.js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve as serveHttp } from '@hono/node-server';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type AppExtensions, createApp, createRuntime } from '../api/app.js';
import { type ApiConfig, type AppContext, DEFAULT_API_CONFIG } from '../api/context.js';
import { listAccelerators, listRegions } from '../core/catalog/index.js';
import { ExchangeCore, MAX_SETTLE_EVERY_MS } from '../exchange/core.js';
import { CommandLoop, type OnApplied } from '../exchange/loop.js';
import { Projection } from '../exchange/projection.js';
import { Rng } from '../sim/prng.js';
import { DEFAULT_SQLITE_FILE, openStore, type Store } from '../store/index.js';
import { type Credential, DEMO_EMAILS, seedAdmin, seedDemo, startDemoTrader } from './serve-demo.js';

/**
 * Running leases are settled once a minute: charges are exact to the millisecond whatever the
 * cadence (see TickCommand for the one exception), while settling at every one-second tick wrote
 * a transfer per lease per second.
 */
export const DEFAULT_SETTLE_EVERY_MS = 60_000;

export interface ServeOptions {
  readonly host?: string;
  /** 0 = any free port. */
  readonly port?: number;
  /** SQLite file or postgres:// URL (ignored when `store` is given). */
  readonly db?: string;
  /** An open store to use instead (the caller closes it). */
  readonly store?: Store;
  readonly demo?: boolean;
  readonly demoSeed?: number;
  readonly demoTraderIntervalMs?: number;
  readonly tickIntervalMs?: number;
  /** How often each running lease is settled (TickCommand.settleEveryMs); default DEFAULT_SETTLE_EVERY_MS. */
  readonly settleEveryMs?: number;
  readonly adminEmail?: string;
  readonly adminPassword?: string;
  readonly clock?: () => number;
  readonly config?: Partial<ApiConfig>;
  /** Other edges (live feed, metrics), set up once the core is replayed, before seeding. */
  readonly extensions?: readonly ((ctx: AppContext) => ServeExtension)[];
  readonly log?: (line: string) => void;
  /** Agent heartbeat interval (tests use a short one); default DEFAULT_HEARTBEAT_INTERVAL_MS. */
  readonly agentHeartbeatIntervalMs?: number;
  /** The URL agents dial (enrollment commands); default: each request's own origin. */
  readonly publicUrl?: string;
}

export interface ServeExtension extends AppExtensions {
  /** The loop's `onApplied` (live feed, metrics): read memory when a batch is applied, send once it is committed. */
  readonly onApplied?: OnApplied;
  /** Once the server listens (e.g. the WebSocket upgrade). */
  readonly attach?: (server: Server) => void;
  /** At shutdown, after the server stops accepting and before the store closes. */
  readonly close?: () => Promise<void> | void;
}

export interface RunningServer {
  readonly url: string;
  readonly server: Server;
  readonly loop: CommandLoop;
  readonly ctx: AppContext;
  /** Credentials created at this start (empty when the journal was not empty). */
  readonly credentials: readonly Credential[];
  close(): Promise<void>;
}

const HOUSEKEEPING_INTERVAL_MS = 10 * 60_000;
/** Requests still running at shutdown get this long before their connections are cut. */
const SHUTDOWN_GRACE_MS = 5_000;

export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  const log = options.log ?? ((line: string) => console.log(line));
  const clock = options.clock ?? Date.now;
  const store = options.store ?? (await openStore(options.db ?? DEFAULT_SQLITE_FILE));
  const timers: NodeJS.Timeout[] = [];
  const extensions: ServeExtension[] = [];
  const closeExtensions = async (): Promise<void> => {
    for (const e of extensions) await e.close?.();
  };
  let stopTrader: () => void = () => undefined;
  try {
    await store.migrate();
    const catalog = { accelerators: listAccelerators(), regions: listRegions() };
    const core = new ExchangeCore(catalog);
    const applied: OnApplied[] = [];
    // Set once the agent hub exists (it needs the loop).
    let agents: AgentHub | null = null;
    const loop = await CommandLoop.open(core, store, new Projection(catalog.accelerators), {
      clock,
      onApplied: (batch) => {
        if (applied.length === 0) return undefined;
        const sends = applied.map((f) => f(batch));
        return (done) => {
          for (const send of sends) send?.(done);
        };
      },
      onCommitted: (batch) => agents?.onCommitted(batch),
    });
    agents = new AgentHub(loop, store, {
      clock,
      ...(options.agentHeartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: options.agentHeartbeatIntervalMs }),
      log: (obj, msg) => log(JSON.stringify({ level: 'warn', name: 'agents', msg, ...obj })),
    });
    const config = { ...DEFAULT_API_CONFIG, ...options.config, ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }) };
    const ctx: AppContext = { loop, store, core, clock, config, agents };
    // By default the live feed (WebSocket) and /metrics ride along; tests may pass their own.
    extensions.push(...(options.extensions ?? [liveEdges]).map((make) => make(ctx)));
    for (const e of extensions) if (e.onApplied) applied.push(e.onApplied);
    const app = createApp(ctx, createRuntime(ctx), {
      middleware: extensions.flatMap((e) => e.middleware ?? []),
      routes: (a) => {
        for (const e of extensions) e.routes?.(a);
      },
    });
    const demo = options.demo ?? true;
    const rng = new Rng(options.demoSeed ?? 1);
    const credentials: Credential[] = [];
    if (loop.journalSeq === 0) {
      credentials.push(await seedAdmin(ctx, options.adminEmail ?? DEMO_EMAILS.admin, options.adminPassword));
      if (demo) credentials.push(...(await seedDemo(ctx, rng)));
    }

    let ticking = false;
    const settleEveryMs = options.settleEveryMs ?? DEFAULT_SETTLE_EVERY_MS;
    const tick = setInterval(() => {
      if (ticking) return; // never queue ticks behind a slow commit
      ticking = true;
      loop
        .submit({ type: 'tick', now: 0, settleEveryMs })
        .catch((e: unknown) => log(`tick failed: ${String(e)}`))
        .finally(() => {
          ticking = false;
        });
    }, options.tickIntervalMs ?? 1_000);
    const housekeeping = setInterval(() => {
      const nowMs = clock();
      void loop.write({ deletes: { sessionsExpiredAtMs: nowMs, idempotencyCreatedBeforeMs: nowMs - ctx.config.idempotencyTtlMs } }).catch(() => undefined);
    }, HOUSEKEEPING_INTERVAL_MS);
    timers.push(tick, housekeeping);
    if (demo) stopTrader = await startDemoTrader(ctx, rng, options.demoTraderIntervalMs ?? 3_000, log);

    await agents.start();
    extensions.push({ close: () => agents.close() });

    const server = await new Promise<Server>((resolve, reject) => {
      const s = serveHttp({ fetch: app.fetch, hostname: options.host ?? '127.0.0.1', port: options.port ?? 8080 }, () => resolve(s as Server)) as Server;
      s.once('error', reject);
    });
    for (const e of extensions) e.attach?.(server);
    const detachAgents = attachAgentEndpoint(server, agents, store);
    agents.listening();
    extensions.unshift({ close: detachAgents });
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;

    let closing: Promise<void> | null = null;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        stopTrader();
        for (const t of timers) clearInterval(t);
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        await closeExtensions(); // e.g. WebSockets, which would hold the server open
        await stopped;
        clearTimeout(force);
        await loop.write({}).catch(() => undefined); // the queue is FIFO: this resolves after everything before it
        if (!options.store) await store.close();
      })());
    return { url, server, loop, ctx, credentials, close };
  } catch (e) {
    stopTrader();
    for (const t of timers) clearInterval(t);
    await closeExtensions().catch(() => undefined);
    if (!options.store) await store.close().catch(() => undefined);
    throw e;
  }
}

function rateArg(raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 1_000_000) throw new InvalidArgumentError('a rate is a positive number of requests per second');
  return n;
}

function heartbeatArg(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 100 || n > 600_000) throw new InvalidArgumentError('a heartbeat interval is 100-600000 ms');
  return n;
}

function settleEveryArg(raw: string): number {
  const n = Number(raw);
  // An empty value (SUANLI_SETTLE_EVERY_S=) is no number, not 0.
  if (raw.trim() === '' || !Number.isInteger(n) || n < 0 || n * 1_000 > MAX_SETTLE_EVERY_MS) {
    throw new InvalidArgumentError('a settlement interval is 0-86400 s (0: every second)');
  }
  return n;
}

function portArg(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('a port is 0-65535');
  return n;
}

export function printBanner(r: RunningServer, log: (line: string) => void): void {
  log(`suanli exchange listening on ${r.url}`);
  log(`  web     ${r.url}/`);
  log(`  docs    ${r.url}/docs   (OpenAPI: ${r.url}/openapi.json)`);
  log(`  markets ${r.url}/api/v1/markets`);
  if (r.credentials.length > 0) {
    log('created accounts (passwords are shown once):');
    for (const c of r.credentials) log(`  ${c.role.padEnd(8)} ${c.email}  ${c.password}`);
  }
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the exchange: REST API, command loop, store (and a demo market on a fresh store)')
    .showHelpAfterError('(add --help for usage)')
    // A bad flag exits 2, as in every other command.
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .addOption(new Option('--host <host>', 'address to listen on').env('HOST').default('127.0.0.1'))
    .addOption(new Option('--port <port>', 'port to listen on').env('PORT').default(8080).argParser(portArg))
    .addOption(new Option('--db <location>', 'SQLite file or postgres:// URL').env('DATABASE_URL').default(DEFAULT_SQLITE_FILE))
    .addOption(new Option('--no-demo', 'no demo market (and no demo trader)'))
    .addOption(new Option('--admin-email <email>', 'email of the first admin (fresh store only)').default(DEMO_EMAILS.admin))
    .addOption(new Option('--agent-heartbeat-ms <ms>', 'heartbeat interval asked of host agents (3 missed = offline)').env('SUANLI_AGENT_HEARTBEAT_MS').argParser(heartbeatArg))
    .addOption(new Option('--public-url <url>', 'URL agents and browsers reach this exchange at (enrollment commands name it)').env('SUANLI_PUBLIC_URL'))
    .addOption(
      new Option('--rate-limit <perSecond>', 'requests per second per API key, user or client (burst: 6 s worth)')
        .env('SUANLI_RATE_LIMIT')
        .argParser(rateArg),
    )
    .addOption(
      new Option('--settle-every <seconds>', 'how often each running lease is settled (charges are exact to the millisecond whatever this is)')
        .env('SUANLI_SETTLE_EVERY_S')
        .default(DEFAULT_SETTLE_EVERY_MS / 1_000)
        .argParser(settleEveryArg),
    )
    .action(async (opts: {
      host: string; port: number; db: string; demo: boolean; adminEmail: string; rateLimit?: number; publicUrl?: string; agentHeartbeatMs?: number; settleEvery: number;
    }) => {
      const log = (line: string): void => console.log(line);
      const config = opts.rateLimit === undefined ? {} : { rateLimit: { perSecond: opts.rateLimit, burst: opts.rateLimit * 6 } };
      const running = await startServer({
        host: opts.host, port: opts.port, db: opts.db, demo: opts.demo, adminEmail: opts.adminEmail, log, config, settleEveryMs: opts.settleEvery * 1_000,
        ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
        ...(opts.agentHeartbeatMs === undefined ? {} : { agentHeartbeatIntervalMs: opts.agentHeartbeatMs }),
      });
      printBanner(running, log);
      const stop = (signal: string): void => {
        log(`${signal}: draining and closing…`);
        running.close().then(
          () => process.exit(0),
          (e: unknown) => {
            console.error(e);
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
}
