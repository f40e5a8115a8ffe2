/** Latency statistics shared by the benchmarks. */
import { PerformanceObserver } from 'node:perf_hooks';
export interface LatencyStats {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxMs: number;
}

export function latencyStats(samplesNs: Float64Array): LatencyStats {
  const sorted = Float64Array.from(samplesNs).sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return {
    p50Us: round(at(0.5) / 1e3, 2),
    p99Us: round(at(0.99) / 1e3, 2),
    p999Us: round(at(0.999) / 1e3, 2),
    maxMs: round(sorted[sorted.length - 1]! / 1e6, 2),
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** What the GC did during a measured stretch (from `gc` performance entries). */
export interface GcStats {
  readonly count: number;
  readonly totalMs: number;
  readonly maxMs: number;
}

/**
 * Start recording GC pauses; the returned function stops and reports them. Entries of a busy
 * synchronous loop are delivered only once the event loop turns, so `stop` waits one turn.
 */
export function watchGc(): () => Promise<GcStats> {
  const durations: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) durations.push(e.duration);
  });
  obs.observe({ entryTypes: ['gc'] });
  return async () => {
    await new Promise((r) => setTimeout(r, 10));
    obs.disconnect();
    let total = 0;
    let max = 0;
    for (const d of durations) {
      total += d;
      if (d > max) max = d;
    }
    return { count: durations.length, totalMs: round(total, 1), maxMs: round(max, 1) };
  };
}

/** CPU time (user + system, all threads of the process) in ms since `from` (a process.cpuUsage()). */
export function cpuMsSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return round((d.user + d.system) / 1e3, 1);
}
