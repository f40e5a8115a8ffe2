/**
 * Host discovery for the provider agent: CPU, RAM, disk and network, from Node's `os` and
 * `fs.statfs`. Each part is a small function over plain inputs so tests can feed it fixed data;
 * `detectHost` wires them to the real machine.
 */
import { statfs } from 'node:fs/promises';
import os from 'node:os';

export interface CpuSummary {
  /** Logical cores the process may use (`os.availableParallelism()`, else `os.cpus().length`). */
  logicalCores: number;
  /** The model string of the first core, or null where the OS reports none. */
  model: string | null;
}

export interface MemorySummary {
  totalBytes: number;
  freeBytes: number;
}

export interface DiskSummary {
  path: string;
  totalBytes: number;
  /** Free to an unprivileged user (`bavail`), the figure that matters for workloads. */
  availableBytes: number;
  /** Free including blocks reserved for root (`bfree`). */
  freeBytes: number;
}

export interface NetworkInterfaceSummary {
  name: string;
  address: string;
  family: 'IPv4' | 'IPv6';
  mac: string;
  internal: boolean;
  cidr: string | null;
}

export interface HostInfo {
  hostname: string;
  platform: NodeJS.Platform;
  arch: string;
  cpu: CpuSummary;
  memory: MemorySummary;
  disk: DiskSummary | null;
  network: NetworkInterfaceSummary[];
}

export function summariseCpus(cpus: readonly os.CpuInfo[], availableParallelism?: number): CpuSummary {
  const logicalCores = availableParallelism !== undefined && availableParallelism > 0 ? availableParallelism : cpus.length;
  const model = cpus[0]?.model.trim() ?? '';
  return { logicalCores, model: model === '' ? null : model };
}

export function summariseDisk(path: string, s: { bsize: number; blocks: number; bfree: number; bavail: number }): DiskSummary {
  return { path, totalBytes: s.bsize * s.blocks, freeBytes: s.bsize * s.bfree, availableBytes: s.bsize * s.bavail };
}

/** Flattens `os.networkInterfaces()`; `includeInternal: false` drops loopback addresses. */
export function summariseNetwork(
  ifaces: NodeJS.Dict<os.NetworkInterfaceInfo[]>,
  { includeInternal = true }: { includeInternal?: boolean } = {},
): NetworkInterfaceSummary[] {
  const out: NetworkInterfaceSummary[] = [];
  for (const [name, addrs] of Object.entries(ifaces)) {
    for (const a of addrs ?? []) {
      if (!includeInternal && a.internal) continue;
      // Node 18.0–18.3 reported family as a number; normalise.
      const fam = a.family as string | number;
      const family = fam === 'IPv6' || fam === 6 ? 'IPv6' : 'IPv4';
      out.push({ name, address: a.address, family, mac: a.mac, internal: a.internal, cidr: a.cidr ?? null });
    }
  }
  return out.sort((x, y) => x.name.localeCompare(y.name) || x.family.localeCompare(y.family) || x.address.localeCompare(y.address));
}

/** Capacity of the file system holding `path`; null where it cannot be read. */
export async function diskOf(path: string): Promise<DiskSummary | null> {
  try {
    return summariseDisk(path, await statfs(path));
  } catch {
    return null;
  }
}

export async function detectHost({ diskPath = process.cwd() }: { diskPath?: string } = {}): Promise<HostInfo> {
  const parallelism = typeof os.availableParallelism === 'function' ? os.availableParallelism() : undefined;
  return {
    hostname: os.hostname(),
    platform: process.platform,
    arch: process.arch,
    cpu: summariseCpus(os.cpus(), parallelism),
    memory: { totalBytes: os.totalmem(), freeBytes: os.freemem() },
    disk: await diskOf(diskPath),
    network: summariseNetwork(os.networkInterfaces()),
  };
}
