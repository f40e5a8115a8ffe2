/**
 * `suanli login | markets | book | bid | ask | orders | cancel | leases | balance | statement |
 * logout` as real processes (the compiled CLI) against a small HTTP server that speaks the
 * documented REST contract (docs/api-contract.md, shapes as src/api/present.ts writes them) and
 * records every request. It checks the requests the client builds (bodies, exact fen, auth,
 * Idempotency-Key), what it prints, where it keeps the key (0600, XDG_CONFIG_HOME) and its exit
 * codes: 1 for a server refusal, 2 for bad flags.
 *
 * The last block runs the same binary against the real exchange (`startServer` from
 * src/cli/serve.ts on a temporary SQLite file): login, ask, book, bid, orders, cancel, leases,
 * balance, statement, logout, end to end.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/cli/serve.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** dist/, built once by test/global-setup.ts. */
const OUT = join(ROOT, 'dist');
const CLI = join(OUT, 'src/cli/index.js');
const A100 = 'nvidia-a100-sxm4-40g';
const MARKET = `${A100}@cn-beijing`;
const KEY = 'sk_test_0123456789';

interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
}

const requests: Recorded[] = [];
let revoked = false;
let server: Server;
let base = '';
let home = '';

const order = (id: string, side: 'bid' | 'ask', extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id, side, status: 'active', markets: [MARKET], priceFen: 2270, priceUnit: 'fen_per_gpu_hour', remaining: side === 'bid' ? 8 : 0, remainingUnit: 'gpus',
  holdFen: side === 'bid' ? '435840' : null, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', ask: null, bid: null, ...extra,
});
const trade = { id: 't-1', market: MARKET, gpus: 8, priceFenPerGpuHour: 2270, hours: 24, startAt: '2026-01-01T00:00:00.000Z', endAt: '2026-01-02T00:00:00.000Z', at: '2026-01-01T00:00:00.000Z', side: 'buy', bidId: 'b-1', askId: 'a-1' };
const lease = {
  id: 'l-1', tradeId: 't-1', nodeId: 'n1', market: MARKET, role: 'buyer', gpuIndices: [0, 1, 2, 3, 4, 5, 6, 7], priceFenPerGpuHour: 2270,
  startAt: '2026-01-01T00:00:00.000Z', endAt: '2026-01-02T00:00:00.000Z', state: 'active', endedAt: null, endReason: null,
  createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', billing: { billedUntil: '2026-01-01T01:00:00.000Z', chargedFen: '18160' },
};

function reply(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}
const err = (res: ServerResponse, status: number, code: string, message: string, details?: unknown): void =>
  reply(res, status, { error: { code, message, ...(details === undefined ? {} : { details }) } });

