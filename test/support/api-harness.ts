/**
 * The API in-process on a real store: a command loop on a settable clock, the app, and actors
 * that keep their session cookie (or API key) and call `app.request`.
 */
import { createApp } from '../../src/api/app.js';
import { type ApiConfig, type AppContext, DEFAULT_API_CONFIG } from '../../src/api/context.js';
import { createUser } from '../../src/api/users.js';
import { listAccelerators, listRegions } from '../../src/core/catalog/index.js';
import { ExchangeCore } from '../../src/exchange/core.js';
import { CommandLoop } from '../../src/exchange/loop.js';
import { Projection } from '../../src/exchange/projection.js';
import type { Store } from '../../src/store/index.js';

export const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);
/** Cheap hashing for tests (the production default is OWASP's 19 MiB). */
export const FAST_ARGON2 = { memoryCostKiB: 64, timeCost: 1, parallelism: 1 } as const;
export const NO_RATE_LIMIT = { burst: 1_000_000, perSecond: 1_000_000 } as const;

export interface Reply {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
  readonly headers: Headers;
}

/** The reply if it has `status`; else throws with what came instead. */
export function ok<R extends { readonly status: number; readonly body: unknown }>(r: R, status = 200): R {
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
  return r;
}

export type App = ReturnType<typeof createApp>;

export class Actor {
  cookie: string | undefined;
  apiKey: string | undefined;
  constructor(
    readonly app: App,
    readonly name: string,
    public userId = '',
  ) {}

  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const h: Record<string, string> = { ...headers };
    if (this.cookie) h.cookie = `suanli_session=${this.cookie}`;
    if (this.apiKey) h.authorization = `Bearer ${this.apiKey}`;
    let raw: string | undefined;
    if (body !== undefined) {
      raw = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const url = path.startsWith('/api/') || path.startsWith('/healthz') || path.startsWith('/readyz') || path.startsWith('/openapi') || path.startsWith('/docs') ? path : `/api/v1${path}`;
    const res = await this.app.request(url, { method, headers: h, ...(raw === undefined ? {} : { body: raw }) });
    const setCookie = res.headers.get('set-cookie');
    const m = setCookie ? /suanli_session=([^;]*)/.exec(setCookie) : null;
    if (m) this.cookie = m[1] === '' ? undefined : m[1];
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // HTML or text
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  get = (path: string, headers?: Record<string, string>): Promise<Reply> => this.call('GET', path, undefined, headers);
  post = (path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply> => this.call('POST', path, body ?? {}, headers);
}

export interface Harness {
  readonly app: App;
  readonly ctx: AppContext;
  readonly loop: CommandLoop;
  readonly store: Store;
  /** Moves the wall clock (sessions, rate limits, and the loop's command times). */
  advance(ms: number): void;
  now(): number;
  actor(name: string): Actor;
  /** Signs up (buyer/provider) and returns the logged-in actor. */
  signup(name: string, role: 'buyer' | 'provider'): Promise<Actor>;
  /** An admin, created as `suanli serve` would, logged in. */
  admin(name: string): Promise<Actor>;
  tick(): Promise<void>;
}

export async function openHarness(store: Store, config: Partial<ApiConfig> = {}): Promise<Harness> {
  await store.migrate();
  let nowMs = T0;
  const clock = (): number => nowMs;
  const catalog = { accelerators: listAccelerators(), regions: listRegions() };
  const core = new ExchangeCore(catalog);
  const loop = await CommandLoop.open(core, store, new Projection(catalog.accelerators), {
    clock,
    onFatal: (e) => {
      throw new Error(`fail-stop in a test: ${String(e)}`);
    },
  });
  const ctx: AppContext = { loop, store, core, clock, config: { ...DEFAULT_API_CONFIG, argon2: FAST_ARGON2, rateLimit: NO_RATE_LIMIT, authRateLimit: NO_RATE_LIMIT, ...config } };
  const app = createApp(ctx);
  const h: Harness = {
    app, ctx, loop, store,
    advance: (ms) => {
      nowMs += ms;
    },
    now: () => nowMs,
    actor: (name) => new Actor(app, name),
    async signup(name, role) {
      const a = new Actor(app, name);
      const r = await a.post('/auth/signup', { email: `${name}@test.suanli`, password: 'correct horse battery', role, displayName: name });
      if (r.status !== 201) throw new Error(`signup ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      a.userId = r.body.user.id;
      return a;
    },
    async admin(name) {
      await createUser(ctx, new Set(), { email: `${name}@test.suanli`, password: 'correct horse battery', role: 'admin', displayName: name });
      const a = new Actor(app, name);
      const r = await a.post('/auth/login', { email: `${name}@test.suanli`, password: 'correct horse battery' });
      if (r.status !== 200) throw new Error(`admin login: ${r.status} ${JSON.stringify(r.body)}`);
      a.userId = r.body.user.id;
      return a;
    },
    async tick() {
      await loop.submit({ type: 'tick', now: 0 });
    },
  };
  return h;
}
