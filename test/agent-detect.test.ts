import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { detectHost, diskOf, summariseCpus, summariseDisk, summariseNetwork } from '../src/agent/detect/host.js';
import {
  detectGpus,
  nvidiaSmiRunner,
  parseListGpus,
  parseQueryCsv,
  parseSmiHeader,
  parseTopo,
  type GpuDetection,
  type MigMode,
} from '../src/agent/detect/nvidia-smi.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const FAKE = join(here, 'support/fake-nvidia-smi.mjs');
const execFileP = promisify(execFile);

/** Same search order as src/core/catalog/accelerators.test.ts. */
function findFixtureDir(): string | undefined {
  const candidates = [
    process.env['SUANLI_NVIDIA_SMI_FIXTURES'],
    join(root, 'shared/fixtures/nvidia-smi'),
    join(root, '../shared/fixtures/nvidia-smi'),
  ];
  return candidates.find((d): d is string => d !== undefined && existsSync(d));
}

/**
 * Every capture, relative to the fixture folder: sectioned `.txt` files as themselves, bare
 * `<stem>__list-gpus.txt` / `<stem>__topo-m.txt` sets (multi-gpu/) as `<dir>/<stem>`.
 */
function listCaptures(dir: string, rel = ''): string[] {
  const out = new Set<string>();
  for (const name of readdirSync(join(dir, rel))) {
    const r = rel === '' ? name : `${rel}/${name}`;
    if (statSync(join(dir, r)).isDirectory()) for (const c of listCaptures(dir, r)) out.add(c);
    else if (name.endsWith('.txt')) out.add(name.includes('__') && rel !== '' ? r.slice(0, r.lastIndexOf('__')) : r);
  }
  return [...out].sort();
}

function fakeEnv(capture: string, phase?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FAKE_NVIDIA_SMI_CAPTURE: capture };
  if (phase !== undefined) env['FAKE_NVIDIA_SMI_PHASE'] = phase;
  else delete env['FAKE_NVIDIA_SMI_PHASE'];
  return env;
}

function fakeRun(capture: string, phase?: string) {
  return nvidiaSmiRunner(process.execPath, [FAKE], { env: fakeEnv(capture, phase) });
}

/** Runs the fake directly; resolves with code/stdout/stderr whatever the exit status. */
async function fake(capture: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [FAKE, ...args], { env: fakeEnv(capture) });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

interface Expected {
  count: number;
  productName: string;
  acceleratorId: string;
  memoryMiB: number | null;
  migMode: MigMode | null;
  migDevices: number;
  driverVersion: string | null;
  cudaVersion: string | null;
  nvlinkGroups: number[][];
  topoFails?: boolean;
}

const RTX2080S = { productName: 'NVIDIA GeForce RTX 2080 SUPER', acceleratorId: 'nvidia-rtx-2080-super-8g', memoryMiB: 8192 };
const H100 = { productName: 'NVIDIA H100 80GB HBM3', acceleratorId: 'nvidia-h100-sxm5-80g', memoryMiB: 81559 };
const H200 = { productName: 'NVIDIA H200', acceleratorId: 'nvidia-h200-sxm-141g', memoryMiB: 143771 };
const one = { count: 1, nvlinkGroups: [], migMode: null, migDevices: 0 };