function route(r: Recorded, res: ServerResponse): void {
  const bearer = /^Bearer (.+)$/.exec(r.headers.authorization ?? '')?.[1];
  const session = /suanli_session=([^;]+)/.exec(r.headers.cookie ?? '')?.[1];
  const keyOk = bearer === KEY && !revoked;
  const p = r.path.replace(/^\/api\/v1/, '');
  const needKey = (): boolean => {
    if (keyOk) return true;
    if (bearer !== undefined) err(res, 401, 'INVALID_API_KEY', 'the API key is not valid');
    else err(res, 401, 'UNAUTHENTICATED', 'log in or send an API key');
    return false;
  };
  if (r.method === 'POST' && p === '/auth/login') {
    const b = r.body as { email?: string; password?: string };
    if (b.email !== 'buyer@example.com' || b.password !== 'correct horse battery') return err(res, 401, 'INVALID_CREDENTIALS', 'wrong email or password');
    return reply(res, 200, { user: { id: 'u-buyer', email: b.email, role: 'buyer', displayName: 'B', createdAt: '2026-01-01T00:00:00.000Z' } }, {
      'set-cookie': ['other=1; Path=/', 'suanli_session=sess-secret; Path=/; HttpOnly; SameSite=Lax'],
    });
  }
  if (r.method === 'POST' && p === '/api-keys') {
    if (session !== 'sess-secret') return err(res, 401, 'UNAUTHENTICATED', 'log in');
    const b = r.body as { name: string; scopes: string[] };
    return reply(res, 201, { id: 'k-1', name: b.name, scopes: b.scopes, createdAt: '2026-01-01T00:00:00.000Z', lastUsedAt: null, revokedAt: null, key: KEY });
  }
  if (r.method === 'POST' && p === '/auth/logout') return session === 'sess-secret' ? reply(res, 204) : err(res, 401, 'UNAUTHENTICATED', 'log in');
  if (r.method === 'DELETE' && p === '/api-keys/k-1') {
    if (!needKey()) return;
    revoked = true;
    return reply(res, 204);
  }
  if (r.method === 'GET' && p === '/markets') {
    return reply(res, 200, {
      items: [{
        market: MARKET, acceleratorId: A100, acceleratorName: 'NVIDIA A100 SXM4 40GB', regionId: 'cn-beijing', regionName: 'Beijing', hubId: 'beijing-tianjin-hebei', side: 'east',
        bestAskFen: 2270, bestBidFen: 2000, lastTradeFen: 2270, volume24hGpuHours: 192, change24hPct: 1.5, freeGpus: 16, halted: false,
      }],
    });
  }
  if (r.method === 'GET' && p === `/markets/${MARKET}/book`) {
    return reply(res, 200, { market: MARKET, asks: [{ priceFenPerGpuHour: 2270, gpus: 5 }, { priceFenPerGpuHour: 2500, gpus: 8 }], bids: [{ priceFenPerGpuHour: 2000, gpus: 2 }], seq: 42 });
  }
  if (r.method === 'GET' && p.startsWith('/markets/')) return err(res, 404, 'MARKET_NOT_FOUND', 'market not found');
  if (r.method === 'POST' && p === '/bids') {
    if (!needKey()) return;
    const b = r.body as Record<string, unknown>;
    if (b['hours'] === 9999) return err(res, 400, 'VALIDATION_FAILED', 'the request is not valid', { issues: [{ path: 'json.hours', message: 'too long' }] });
    return reply(res, 201, { order: order('b-1', 'bid', { status: 'filled', remaining: 0, holdFen: null }), holdFen: '435840', trades: [trade], leases: [lease] });
  }
  if (r.method === 'POST' && p === '/asks') {
    if (!needKey()) return;
    return reply(res, 201, { order: order('a-9', 'ask'), events: [] });
  }
  if (r.method === 'GET' && p === '/orders') {
    if (!needKey()) return;
    return reply(res, 200, { items: [order('b-2', 'bid'), order('a-1', 'ask')], nextCursor: 'c2' });
  }
  if (r.method === 'DELETE' && p.startsWith('/orders/')) {
    if (!needKey()) return;
    if (p !== '/orders/b-2') return err(res, 404, 'ORDER_NOT_FOUND', 'order not found');
    return reply(res, 200, { order: order('b-2', 'bid', { status: 'cancelled', holdFen: null }) });
  }
  if (r.method === 'GET' && p === '/leases') {
    if (!needKey()) return;
    return reply(res, 200, { items: [lease], nextCursor: null });
  }
  if (r.method === 'GET' && p === '/balances') {
    if (!needKey()) return;
    return reply(res, 200, {
      cashFen: '100000000', availableFen: '99564160', heldFen: '435840', escrowFen: '18160', voucherFen: '0', voucherEscrowFen: '0', earningsFen: '0',
      display: { cash: '¥1,000,000.00' },
    });
  }
  if (r.method === 'GET' && p === '/statement') {
    if (!needKey()) return;
    return reply(res, 200, {
      account: r.query['account'], accountId: 'user:u-buyer:cash', openingBalanceFen: '0', closingBalanceFen: '99981840', nextCursor: null,
      items: [
        { seq: 1, transferId: 'dep-1', at: '2026-01-01T00:00:00.000Z', code: 'deposit', counterparty: 'world', debitFen: '0', creditFen: '100000000', balanceFen: '100000000' },
        { seq: 2, transferId: 'bid:b-1:hold:0', at: '2026-01-01T00:00:01.000Z', code: 'hold', counterparty: 'user:u-buyer:escrow', debitFen: '18160', creditFen: '0', balanceFen: '99981840' },
      ],
    });
  }
  err(res, 404, 'NOT_FOUND', `no route ${r.method} ${r.path}`);
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI as a process (async: the fake server lives in this process). */
function cli(args: readonly string[], env: Record<string, string | undefined> = {}, stdin?: string): Promise<Run> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env['PATH'], HOME: home, XDG_CONFIG_HOME: join(home, 'xdg'), SUANLI_SERVER: base, ...env } },
      (error, stdout, stderr) => resolvePromise({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
    child.stdin?.end(stdin ?? '');
  });
}

