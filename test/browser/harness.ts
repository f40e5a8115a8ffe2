/**
 * Browser tests against a real exchange: `suanli serve` from dist/ as a child process on a
 * temporary SQLite database and a free port, driven by Debian's Chromium through
 * playwright-core. Every page fails its test on any console error except the failed requests a
 * test names (e.g. GET /api/v1/me answering 401 to a visitor); screenshots go to
 * test-artifacts/browser/ (git-ignored).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type ConsoleMessage, type Page } from 'playwright-core';
import { CLI, ROOT } from '../support/processes.js';

export { CLI, ROOT };
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'browser');
export const CHROMIUM = process.env.SUANLI_CHROMIUM ?? '/usr/bin/chromium';
export const ADMIN_PASSWORD = 'admin-password-for-tests';
export const DEMO_PASSWORD = 'demo-password-for-tests';

export interface Serve {
  readonly url: string;
  readonly proc: ChildProcess;
  readonly output: () => string;
  close(): Promise<void>;
}

/** Starts `suanli serve --port 0` on a fresh database (demo market on) and waits for its URL. */
export async function startServe(): Promise<Serve> {
  if (!existsSync(join(ROOT, 'dist', 'web', 'index.html'))) throw new Error('dist/web is missing: run npm run build');
  const dir = mkdtempSync(join(tmpdir(), 'suanli-web-'));
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--db', join(dir, 'x.db')], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'silent', SUANLI_ADMIN_PASSWORD: ADMIN_PASSWORD, SUANLI_DEMO_PASSWORD: DEMO_PASSWORD, HOST: '127.0.0.1', PORT: '0', DATABASE_URL: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`suanli serve did not start:\n${out}`)), 60_000);
    const check = () => {
      const m = /listening on (http:\/\/[0-9.]+:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`suanli serve exited with ${code}:\n${out}`));
    });
  });
  return {
    url,
    proc,
    output: () => out,
    close: async () => {
      if (proc.exitCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/** A failed request the test expects (its console line is then not an error of the app). */
export interface ExpectedFailure {
  readonly url: RegExp;
  readonly status: number;
}

export interface Watched {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and page errors so far that no expected failure explains. */
  readonly errors: string[];
  expectFailure(f: ExpectedFailure): void;
}

const ALWAYS: readonly ExpectedFailure[] = [{ url: /\/api\/v1\/me$/, status: 401 }];

export async function openPage(browser: Browser, baseURL: string, locale: 'en-US' | 'zh-CN'): Promise<Watched> {
  const context = await browser.newContext({ baseURL, locale, viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  const expected: ExpectedFailure[] = [...ALWAYS];
  const failed: { url: string; status: number }[] = [];
  const errors: string[] = [];
  page.on('response', (r) => {
    if (r.status() >= 400) failed.push({ url: r.url(), status: r.status() });
  });
  const explained = (url: string): boolean => {
    const hit = failed.find((f) => f.url === url);
    return hit !== undefined && expected.some((e) => e.url.test(new URL(url).pathname) && e.status === hit.status);
  };
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const url = m.location().url;
    if (text.startsWith('Failed to load resource') && url && (explained(url) || expected.some((e) => e.url.test(new URL(url).pathname) && text.includes(String(e.status))))) return;
    errors.push(`console: ${text} (${url})`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return { context, page, errors, expectFailure: (f) => expected.push(f) };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The app's own formatting of fen (¥1,234.56), for comparing what is shown with the API. */
export function yuan(fen: string | number | bigint): string {
  const v = BigInt(fen);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  return `${neg ? '-' : ''}¥${(abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${(abs % 100n).toString().padStart(2, '0')}`;
}

/** JSON from the API with the context's session cookie. */
export async function apiGet<T>(ctx: BrowserContext, path: string): Promise<T> {
  const r = await ctx.request.get(path);
  if (!r.ok()) throw new Error(`GET ${path}: ${r.status()} ${await r.text()}`);
  return (await r.json()) as T;
}

export async function apiSend<T>(ctx: BrowserContext, method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
  const r = await ctx.request.fetch(path, {
    method,
    headers: { 'content-type': 'application/json', ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
    ...(body === undefined ? {} : { data: JSON.stringify(body) }),
  });
  if (!r.ok()) throw new Error(`${method} ${path}: ${r.status()} ${await r.text()}`);
  return (r.status() === 204 ? undefined : await r.json()) as T;
}

/** A browser context logged in through the API only (for setting up and checking state). */
export async function apiSession(browser: Browser, baseURL: string, email: string, password: string): Promise<BrowserContext> {
  const ctx = await browser.newContext({ baseURL });
  const r = await ctx.request.post('/api/v1/auth/login', { data: { email, password } });
  if (!r.ok()) throw new Error(`login ${email}: ${r.status()} ${await r.text()}`);
  return ctx;
}

/** The page fits the laptop-sized viewport: no sideways scrolling. */
export async function fitsWidth(page: Page): Promise<boolean> {
  return (await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')) as boolean;
}

/** Presses Tab until the element with `testId` has focus (keyboard only); false if never reached. */
export async function tabTo(page: Page, testId: string, maxTabs = 40): Promise<boolean> {
  for (let i = 0; i < maxTabs; i++) {
    await page.keyboard.press('Tab');
    if ((await page.evaluate('document.activeElement && document.activeElement.getAttribute("data-testid")')) === testId) return true;
  }
  return false;
}
