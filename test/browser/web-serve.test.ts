/** src/api/web.ts in-process: files, caching, client routes, the server's own paths, no built app. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { OpenAPIHono } from '@hono/zod-openapi';
import { afterAll, describe, expect, it } from 'vitest';
import type { ApiEnv } from '../../src/api/context.js';
import { mountWeb, WEB_CSP } from '../../src/api/web.js';

const dir = mkdtempSync(join(tmpdir(), 'suanli-webdir-'));
mkdirSync(join(dir, 'assets'));
writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title><script type="module" src="/assets/index-abc.js"></script>');
writeFileSync(join(dir, 'assets', 'index-abc.js'), `console.log(${JSON.stringify('x'.repeat(5000))});`);
writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function app(webDir: string | undefined) {
  const a = new OpenAPIHono<ApiEnv>();
  mountWeb(a, webDir);
  a.get('/metrics', (c) => c.text('up 1')); // registered after, as suanli serve's edges are
  a.get('/api/v1/markets', (c) => c.json({ items: [] }));
  return a;
}

describe('the web app route', () => {
  const a = app(dir);
  it('serves index.html for / and client routes with a strict CSP, never cached', async () => {
    for (const path of ['/', '/capacity', '/markets/nvidia-a100-sxm4-40g%40cn-beijing', '/leases/l5']) {
      const r = await a.request(path);
      expect([path, r.status, r.headers.get('content-type'), r.headers.get('cache-control'), r.headers.get('content-security-policy')]).toEqual([path, 200, 'text/html; charset=utf-8', 'no-cache', WEB_CSP]);
      expect(await r.text()).toContain('<title>app</title>');
    }
    expect(WEB_CSP).not.toContain('unsafe');
  });
  it('serves hashed assets immutable, gzipped when asked', async () => {
    const r = await a.request('/assets/index-abc.js', { headers: { 'accept-encoding': 'gzip, br' } });
    expect([r.status, r.headers.get('cache-control'), r.headers.get('content-encoding'), r.headers.get('content-type')]).toEqual([200, 'public, max-age=31536000, immutable', 'gzip', 'text/javascript; charset=utf-8']);
    expect(gunzipSync(Buffer.from(await r.arrayBuffer())).toString()).toContain('console.log');
    const plain = await a.request('/favicon.svg');
    expect([plain.status, plain.headers.get('cache-control'), plain.headers.get('content-encoding')]).toEqual([200, 'no-cache', null]);
  });
  it('leaves the API, docs, probes and metrics to the server, and answers 404 for missing files', async () => {
    expect(await (await a.request('/metrics')).text()).toBe('up 1');
    expect(await (await a.request('/api/v1/markets')).json()).toEqual({ items: [] });
    expect((await a.request('/api/v1/nope')).status).toBe(404);
    expect((await a.request('/healthz')).status).toBe(404); // not the app's page
    expect((await a.request('/openapi.json')).status).toBe(404);
    expect((await a.request('/missing.js')).status).toBe(404);
    expect((await a.request('/assets/../index.html')).status).toBe(200); // normalised by the URL parser: still inside the folder
    expect((await a.request('/%2e%2e/package.json')).status).not.toBe(500);
  });
  it('without a built app, / redirects to /docs as before', async () => {
    const none = app(undefined);
    const r = await none.request('/');
    expect([r.status, r.headers.get('location')]).toEqual([302, '/docs']);
    const missing = app(join(dir, 'nope'));
    expect((await missing.request('/')).headers.get('location')).toBe('/docs');
  });
});
