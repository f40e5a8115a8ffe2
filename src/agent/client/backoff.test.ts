import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/prng.js';
import { backoffCeilingMs, backoffDelayMs, DEFAULT_BACKOFF, nextAttempt, policyForInterval } from './backoff.js';

describe('reconnect backoff (exponential, full jitter)', () => {
  const policy = { baseMs: 500, capMs: 30_000, stableAfterMs: 60_000 };

  it('doubles the ceiling per attempt up to the cap, without overflowing', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffCeilingMs(a, policy))).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(backoffCeilingMs(10_000, policy)).toBe(30_000);
    expect(backoffCeilingMs(-3, policy)).toBe(500);
  });

  it('draws uniformly below the ceiling: the same seed gives the same schedule', () => {
    const schedule = (seed: number): number[] => {
      const random = mulberry32(seed);
      return Array.from({ length: 10 }, (_, attempt) => backoffDelayMs(attempt, policy, random));
    };
    const a = schedule(42);
    expect(schedule(42)).toEqual(a);
    expect(schedule(43)).not.toEqual(a);
    a.forEach((d, attempt) => {
      expect(Number.isInteger(d)).toBe(true);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(backoffCeilingMs(attempt, policy));
    });
  });

  it('spans the whole range [0, ceiling] (full jitter, not equal jitter)', () => {
    expect(backoffDelayMs(3, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(3, policy, () => 1)).toBe(4_000);
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(2_000);
    expect(backoffDelayMs(20, policy, () => 0.999_999)).toBe(29_999);
    const random = mulberry32(7);
    const draws = Array.from({ length: 2_000 }, () => backoffDelayMs(12, policy, random));
    expect(Math.min(...draws)).toBeLessThan(1_500);
    expect(Math.max(...draws)).toBeGreaterThan(28_500);
  });

  it('resets after a stable session and climbs otherwise', () => {
    expect(nextAttempt(5, 60_000, policy)).toBe(0);
    expect(nextAttempt(5, 59_999, policy)).toBe(6);
    expect(DEFAULT_BACKOFF.capMs).toBe(30_000);
  });

  it('never waits longer than one heartbeat interval once the interval is known', () => {
    expect(policyForInterval(policy, null)).toBe(policy);
    expect(policyForInterval(policy, 60_000)).toBe(policy);
    const fast = policyForInterval(policy, 250);
    expect(fast).toEqual({ ...policy, capMs: 250 });
    expect(backoffCeilingMs(0, fast)).toBe(250);
    expect(backoffCeilingMs(9, policyForInterval(policy, 10_000))).toBe(10_000);
  });
});
