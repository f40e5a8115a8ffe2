/**
 * Per-GPU health for heartbeats. Real GPUs: one `nvidia-smi --query-gpu=…` per heartbeat (a
 * GPU missing from the answer, or an nvidia-smi that fails — "GPU has fallen off the bus" — is
 * unhealthy). Fake GPUs: idle and healthy.
 */
import type { z } from 'zod';
import { parseQueryCsv, type NvidiaSmiRun } from '../detect/nvidia-smi.js';
import type { GpuHealthSchema } from '../protocol.js';

export type GpuHealth = z.infer<typeof GpuHealthSchema>;
export type HealthSource = () => Promise<GpuHealth[]>;

export const HEALTH_QUERY_FIELDS = ['index', 'utilization.gpu', 'memory.used', 'temperature.gpu'] as const;
export const HEALTH_QUERY_ARGS: readonly string[] = [`--query-gpu=${HEALTH_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];

function num(v: string | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Health of each expected GPU from the query's output; GPUs the output lacks are unhealthy. */
export function parseHealth(indices: readonly number[], csv: string): GpuHealth[] {
  const rows = new Map<number, Record<string, string | null>>();
  for (const r of parseQueryCsv(HEALTH_QUERY_FIELDS, csv)) {
    const index = num(r['index']);
    if (index !== null) rows.set(index, r);
  }
  return indices.map((index) => {
    const r = rows.get(index);
    if (r === undefined) return unhealthy(index);
    const util = num(r['utilization.gpu']);
    return {
      index,
      healthy: true,
      utilizationPct: util === null ? null : Math.min(100, Math.max(0, util)),
      memoryUsedMiB: (() => {
        const m = num(r['memory.used']);
        return m === null ? null : Math.max(0, m);
      })(),
      temperatureC: num(r['temperature.gpu']),
    };
  });
}

export function unhealthy(index: number): GpuHealth {
  return { index, healthy: false, utilizationPct: null, memoryUsedMiB: null, temperatureC: null };
}

export function fakeHealthSource(indices: readonly number[]): HealthSource {
  return async () => indices.map((index) => ({ index, healthy: true, utilizationPct: 0, memoryUsedMiB: 0, temperatureC: null }));
}

/**
 * Queries nvidia-smi; while one query is still running (a hung driver can take seconds) the next
 * heartbeat reuses its promise instead of stacking processes.
 */
export function nvidiaSmiHealthSource(run: NvidiaSmiRun, indices: readonly number[], onWarning: (w: string) => void): HealthSource {
  let inFlight: Promise<GpuHealth[]> | null = null;
  return () => {
    inFlight ??= run([...HEALTH_QUERY_ARGS])
      .then((csv) => parseHealth(indices, csv))
      .catch((err: unknown) => {
        onWarning(`GPU health query failed: ${err instanceof Error ? err.message : String(err)}`);
        return indices.map(unhealthy);
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };
}
