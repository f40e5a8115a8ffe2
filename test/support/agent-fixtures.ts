/** Hardware reports as `suanli agent` sends them, for enrollment and hello in tests. */
import type { HardwareReport } from '../../src/agent/protocol.js';

export const A100 = 'nvidia-a100-sxm4-40g';
export const A100_SMI = 'NVIDIA A100-SXM4-40GB';

export function hardware(gpus: number, over: Partial<HardwareReport> = {}, product = A100_SMI, memoryMiB = 40_960): HardwareReport {
  return {
    gpus: Array.from({ length: gpus }, (_, index) => ({
      index, uuid: `GPU-${index}`, productName: product, acceleratorId: product === A100_SMI ? A100 : null, memoryMiB, migMode: 'disabled' as const,
    })),
    driverVersion: '550.54.15',
    cudaVersion: '12.4',
    nvlinkGroups: [Array.from({ length: gpus }, (_, i) => i)],
    fake: false,
    host: { hostname: 'gpu-01', cpuCores: 64, ramBytes: 512 * 1024 ** 3, diskAvailableBytes: 2 * 1024 ** 4 },
    warnings: [],
    ...over,
  };
}
