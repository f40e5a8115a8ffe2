/**
 * The agent protocol: the only contract between `suanli agent` (on a provider's GPU host) and the
 * exchange. Both sides import these schemas; the exchange validates every message it receives
 * and drops the connection (close code 4400) on one that does not parse.
 *
 * 1. Enrollment (HTTP). A provider creates a one-time token (`POST /api/v1/enrollment-tokens`,
 *    stating the region and, optionally, the model and GPU count it lists). The agent sends it
 *    with what it detected to `POST /api/v1/agent/enroll` and gets a node id and a long-lived
 *    node token, which it keeps in its state dir. The token is used once; only its hash is kept.
 * 2. Session (WebSocket `GET /api/v1/agent/ws`, header `Authorization: Bearer <nodeToken>`).
 *    The agent sends `hello` (hardware and what it runs now); the exchange answers `welcome` with
 *    the full list of leases that should run on this node (reconciliation: the exchange decides
 *    what should run, the agent reports what runs; it starts what is missing and stops the rest).
 *    Then `heartbeat` every `heartbeatIntervalMs` up; `lease.start` / `lease.stop` down;
 *    `lease.ready` / `lease.log` / `lease.exited` / `lease.stopped` / `lease.failed` up.
 * 3. Health. Three missed heartbeats (no message for 3 × interval) = the node is offline: the
 *    exchange sets it offline (its asks stop matching) and interrupts its active leases
 *    (reason `node_lost`, SLA credit). Reconnecting with a valid hello sets it online again.
 * 4. Lease end is enforced on both sides: the exchange ends the lease and sends `lease.stop`;
 *    the agent also stops every workload at its `endMs` on its own clock, connected or not.
 *
 * Messages are JSON text frames, one object each, at most MAX_AGENT_MESSAGE_BYTES.
 */
import { z } from 'zod';

export const AGENT_PROTOCOL_VERSION = 1;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
/** Where the exchange serves this protocol (under the agent's `--server` URL). */
export const AGENT_WS_PATH = '/api/v1/agent/ws';
/** Heartbeats missed before the node counts as offline. */
export const MISSED_HEARTBEATS_OFFLINE = 3;
export const MAX_AGENT_MESSAGE_BYTES = 256 * 1024;
/** Log lines one `lease.log` message may carry, and the longest line (longer ones are cut). */
export const MAX_LOG_LINES_PER_MESSAGE = 500;
export const MAX_LOG_LINE_CHARS = 4_096;

/** WebSocket close codes the exchange uses. */
export const AgentCloseCodes = {
  /** The message did not parse or broke the protocol. */
  badMessage: 4400,
  /** Unknown, revoked or missing node token. */
  unauthorized: 4401,
  /** Another session for the same node took over. */
  replaced: 4409,
} as const;

/** Ids name scratch dirs and containers on the host: never `.` or `..`. */
const Id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/)
  .refine((id) => id !== '.' && id !== '..', 'not a path component');
const EnvName = z.string().min(1).max(128).regex(/^[A-Za-z_][A-Za-z0-9_]*$/);

/** What the agent detected: the GPUs (src/agent/detect) and the host. */
export const GpuReportSchema = z.object({
  index: z.int().min(0).max(1023),
  uuid: z.string().max(128),
  productName: z.string().max(256),
  /** Catalog id, or null when the product is unknown (never guessed). */
  acceleratorId: z.string().max(64).nullable(),
  memoryMiB: z.int().min(0).nullable(),
  migMode: z.enum(['enabled', 'disabled']).nullable(),
});
export const HardwareReportSchema = z.object({
  gpus: z.array(GpuReportSchema).max(1024),
  driverVersion: z.string().max(64).nullable(),
  cudaVersion: z.string().max(64).nullable(),
  nvlinkGroups: z.array(z.array(z.int().min(0).max(1023)).max(1024)).max(1024),
  /** True when the GPUs come from `--fake-gpus`: such a node is shown as unverified everywhere. */
  fake: z.boolean(),
  host: z.object({
    hostname: z.string().max(256),
    cpuCores: z.int().min(0),
    ramBytes: z.number().min(0),
    diskAvailableBytes: z.number().min(0).nullable(),
  }),
  /** `--probe`: measured dense FP16 TFLOPS per GPU index (matrix multiply), when PyTorch is present. */
  measuredTflops: z.record(z.string(), z.number().min(0)).optional(),
  warnings: z.array(z.string().max(1_000)).max(100).default([]),
});
export type HardwareReport = z.infer<typeof HardwareReportSchema>;

