/**
 * Who is calling: a session cookie (browser) or an API key (programs). Only SHA-256 hashes of
 * either secret are stored. Resolution never fails a request by itself: public routes stay
 * public with a stale cookie; routes that need a user say why the credential was refused.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { SessionRow, Store } from '../store/port.js';
import { type ApiEnv, type Identity, ROLE_SCOPES, type Scope } from './context.js';

export const SESSION_COOKIE = 'suanli_session';
export const API_KEY_PREFIX = 'sk_';

export const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** A fresh secret: 32 random bytes, base64url. */
export const newSecret = (): string => randomBytes(32).toString('base64url');

export function newSession(userId: string, nowMs: number, ttlMs: number): { secret: string; row: SessionRow } {
  const secret = newSecret();
  return { secret, row: { idHash: sha256Hex(secret), userId, createdAtMs: nowMs, expiresAtMs: nowMs + ttlMs } };
}

export interface Credentials {
  readonly cookie?: string | undefined;
  readonly authorization?: string | undefined;
}

export type Resolution = { identity: Identity; problem: null } | { identity: null; problem: ApiEnv['Variables']['authProblem'] };

/**
 * Resolves credentials to an identity. Exported for the WebSocket upgrade (same rules).
 * An `Authorization` header wins over the cookie.
 */
export async function resolveIdentity(store: Store, nowMs: number, creds: Credentials): Promise<Resolution> {
  const bearer = /^Bearer\s+(\S+)$/i.exec(creds.authorization ?? '')?.[1];
  if (bearer !== undefined) {
    if (!bearer.startsWith(API_KEY_PREFIX) || bearer.length > 256) return { identity: null, problem: 'INVALID_API_KEY' };
    const key = await store.apiKeyByHash(sha256Hex(bearer));
    if (!key || key.revokedAtMs !== null) return { identity: null, problem: 'INVALID_API_KEY' };
    const user = await store.userById(key.userId);
    if (!user) return { identity: null, problem: 'INVALID_API_KEY' };
    if (user.disabledAtMs !== null) return { identity: null, problem: 'ACCOUNT_DISABLED' };
    const allowed = ROLE_SCOPES[user.role];
    const scopes = key.scopes.filter((s): s is Scope => (allowed as readonly string[]).includes(s));
    return { identity: { user, scopes, via: 'api_key', credentialId: key.id }, problem: null };
  }
  const secret = creds.cookie;
  if (secret === undefined || secret === '') return { identity: null, problem: null };
  if (secret.length > 128) return { identity: null, problem: 'SESSION_EXPIRED' };
  const session = await store.sessionByHash(sha256Hex(secret));
  if (!session || session.expiresAtMs <= nowMs) return { identity: null, problem: 'SESSION_EXPIRED' };
  const user = await store.userById(session.userId);
  if (!user) return { identity: null, problem: 'SESSION_EXPIRED' };
  if (user.disabledAtMs !== null) return { identity: null, problem: 'ACCOUNT_DISABLED' };
  return { identity: { user, scopes: ROLE_SCOPES[user.role], via: 'session', credentialId: session.idHash }, problem: null };
}

/**
 * The same rules for a raw Node request (the WebSocket upgrade): `{ userId }` or null.
 */
export function authenticateRequest(store: Store, clock: () => number): (req: IncomingMessage) => Promise<{ readonly userId: string } | null> {
  return async (req) => {
    const cookie = /(?:^|;\s*)suanli_session=([^;]*)/.exec(req.headers.cookie ?? '')?.[1];
    const r = await resolveIdentity(store, clock(), { cookie, authorization: req.headers.authorization });
    return r.identity ? { userId: r.identity.user.id } : null;
  };
}

export function identify(store: Store, clock: () => number): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const r = await resolveIdentity(store, clock(), { cookie: getCookie(c, SESSION_COOKIE), authorization: c.req.header('authorization') });
    c.set('identity', r.identity);
    c.set('authProblem', r.problem);
    c.set('idempotency', null);
    await next();
  };
}
