/**
 * Who may call a route, declared beside the route: the guard runs before body validation, so an
 * anonymous caller learns "401" and nothing about the body. The same declaration writes the
 * route's `security` and error responses into the OpenAPI document.
 */
import { createRoute, OpenAPIHono, type RouteConfig, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { UserRole } from '../store/port.js';
import type { ApiEnv, Identity, Scope } from './context.js';
import { ApiError, ErrorSchema, validationHook } from './errors.js';
import { claimIdempotency } from './idempotency.js';
import { clientAddress } from './rate-limit.js';

export type Access =
  | { readonly who: 'anyone'; readonly authLimited?: boolean }
  | {
      readonly who: 'user';
      /** Roles allowed; absent = every role. */
      readonly roles?: readonly UserRole[];
      /** The credential must carry one of these scopes. */
      readonly scopes: readonly Scope[];
      readonly sessionOnly?: boolean;
    };

export function guard(access: Access): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const rt = c.get('runtime');
    if (access.who === 'anyone') {
      if (access.authLimited === true) rt.authLimiter.check(`auth:${clientAddress(c)}`, rt.ctx.clock());
      return next();
    }
    const id = c.get('identity');
    if (!id) {
      const problem = c.get('authProblem');
      if (problem === 'ACCOUNT_DISABLED') throw new ApiError(403, 'ACCOUNT_DISABLED', 'this account is disabled');
      if (problem) throw new ApiError(401, problem, problem === 'SESSION_EXPIRED' ? 'the session has expired; log in again' : 'the API key is not valid');
      throw new ApiError(401, 'UNAUTHENTICATED', 'log in or send an API key');
    }
    if (access.sessionOnly === true && id.via !== 'session') throw new ApiError(403, 'SESSION_REQUIRED', 'this needs a logged-in session, not an API key');
    if (access.roles && !access.roles.includes(id.user.role)) throw new ApiError(403, 'FORBIDDEN', `this is for ${access.roles.join(' or ')} accounts`);
    if (!access.scopes.some((s) => id.scopes.includes(s))) throw new ApiError(403, 'INSUFFICIENT_SCOPE', `the API key needs the ${access.scopes.join(' or ')} scope`);
    return next();
  };
}

/** The caller of a guarded route. */
export function identityOf(c: Context<ApiEnv>): Identity {
  const id = c.get('identity');
  if (!id) throw new Error('identityOf on a route without a user guard'); // a bug in the route table
  return id;
}

/** Either credential works. */
const SECURITY: { [scheme: string]: string[] }[] = [{ session: [] }, { apiKey: [] }];

/** Documents the header on idempotent routes (put it in the route's `request.headers`). */
export const IdempotencyHeaders = z.object({
  'idempotency-key': z.string().min(1).max(255).optional().openapi({ description: 'retry-safe: the first response to this key is replayed' }),
});

const err = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });

export interface RouteOptions {
  /** Accepts an Idempotency-Key header (replays the first response). */
  readonly idempotent?: boolean;
  /** Extra error statuses this route can answer. */
  readonly errors?: readonly (402 | 404 | 409 | 422)[];
}

const ERROR_TEXT = { 402: 'insufficient funds', 404: 'not found (or not yours)', 409: 'conflicts with the current state', 422: 'Idempotency-Key reused with a different body' } as const;

/** `createRoute` plus the access guard, idempotency and the error responses. */
export function defineRoute<const R extends RouteConfig>(access: Access, route: R, options: RouteOptions = {}) {
  const user = access.who === 'user';
  const middleware: MiddlewareHandler<ApiEnv>[] = [guard(access)];
  if (options.idempotent === true) middleware.push(claimIdempotency);
  const extra = Object.fromEntries((options.errors ?? []).map((s) => [s, err(ERROR_TEXT[s])]));
  return createRoute({
    ...route,
    middleware,
    ...(user ? { security: SECURITY } : {}),
    ...(options.idempotent === true
      ? { description: `${route.description ?? ''}\n\nAccepts an \`Idempotency-Key\` header: a retry with the same key and body replays the first response.`.trim() }
      : {}),
    responses: {
      ...route.responses,
      400: err('invalid input (VALIDATION_FAILED with details.issues, MALFORMED_JSON, or a rejection code)'),
      ...(user ? { 401: err('no valid session or API key'), 403: err('role or scope not allowed') } : {}),
      ...extra,
      429: err('rate limited (see Retry-After)'),
    },
  });
}

/** A router whose validation failures become 400 VALIDATION_FAILED. */
export function newRouter(): OpenAPIHono<ApiEnv> {
  return new OpenAPIHono<ApiEnv>({ defaultHook: (result) => validationHook(result as Parameters<typeof validationHook>[0]) });
}
