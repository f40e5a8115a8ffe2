/**
 * What the HTTP-level benchmarks share: `suanli serve` started as its own process on a fresh
 * SQLite file (no demo, rate limit raised), and a tiny cookie-keeping JSON client.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BENCH_ADMIN = { email: 'admin@bench.local', password: 'bench-admin-password' };

export interface ServerProcess {
  readonly proc: ChildProcess;
  readonly url: string;
}

/** Starts `suanli serve` on port 0 and resolves with its URL once it listens. */
export function startServer(db: string, extraArgs: readonly string[] = []): Promise<ServerProcess> {
  return new Promise((res, rej) => {
    const proc = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_SERVER_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_SERVER_PROF] : []),
        join(root, 'dist/src/cli/index.js'), 'serve', '--port', '0', '--no-demo', '--db', db,
        '--admin-email', BENCH_ADMIN.email, '--rate-limit', '1000000', ...extraArgs,
      ],
      { env: { ...process.env, SUANLI_ADMIN_PASSWORD: BENCH_ADMIN.password, LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (url) res({ proc, url });
    });
    proc.on('exit', (code) => rej(new Error(`server exited with ${code}`)));
  });
}

/** Seconds of CPU (user + system) a process has used so far, from /proc (Linux). */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime), counted from after the command name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory of a process in MiB, from /proc (Linux). */
export function rssMiBOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Math.round(Number(kb ?? 0) / 1024);
}

/** A cookie-keeping JSON client of `/api/v1` (benchmarks and the process-level tests). */
export class Client {
  cookie = '';
  constructor(readonly base: string) {}
  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.base}/api/v1${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(this.cookie ? { cookie: this.cookie } : {}), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const m = /suanli_session=[^;]+/.exec(res.headers.get('set-cookie') ?? '');
    if (m) this.cookie = m[0];
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }
}