const configFile = (): string => join(home, 'xdg', 'suanli', 'config.json');
const last = (method: string, path: string): Recorded => {
  const r = [...requests].reverse().find((x) => x.method === method && x.path === `/api/v1${path}`);
  if (!r) throw new Error(`no ${method} ${path} among ${requests.map((x) => `${x.method} ${x.path}`).join(', ')}`);
  return r;
};

beforeAll(async () => {
  if (!existsSync(CLI) || !existsSync(join(OUT, 'src/cli/client.js'))) throw new Error('dist/ is missing: run npx tsc -p tsconfig.build.json');
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const raw = Buffer.concat(chunks).toString('utf8');
      const rec: Recorded = { method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body: raw === '' ? undefined : JSON.parse(raw) };
      requests.push(rec);
      route(rec, res);
    });
  });
  await new Promise<void>((r2) => server.listen(0, '127.0.0.1', r2));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  home = mkdtempSync(join(tmpdir(), 'suanli-cli-'));
}, 180_000);

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(home, { recursive: true, force: true });
});

beforeEach(() => {
  requests.length = 0;
});

describe('login', () => {
  it('logs in, creates an API key with the session cookie, ends the session and saves the key 0600', async () => {
    const r = await cli(['login', '--email', 'buyer@example.com', '--password', 'correct horse battery']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/logged in .* buyer@example\.com \(buyer\); API key k-1/);
    expect(last('POST', '/auth/login').body).toEqual({ email: 'buyer@example.com', password: 'correct horse battery' });
    const mk = last('POST', '/api-keys');
    expect(mk.headers.cookie).toBe('suanli_session=sess-secret');
    expect(mk.headers.authorization).toBeUndefined();
    expect(mk.body).toMatchObject({ name: expect.stringMatching(/^suanli-cli@/), scopes: ['read', 'trade'] });
    expect(last('POST', '/auth/logout').headers.cookie).toBe('suanli_session=sess-secret');
    expect(statSync(configFile()).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(configFile())).mode & 0o077).toBe(0);
    expect(JSON.parse(readFileSync(configFile(), 'utf8'))).toMatchObject({ server: base, apiKey: KEY, apiKeyId: 'k-1', email: 'buyer@example.com', role: 'buyer' });
  });

  it('asks for email and password on stdin when the flags are absent', async () => {
    const r = await cli(['login', '--json'], {}, 'buyer@example.com\ncorrect horse battery\n');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ user: { id: 'u-buyer' }, apiKey: { id: 'k-1' }, server: base });
    expect(r.stderr).toContain('Password: ');
    expect(r.stdout + r.stderr).not.toContain('correct horse battery');
  });

  it('prints the server error code on wrong credentials and exits 1', async () => {
    const r = await cli(['login', '--email', 'buyer@example.com', '--password', 'nope'], { XDG_CONFIG_HOME: join(home, 'other') });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: INVALID_CREDENTIALS: wrong email or password\n');
    expect(existsSync(join(home, 'other', 'suanli', 'config.json'))).toBe(false);
  });
});