/** What the buyer runs on the leased GPUs. */
export const WorkloadSchema = z
  .strictObject({
    /** `process`: a child process on the host; `docker`: a container (`docker run --gpus`). */
    runtime: z.enum(['process', 'docker']).default('process'),
    /** argv for the process runtime, or the container command (optional) for docker. */
    command: z.array(z.string().max(4_096)).min(1).max(256).optional(),
    /** Container image (docker runtime only). */
    image: z.string().min(1).max(512).optional(),
    env: z.record(EnvName, z.string().max(16_384)).default({}),
    /** Injected into the container's authorized_keys (docker runtime). */
    sshPublicKey: z.string().max(16_384).optional(),
    /** `task`: the lease ends (and billing stops) when the workload exits; `lease`: it runs until the lease ends. */
    mode: z.enum(['lease', 'task']).default('lease'),
  })
  .refine((w) => (w.runtime === 'process' ? w.command !== undefined : w.image !== undefined), {
    message: 'a process workload needs a command; a docker workload needs an image',
  });
export type Workload = z.infer<typeof WorkloadSchema>;

/** One lease as the agent must run it. */
export const LeaseSpecSchema = z.object({
  leaseId: Id,
  gpuIndices: z.array(z.int().min(0).max(1023)).min(1).max(1024),
  startMs: z.number().int(),
  endMs: z.number().int(),
  workload: WorkloadSchema,
});
export type LeaseSpec = z.infer<typeof LeaseSpecSchema>;

export const RunningLeaseSchema = z.object({
  leaseId: Id,
  state: z.enum(['starting', 'running', 'exited']),
  exitCode: z.int().nullable().optional(),
});

export const AccessSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('ssh'), host: z.string().max(256), port: z.int().min(1).max(65_535), user: z.string().max(64) }),
  z.object({ kind: z.literal('process'), pid: z.int().min(1) }),
]);
export type Access = z.infer<typeof AccessSchema>;

export const GpuHealthSchema = z.object({
  index: z.int().min(0).max(1023),
  healthy: z.boolean(),
  utilizationPct: z.number().min(0).max(100).nullable(),
  memoryUsedMiB: z.number().min(0).nullable(),
  temperatureC: z.number().nullable(),
});

/** Agent → exchange. */
export const AgentMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    protocol: z.literal(AGENT_PROTOCOL_VERSION),
    agentVersion: z.string().max(64),
    hardware: HardwareReportSchema,
    running: z.array(RunningLeaseSchema).max(1024),
    /**
     * The workload runtime this node runs (`suanli agent --runtime`); it refuses leases of the
     * other kind with `lease.failed`. Optional: agents before this field said nothing.
     */
    runtime: z.enum(['process', 'docker']).optional(),
  }),
  z.object({ type: z.literal('heartbeat'), seq: z.int().min(0), atMs: z.number().int(), gpus: z.array(GpuHealthSchema).max(1024) }),
  z.object({ type: z.literal('lease.ready'), leaseId: Id, atMs: z.number().int(), access: AccessSchema }),
  z.object({
    type: z.literal('lease.log'),
    leaseId: Id,
    stream: z.enum(['stdout', 'stderr']),
    lines: z.array(z.string().max(MAX_LOG_LINE_CHARS)).min(1).max(MAX_LOG_LINES_PER_MESSAGE),
  }),
  /** The workload ended by itself (in task mode this ends the lease: reason `job_exited`). */
  z.object({ type: z.literal('lease.exited'), leaseId: Id, atMs: z.number().int(), exitCode: z.int().nullable(), signal: z.string().max(32).nullable() }),
  /** Acknowledges `lease.stop` (or the agent's own end-time stop): nothing runs, scratch wiped. */
  z.object({ type: z.literal('lease.stopped'), leaseId: Id, atMs: z.number().int(), scratchWiped: z.boolean() }),
  /** Provisioning failed (bad image, command not found…): the exchange fails the lease and refunds it. */
  z.object({ type: z.literal('lease.failed'), leaseId: Id, atMs: z.number().int(), error: z.string().max(4_096) }),
]);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;

/** Exchange → agent. */
export const ExchangeMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('welcome'),
    nodeId: Id,
    heartbeatIntervalMs: z.int().min(100),
    serverTimeMs: z.number().int(),
    /** Every lease that should run on this node now or later; the agent stops anything else. */
    leases: z.array(LeaseSpecSchema).max(1024),
  }),
  z.object({ type: z.literal('lease.start'), lease: LeaseSpecSchema }),
  z.object({ type: z.literal('lease.stop'), leaseId: Id, reason: z.string().max(64) }),
  z.object({ type: z.literal('error'), code: z.string().max(64), message: z.string().max(1_000) }),
]);
export type ExchangeMessage = z.infer<typeof ExchangeMessageSchema>;

/** `POST /api/v1/agent/enroll` body and answer. */
export const EnrollRequestSchema = z.object({ token: z.string().min(8).max(256), hardware: HardwareReportSchema, agentVersion: z.string().max(64) });
export type EnrollRequest = z.infer<typeof EnrollRequestSchema>;
export const EnrollResponseSchema = z.object({
  nodeId: Id,
  nodeToken: z.string(),
  heartbeatIntervalMs: z.int(),
  /** `verified`, `unverified` (fake GPUs) or `mismatch` (detected ≠ listed: not traded). */
  attestation: z.enum(['verified', 'unverified', 'mismatch']),
});
export type EnrollResponse = z.infer<typeof EnrollResponseSchema>;
