/**
 * One error type and one error handler. Every failure leaves as
 * `{"error":{"code":"STABLE_CODE","message":"…","details":…}}`; codes never change meaning.
 * Core and engine rejections keep their own codes; the table below gives each its status.
 */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { CoreRejectCodes, type CoreResult } from '../exchange/core.js';
import { QueueFullError } from '../exchange/loop.js';
import { RejectCodes } from '../core/market/types.js';
import { InvalidCursorError } from '../store/errors.js';

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** Extra response headers (Retry-After). */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'VALIDATION_FAILED' }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');
export type ErrorBody = z.infer<typeof ErrorSchema>;

/**
 * HTTP status of every core and engine rejection code. Input faults are 400, missing things 404,
 * a clash with current state 409, money short 402 (Payment Required: top up and retry).
 */
export const REJECTION_STATUS: Readonly<Record<string, ContentfulStatusCode>> = {
  // engine: input
  INVALID_ID: 400,
  INVALID_GPU_COUNT: 400,
  INVALID_PRICE: 400,
  INVALID_QUANTITY: 400,
  INVALID_HOURS: 400,
  INVALID_GPUS_PER_NODE: 400,
  INVALID_TIME_IN_FORCE: 400,
  INVALID_STATUS: 400,
  INVALID_NODE_KIND: 400,
  START_IN_PAST: 400,
  START_TOO_FAR: 400,
  EXPIRY_IN_PAST: 400,
  EXPIRY_REQUIRED: 400,
  AVAILABLE_UNTIL_IN_PAST: 400,
  UNKNOWN_ACCELERATOR: 400,
  UNKNOWN_REGION: 400,
  NO_COMPATIBLE_MARKET: 400,
  NODE_MARKET_MISMATCH: 400,
  TOO_MANY_NODES: 400,
  NOTHING_TO_AMEND: 400,
  INVALID_COMMAND: 400,
  // engine: missing
  NODE_NOT_FOUND: 404,
  ORDER_NOT_FOUND: 404,
  LEASE_NOT_FOUND: 404,
  // engine: state
  DUPLICATE_ID: 409,
  NODE_ALREADY_LISTED: 409,
  NODE_GPUS_BOOKED: 409,
  ORDER_NOT_ACTIVE: 409,
  LEASE_ALREADY_ENDED: 409,
  // the loop's clock never goes backwards: seeing this is a bug
  CLOCK_BACKWARDS: 500,
  // exchange core
  ACCOUNT_EXISTS: 409,
  ACCOUNT_NOT_FOUND: 404,
  INSUFFICIENT_FUNDS: 402,
  INVALID_AMOUNT: 400,
  DUPLICATE_TRANSFER: 409,
  INVALID_FEE: 400,
  VOUCHER_REJECTED: 409,
  PROGRAMME_REJECTED: 409,
  LEASE_NOT_STARTED: 409,
  // only the server's own timer sends ticks: seeing this is a bug
  INVALID_TICK: 500,
};

/** Every code the core can return has a status (checked by the API tests). */
export const ALL_CORE_CODES: readonly string[] = [...RejectCodes, ...CoreRejectCodes];

export function rejectionError(result: Extract<CoreResult, { ok: false }>): ApiError {
  return new ApiError(REJECTION_STATUS[result.code] ?? 400, result.code, result.message);
}

export const notFound = (code: string, what: string): ApiError => new ApiError(404, code, `${what} not found`);

export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

export function validationError(issues: readonly ValidationIssue[], message = 'the request is not valid'): ApiError {
  return new ApiError(400, 'VALIDATION_FAILED', message, { issues });
}

/** zod-openapi hook: schema failures become 400 VALIDATION_FAILED with field paths. */
export function validationHook(result: { success: boolean; target: string; error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } }): void {
  if (result.success) return;
  const issues = (result.error?.issues ?? []).map((i) => ({ path: [result.target, ...i.path.map(String)].join('.'), message: i.message }));
  throw validationError(issues);
}

export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof InvalidCursorError) return new ApiError(400, 'INVALID_CURSOR', err.message);
  if (err instanceof QueueFullError) return new ApiError(503, 'BUSY', err.message, undefined, { 'Retry-After': '1' });
  if (err instanceof HTTPException) {
    if (err.status === 400 && /malformed json/i.test(err.message)) return new ApiError(400, 'MALFORMED_JSON', 'the body is not valid JSON');
    if (err.status === 413) return new ApiError(413, 'BODY_TOO_LARGE', 'the body is too large');
    if (err.status === 415) return new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    return new ApiError(err.status as ContentfulStatusCode, `HTTP_${err.status}`, err.message);
  }
  return new ApiError(500, 'INTERNAL', 'internal error');
}

export function errorResponse(c: Context, e: ApiError): Response {
  for (const [k, v] of Object.entries(e.headers ?? {})) c.header(k, v);
  return c.json(e.body(), e.status);
}

/** The app's one error handler. Unexpected errors are logged (without request bodies) and hidden. */
export function handleError(err: unknown, c: Context): Response {
  const e = toApiError(err);
  if (e.status >= 500 && !(err instanceof ApiError) && !(err instanceof QueueFullError)) {
    console.error(JSON.stringify({ level: 'error', msg: 'unhandled error', method: c.req.method, path: c.req.path, err: String(err), stack: err instanceof Error ? err.stack : undefined }));
  }
  return errorResponse(c, e);
}
