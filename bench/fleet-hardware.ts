/**
 * The hardware report bench:fleet's simulated agents send: what `suanli agent --fake-gpus
 * nvidia-h100-sxm5-80g:8` reports (the agent's own builders), on a made-up 128-core host.
 */
import type { HostInfo } from '../src/agent/detect/host.js';
import { fakeDetection, parseFakeGpus } from '../src/agent/fake-gpus.js';
import { buildHardwareReport } from '../src/agent/hardware.js';
import type { HardwareReport } from '../src/agent/protocol.js';

export const FLEET_ACCELERATOR = 'nvidia-h100-sxm5-80g';

const HOST: HostInfo = {
  hostname: 'fleet-sim', platform: 'linux', arch: 'x64', cpu: { logicalCores: 128, model: null },
  memory: { totalBytes: 2 ** 40, freeBytes: 2 ** 40 }, disk: null, network: [],
};

export function fakeHardware(): HardwareReport {
  return buildHardwareReport({ detection: fakeDetection(parseFakeGpus(`${FLEET_ACCELERATOR}:8`)), host: HOST, fake: true });
}
