/** Latency statistics shared by the benchmarks. */
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
