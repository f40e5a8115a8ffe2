/**
 * Running a CLI (docker) as a real child process: one call that collects bounded output, one
 * that follows a stream line by line. The docker runtime only talks to docker through these,
 * with the program name and env injectable, so tests put a recording `docker` script on PATH.
 */
import { spawn } from 'node:child_process';
import { LineSplitter } from '../client/lines.js';

export interface CommandRunner {
  /** Program name or path (`docker`). */
  readonly command: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const MAX_CAPTURE_CHARS = 64 * 1024;

export function runCommand(runner: CommandRunner, args: readonly string[], timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(runner.command, args, { env: runner.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      if (stdout.length < MAX_CAPTURE_CHARS) stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < MAX_CAPTURE_CHARS) stderr += c.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${e.message}` });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Follower {
  /** Settles when the followed command ends. */
  readonly done: Promise<CommandResult>;
  kill(): void;
}

/** Runs a long-lived command (`docker logs -f`), handing each output line to `onLine`. */
export function followCommand(runner: CommandRunner, args: readonly string[], onLine: (stream: 'stdout' | 'stderr', line: string) => void): Follower {
  const child = spawn(runner.command, args, { env: runner.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
  const out = new LineSplitter((l) => onLine('stdout', l));
  const err = new LineSplitter((l) => onLine('stderr', l));
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => {
    out.push(c);
    if (stdout.length < MAX_CAPTURE_CHARS) stdout += c.toString('utf8');
  });
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const done = new Promise<CommandResult>((resolve) => {
    child.on('error', (e) => resolve({ code: null, stdout, stderr: e.message }));
    child.once('close', (code) => {
      out.end();
      err.end();
      resolve({ code, stdout, stderr: '' });
    });
  });
  return {
    done,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}
