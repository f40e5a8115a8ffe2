/**
 * `POST {server}/api/v1/agent/enroll`: trades the provider's one-time token and the hardware
 * report for a node id and a long-lived node token. Every way this can fail becomes an
 * `AgentError` whose exit code says whose move it is (network, token, hardware).
 */
import {
  EnrollRequestSchema,
  EnrollResponseSchema,
  type EnrollResponse,
  type HardwareReport,
} from './protocol.js';
import { AgentError, AgentExitCodes, describeError } from './errors.js';

const ENROLL_TIMEOUT_MS = 30_000;

interface ErrorBody {
  error?: { code?: unknown; message?: unknown };
}

export async function enroll(input: {
  readonly server: string;
  readonly token: string;
  readonly hardware: HardwareReport;
  readonly agentVersion: string;
  readonly fetchImpl?: typeof fetch;
  readonly timeoutMs?: number;
}): Promise<EnrollResponse> {
  const body = EnrollRequestSchema.safeParse({ token: input.token, hardware: input.hardware, agentVersion: input.agentVersion });
  if (!body.success) {
    const issue = body.error.issues[0];
    const where = issue?.path.join('.') ?? '';
    if (where === 'token') throw new AgentError('--token: an enrollment token is 8 to 256 characters', AgentExitCodes.usage);
    throw new AgentError(`the hardware report does not fit the protocol (${where}: ${issue?.message ?? '?'})`, AgentExitCodes.hardware);
  }
  const url = `${input.server}/api/v1/agent/enroll`;
  let res: Response;
  try {
    res = await (input.fetchImpl ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body.data),
      signal: AbortSignal.timeout(input.timeoutMs ?? ENROLL_TIMEOUT_MS),
    });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    throw new AgentError(`cannot reach the exchange at ${input.server}: ${describeError(cause ?? err)}`, AgentExitCodes.server);
  }
  const text = await res.text().catch(() => '');
  const json = parseJson(text);
  if (!res.ok) {
    const e = (json as ErrorBody | undefined)?.error;
    const code = typeof e?.code === 'string' ? e.code : undefined;
    const message = typeof e?.message === 'string' ? e.message : text.slice(0, 200);
    const what = `${res.status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`;
    if (res.status === 401 || res.status === 410 || res.status === 403) {
      throw new AgentError(`the exchange refused the enrollment token (${what}); create a new one and run again with --token`, AgentExitCodes.auth, code);
    }
    if (res.status >= 400 && res.status < 500 && res.status !== 404 && res.status !== 429 && code !== undefined) {
      throw new AgentError(`the exchange refused this node (${what})`, AgentExitCodes.hardware, code);
    }
    throw new AgentError(`enrollment failed at ${url} (${what})`, AgentExitCodes.server, code);
  }
  const parsed = EnrollResponseSchema.safeParse(json);
  if (!parsed.success) throw new AgentError(`${url} did not answer like a suanli exchange (status ${res.status})`, AgentExitCodes.server);
  return parsed.data;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