/** What each capture must yield (idle phase). A capture missing from this table fails the test. */
const EXPECTED: Record<string, Expected> = {
  'linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05.txt': { ...one, ...RTX2080S, driverVersion: '595.71.05', cudaVersion: '13.2' },
  'linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.txt': { ...one, ...RTX2080S, driverVersion: '610.57.04', cudaVersion: '13.3' },
  'linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05.txt': {
    ...one,
    productName: 'NVIDIA GeForce RTX 4080 SUPER',
    acceleratorId: 'nvidia-rtx-4080-super-16g',
    memoryMiB: 16376,
    driverVersion: '595.71.05',
    cudaVersion: '13.2',
  },
  'linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt': { ...one, ...H100, migMode: 'disabled', driverVersion: '590.48.01', cudaVersion: '13.1' },
  'linux-x86_64__nvidia-h100-mig__590.48.01.txt': { ...one, ...H100, migMode: 'enabled', migDevices: 4, driverVersion: '590.48.01', cudaVersion: '13.1' },
  'linux-x86_64__nvidia-h200-mig__590.48.01.txt': { ...one, ...H200, migMode: 'enabled', migDevices: 5, driverVersion: '590.48.01', cudaVersion: '13.1' },
  'linux-x86_64__nvidia-h200__590.48.01.txt': { ...one, ...H200, migMode: 'disabled', driverVersion: '590.48.01', cudaVersion: '13.1' },
  'linux-x86_64__nvidia-l40s__595.80.txt': {
    ...one,
    productName: 'NVIDIA L40S',
    acceleratorId: 'nvidia-l40s-48g',
    memoryMiB: 46068,
    driverVersion: '595.80',
    cudaVersion: '13.2',
  },
  'windows-x86_64__nvidia-geforce-rtx-2080-super__591.86.txt': { ...one, ...RTX2080S, driverVersion: '591.86', cudaVersion: '13.1', topoFails: true },
  'windows-x86_64__nvidia-geforce-rtx-2080-super__610.62.txt': { ...one, ...RTX2080S, driverVersion: '610.62', cudaVersion: '13.3' },
  // -L and topo -m only: no query-gpu, no summary table, so memory and versions are unknown.
  'multi-gpu/h100-sxm-x8': {
    ...H100,
    count: 8,
    memoryMiB: null,
    migMode: null,
    migDevices: 0,
    driverVersion: null,
    cudaVersion: null,
    nvlinkGroups: [[0, 1, 2, 3, 4, 5, 6, 7]],
  },
};

const fixtureDir = findFixtureDir();

