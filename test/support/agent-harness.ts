/** Shared helpers for the agent tests: collecting what the agent emits and waiting for it. */
import { readFileSync } from 'node:fs';
import type { AgentMessage, LeaseSpec } from '../../src/agent/protocol.js';
import { waitFor as pollFor } from './processes.js';

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes. */
export function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  return pollFor(what, check, timeoutMs, 20);
}

export class Recorder {
  readonly messages: AgentMessage[] = [];
  readonly push = (m: AgentMessage): void => {
    this.messages.push(m);
  };

  of<T extends AgentMessage['type']>(type: T, leaseId?: string): Extract<AgentMessage, { type: T }>[] {
    return this.messages.filter(
      (m): m is Extract<AgentMessage, { type: T }> => m.type === type && (leaseId === undefined || ('leaseId' in m && m.leaseId === leaseId)),
    );
  }

  waitFor<T extends AgentMessage['type']>(type: T, leaseId?: string, timeoutMs?: number): Promise<Extract<AgentMessage, { type: T }>> {
    return waitFor(`${type}${leaseId ? ` for ${leaseId}` : ''}`, () => this.of(type, leaseId)[0], timeoutMs);
  }

  /** All log lines of a lease and stream, in order. */
  lines(leaseId: string, stream: 'stdout' | 'stderr' = 'stdout'): string[] {
    return this.of('lease.log', leaseId)
      .filter((m) => m.stream === stream)
      .flatMap((m) => m.lines);
  }
}

let counter = 0;
/** A process lease running `node -e <script>` from now for `durationMs`. */
export function nodeLease(script: string, overrides: Partial<LeaseSpec> & { env?: Record<string, string> } = {}): LeaseSpec {
  const now = Date.now();
  const { env, ...rest } = overrides;
  return {
    leaseId: `lease-${process.pid}-${++counter}`,
    gpuIndices: [0, 3],
    startMs: now - 1_000,
    endMs: now + 3_600_000,
    workload: { runtime: 'process', command: [process.execPath, '-e', script], env: env ?? {}, mode: 'lease' },
    ...rest,
  };
}

/** Alive and not a zombie (an orphan's zombie may linger where PID 1 does not reap). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