describe('market data', () => {
  it('markets: a table with prices in ¥/GPU-hour; --json is the server JSON', async () => {
    const r = await cli(['markets']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^MARKET\s+BEST ASK\s+BEST BID/m);
    expect(r.stdout).toMatch(new RegExp(`${MARKET}\\s+¥22\\.70\\s+¥20\\.00\\s+¥22\\.70\\s+\\+1\\.5%\\s+192\\s+16`));
    const j = await cli(['markets', '--json']);
    expect(JSON.parse(j.stdout).items[0].bestAskFen).toBe(2270);
  });

  it('book: asks above bids', async () => {
    const r = await cli(['book', MARKET]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`${MARKET}  (seq 42)`);
    expect(lines.slice(2).map((l) => l.split(/\s+/).join(' '))).toEqual(['ask ¥25.00 8', 'ask ¥22.70 5', 'bid ¥20.00 2']);
    const missing = await cli(['book', 'nope@nowhere']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: MARKET_NOT_FOUND: /);
  });
});

describe('orders', () => {
  it('bid: every flag lands in the body; the limit is exact fen; Bearer key and Idempotency-Key are sent', async () => {
    const r = await cli([
      'bid', '--gpu', A100, 'nvidia-h100-sxm5-80g', '--region', 'cn-beijing', 'cn-shanghai', '--gpus', '8', '--gpus-per-node', '8', '--hours', '24',
      '--start', '2026-03-01T08:00:00+08:00', '--limit', '0.29', '--tif', 'gtd', '--expires', '2026-02-01T00:00:00Z', '--partial',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const req = last('POST', '/bids');
    expect(req.body).toEqual({
      acceleratorIds: [A100, 'nvidia-h100-sxm5-80g'], regionIds: ['cn-beijing', 'cn-shanghai'], gpus: 8, gpusPerNode: 8, hours: 24,
      startAt: '2026-03-01T00:00:00.000Z', limitFenPerGpuHour: 29, timeInForce: 'GTD', expiresAt: '2026-02-01T00:00:00.000Z', allowPartial: true,
    });
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req.headers['idempotency-key']).toMatch(/^cli-[0-9a-f-]{36}$/);
    expect(r.stdout).toMatch(/^bid b-1: filled \(limit ¥22\.70\/GPU-h\), held ¥4,358\.40\n/);
    expect(r.stdout).toMatch(/t-1\s+nvidia-a100-sxm4-40g@cn-beijing\s+8\s+¥22\.70/);
    expect(r.stdout).toMatch(/l-1\s+buyer\s+active/);
  });

  it('bid by compute class and amount in P: computeP string and a limit per P-hour', async () => {
    const r = await cli(['bid', '--min-tflops', '300', '--min-memory', '80', '--stack', 'cuda', '--p', '2.50', '--hours', '1', '--limit', '1,234.5', '--idempotency-key', 'retry-1', '--json']);
    expect(r.code).toBe(0);
    const req = last('POST', '/bids');
    expect(req.body).toEqual({ computeClass: { minFp16Tflops: 300, minMemoryGiB: 80, stacks: ['cuda'] }, computeP: '2.5', hours: 1, limitFenPerPHour: 123_450 });
    expect(req.headers['idempotency-key']).toBe('retry-1');
    expect(JSON.parse(r.stdout)).toMatchObject({ order: { id: 'b-1' }, holdFen: '435840' });
  });

  it('ask: nodes and an exact price', async () => {
    const r = await cli(['ask', '--node', 'n1', 'n2', '--price', '22.7', '--unit', 'node', '--min-hours', '2', '--max-hours', '720', '--available-until', '2026-06-01T00:00:00Z']);
    expect(r.code).toBe(0);
    expect(last('POST', '/asks').body).toEqual({ nodeIds: ['n1', 'n2'], priceFenPerGpuHour: 2270, unit: 'node', minHours: 2, maxHours: 720, availableUntil: '2026-06-01T00:00:00.000Z' });
    expect(r.stdout).toMatch(/^ask a-9: active at ¥22\.70\/GPU-h on n1,n2/);
  });

  it('orders, cancel and leases', async () => {
    const o = await cli(['orders', '--side', 'bid', '--status', 'active', '--page-size', '10']);
    expect(o.code).toBe(0);
    expect(last('GET', '/orders').query).toEqual({ side: 'bid', status: 'active', limit: '10' });
    expect(o.stdout).toMatch(/^ID\s+SIDE\s+STATUS\s+PRICE\s+REMAINING\s+HELD/);
    expect(o.stdout).toMatch(/b-2\s+bid\s+active\s+¥22\.70\/GPU-h\s+8 GPUs\s+¥4,358\.40/);
    expect(o.stderr).toBe('(more: --cursor c2)\n');
    const c = await cli(['cancel', 'b-2']);
    expect(c.code).toBe(0);
    expect(c.stdout).toBe('bid b-2: cancelled\n');
    const gone = await cli(['cancel', 'zz']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe('error: ORDER_NOT_FOUND: order not found\n');
    const l = await cli(['leases', '--role', 'buyer']);
    expect(l.code).toBe(0);
    expect(last('GET', '/leases').query).toEqual({ role: 'buyer' });
    expect(l.stdout).toMatch(/l-1\s+buyer\s+active\s+nvidia-a100-sxm4-40g@cn-beijing\s+n1\s+8\s+¥22\.70.*¥181\.60/);
  });

  it('a validation error prints the field paths and exits 1', async () => {
    const r = await cli(['bid', '--gpu', A100, '--gpus', '1', '--hours', '9999', '--limit', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: VALIDATION_FAILED: the request is not valid\n  json.hours: too long\n');
    const j = await cli(['bid', '--gpu', A100, '--gpus', '1', '--hours', '9999', '--limit', '1', '--json']);
    expect(JSON.parse(j.stderr)).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
  });

  it.each([
    [['bid', '--gpu', A100, '--gpus', '1', '--hours', '1', '--limit', '22.705'], /at most two decimals/],
    [['bid', '--gpu', A100, '--gpus', '1', '--p', '2', '--hours', '1', '--limit', '1'], /either --gpus N or --p/],
    [['bid', '--gpus', '1', '--hours', '1', '--limit', '1'], /say what to buy/],
    [['bid', '--gpu', A100, '--gpus', '1', '--limit', '1'], /--hours is required/],
    [['bid', '--gpu', A100, '--gpus', '1', '--hours', '1', '--limit', '1', '--tif', 'NOW'], /--tif must be one of/],
    [['bid', '--gpu', A100, '--gpus', '1', '--hours', '1', '--limit', '1', '--start', 'tomorrow'], /ISO-8601/],
    [['bid', '--gpu', A100, '--gpus', '0', '--hours', '1', '--limit', '1'], /--gpus must be a whole number/],
    [['bid', '--gpu', A100, '--gpus', '1', '--hours', '1', '--limit', '1', '--tif', 'GTD'], /GTD needs --expires/],
    [['ask', '--node', 'n1', '--price', '-1'], /--price must be yuan/],
    [['ask', '--price', '1'], /--node/],
    [['orders', '--bogus'], /unknown option/],
    [['login', '--scopes', 'root'], /Allowed choices/],
    [['serve', '--settle-every', '-5'], /a settlement interval is 0-86400 s/],
    [['serve', '--settle-every', '1.5'], /a settlement interval is 0-86400 s/],
    [['serve', '--settle-every', ''], /a settlement interval is 0-86400 s/],
    [['serve', '--port', '99999'], /a port is 0-65535/],
  ])('bad flags exit 2 without calling the server: %j', async (args, message) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(requests).toEqual([]);
  });
});

describe('money', () => {
  it('balance and statement', async () => {
    const b = await cli(['balance']);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^cash\s+¥1,000,000\.00$/m);
    expect(b.stdout).toMatch(/^available\s+¥995,641\.60$/m);
    expect(b.stdout).toMatch(/^held by open bids\s+¥4,358\.40$/m);
    const s = await cli(['statement']);
    expect(s.code).toBe(0);
    expect(last('GET', '/statement').query).toEqual({ account: 'cash' });
    expect(s.stdout).toMatch(/^cash: opening ¥0\.00, closing ¥999,818\.40$/m);
    expect(s.stdout).toMatch(/deposit\s+world\s+¥1,000,000\.00\s+¥1,000,000\.00\s+dep-1/);
    expect(s.stdout).toMatch(/hold\s+user:u-buyer:escrow\s+¥181\.60\s+¥999,818\.40/);
    await cli(['statement', '--account', 'earnings']);
    expect(last('GET', '/statement').query).toEqual({ account: 'earnings' });
  });
});

describe('credentials', () => {
  it('flag beats env beats config; a saved key is never sent to another server', async () => {
    await cli(['balance'], { SUANLI_API_KEY: 'sk_env' });
    expect(last('GET', '/balances').headers.authorization).toBe('Bearer sk_env');
    await cli(['balance', '--api-key', 'sk_flag'], { SUANLI_API_KEY: 'sk_env' });
    expect(last('GET', '/balances').headers.authorization).toBe('Bearer sk_flag');
    const elsewhere = await cli(['balance', '--server', base.replace('127.0.0.1', 'localhost')]);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/^error: NOT_LOGGED_IN: /);
    const rejected = await cli(['balance'], { SUANLI_API_KEY: 'sk_wrong' });
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toBe('error: INVALID_API_KEY: the API key is not valid\n');
  });

  it('without XDG_CONFIG_HOME the config is ~/.config/suanli/config.json', async () => {
    const h = mkdtempSync(join(tmpdir(), 'suanli-home-'));
    const r = await cli(['login', '--email', 'buyer@example.com', '--password', 'correct horse battery'], { HOME: h, XDG_CONFIG_HOME: undefined });
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(join(h, '.config', 'suanli', 'config.json'), 'utf8'))).toMatchObject({ apiKey: KEY });
    rmSync(h, { recursive: true, force: true });
  });

  it('an unreachable server is exit 1 with a readable message', async () => {
    const r = await cli(['markets', '--server', 'http://127.0.0.1:9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: UNREACHABLE: cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  it('logout revokes the saved key and forgets it', async () => {
    const r = await cli(['logout']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('logged out; API key revoked\n');
    expect(last('DELETE', '/api-keys/k-1').headers.authorization).toBe(`Bearer ${KEY}`);
    const saved = JSON.parse(readFileSync(configFile(), 'utf8')) as Record<string, unknown>;
    expect(saved['apiKey']).toBeUndefined();
    expect(saved['server']).toBe(base);
    const after = await cli(['orders']);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/^error: NOT_LOGGED_IN: .*suanli login/);
    expect((await cli(['logout'])).stdout).toBe('not logged in\n');
    writeFileSync(configFile(), '{not json');
    const broken = await cli(['orders']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/not valid JSON/);
  });
});

describe('against the real exchange (startServer)', () => {
  let running: RunningServer;
  let dir = '';
  let nodeId = '';
  const PW = 'correct horse battery';
  const as = (who: string, args: readonly string[], stdin?: string): Promise<Run> =>
    cli(args, { SUANLI_SERVER: running.url, XDG_CONFIG_HOME: join(dir, who) }, stdin);

  async function call(method: string, path: string, body: unknown, cookie?: string): Promise<{ status: number; body: Record<string, unknown>; cookie: string }> {
    const res = await fetch(`${running.url}/api/v1${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'idempotency-key': `t-${Math.random()}`, ...(cookie ? { cookie } : {}) },
      body: JSON.stringify(body),
    });
    const set = res.headers.getSetCookie().find((c) => c.startsWith('suanli_session='));
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, cookie: set ? set.split(';')[0]! : '' };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'suanli-e2e-'));
    running = await startServer({
      port: 0, db: join(dir, 'exchange.db'), demo: false, adminEmail: 'ops@example.com', adminPassword: 'admin password 1', log: () => undefined,
      config: { argon2: { memoryCostKiB: 1024, timeCost: 1, parallelism: 1 } },
    });
    const prov = await call('POST', '/auth/signup', { email: 'prov@example.com', password: PW, role: 'provider', displayName: 'P' });
    expect(prov.status).toBe(201);
    const node = await call('POST', '/nodes', { acceleratorId: A100, regionId: 'cn-beijing', gpuCount: 8 }, prov.cookie);
    expect(node.status).toBe(201);
    nodeId = String((node.body['node'] as Record<string, unknown>)['id']);
    const buyer = await call('POST', '/auth/signup', { email: 'buy@example.com', password: PW, role: 'buyer', displayName: 'B' });
    const admin = await call('POST', '/auth/login', { email: 'ops@example.com', password: 'admin password 1' });
    const dep = await call('POST', '/admin/deposits', { userId: (buyer.body['user'] as Record<string, unknown>)['id'], amountFen: '10000000' }, admin.cookie);
    expect(dep.status).toBe(201);
  });

  afterAll(async () => {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a provider lists a node; a buyer sees the book, buys, cancels, checks leases and money, logs out', async () => {
    expect((await as('prov', ['login', '--email', 'prov@example.com', '--password', PW])).code).toBe(0);
    const ask = await as('prov', ['ask', '--node', nodeId, '--price', '22.70']);
    expect(ask.stderr).toBe('');
    expect(ask.stdout).toMatch(/^ask \S+: active at ¥22\.70\/GPU-h/);

    const login = await as('buyer', ['login'], 'buy@example.com\ncorrect horse battery\n');
    expect(login.code).toBe(0);
    expect(login.stdout).toMatch(/as buy@example\.com \(buyer\)/);
    expect(statSync(join(dir, 'buyer', 'suanli', 'config.json')).mode & 0o777).toBe(0o600);

    const book = await as('buyer', ['book', MARKET]);
    expect(book.code).toBe(0);
    expect(book.stdout).toMatch(/ask\s+¥22\.70\s+8/);
    expect((await as('buyer', ['markets'])).stdout).toContain(MARKET);

    const bought = await as('buyer', ['bid', '--gpu', A100, '--region', 'cn-beijing', '--gpus', '2', '--hours', '2', '--limit', '25']);
    expect(bought.stderr).toBe('');
    expect(bought.stdout).toMatch(/^bid \S+: filled \(limit ¥25\.00\/GPU-h\)\n/);
    expect(bought.stdout).toMatch(/nvidia-a100-sxm4-40g@cn-beijing\s+2\s+¥22\.70/);

    const resting = await as('buyer', ['bid', '--gpu', A100, '--gpus', '1', '--hours', '1', '--limit', '10.00', '--json']);
    const restingId = String((JSON.parse(resting.stdout) as { order: { id: string; status: string } }).order.id);
    expect((await as('buyer', ['orders', '--status', 'active'])).stdout).toMatch(new RegExp(`${restingId}\\s+bid\\s+active\\s+¥10\\.00/GPU-h\\s+1 GPU\\s+¥10\\.00`));
    expect((await as('buyer', ['cancel', restingId])).stdout).toBe(`bid ${restingId}: cancelled\n`);
    const again = await as('buyer', ['cancel', restingId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: [A-Z_]+: /);

    expect((await as('buyer', ['leases'])).stdout).toMatch(/buyer\s+active\s+nvidia-a100-sxm4-40g@cn-beijing\s+\S+\s+2\s+¥22\.70/);
    const bal = JSON.parse((await as('buyer', ['balance', '--json'])).stdout) as Record<string, string>;
    expect(bal['cashFen']).toBe(String(10_000_000 - 2 * 2 * 2270));
    expect(bal['heldFen']).toBe('0');
    expect((await as('buyer', ['balance'])).stdout).toMatch(/^cash\s+¥99,909\.20$/m);
    const st = await as('buyer', ['statement']);
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(/deposit\s+world\s+¥100,000\.00/);
    expect((await as('prov', ['leases', '--role', 'provider'])).stdout).toMatch(/provider\s+active/);

    expect((await as('buyer', ['logout'])).stdout).toBe('logged out; API key revoked\n');
    const after = await as('buyer', ['orders']);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/NOT_LOGGED_IN/);
  });
});
