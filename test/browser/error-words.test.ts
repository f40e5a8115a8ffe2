/**
 * Every error code the API can send has words in both languages in the web app
 * (web/src/errors.ts): the core's rejection codes, every `new ApiError(status, 'CODE'` and
 * `notFound('CODE'` in src/api, and the live feed's codes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_CORE_CODES } from '../../src/api/errors.js';
import { ERRORS } from '../../web/src/errors.js';
import { ROOT } from './harness.js';

describe('error codes in words', () => {
  it('covers every code of the API, the core and the live feed, in English and Chinese', () => {
    const dir = join(ROOT, 'src', 'api');
    const codes = new Set<string>(ALL_CORE_CODES);
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts'))) {
      const text = readFileSync(join(dir, f), 'utf8');
      for (const m of text.matchAll(/(?:ApiError\(\d{3}, |notFound\()'([A-Z][A-Z0-9_]+)'/g)) codes.add(m[1]!);
      if (f === 'ws.ts') for (const m of /export type ErrorCode = ([^;]+);/.exec(text)?.[1]?.matchAll(/'([A-Z_]+)'/g) ?? []) codes.add(m[1]!);
    }
    for (const c of ['NOT_FOUND', 'VALIDATION_FAILED', 'UNAUTHENTICATED', 'INVALID_CURSOR', 'BUSY', 'RATE_LIMITED', 'MALFORMED_JSON', 'BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE']) codes.add(c);
    const missing = [...codes].filter((c) => !ERRORS[c] || !ERRORS[c][0] || !ERRORS[c][1]).sort();
    expect(missing).toEqual([]);
    expect(codes.size).toBeGreaterThan(60);
  });
});
