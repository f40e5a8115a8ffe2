/**
 * GPU discovery through `nvidia-smi`, for the provider agent.
 *
 * The parsers are pure (text in, data out) and were written against the real captures in
 * /work/shared/fixtures/nvidia-smi. `detectGpus` takes a `run(args)` function so the agent can pass
 * a real process runner (`nvidiaSmiRunner`) and tests can pass a replay of a capture.
 *
 * Rules:
 * - A product name is mapped to a catalog id only through `findAcceleratorBySmiName`; an unknown
 *   name is reported with `acceleratorId: null`, never guessed from memory size or a substring.
 * - A value nvidia-smi cannot give (`[N/A]`, `[Not Supported]`, any other `[…]` note) is `null`.
 */
import { execFile } from 'node:child_process';
import { findAcceleratorBySmiName } from '../../core/catalog/accelerators.js';

/** The fields `detectGpus` asks for, in this order. */
export const QUERY_GPU_FIELDS = [
  'index',
  'uuid',
  'name',
  'memory.total',
  'driver_version',
  'mig.mode.current',
  'utilization.gpu',
  'temperature.gpu',
] as const;

export type NvidiaSmiRun = (args: string[]) => Promise<string>;

export type MigMode = 'enabled' | 'disabled';

export interface MigDevice {
  /** Index of the MIG device within its GPU ("Device  0"). */
  index: number;
  /** The GPU instance profile, e.g. `3g.40gb` or `1c.3g.71gb`. */
  profile: string;
  uuid: string;
}

export interface ListedGpu {
  index: number;
  name: string;
  uuid: string;
  migDevices: MigDevice[];
}

export interface NvLink {
  a: number;
  b: number;
  /** The # of `NV#`: how many bonded links join the two GPUs. */
  links: number;
}

export interface Topology {
  /** GPU indices that appear in the matrix. */
  gpus: number[];
  /** One entry per connected pair (a < b). */
  nvlinks: NvLink[];
  /** Connected components of the NVLink graph with at least two GPUs, each sorted, ordered by first index. */
  nvlinkGroups: number[][];
}

export interface DetectedGpu {
  index: number;
  uuid: string;
  productName: string;
  /** Catalog id, or null when the product name is not in the catalog. */
  acceleratorId: string | null;
  memoryMiB: number | null;
  /** Null where the GPU has no MIG support (`[N/A]`). */
  migMode: MigMode | null;
  utilizationPct: number | null;
  temperatureC: number | null;
  /** MIG devices listed under this GPU by `nvidia-smi -L` (empty when none). */
  migDevices: MigDevice[];
}

export interface GpuDetection {
  gpus: DetectedGpu[];
  driverVersion: string | null;
  cudaVersion: string | null;
  nvlinkGroups: number[][];
  /** What could not be read and was tolerated (e.g. `topo -m` failed). */
  warnings: string[];
}

/** Removes ANSI escape sequences (the topo header is underlined on a terminal-ish capture). */
function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
}

function lines(text: string): string[] {
  return stripAnsi(text).replace(/\r\n?/g, '\n').split('\n');
}

/** `[N/A]`, `[Not Supported]`, `[Unknown Error]`, `N/A`, '' → null; anything else trimmed. */
export function smiValue(raw: string): string | null {
  const v = raw.trim();
  if (v === '' || v === 'N/A' || /^\[.*\]$/.test(v)) return null;
  return v;
}

/**
 * Parses `--query-gpu=<fields> --format=csv,noheader,nounits` output: one record per line, keyed
 * by the requested field names. Tolerates a header line (skipped when its cells are the field
 * names, with or without ` [unit]`), blank lines, CRLF and spaces around values; unavailable
 * values are null. A line with the wrong number of values throws.
 */
export function parseQueryCsv(fields: readonly string[], text: string): Array<Record<string, string | null>> {
  const records: Array<Record<string, string | null>> = [];
  for (const line of lines(text)) {
    if (line.trim() === '') continue;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length !== fields.length) {
      throw new Error(`nvidia-smi csv: expected ${fields.length} values, got ${cells.length}: ${JSON.stringify(line)}`);
    }
    const isHeader = cells.every((c, i) => c.replace(/\s*\[[^\]]*\]$/, '').toLowerCase() === fields[i]?.toLowerCase());
    if (isHeader) continue;
    const rec: Record<string, string | null> = {};
    fields.forEach((f, i) => {
      rec[f] = smiValue(cells[i] ?? '');
    });
    records.push(rec);
  }
  return records;
}

