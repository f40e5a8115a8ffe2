/**
 * The hardware report (`HardwareReportSchema`) the agent sends at enrollment and in every
 * `hello`: detected (or fake) GPUs, host facts and, with `--probe`, measured TFLOPS.
 */
import { AGENT_PROTOCOL_VERSION, type HardwareReport } from './protocol.js';
import type { GpuDetection } from './detect/nvidia-smi.js';
import type { HostInfo } from './detect/host.js';

export const AGENT_VERSION = `0.1.0+protocol.${AGENT_PROTOCOL_VERSION}`;

const MAX_WARNINGS = 100;
const MAX_WARNING_CHARS = 1_000;

/** One line per GPU the catalog does not know: reported with a null id, never guessed. */
export function unknownGpuWarnings(detection: GpuDetection): string[] {
  return detection.gpus
    .filter((g) => g.acceleratorId === null)
    .map((g) => `GPU ${g.index} '${g.productName}' is not in the catalog: reported as unknown (it cannot be listed until the catalog knows it)`);
}

export function buildHardwareReport(input: {
  readonly detection: GpuDetection;
  readonly host: HostInfo;
  readonly fake: boolean;
  readonly measuredTflops?: Readonly<Record<string, number>>;
  readonly extraWarnings?: readonly string[];
}): HardwareReport {
  const { detection, host } = input;
  const warnings = [...detection.warnings, ...unknownGpuWarnings(detection), ...(input.extraWarnings ?? [])]
    .slice(0, MAX_WARNINGS)
    .map((w) => (w.length > MAX_WARNING_CHARS ? `${w.slice(0, MAX_WARNING_CHARS - 1)}…` : w));
  const report: HardwareReport = {
    gpus: detection.gpus.map((g) => ({
      index: g.index,
      uuid: g.uuid.slice(0, 128),
      productName: g.productName.slice(0, 256),
      acceleratorId: g.acceleratorId,
      memoryMiB: g.memoryMiB === null ? null : Math.round(g.memoryMiB),
      migMode: g.migMode,
    })),
    driverVersion: detection.driverVersion,
    cudaVersion: detection.cudaVersion,
    nvlinkGroups: detection.nvlinkGroups,
    fake: input.fake,
    host: {
      hostname: host.hostname.slice(0, 256),
      cpuCores: host.cpu.logicalCores,
      ramBytes: host.memory.totalBytes,
      diskAvailableBytes: host.disk?.availableBytes ?? null,
    },
    warnings,
  };
  if (input.measuredTflops !== undefined && Object.keys(input.measuredTflops).length > 0) report.measuredTflops = { ...input.measuredTflops };
  return report;
}
