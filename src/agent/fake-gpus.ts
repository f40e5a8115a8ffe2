/**
 * `--fake-gpus nvidia-h100-sxm5-80g:8`: GPUs made up from the catalog, for demos and tests on
 * machines without them. The report says `fake: true`, so the exchange shows such a node as
 * unverified everywhere; nothing here pretends to be a real device (uuids start with `FAKE-`).
 */
import { getAccelerator } from '../core/catalog/accelerators.js';
import { AgentError, AgentExitCodes } from './errors.js';
import type { GpuDetection } from './detect/nvidia-smi.js';

export interface FakeGpuSpec {
  readonly acceleratorId: string;
  readonly count: number;
}

/** The most fake GPUs one agent reports (the protocol allows 1024 indices). */
const MAX_FAKE_GPUS = 64;

/** Parses `id:count[,id:count…]`; an id not in the catalog is a usage error, never guessed. */
export function parseFakeGpus(spec: string): FakeGpuSpec[] {
  const parts = spec.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new AgentError('--fake-gpus: expected <catalog-id>:<count>, e.g. nvidia-h100-sxm5-80g:8', AgentExitCodes.usage);
  const specs = parts.map((part) => {
    const m = /^([a-z0-9-]+):(\d{1,4})$/.exec(part);
    if (!m) throw new AgentError(`--fake-gpus: '${part}' is not <catalog-id>:<count>`, AgentExitCodes.usage);
    const acceleratorId = m[1] ?? '';
    const count = Number(m[2]);
    if (getAccelerator(acceleratorId) === undefined) {
      throw new AgentError(`--fake-gpus: '${acceleratorId}' is not a catalog accelerator id (see GET /api/v1/catalog)`, AgentExitCodes.usage);
    }
    if (count < 1) throw new AgentError(`--fake-gpus: '${part}' needs at least one GPU`, AgentExitCodes.usage);
    return { acceleratorId, count };
  });
  const total = specs.reduce((n, s) => n + s.count, 0);
  if (total > MAX_FAKE_GPUS) throw new AgentError(`--fake-gpus: at most ${MAX_FAKE_GPUS} GPUs (got ${total})`, AgentExitCodes.usage);
  return specs;
}

/** A detection result shaped like nvidia-smi's, indices numbered across the specs in order. */
export function fakeDetection(specs: readonly FakeGpuSpec[]): GpuDetection {
  const gpus: GpuDetection['gpus'] = [];
  const nvlinkGroups: number[][] = [];
  for (const spec of specs) {
    const acc = getAccelerator(spec.acceleratorId);
    if (acc === undefined) throw new AgentError(`--fake-gpus: unknown accelerator '${spec.acceleratorId}'`, AgentExitCodes.usage);
    const group: number[] = [];
    for (let i = 0; i < spec.count; i++) {
      const index = gpus.length;
      group.push(index);
      gpus.push({
        index,
        uuid: `FAKE-${acc.id}-${index}`,
        productName: acc.smiNames[0] ?? acc.name,
        acceleratorId: acc.id,
        memoryMiB: acc.memoryGiB * 1024,
        migMode: null,
        utilizationPct: 0,
        temperatureC: null,
        migDevices: [],
      });
    }
    // Same-model fake GPUs on an NVLink model count as one NVLink domain, like a real HGX board.
    if (acc.interconnect === 'nvlink' && group.length >= 2) nvlinkGroups.push(group);
  }
  return { gpus, driverVersion: null, cudaVersion: null, nvlinkGroups, warnings: ['fake GPUs (--fake-gpus): nothing was detected or measured'] };
}
