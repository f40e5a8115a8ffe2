/**
 * The runtime port: how a lease's workload is started and stopped on this host. Two adapters
 * (`process.ts`, `docker.ts`); the supervisor (`supervisor.ts`) owns the lease lifecycle, the
 * scratch dir and the timers, and talks only to this interface.
 */
import type { Access, LeaseSpec } from '../protocol.js';

export type LogStream = 'stdout' | 'stderr';

export interface WorkloadExit {
  readonly exitCode: number | null;
  readonly signal: string | null;
}

export interface StartedWorkload {
  /** How the buyer reaches the workload, sent as `lease.ready`. */
  readonly access: Access;
  /** Settles once the workload has ended, by itself or through `stop`; never rejects. */
  readonly exit: Promise<WorkloadExit>;
  /**
   * Ends the workload: a polite signal, `graceMs` to finish, then a kill. Resolves when nothing of
   * it runs any more. Safe to call twice and after it exited by itself.
   */
  stop(graceMs: number): Promise<void>;
}

export interface StartContext {
  readonly lease: LeaseSpec;
  /** The lease's private dir `<state-dir>/scratch/<leaseId>`, already created (0700). */
  readonly scratchDir: string;
  readonly onLog: (stream: LogStream, line: string) => void;
}

export interface Runtime {
  readonly kind: 'process' | 'docker';
  /** Resolves as soon as the workload runs; rejects (→ `lease.failed`) when it cannot start. */
  start(ctx: StartContext): Promise<StartedWorkload>;
  /** At agent start, before anything runs: removes workloads a previous run of this node left. */
  sweep?(): Promise<void>;
}

/** The variables every workload sees, whatever the buyer's env says. */
export function leaseVariables(lease: LeaseSpec, scratchDir: string): Record<string, string> {
  const devices = lease.gpuIndices.join(',');
  return {
    CUDA_VISIBLE_DEVICES: devices,
    NVIDIA_VISIBLE_DEVICES: devices,
    // Makes CUDA number devices like nvidia-smi does; its default (fastest first) may not.
    CUDA_DEVICE_ORDER: 'PCI_BUS_ID',
    SUANLI_LEASE_ID: lease.leaseId,
    SUANLI_SCRATCH: scratchDir,
  };
}
