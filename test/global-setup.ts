/**
 * Builds the package once before any test file runs, so the tests that run `suanli` as a real
 * process all use one complete build (test files run in parallel: building in each of them
 * could let one process load a file another tsc is rewriting). A type error fails the run.
 */
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed (npx tsc -p tsconfig.build.json):\n${r.stdout}\n${r.stderr}`);
  // The web app (dist/web) that `suanli serve` serves at / and the browser tests drive.
  const w = spawnSync('npx', ['vite', 'build', 'web', '--logLevel', 'warn'], { cwd: root, encoding: 'utf8' });
  if (w.status !== 0) throw new Error(`web build failed (npx vite build web):\n${w.stdout}\n${w.stderr}`);
}