describe.skipIf(fixtureDir === undefined)('detectGpus through the fake nvidia-smi, every capture', () => {
  const dir = fixtureDir as string;
  const captures = fixtureDir === undefined ? [] : listCaptures(dir);

  it('finds every capture and has an expectation for each', () => {
    expect(captures.length).toBeGreaterThanOrEqual(11);
    expect(captures).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(captures)('%s', async (capture) => {
    const want = EXPECTED[capture];
    expect(want, `no expectation for ${capture}`).toBeDefined();
    if (want === undefined) return;
    const got: GpuDetection = await detectGpus(fakeRun(join(dir, capture)));
    expect(got.gpus).toHaveLength(want.count);
    got.gpus.forEach((g, i) => {
      expect(g.index).toBe(i);
      expect(g.productName).toBe(want.productName);
      expect(g.acceleratorId).toBe(want.acceleratorId);
      expect(g.memoryMiB).toBe(want.memoryMiB);
      expect(g.migMode).toBe(want.migMode);
      expect(g.migDevices).toHaveLength(want.migDevices);
      expect(g.uuid).toMatch(/^GPU-[0-9a-f-]{36}$/);
    });
    expect(got.driverVersion).toBe(want.driverVersion);
    expect(got.cudaVersion).toBe(want.cudaVersion);
    expect(got.nvlinkGroups).toEqual(want.nvlinkGroups);
    expect(got.warnings.some((w) => w.includes('topo -m'))).toBe(want.topoFails === true);
    if (want.memoryMiB !== null) {
      // query-gpu worked: utilisation is a number, except on MIG GPUs where nvidia-smi says [N/A].
      for (const g of got.gpus) {
        expect(g.temperatureC).toEqual(expect.any(Number));
        if (g.migMode === 'enabled') expect(g.utilizationPct).toBeNull();
        else expect(g.utilizationPct).toEqual(expect.any(Number));
      }
    } else {
      expect(got.warnings.some((w) => w.includes('--query-gpu failed'))).toBe(true);
    }
  });

  it('MIG captures list the MIG devices with their profiles', async () => {
    const got = await detectGpus(fakeRun(join(dir, 'linux-x86_64__nvidia-h100-mig__590.48.01.txt')));
    expect(got.gpus[0]?.migDevices.map((m) => m.profile)).toEqual(['3g.40gb', '2g.20gb', '1g.10gb', '1g.10gb']);
    expect(got.gpus[0]?.migDevices.map((m) => m.index)).toEqual([0, 1, 2, 3]);
    expect(got.gpus[0]?.migDevices[0]?.uuid).toMatch(/^MIG-/);
  });

  it('the load phase of a capture replays its own values', async () => {
    const got = await detectGpus(fakeRun(join(dir, 'linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt'), 'load'));
    expect(got.gpus[0]?.utilizationPct).toBe(100);
    expect(got.gpus[0]?.temperatureC).toBe(59);
  });

  it('the fake answers a reordered field list, with aliases, header and units', async () => {
    const capture = join(dir, 'linux-x86_64__nvidia-h200__590.48.01.txt');
    const withUnits = await fake(capture, ['--query-gpu=memory.total,gpu_name,index,driver_version', '--format=csv']);
    expect(withUnits.code).toBe(0);
    expect(withUnits.stdout).toBe('memory.total [MiB], name, index, driver_version\n143771 MiB, NVIDIA H200, 0, 590.48.01\n');
    const bare = await fake(capture, ['--query-gpu=temperature.gpu,memory.total,name', '--format=csv,noheader,nounits']);
    expect(bare.stdout).toBe('28, 143771, NVIDIA H200\n');
    expect(parseQueryCsv(['temperature.gpu', 'memory.total', 'name'], bare.stdout)).toEqual([
      { 'temperature.gpu': '28', 'memory.total': '143771', name: 'NVIDIA H200' },
    ]);
  });

  it('the fake rejects an unknown field like nvidia-smi (exit 2)', async () => {
    const r = await fake(join(dir, 'linux-x86_64__nvidia-l40s__595.80.txt'), ['--query-gpu=name,not.a.field', '--format=csv']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Field "not.a.field" is not a valid field to query.');
    expect(r.stdout).toBe('');
  });

  it('the fake replays a recorded failure and exits 1 for what was not recorded', async () => {
    const win = await fake(join(dir, 'windows-x86_64__nvidia-geforce-rtx-2080-super__591.86.txt'), ['topo', '-m']);
    expect(win.code).toBe(255);
    const multi = await fake(join(dir, 'multi-gpu/h100-sxm-x8'), ['--query-gpu=name', '--format=csv']);
    expect(multi.code).toBe(1);
    const topo = await fake(join(dir, 'multi-gpu/h100-sxm-x8'), ['topo', '-m']);
    expect(topo.code).toBe(0);
    expect(parseTopo(topo.stdout).nvlinks).toHaveLength(28);
  });
});

describe('detectGpus with an inline runner', () => {
  const LIST = 'GPU 0: NVIDIA Mystery X9 (UUID: GPU-11111111-2222-3333-4444-555555555555)\n';
  const CSV = '0, GPU-11111111-2222-3333-4444-555555555555, NVIDIA Mystery X9, 98304, 999.1, [N/A], 12, 40\n';

  it('reports an unknown product with acceleratorId null, never guessed', async () => {
    const calls: string[][] = [];
    const got = await detectGpus(async (args) => {
      calls.push(args);
      if (args[0]?.startsWith('--query-gpu=')) return CSV;
      if (args[0] === '-L') return LIST;
      if (args[0] === 'topo') throw new Error('exit 1');
      return '| NVIDIA-SMI 999.1   Driver Version: 999.1   CUDA Version: 14.0 |\n';
    });
    expect(calls).toContainEqual([
      '--query-gpu=index,uuid,name,memory.total,driver_version,mig.mode.current,utilization.gpu,temperature.gpu',
      '--format=csv,noheader,nounits',
    ]);
    expect(calls).toContainEqual(['-L']);
    expect(calls).toContainEqual(['topo', '-m']);
    expect(got.gpus).toEqual([
      {
        index: 0,
        uuid: 'GPU-11111111-2222-3333-4444-555555555555',
        productName: 'NVIDIA Mystery X9',
        acceleratorId: null,
        memoryMiB: 98304,
        migMode: null,
        utilizationPct: 12,
        temperatureC: 40,
        migDevices: [],
      },
    ]);
    expect(got.driverVersion).toBe('999.1');
    expect(got.cudaVersion).toBe('14.0');
    expect(got.nvlinkGroups).toEqual([]);
    expect(got.warnings).toHaveLength(1);
  });

  it('throws when neither --query-gpu nor -L works', async () => {
    await expect(
      detectGpus(async () => {
        throw new Error('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver');
      }),
    ).rejects.toThrow(/no GPUs/);
  });

  it('the real runner rejects with the exit code and message', async () => {
    const run = nvidiaSmiRunner(process.execPath, ['-e', 'process.stderr.write("boom"); process.exit(3)']);
    await expect(run([])).rejects.toThrow(/exited 3: boom/);
  });
});

describe('parseQueryCsv', () => {
  const F = ['index', 'name', 'memory.total', 'mig.mode.current', 'utilization.gpu'];

  it('splits, trims and maps [N/A] / [Not Supported] to null', () => {
    const text = '0, NVIDIA H100 80GB HBM3, 81559, Enabled, [N/A]\r\n1 ,NVIDIA L40S,46068,[Not Supported],  7 \n\n';
    expect(parseQueryCsv(F, text)).toEqual([
      { index: '0', name: 'NVIDIA H100 80GB HBM3', 'memory.total': '81559', 'mig.mode.current': 'Enabled', 'utilization.gpu': null },
      { index: '1', name: 'NVIDIA L40S', 'memory.total': '46068', 'mig.mode.current': null, 'utilization.gpu': '7' },
    ]);
  });

  it('skips a header line, with or without units', () => {
    const text = 'index, name, memory.total [MiB], mig.mode.current, utilization.gpu [%]\n0, X, 1, Disabled, [Requested functionality has been deprecated]\n';
    expect(parseQueryCsv(F, text)).toEqual([{ index: '0', name: 'X', 'memory.total': '1', 'mig.mode.current': 'Disabled', 'utilization.gpu': null }]);
  });

  it('throws on a row with the wrong number of values', () => {
    expect(() => parseQueryCsv(F, '0, X, 1\n')).toThrow(/expected 5 values, got 3/);
  });

  it('returns nothing for empty output', () => {
    expect(parseQueryCsv(F, '')).toEqual([]);
  });
});

describe('parseListGpus', () => {
  it('reads GPUs and the MIG devices listed under them', () => {
    const text = [
      'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaaaaaa-0000-0000-0000-000000000000)',
      '  MIG 3g.40gb     Device  0: (UUID: MIG-00000000-0000-0000-0000-000000000000)',
      '  MIG 1c.3g.71gb  Device  1: (UUID: MIG-GPU-aaaaaaaa-0000-0000-0000-000000000000/2/0)',
      'GPU 1: NVIDIA GeForce RTX 4080 SUPER (UUID: GPU-bbbbbbbb-0000-0000-0000-000000000000)',
      '',
    ].join('\r\n');
    expect(parseListGpus(text)).toEqual([
      {
        index: 0,
        name: 'NVIDIA H100 80GB HBM3',
        uuid: 'GPU-aaaaaaaa-0000-0000-0000-000000000000',
        migDevices: [
          { index: 0, profile: '3g.40gb', uuid: 'MIG-00000000-0000-0000-0000-000000000000' },
          { index: 1, profile: '1c.3g.71gb', uuid: 'MIG-GPU-aaaaaaaa-0000-0000-0000-000000000000/2/0' },
        ],
      },
      { index: 1, name: 'NVIDIA GeForce RTX 4080 SUPER', uuid: 'GPU-bbbbbbbb-0000-0000-0000-000000000000', migDevices: [] },
    ]);
  });

  it('ignores noise', () => {
    expect(parseListGpus('No devices were found\n')).toEqual([]);
  });
});

describe('parseTopo', () => {
  it('groups GPUs joined by NV# links and ignores PCIe paths', () => {
    const text = [
      '\tGPU0\tGPU1\tGPU2\tGPU3\tNIC0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID',
      'GPU0\t X \tNV12\tSYS\tSYS\tPIX\t0-15\t0\t\tN/A',
      'GPU1\tNV12\t X \tSYS\tSYS\tPIX\t0-15\t0\t\tN/A',
      'GPU2\tSYS\tSYS\t X \tNV4\tSYS\t16-31\t1\t\tN/A',
      'GPU3\tSYS\tSYS\tNV4\t X \tSYS\t16-31\t1\t\tN/A',
      'NIC0\tPIX\tPIX\tSYS\tSYS\t X ',
      '',
      'Legend:',
      '  NV#  = Connection traversing a bonded set of # NVLinks',
    ].join('\n');
    const t = parseTopo(text);
    expect(t.gpus).toEqual([0, 1, 2, 3]);
    expect(t.nvlinks).toEqual([
      { a: 0, b: 1, links: 12 },
      { a: 2, b: 3, links: 4 },
    ]);
    expect(t.nvlinkGroups).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });

  it('handles the underlined (ANSI) header of a single GPU and finds no group', () => {
    const text = '\t\u001b[4mGPU0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\u001b[0m\nGPU0\t X \t0-19\t0\t\tN/A\n';
    expect(parseTopo(text)).toEqual({ gpus: [0], nvlinks: [], nvlinkGroups: [] });
  });

  it('returns nothing for an error message', () => {
    expect(parseTopo("ERROR: Option -m is missing its value. Please run 'nvidia-smi -h' for help.\n").nvlinkGroups).toEqual([]);
  });
});

describe('parseSmiHeader', () => {
  it('reads Driver/CUDA (≤ 59x) and KMD/CUDA UMD (≥ 610) headers', () => {
    expect(parseSmiHeader('| NVIDIA-SMI 590.48.01              Driver Version: 590.48.01      CUDA Version: 13.1     |')).toEqual({
      driverVersion: '590.48.01',
      cudaVersion: '13.1',
    });
    expect(parseSmiHeader('| NVIDIA-SMI 610.57.04              KMD Version: 610.57.04     CUDA UMD Version: 13.3     |')).toEqual({
      driverVersion: '610.57.04',
      cudaVersion: '13.3',
    });
    expect(parseSmiHeader('nothing here')).toEqual({ driverVersion: null, cudaVersion: null });
  });
});

describe('host detection', () => {
  it('summarises CPUs', () => {
    const cpu = { model: ' AMD EPYC 9654 96-Core Processor ', speed: 2400, times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 } };
    expect(summariseCpus([cpu, cpu, cpu])).toEqual({ logicalCores: 3, model: 'AMD EPYC 9654 96-Core Processor' });
    expect(summariseCpus([cpu, cpu], 1)).toEqual({ logicalCores: 1, model: 'AMD EPYC 9654 96-Core Processor' });
    expect(summariseCpus([])).toEqual({ logicalCores: 0, model: null });
  });

  it('summarises a statfs result in bytes', () => {
    expect(summariseDisk('/data', { bsize: 4096, blocks: 1000, bfree: 300, bavail: 250 })).toEqual({
      path: '/data',
      totalBytes: 4_096_000,
      freeBytes: 1_228_800,
      availableBytes: 1_024_000,
    });
  });

  it('flattens network interfaces, optionally without loopback', () => {
    const ifaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = {
      lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
      eth0: [
        { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:42:ac:11:00:02', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
        { address: '10.0.0.5', netmask: '255.255.255.0', family: 'IPv4', mac: '02:42:ac:11:00:02', internal: false, cidr: '10.0.0.5/24' },
      ],
      down: undefined,
    };
    expect(summariseNetwork(ifaces, { includeInternal: false })).toEqual([
      { name: 'eth0', address: '10.0.0.5', family: 'IPv4', mac: '02:42:ac:11:00:02', internal: false, cidr: '10.0.0.5/24' },
      { name: 'eth0', address: 'fe80::1', family: 'IPv6', mac: '02:42:ac:11:00:02', internal: false, cidr: 'fe80::1/64' },
    ]);
    expect(summariseNetwork(ifaces)).toHaveLength(3);
  });

  it('reads this machine', async () => {
    const host = await detectHost({ diskPath: here });
    expect(host.cpu.logicalCores).toBeGreaterThan(0);
    expect(host.memory.totalBytes).toBe(os.totalmem());
    expect(host.disk?.path).toBe(here);
    expect(host.disk?.totalBytes).toBeGreaterThan(0);
    expect(host.disk?.availableBytes).toBeLessThanOrEqual(host.disk?.totalBytes ?? 0);
    expect(Array.isArray(host.network)).toBe(true);
    expect(await diskOf(join(here, 'no/such/dir'))).toBeNull();
  });
});
