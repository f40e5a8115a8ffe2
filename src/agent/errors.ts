/**
 * The one error type the agent throws for conditions a provider must act on. Each carries the
 * process exit code `suanli agent` ends with, so scripts and service managers can tell a typo from
 * a revoked token without parsing text.
 */
export const AgentExitCodes = {
  ok: 0,
  /** A bug or an unexpected failure. */
  unexpected: 1,
  /** Bad flags: missing --token on first run, a bad --fake-gpus spec, a state dir for another server. */
  usage: 2,
  /** The exchange cannot be reached or did not answer like a suanli exchange. */
  server: 3,
  /** The exchange refused the token (enrollment token used/expired/unknown, node token revoked). */
  auth: 4,
  /** No GPU could be detected, or the exchange refused the hardware this host reports. */
  hardware: 5,
} as const;
export type AgentExitCode = (typeof AgentExitCodes)[keyof typeof AgentExitCodes];

export class AgentError extends Error {
  constructor(
    message: string,
    readonly exitCode: AgentExitCode,
    /** The exchange's stable error code, where it sent one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
