/**
 * Where the trading client talks to and as whom: the server URL and API key come from flags,
 * then the environment (SUANLI_SERVER, SUANLI_API_KEY), then the config file
 * ($XDG_CONFIG_HOME/suanli/config.json, else ~/.config/suanli/config.json, mode 0600). A key
 * from the config file is only sent to the server it was created on.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError } from './client-format.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';
const REQUEST_TIMEOUT_MS = 30_000;

export interface ClientConfig {
  readonly server?: string;
  readonly apiKey?: string;
  readonly apiKeyId?: string;
  readonly email?: string;
  readonly userId?: string;
  readonly role?: string;
}

export interface ConnectionFlags {
  readonly server?: string;
  readonly apiKey?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_CONFIG_HOME'];
  const base = xdg !== undefined && xdg.startsWith('/') ? xdg : join(env['HOME'] ?? homedir(), '.config');
  return join(base, 'suanli', 'config.json');
}

export function readConfig(path: string = configPath()): ClientConfig {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  try {
    const parsed: unknown = JSON.parse(raw);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as ClientConfig) : {};
  } catch {
    throw new UsageError(`${path} is not valid JSON; fix or delete it`);
  }
}

/** Writes the config readable by its owner only (it holds an API key), atomically. */
export function writeConfig(config: ClientConfig, path: string = configPath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export function normaliseServer(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw new UsageError(`--server must be a URL such as http://127.0.0.1:8080 (got ${JSON.stringify(raw)})`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError('--server must be http:// or https://');
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

export interface Connection {
  readonly server: string;
  readonly apiKey: string | undefined;
  readonly config: ClientConfig;
  readonly configPath: string;
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const path = configPath(env);
  const config = readConfig(path);
  const server = normaliseServer(flags.server ?? env['SUANLI_SERVER'] ?? config.server ?? DEFAULT_SERVER);
  const fromConfig = config.apiKey !== undefined && config.server !== undefined && normaliseServer(config.server) === server ? config.apiKey : undefined;
  const apiKey = flags.apiKey ?? (env['SUANLI_API_KEY'] || undefined) ?? fromConfig;
  return { server, apiKey, config, configPath: path };
}

/** A refusal from the server: `{"error":{"code","message","details"}}`, or a transport failure. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  /** 'key' (default): Bearer API key, required; 'none': anonymous; or a session cookie. */
  readonly auth?: 'key' | 'none' | { readonly cookie: string };
  /** Sent on POSTs that create orders or move money; a retry with the same key is safe. */
  readonly idempotencyKey?: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
}

export class ApiClient {
  constructor(readonly conn: Connection) {}

  async request(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
    const url = new URL(`${this.conn.server}/api/v1${path}`);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'suanli-cli' };
    const auth = options.auth ?? 'key';
    if (auth === 'key') {
      if (this.conn.apiKey === undefined) throw new ApiFailure(0, 'NOT_LOGGED_IN', `no API key for ${this.conn.server}: run \`suanli login\`, or pass --api-key / set SUANLI_API_KEY`);
      headers['authorization'] = `Bearer ${this.conn.apiKey}`;
    } else if (auth !== 'none') headers['cookie'] = auth.cookie;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        redirect: 'error',
      });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : err instanceof Error ? `: ${err.message}` : '';
      throw new ApiFailure(0, 'UNREACHABLE', `cannot reach ${this.conn.server}${cause}`);
    }
    const raw = await res.text();
    let body: unknown = null;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    if (!res.ok) {
      const e = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
      if (e && typeof e.code === 'string') throw new ApiFailure(res.status, e.code, typeof e.message === 'string' ? e.message : res.statusText, e.details, body);
      throw new ApiFailure(res.status, `HTTP_${res.status}`, `${res.status} ${res.statusText}${typeof body === 'string' && body !== '' ? `: ${body.slice(0, 200)}` : ''}`, undefined, body);
    }
    return { status: res.status, body, headers: res.headers };
  }

  async get<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return (await this.request('GET', path, options)).body as T;
  }

  async post<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    return (await this.request('POST', path, { ...options, body })).body as T;
  }

  async delete<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return (await this.request('DELETE', path, options)).body as T;
  }
}

export function newIdempotencyKey(): string {
  return `cli-${randomUUID()}`;
}

/** The `name=value` of a cookie among a response's Set-Cookie headers. */
export function cookieFrom(headers: Headers, name: string): string | undefined {
  const all = typeof headers.getSetCookie === 'function' ? headers.getSetCookie() : (headers.get('set-cookie') ?? '').split(/,(?=\s*[A-Za-z0-9_-]+=)/);
  for (const h of all) {
    const first = h.split(';')[0]!.trim();
    if (first.startsWith(`${name}=`) && first.length > name.length + 1) return first;
  }
  return undefined;
}