/**
 * Parses `nvidia-smi -L`:
 *   GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-…)
 *     MIG 3g.40gb     Device  0: (UUID: MIG-…)
 */
export function parseListGpus(text: string): ListedGpu[] {
  const gpus: ListedGpu[] = [];
  for (const line of lines(text)) {
    const gpu = /^GPU (\d+): (.+?) \(UUID: ([^)]+)\)\s*$/.exec(line);
    if (gpu) {
      gpus.push({ index: Number(gpu[1]), name: (gpu[2] ?? '').trim(), uuid: (gpu[3] ?? '').trim(), migDevices: [] });
      continue;
    }
    const mig = /^\s+MIG\s+(\S+)\s+Device\s+(\d+):\s*\(UUID:\s*([^)]+)\)\s*$/.exec(line);
    const owner = gpus[gpus.length - 1];
    if (mig && owner) {
      owner.migDevices.push({ index: Number(mig[2]), profile: mig[1] ?? '', uuid: (mig[3] ?? '').trim() });
    }
  }
  return gpus;
}

/**
 * Parses the `nvidia-smi topo -m` matrix. The header row names the columns (`GPU0 GPU1 … CPU
 * Affinity …`, NIC columns on some hosts); each `GPUn` row holds `X` on the diagonal and the link
 * kind (`NV18`, `SYS`, `PIX`, …) towards every other GPU. Only `NV#` cells count as NVLink.
 */
export function parseTopo(text: string): Topology {
  const all = lines(text);
  const headerIdx = all.findIndex((l) => /^\s/.test(l) && /\bGPU\d+\b/.test(l));
  if (headerIdx < 0) return { gpus: [], nvlinks: [], nvlinkGroups: [] };
  const columns = [...(all[headerIdx] ?? '').matchAll(/\bGPU(\d+)\b/g)].map((m) => Number(m[1]));
  const gpus: number[] = [];
  const nvlinks: NvLink[] = [];
  for (const line of all.slice(headerIdx + 1)) {
    const cells = line.trim().split(/\s+/);
    const row = /^GPU(\d+)$/.exec(cells[0] ?? '');
    if (!row) continue;
    const a = Number(row[1]);
    gpus.push(a);
    columns.forEach((b, i) => {
      const nv = /^NV(\d+)$/.exec(cells[i + 1] ?? '');
      if (nv && a < b) nvlinks.push({ a, b, links: Number(nv[1]) });
    });
  }
  return { gpus, nvlinks, nvlinkGroups: nvlinkGroups(nvlinks) };
}

function nvlinkGroups(links: readonly NvLink[]): number[][] {
  const parent = new Map<number, number>();
  const root = (x: number): number => {
    let r = x;
    while (parent.get(r) !== undefined && parent.get(r) !== r) r = parent.get(r) as number;
    parent.set(x, r);
    return r;
  };
  for (const { a, b } of links) {
    if (!parent.has(a)) parent.set(a, a);
    if (!parent.has(b)) parent.set(b, b);
    const ra = root(a);
    const rb = root(b);
    if (ra !== rb) parent.set(Math.max(ra, rb), Math.min(ra, rb));
  }
  const groups = new Map<number, number[]>();
  for (const x of parent.keys()) {
    const r = root(x);
    groups.set(r, [...(groups.get(r) ?? []), x]);
  }
  return [...groups.values()]
    .filter((g) => g.length >= 2)
    .map((g) => g.sort((x, y) => x - y))
    .sort((x, y) => (x[0] ?? 0) - (y[0] ?? 0));
}

/** Versions from the plain `nvidia-smi` table header (≤ 59x: Driver/CUDA; ≥ 610: KMD/CUDA UMD). */
export function parseSmiHeader(text: string): { driverVersion: string | null; cudaVersion: string | null } {
  const t = stripAnsi(text);
  const driver = /(?:Driver|KMD) Version:\s*([0-9][0-9.]*)/.exec(t);
  const cuda = /CUDA (?:UMD )?Version:\s*([0-9][0-9.]*)/.exec(t);
  return { driverVersion: driver?.[1] ?? null, cudaVersion: cuda?.[1] ?? null };
}

