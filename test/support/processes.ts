/**
 * Real processes for cross-layer tests: `suanli serve` and `suanli agent` started from dist/
 * (built once by test/global-setup.ts), and (from bench/server.ts) a cookie-keeping JSON client.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '../../bench/server.js';

export { Client };

export const ROOT = join(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/src/cli/index.js');

export interface ServerProcess {
  readonly proc: ChildProcess;
  readonly exited: Promise<unknown>;
  readonly url: string;
  /** The first admin's credentials, printed once on a fresh store. */
  readonly admin: { email: string; password: string } | null;
}

/** Starts `suanli serve --no-demo` on `db`; resolves once it listens (and, when `fresh`, has printed the admin). */
export function startServer(db: string, fresh: boolean, extraArgs: readonly string[] = []): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const args = [CLI, 'serve', '--no-demo', '--db', db, ...(extraArgs.includes('--port') ? [] : ['--port', '0']), ...extraArgs];
    const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((r) => proc.once('exit', r));
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      const admin = /admin\s+(\S+@\S+)\s+(\S+)\n/.exec(out);
      if (!url || !/markets http/.test(out) || (fresh && !admin)) return;
      clearTimeout(timer);
      resolve({ proc, exited, url, admin: admin ? { email: admin[1]!, password: admin[2]! } : null });
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
}

export interface AgentProcess {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
}

export function startAgentProcess(args: readonly string[]): AgentProcess {
  const proc = spawn(process.execPath, [CLI, 'agent', ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, exited, output: () => out };
}

/** Polls `probe` until it returns a value other than undefined (or throws after `timeoutMs`). */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
