/**
 * The agent's state dir: `node.json` holds the node identity from enrollment (the node token is
 * a long-lived secret: the file is 0600, the dir 0700), `scratch/<leaseId>` the leases' private
 * working dirs.
 */
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { AgentError, AgentExitCodes, describeError } from './errors.js';

export const NodeIdentitySchema = z.object({
  nodeId: z.string().min(1),
  nodeToken: z.string().min(1),
  /** The exchange this node enrolled with (normalised, no trailing slash). */
  server: z.string().min(1),
  enrolledAtMs: z.number().int().optional(),
});
export type NodeIdentity = z.infer<typeof NodeIdentitySchema>;

export function defaultStateDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  return uid === 0 ? '/var/lib/suanli-agent' : join(os.homedir(), '.suanli', 'agent');
}

export function nodeFile(stateDir: string): string {
  return join(stateDir, 'node.json');
}

export function scratchRoot(stateDir: string): string {
  return join(stateDir, 'scratch');
}

/** `http://h:8080/` → `http://h:8080`; anything but http(s) is a usage error. */
export function normaliseServer(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new AgentError(`--server: '${server}' is not a URL (e.g. https://exchange.example.com)`, AgentExitCodes.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AgentError(`--server: '${server}' must be an http:// or https:// URL`, AgentExitCodes.usage);
  }
  return url.toString().replace(/\/+$/, '');
}

export async function ensureStateDir(stateDir: string): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  // mkdir's mode does not apply to a dir that already exists.
  await chmod(stateDir, 0o700);
  await mkdir(scratchRoot(stateDir), { recursive: true, mode: 0o700 });
}

export async function readIdentity(stateDir: string): Promise<NodeIdentity | null> {
  let text: string;
  try {
    text = await readFile(nodeFile(stateDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new AgentError(`cannot read ${nodeFile(stateDir)}: ${describeError(err)}`, AgentExitCodes.usage);
  }
  const parsed = NodeIdentitySchema.safeParse(safeJson(text));
  if (!parsed.success) {
    throw new AgentError(`${nodeFile(stateDir)} is not a node identity; move it away and enroll again with --token`, AgentExitCodes.usage);
  }
  return parsed.data;
}

/** Written to a temporary 0600 file and renamed, so a crash never leaves half a token behind. */
export async function writeIdentity(stateDir: string, identity: NodeIdentity): Promise<void> {
  const path = nodeFile(stateDir);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(identity, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * One agent per state dir: a second one would wipe the first's scratch dirs and fight it for the
 * node's session. `agent.pid` names the holder; a pid that no longer runs is a stale lock.
 * Returns the release function.
 */
export async function lockStateDir(stateDir: string): Promise<() => Promise<void>> {
  const path = join(stateDir, 'agent.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isSafeInteger(holder) && holder > 0 && isRunning(holder)) {
      throw new AgentError(`another agent (pid ${holder}) uses ${stateDir}; stop it first (or delete ${path} if it is not an agent)`, AgentExitCodes.usage);
    }
    await rm(path, { force: true });
  }
  throw new AgentError(`cannot lock ${stateDir}`, AgentExitCodes.usage);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
