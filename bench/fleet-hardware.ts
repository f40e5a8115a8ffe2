/** The hardware report bench:fleet's simulated agents send: 8 fake H100s (unverified, as `--fake-gpus`). */
import type { HardwareReport } from '../src/agent/protocol.js';

export const FLEET_ACCELERATOR = 'nvidia-h100-sxm5-80g';

export function fakeHardware(): HardwareReport {
  return {
    gpus: Array.from({ length: 8 }, (_, index) => ({
      index, uuid: `GPU-fleet-${index}`, productName: 'NVIDIA H100 80GB HBM3', acceleratorId: FLEET_ACCELERATOR, memoryMiB: 81_559, migMode: 'disabled' as const,
    })),
    driverVersion: null, cudaVersion: null, nvlinkGroups: [[0, 1, 2, 3, 4, 5, 6, 7]], fake: true,
    host: { hostname: 'fleet-sim', cpuCores: 128, ramBytes: 2 ** 40, diskAvailableBytes: 2 ** 42 },
    warnings: [],
  };
}
