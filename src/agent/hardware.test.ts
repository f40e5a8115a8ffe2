import { describe, expect, it } from 'vitest';
import { parseHealth } from './client/health.js';
import { AgentError } from './errors.js';
import { fakeDetection, parseFakeGpus } from './fake-gpus.js';
import { buildHardwareReport } from './hardware.js';
import { parseProbeOutput, runProbe } from './probe.js';
import { HardwareReportSchema } from './protocol.js';

const HOST = {
  hostname: 'gpu-01',
  platform: 'linux' as const,
  arch: 'x64',
  cpu: { logicalCores: 96, model: 'x' },
  memory: { totalBytes: 1024 ** 4, freeBytes: 0 },
  disk: { path: '/', totalBytes: 10, availableBytes: 5, freeBytes: 6 },
  network: [],
};

describe('--fake-gpus', () => {
  it('builds GPUs from the catalog, NVLink models in one group, reported as fake', () => {
    const detection = fakeDetection(parseFakeGpus('nvidia-h100-sxm5-80g:8'));
    expect(detection.gpus).toHaveLength(8);
    expect(detection.gpus[7]).toMatchObject({ index: 7, productName: 'NVIDIA H100 80GB HBM3', acceleratorId: 'nvidia-h100-sxm5-80g', memoryMiB: 81_920 });
    expect(detection.nvlinkGroups).toEqual([[0, 1, 2, 3, 4, 5, 6, 7]]);
    const report = buildHardwareReport({ detection, host: HOST, fake: true });
    expect(HardwareReportSchema.parse(report)).toEqual(report);
    expect(report.fake).toBe(true);
    expect(report.host).toEqual({ hostname: 'gpu-01', cpuCores: 96, ramBytes: 1024 ** 4, diskAvailableBytes: 5 });
  });

  it('numbers several specs on; a PCIe model gets no NVLink group', () => {
    const d = fakeDetection(parseFakeGpus('nvidia-rtx-4090-24g:2, nvidia-l40s-48g:1'));
    expect(d.gpus.map((g) => [g.index, g.acceleratorId])).toEqual([
      [0, 'nvidia-rtx-4090-24g'],
      [1, 'nvidia-rtx-4090-24g'],
      [2, 'nvidia-l40s-48g'],
    ]);
    expect(d.nvlinkGroups).toEqual([]);
  });

  it('refuses ids not in the catalog and malformed specs (usage, exit 2)', () => {
    for (const bad of ['nvidia-h100:8', 'nvidia-h100-sxm5-80g', 'nvidia-h100-sxm5-80g:0', 'nvidia-h100-sxm5-80g:65', '']) {
      expect(() => parseFakeGpus(bad), bad).toThrow(AgentError);
      try {
        parseFakeGpus(bad);
      } catch (e) {
        expect((e as AgentError).exitCode).toBe(2);
      }
    }
  });
});

describe('hardware report', () => {
  it('keeps unknown GPUs unknown and says so', () => {
    const report = buildHardwareReport({
      detection: {
        gpus: [
          { index: 0, uuid: 'GPU-1', productName: 'NVIDIA Mystery X9', acceleratorId: null, memoryMiB: 98_304, migMode: null, utilizationPct: 1, temperatureC: 30, migDevices: [] },
        ],
        driverVersion: '999.1',
        cudaVersion: '14.0',
        nvlinkGroups: [],
        warnings: [],
      },
      host: HOST,
      fake: false,
      measuredTflops: { '0': 700.5 },
    });
    expect(report.gpus[0]?.acceleratorId).toBeNull();
    expect(report.warnings.join('\n')).toMatch(/'NVIDIA Mystery X9' is not in the catalog/);
    expect(report.measuredTflops).toEqual({ '0': 700.5 });
    expect(HardwareReportSchema.safeParse(report).success).toBe(true);
  });
});

describe('heartbeat health from nvidia-smi', () => {
  it('reads the query and marks GPUs missing from it unhealthy', () => {
    const csv = '0, 97, 70000, 61\n1, [N/A], 12, 40\n';
    expect(parseHealth([0, 1, 2], csv)).toEqual([
      { index: 0, healthy: true, utilizationPct: 97, memoryUsedMiB: 70_000, temperatureC: 61 },
      { index: 1, healthy: true, utilizationPct: null, memoryUsedMiB: 12, temperatureC: 40 },
      { index: 2, healthy: false, utilizationPct: null, memoryUsedMiB: null, temperatureC: null },
    ]);
  });
});

describe('--probe', () => {
  it('reads the marker line among PyTorch noise', () => {
    const out = 'UserWarning: something\nSUANLI_PROBE {"tflops":{"0":731.2,"1":null}}\n';
    expect(parseProbeOutput(out)).toEqual({ kind: 'measured', tflops: { '0': 731.2 }, warnings: ['probe: GPU 1 could not be measured'] });
  });

  it('turns a skip, garbage or silence into a warning', () => {
    expect(parseProbeOutput('SUANLI_PROBE {"skip":"PyTorch sees no CUDA device"}\n')).toEqual({ kind: 'skipped', warning: 'probe skipped: PyTorch sees no CUDA device' });
    expect(parseProbeOutput('SUANLI_PROBE {oops\n').kind).toBe('skipped');
    expect(parseProbeOutput('').kind).toBe('skipped');
    expect(parseProbeOutput('SUANLI_PROBE {"tflops":{"0":null}}').kind).toBe('skipped');
  });

  it('skips when python is missing, and runs the real script through a stand-in interpreter', async () => {
    expect(await runProbe({ pythonCommand: '/no/such/python3' })).toEqual({ kind: 'skipped', warning: 'probe skipped: /no/such/python3 not found' });
    // A stand-in "python" that ignores the script and answers like it would on a GPU host.
    const fake = await runProbe({
      pythonCommand: process.execPath,
      pythonArgs: ['-e', 'if (process.env.CUDA_DEVICE_ORDER !== "PCI_BUS_ID") process.exit(9); console.log(\'SUANLI_PROBE {"tflops":{"0":650}}\')', '--'],
    });
    expect(fake).toEqual({ kind: 'measured', tflops: { '0': 650 }, warnings: [] });
  });
});
