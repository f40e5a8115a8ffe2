/**
 * A timer for an absolute time on the agent's clock. Leases can last a year, but setTimeout
 * fires at once past 2^31−1 ms (~24.8 days), so long waits re-arm in steps and check the clock
 * again each time (which also follows clock jumps of the host).
 */
const MAX_TIMEOUT_MS = 2_147_483_647;
/** Re-check at least this often so a stepped clock (NTP) is noticed within a day. */
const MAX_STEP_MS = 24 * 3_600_000;

export interface AtTimer {
  cancel(): void;
}

export function runAt(atMs: number, clock: () => number, fn: () => void): AtTimer {
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const arm = (): void => {
    if (cancelled) return;
    const waitMs = atMs - clock();
    if (waitMs <= 0) {
      fn();
      return;
    }
    timer = setTimeout(arm, Math.min(waitMs, MAX_STEP_MS, MAX_TIMEOUT_MS));
  };
  arm();
  return {
    cancel() {
      cancelled = true;
      clearTimeout(timer);
    },
  };
}
