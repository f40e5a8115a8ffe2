/**
 * Runs one core command for a request: the loop stamps its time, and the response (success or
 * rejection) is computed from the result inside the loop's batch, so the Idempotency-Key record
 * and any rows the route adds (a user, a session) commit in the same transaction.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { CoreCommand, CoreResult } from '../exchange/core.js';
import type { CommitBatch } from '../store/port.js';
import type { ApiEnv } from './context.js';
import { ApiError, rejectionError } from './errors.js';
import { idempotencyRows } from './idempotency.js';

export type OkResult = Extract<CoreResult, { ok: true }>;
type Rows = Omit<CommitBatch, 'journal'>;

function merge(a: Rows | undefined, b: Rows | undefined): Rows | undefined {
  if (!a) return b;
  if (!b) return a;
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = Array.isArray(prev) && Array.isArray(v) ? [...(prev as unknown[]), ...(v as unknown[])] : v;
  }
  return out as Rows;
}

export interface CommandOptions<T> {
  /** The success body; must not throw (it runs inside the loop's batch) and must be JSON. */
  readonly respond: (result: OkResult) => T;
  /** Rows to write with the command when it succeeds. */
  readonly rows?: (result: OkResult) => Rows | undefined;
  /** Success status (recorded for idempotent replays). */
  readonly status: number;
  /**
   * Rejection codes to answer differently: the route checked the thing exists, so an engine
   * "not found" means time passing finished it first.
   */
  readonly remap?: Readonly<Record<string, { readonly status: ContentfulStatusCode; readonly code: string }>>;
}

/** Resolves with the success body, or throws the rejection as an ApiError. */
export async function runCommand<T>(c: Context<ApiEnv>, command: CoreCommand, options: CommandOptions<T>): Promise<T> {
  let outcome: { ok: true; body: T } | { ok: false; error: ApiError } | undefined;
  await c.get('runtime').ctx.loop.submit(command, (result) => {
    let rows: Rows | undefined;
    try {
      if (result.ok) {
        outcome = { ok: true, body: options.respond(result) };
        rows = options.rows?.(result);
      } else {
        const to = options.remap?.[result.code];
        outcome = { ok: false, error: to ? new ApiError(to.status, to.code, result.message) : rejectionError(result) };
      }
    } catch (e) {
      // Never throw inside the loop: answer 500 and record nothing beyond the command.
      console.error(JSON.stringify({ level: 'error', msg: 'building a response failed', command: command.type, err: String(e) }));
      outcome = { ok: false, error: new ApiError(500, 'INTERNAL', 'internal error') };
      return undefined;
    }
    const recorded = outcome.ok ? idempotencyRows(c, options.status, outcome.body) : idempotencyRows(c, outcome.error.status, outcome.error.body());
    return merge(rows, recorded);
  });
  if (!outcome) throw new Error('the loop resolved without running the extras'); // loop contract bug
  if (!outcome.ok) throw outcome.error;
  return outcome.body;
}
