/**
 * What the HTTP layer runs on: the command loop (the single writer), the store (reads), the
 * core (in-memory reads: books, balances), a wall clock (sessions, rate limits; never command
 * times — the loop stamps those) and the limits below.
 */
import type { ExchangeCore } from '../exchange/core.js';
import type { AgentHub } from '../exchange/agent-hub.js';
import type { CommandLoop } from '../exchange/loop.js';
import type { CatalogIndex } from '../core/market/rules.js';
import type { Store, UserRow } from '../store/port.js';
import type { RateLimiter } from './rate-limit.js';

export interface RateLimitConfig {
  /** Bucket size: the longest burst. */
  readonly burst: number;
  /** Tokens added per second: the sustained rate. */
  readonly perSecond: number;
}

export interface Argon2Config {
  readonly memoryCostKiB: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

export interface ApiConfig {
  /** Largest request body accepted, in bytes. */
  readonly maxBodyBytes: number;
  readonly sessionTtlMs: number;
  /** Adds `Secure` to the session cookie (behind TLS). */
  readonly secureCookies: boolean;
  /** Every request, per API key, user or (anonymous) client address. */
  readonly rateLimit: RateLimitConfig;
  /** Signup and login, per client address, on top of the general limit. */
  readonly authRateLimit: RateLimitConfig;
  /** Most buckets kept; the oldest are dropped beyond it. */
  readonly maxRateLimitBuckets: number;
  readonly argon2: Argon2Config;
  /** How long an Idempotency-Key's first response is replayed. */
  readonly idempotencyTtlMs: number;
  /** The URL agents and browsers reach this exchange at (behind a proxy); default: the request's own origin. */
  readonly publicUrl?: string;
}

/** OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane). */
export const DEFAULT_API_CONFIG: ApiConfig = {
  maxBodyBytes: 64 * 1024,
  sessionTtlMs: 7 * 24 * 3_600_000,
  secureCookies: false,
  rateLimit: { burst: 120, perSecond: 20 },
  authRateLimit: { burst: 10, perSecond: 0.2 },
  maxRateLimitBuckets: 100_000,
  argon2: { memoryCostKiB: 19_456, timeCost: 2, parallelism: 1 },
  idempotencyTtlMs: 24 * 3_600_000,
};

export interface AppContext {
  readonly loop: CommandLoop;
  readonly store: Store;
  readonly core: ExchangeCore;
  /** Wall clock, epoch ms. */
  readonly clock: () => number;
  readonly config: ApiConfig;
  /** Connected host agents (absent where no agent endpoint runs, e.g. in-process API tests). */
  readonly agents?: AgentHub;
}

export type Scope = 'read' | 'trade' | 'provider' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'trade', 'provider', 'admin'];

/** Scopes each role may hold; a session carries all of its role's. */
export const ROLE_SCOPES: Readonly<Record<UserRow['role'], readonly Scope[]>> = {
  buyer: ['read', 'trade'],
  provider: ['read', 'trade', 'provider'],
  admin: ['read', 'trade', 'provider', 'admin'],
};

export interface Identity {
  readonly user: UserRow;
  readonly scopes: readonly Scope[];
  readonly via: 'session' | 'api_key';
  /** Session hash or API key id. */
  readonly credentialId: string;
}

export interface IdempotencyClaim {
  readonly userId: string;
  readonly key: string;
  readonly requestHash: string;
}

/** Per-app state shared by all requests (one app per process). */
export interface Runtime {
  readonly ctx: AppContext;
  readonly limiter: RateLimiter;
  readonly authLimiter: RateLimiter;
  /**
   * Unique things being written right now (idempotency keys, signup emails): a second request
   * for the same one waits its turn with a 409, so two commits never race on a unique key.
   */
  readonly claims: Set<string>;
  readonly catalog: CatalogIndex;
}

/** Hono variables every request carries. */
export interface ApiEnv {
  Variables: {
    runtime: Runtime;
    identity: Identity | null;
    /** Why a presented credential was not accepted (reported only where a user is required). */
    authProblem: 'SESSION_EXPIRED' | 'INVALID_API_KEY' | 'ACCOUNT_DISABLED' | null;
    idempotency: IdempotencyClaim | null;
  };
}
