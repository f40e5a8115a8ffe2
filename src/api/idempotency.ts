/**
 * Idempotency-Key: the first response to a key is stored in the same transaction as the command
 * it answers, and replayed for every retry with the same body; the same key with another body
 * is 422. A key in flight (first request not answered yet) is 409, so two commits never race
 * for one key (an insert clash would stop the exchange: fail-stop).
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { CommitBatch } from '../store/port.js';
import type { ApiEnv } from './context.js';
import { ApiError, validationError } from './errors.js';
import { sha256Hex } from './identity.js';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** Key order and whitespace do not make a different request. */
function canonical(text: string): string {
  if (text.trim() === '') return '';
  try {
    return JSON.stringify(sortKeys(JSON.parse(text)));
  } catch {
    return text;
  }
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}

export const claimIdempotency: MiddlewareHandler<ApiEnv> = async (c, next) => {
  const key = c.req.header('idempotency-key');
  if (key === undefined) return next();
  if (!KEY_PATTERN.test(key)) throw validationError([{ path: 'header.idempotency-key', message: '1-255 printable ASCII characters' }]);
  const identity = c.get('identity');
  if (!identity) throw new Error('idempotency before the guard'); // route table bug
  const rt = c.get('runtime');
  const userId = identity.user.id;
  const requestHash = sha256Hex(`${c.req.method} ${c.req.path}\n${canonical(await c.req.text())}`);
  const claim = `idem\n${userId}\n${key}`;
  if (rt.claims.has(claim)) throw new ApiError(409, 'IDEMPOTENCY_IN_PROGRESS', 'a request with this Idempotency-Key is still running; retry shortly');
  rt.claims.add(claim);
  try {
    const prior = await rt.ctx.store.idempotency(userId, key);
    if (prior) {
      if (prior.requestHash !== requestHash) throw new ApiError(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request');
      return new Response(prior.responseJson, {
        status: prior.statusCode,
        headers: { 'content-type': 'application/json', 'idempotent-replayed': 'true' },
      });
    }
    c.set('idempotency', { userId, key, requestHash });
    await next();
  } finally {
    rt.claims.delete(claim);
  }
};

/** The row that records this request's response, for the command's own transaction. */
export function idempotencyRows(c: Context<ApiEnv>, statusCode: number, body: unknown): Omit<CommitBatch, 'journal'> | undefined {
  const claim = c.get('idempotency');
  if (!claim) return undefined;
  const createdAtMs = c.get('runtime').ctx.clock();
  return { idempotency: [{ userId: claim.userId, key: claim.key, requestHash: claim.requestHash, statusCode, responseJson: JSON.stringify(body), createdAtMs }] };
}
