/**
 * Reconnect delays: exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff and Jitter"): delay = random() × min(cap, base × 2^attempt). Full jitter spreads a
 * fleet of agents that lost the exchange at the same moment, so they do not all come back in
 * the same second. Pure: the random source is a parameter.
 */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
  /** A session that lasted this long resets the attempt count (the next failure retries soon). */
  readonly stableAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 30_000, stableAfterMs: 60_000 };

/** The ceiling for `attempt` (0-based): min(cap, base × 2^attempt), without overflow. */
export function backoffCeilingMs(attempt: number, policy: BackoffPolicy): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 30);
  return Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
}

export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * backoffCeilingMs(attempt, policy));
}

/** The attempt count to use after a session that lasted `sessionMs` ended. */
export function nextAttempt(attempt: number, sessionMs: number, policy: BackoffPolicy): number {
  return sessionMs >= policy.stableAfterMs ? 0 : attempt + 1;
}

/**
 * The policy for a node that knows its heartbeat interval: the cap never exceeds one interval.
 * The exchange declares a node lost after three silent intervals (and gives every node one such
 * window after it restarts); a reconnect delay longer than that would turn a short exchange
 * restart into interrupted leases. One interval still spreads a fleet's reconnects over as long
 * as its heartbeats are spread anyway.
 */
export function policyForInterval(policy: BackoffPolicy, heartbeatIntervalMs: number | null): BackoffPolicy {
  if (heartbeatIntervalMs === null || heartbeatIntervalMs >= policy.capMs) return policy;
  return { ...policy, capMs: Math.max(1, heartbeatIntervalMs) };
}
