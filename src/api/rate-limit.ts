/**
 * Token buckets in memory, per API key, user or client address. One process holds them all
 * (the single-process deployment); a bounded map drops the least recently refilled buckets.
 */
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { RateLimitConfig } from './context.js';
import { ApiError } from './errors.js';

interface Bucket {
  tokens: number;
  atMs: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly config: RateLimitConfig,
    private readonly maxBuckets: number,
  ) {}

  /** Takes one token; returns 0 when allowed, else the seconds until one is available. */
  take(key: string, nowMs: number): number {
    let b = this.buckets.get(key);
    if (b) this.buckets.delete(key); // re-insert below: Map order = least recently used first
    else b = { tokens: this.config.burst, atMs: nowMs };
    const elapsedS = Math.max(0, nowMs - b.atMs) / 1000;
    b.tokens = Math.min(this.config.burst, b.tokens + elapsedS * this.config.perSecond);
    b.atMs = nowMs;
    let waitS = 0;
    if (b.tokens >= 1) b.tokens -= 1;
    else waitS = Math.max(1, Math.ceil((1 - b.tokens) / this.config.perSecond));
    this.buckets.set(key, b);
    while (this.buckets.size > this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value!);
    return waitS;
  }

  /** Throws 429 RATE_LIMITED (with Retry-After) when the bucket is empty. */
  check(key: string, nowMs: number): void {
    const waitS = this.take(key, nowMs);
    if (waitS > 0) throw new ApiError(429, 'RATE_LIMITED', `too many requests; retry in ${waitS} s`, { retryAfterSeconds: waitS }, { 'Retry-After': String(waitS) });
  }
}

/** The peer address; in-process requests (tests) have none. Proxies' headers are not trusted. */
export function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'local';
  }
}
