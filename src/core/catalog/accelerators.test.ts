import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findAcceleratorBySmiName, getAccelerator, listAccelerators } from './accelerators.js';

const REQUIRED_IDS = [
  'nvidia-v100-sxm2-16g',
  'nvidia-v100-sxm2-32g',
  'nvidia-a100-pcie-40g',
  'nvidia-a100-sxm4-40g',
  'nvidia-a100-pcie-80g',
  'nvidia-a100-sxm4-80g',
  'nvidia-a800-sxm4-80g',
  'nvidia-h100-pcie-80g',
  'nvidia-h100-sxm5-80g',
  'nvidia-h800-sxm5-80g',
  'nvidia-h20-96g',
  'nvidia-h200-sxm-141g',
  'nvidia-l20-48g',
  'nvidia-l40-48g',
  'nvidia-l40s-48g',
  'nvidia-a10-24g',
  'nvidia-a40-48g',
  'nvidia-rtx-3090-24g',
  'nvidia-rtx-4090-24g',
  'nvidia-rtx-4080-super-16g',
  'nvidia-rtx-2080-super-8g',
  'nvidia-b200-180g',
  'huawei-ascend-910b',
];

/** Product names printed in the nvidia-smi fixtures (/work/shared/fixtures/nvidia-smi). */
const FIXTURE_PRODUCT_NAMES: Record<string, string> = {
  'NVIDIA GeForce RTX 2080 SUPER': 'nvidia-rtx-2080-super-8g',
  'NVIDIA GeForce RTX 4080 SUPER': 'nvidia-rtx-4080-super-16g',
  'NVIDIA H100 80GB HBM3': 'nvidia-h100-sxm5-80g',
  'NVIDIA H200': 'nvidia-h200-sxm-141g',
  'NVIDIA L40S': 'nvidia-l40s-48g',
};

describe('accelerator catalog', () => {
  const all = listAccelerators();

  it('has at least 24 models with unique ids', () => {
    expect(all.length).toBeGreaterThanOrEqual(24);
    expect(new Set(all.map((a) => a.id)).size).toBe(all.length);
  });

  it.each(REQUIRED_IDS)('contains %s', (id) => {
    expect(getAccelerator(id)?.id).toBe(id);
  });

  it('has at least four domestic accelerators from at least four vendors', () => {
    const domestic = all.filter((a) => ['huawei', 'cambricon', 'hygon', 'kunlunxin', 'enflame'].includes(a.vendor));
    expect(domestic.length).toBeGreaterThanOrEqual(4);
    expect(new Set(domestic.map((a) => a.vendor)).size).toBeGreaterThanOrEqual(4);
    for (const a of domestic) expect(a.stack).not.toBe('cuda');
  });

  it('gives the A100 the paper figures: 312 dense FP16 TFLOPS, 624 INT8 TOPS', () => {
    for (const id of ['nvidia-a100-pcie-40g', 'nvidia-a100-sxm4-40g', 'nvidia-a100-pcie-80g', 'nvidia-a100-sxm4-80g']) {
      const a = getAccelerator(id);
      expect(a?.fp16Tflops).toBe(312);
      expect(a?.int8Tops).toBe(624);
      expect(a?.fp32Tflops).toBe(19.5);
    }
    expect(getAccelerator('nvidia-a100-sxm4-40g')).toMatchObject({ memoryGiB: 40, interconnect: 'nvlink', stack: 'cuda' });
    expect(getAccelerator('nvidia-a100-pcie-40g')).toMatchObject({ memoryGiB: 40, interconnect: 'pcie' });
  });

  it('uses dense figures for Hopper (989, not the sparse 1979)', () => {
    expect(getAccelerator('nvidia-h100-sxm5-80g')?.fp16Tflops).toBe(989);
    expect(getAccelerator('nvidia-h100-sxm5-80g')?.int8Tops).toBe(1979);
  });

  it('has sane, positive numbers everywhere', () => {
    for (const a of all) {
      for (const v of [a.memoryGiB, a.memoryBandwidthGBps, a.fp16Tflops, a.fp32Tflops, a.int8Tops]) {
        expect(Number.isFinite(v) && v > 0, `${a.id}: ${v}`).toBe(true);
      }
      // Tensor FP16 is at least the non-tensor FP32 rate on every part we list.
      expect(a.fp16Tflops, a.id).toBeGreaterThanOrEqual(a.fp32Tflops);
      expect(a.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)+$/);
    }
  });

  it('never lists one product name under two models', () => {
    const names = all.flatMap((a) => a.smiNames.map((n) => n.toLowerCase()));
    expect(new Set(names).size).toBe(names.length);
  });

  it('maps every smiName back to its model', () => {
    for (const a of all) for (const n of a.smiNames) expect(findAcceleratorBySmiName(n)?.id).toBe(a.id);
  });
});

