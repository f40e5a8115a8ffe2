/**
 * The web app (web/, built by Vite into dist/web) served at `/`. Hashed files under /assets are
 * cached for a year (their names change with their content); index.html is answered for every
 * client-side route (a GET without a file extension outside the API, docs, probes and metrics)
 * and is never cached, so a new build shows at the next load. Every page carries a strict
 * Content-Security-Policy: scripts, styles and connections only from this origin (the live feed
 * is a same-origin WebSocket), no inline code, no frames.
 *
 * The app is looked up next to the compiled server (dist/src/api → dist/web). Run from source
 * (the in-process API tests) or before `vite build`, there is none and `/` redirects to /docs.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ApiEnv } from './context.js';

/** Paths the app never answers (the server's own). */
const SERVER_PATHS = /^\/(api(\/|$)|docs(\/|$)|openapi\.json$|healthz$|readyz$|metrics$)/;

export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.json', '.svg', '.txt', '.map']);
/** Files kept in memory are small; a build over this is a mistake, not something to serve. */
const MAX_TOTAL_BYTES = 32 * 1024 * 1024;

interface WebFile {
  readonly body: Uint8Array;
  readonly gzip: Uint8Array | null;
  readonly type: string;
  readonly immutable: boolean;
}

/** dist/web beside the compiled server, or undefined when running from source. */
export function defaultWebDir(): string | undefined {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return basename(root) === 'dist' ? join(root, 'web') : undefined;
}

function loadFiles(dir: string): Map<string, WebFile> {
  const files = new Map<string, WebFile>();
  let total = 0;
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else if (st.isFile()) {
        total += st.size;
        if (total > MAX_TOTAL_BYTES) throw new Error(`the web app in ${dir} is over ${MAX_TOTAL_BYTES} bytes`);
        const rel = relative(dir, full).split(sep).join('/');
        const ext = extname(name).toLowerCase();
        const body = readFileSync(full);
        const gzip = COMPRESSIBLE.has(ext) && body.length > 1024 ? gzipSync(body, { level: 9 }) : null;
        files.set(`/${rel}`, { body, gzip, type: TYPES[ext] ?? 'application/octet-stream', immutable: rel.startsWith('assets/') });
      }
    }
  };
  walk(dir);
  return files;
}

function send(c: Context<ApiEnv>, f: WebFile): Response {
  const headers: Record<string, string> = {
    'content-type': f.type,
    'cache-control': f.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    'x-content-type-options': 'nosniff',
    vary: 'accept-encoding',
  };
  if (f.type.startsWith('text/html')) {
    headers['content-security-policy'] = WEB_CSP;
    headers['x-frame-options'] = 'DENY';
    headers['referrer-policy'] = 'same-origin';
  }
  const gzip = f.gzip !== null && /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
  if (gzip) headers['content-encoding'] = 'gzip';
  const body = gzip ? f.gzip! : f.body;
  headers['content-length'] = String(body.length);
  return new Response(c.req.method === 'HEAD' ? null : (body as Uint8Array<ArrayBuffer>), { status: 200, headers });
}

/**
 * Serves the built app from `dir` (default: dist/web beside the compiled server). Without a
 * built app, `/` redirects to /docs as before.
 */
export function mountWeb(app: OpenAPIHono<ApiEnv>, dir: string | undefined = process.env.SUANLI_WEB_DIR ?? defaultWebDir()): void {
  const index = dir === undefined ? undefined : join(dir, 'index.html');
  if (dir === undefined || index === undefined || !existsSync(index)) {
    app.get('/', (c) => c.redirect('/docs'));
    return;
  }
  const files = loadFiles(dir);
  const page = files.get('/index.html')!;
  app.on(['GET', 'HEAD'], '*', async (c, next) => {
    const path = c.req.path;
    if (SERVER_PATHS.test(path)) return next();
    const file = files.get(path);
    if (file) return send(c, file);
    // A client-side route (no extension): the app decides what it shows; a missing file: 404.
    if (extname(path) === '') return send(c, page);
    return next();
  });
}