function toNumber(v: string | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function toMigMode(v: string | null | undefined): MigMode | null {
  if (v === null || v === undefined) return null;
  const s = v.toLowerCase();
  return s === 'enabled' ? 'enabled' : s === 'disabled' ? 'disabled' : null;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs `--query-gpu`, `-L`, `topo -m` and the plain table (for the CUDA version) and merges them.
 * `--query-gpu` is the source of the GPU list; where it fails and `-L` works, GPUs come from `-L`
 * with the numbers null and a warning. Throws only when neither lists a GPU source.
 */
export async function detectGpus(run: NvidiaSmiRun): Promise<GpuDetection> {
  const [query, list, topo, table] = await Promise.allSettled([
    run([`--query-gpu=${QUERY_GPU_FIELDS.join(',')}`, '--format=csv,noheader,nounits']),
    run(['-L']),
    run(['topo', '-m']),
    run([]),
  ]);
  const warnings: string[] = [];
  const listed = list.status === 'fulfilled' ? parseListGpus(list.value) : [];
  if (list.status === 'rejected') warnings.push(`nvidia-smi -L failed: ${describe(list.reason)}`);
  const header = table.status === 'fulfilled' ? parseSmiHeader(table.value) : { driverVersion: null, cudaVersion: null };
  if (table.status === 'rejected') warnings.push(`nvidia-smi (summary) failed: ${describe(table.reason)}`);

  let gpus: DetectedGpu[];
  let driverVersion: string | null = null;
  if (query.status === 'fulfilled') {
    const rows = parseQueryCsv(QUERY_GPU_FIELDS, query.value);
    gpus = rows.map((r) => {
      const index = toNumber(r['index']);
      const uuid = r['uuid'] ?? '';
      const productName = r['name'] ?? '';
      const fromList = listed.find((g) => g.uuid === uuid && g.index === index) ?? listed.find((g) => g.index === index);
      if (index === null) throw new Error(`nvidia-smi --query-gpu returned a GPU without an index: ${JSON.stringify(r)}`);
      return {
        index,
        uuid,
        productName,
        acceleratorId: findAcceleratorBySmiName(productName)?.id ?? null,
        memoryMiB: toNumber(r['memory.total']),
        migMode: toMigMode(r['mig.mode.current']),
        utilizationPct: toNumber(r['utilization.gpu']),
        temperatureC: toNumber(r['temperature.gpu']),
        migDevices: fromList?.migDevices ?? [],
      };
    });
    const drivers = [...new Set(rows.map((r) => r['driver_version']).filter((v): v is string => v !== null && v !== undefined))];
    if (drivers.length > 1) warnings.push(`GPUs report different driver versions: ${drivers.join(', ')}`);
    driverVersion = drivers[0] ?? null;
  } else if (list.status === 'fulfilled') {
    warnings.push(`nvidia-smi --query-gpu failed, GPUs taken from -L: ${describe(query.reason)}`);
    gpus = listed.map((g) => ({
      index: g.index,
      uuid: g.uuid,
      productName: g.name,
      acceleratorId: findAcceleratorBySmiName(g.name)?.id ?? null,
      memoryMiB: null,
      migMode: g.migDevices.length > 0 ? 'enabled' : null,
      utilizationPct: null,
      temperatureC: null,
      migDevices: g.migDevices,
    }));
  } else {
    throw new Error(`nvidia-smi found no GPUs: --query-gpu: ${describe(query.reason)}; -L: ${describe(list.reason)}`);
  }

  let groups: number[][] = [];
  if (topo.status === 'fulfilled') groups = parseTopo(topo.value).nvlinkGroups;
  else warnings.push(`nvidia-smi topo -m failed (no NVLink information): ${describe(topo.reason)}`);

  return {
    gpus: gpus.sort((a, b) => a.index - b.index),
    driverVersion: driverVersion ?? header.driverVersion,
    cudaVersion: header.cudaVersion,
    nvlinkGroups: groups,
    warnings,
  };
}

/**
 * A `run` for `detectGpus` that executes a real program: `command ...prefixArgs ...args`.
 * The default is `nvidia-smi` on PATH; tests pass `process.execPath` and a script path.
 * A non-zero exit rejects with the exit code and what the program printed.
 */
export function nvidiaSmiRunner(
  command = 'nvidia-smi',
  prefixArgs: readonly string[] = [],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): NvidiaSmiRun {
  return (args) =>
    new Promise((resolve, reject) => {
      execFile(
        command,
        [...prefixArgs, ...args],
        { env: options.env ?? process.env, timeout: options.timeoutMs ?? 15_000, maxBuffer: 16 * 1024 * 1024, windowsHide: true },
        (err, stdout, stderr) => {
          if (err) {
            const code = (err as NodeJS.ErrnoException & { code?: unknown }).code;
            const detail = `${String(stderr).trim()} ${String(stdout).trim()}`.trim();
            reject(new Error(`${[command, ...prefixArgs, ...args].join(' ')} exited ${String(code)}${detail ? `: ${detail}` : ''}`));
            return;
          }
          resolve(String(stdout));
        },
      );
    });
}