describe('findAcceleratorBySmiName', () => {
  it.each(Object.entries(FIXTURE_PRODUCT_NAMES))('maps fixture name %s → %s', (name, id) => {
    expect(findAcceleratorBySmiName(name)?.id).toBe(id);
  });

  it('maps the common data-centre names', () => {
    expect(findAcceleratorBySmiName('NVIDIA A100-SXM4-40GB')?.id).toBe('nvidia-a100-sxm4-40g');
    expect(findAcceleratorBySmiName('NVIDIA A100-PCIE-40GB')?.id).toBe('nvidia-a100-pcie-40g');
    expect(findAcceleratorBySmiName('NVIDIA A100 80GB PCIe')?.id).toBe('nvidia-a100-pcie-80g');
    expect(findAcceleratorBySmiName('Tesla V100-SXM2-32GB')?.id).toBe('nvidia-v100-sxm2-32g');
    expect(findAcceleratorBySmiName('NVIDIA GeForce RTX 4090')?.id).toBe('nvidia-rtx-4090-24g');
  });

  it('is case-insensitive and trims whitespace', () => {
    expect(findAcceleratorBySmiName('  nvidia h100 80gb hbm3\n')?.id).toBe('nvidia-h100-sxm5-80g');
    expect(findAcceleratorBySmiName('NVIDIA  L40S')?.id).toBe('nvidia-l40s-48g');
  });

  it.each(['', 'NVIDIA', 'NVIDIA H100', 'NVIDIA H200 NVL', 'NVIDIA L40S-X', 'NVIDIA GeForce RTX 4080', 'Tesla V100', 'AMD Radeon'])(
    'does not guess on unknown name %j',
    (name) => {
      expect(findAcceleratorBySmiName(name)).toBeUndefined();
    },
  );

  it('returns undefined for an unknown id', () => {
    expect(getAccelerator('nvidia-a100')).toBeUndefined();
  });
});

/**
 * Reads the real nvidia-smi captures. They live in the shared workspace, not the repo; where they
 * are absent (a bare CI checkout) this block is skipped and the table above still pins the names.
 */
function findFixtureDir(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = resolve(here, '../../..');
  const candidates = [
    process.env['SUANLI_NVIDIA_SMI_FIXTURES'],
    join(root, 'shared/fixtures/nvidia-smi'),
    join(root, '../shared/fixtures/nvidia-smi'),
  ];
  return candidates.find((d): d is string => d !== undefined && existsSync(d));
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? listFiles(p) : name.endsWith('.txt') ? [p] : [];
  });
}

/** Product names from `nvidia-smi -q` ("Product Name : X") and `nvidia-smi -L` ("GPU 0: X (UUID: …)"). */
function productNamesIn(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/^\s*Product Name\s*:\s*(.+?)\s*$/gm)) if (m[1]) names.push(m[1]);
  for (const m of text.matchAll(/^GPU \d+: (.+?) \(UUID: /gm)) if (m[1]) names.push(m[1]);
  return names;
}

const fixtureDir = findFixtureDir();

describe.skipIf(fixtureDir === undefined)('nvidia-smi fixtures', () => {
  it('every product name in every fixture maps to a catalog model', () => {
    const files = listFiles(fixtureDir as string);
    expect(files.length).toBeGreaterThan(0);
    const seen = new Set<string>();
    for (const file of files) {
      for (const name of productNamesIn(readFileSync(file, 'utf8'))) {
        seen.add(name);
        expect(findAcceleratorBySmiName(name), `${name} in ${file}`).toBeDefined();
      }
    }
    expect([...seen].sort()).toEqual(Object.keys(FIXTURE_PRODUCT_NAMES).sort());
    for (const name of seen) expect(findAcceleratorBySmiName(name)?.id).toBe(FIXTURE_PRODUCT_NAMES[name]);
  });
});
