/**
 * The web app's five journeys (issue 6) in Chromium against a real `suanli serve` (demo market
 * on, fresh SQLite). Each asserts what the person sees and what the API then holds, fails on any
 * console error, and leaves a screenshot in test-artifacts/browser/.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, apiGet, apiSend, apiSession, CLI, DEMO_PASSWORD, fitsWidth, launch, openPage, ROOT, screenshot, type Serve, startServe, tabTo, type Watched, yuan } from './harness.js';

interface Market {
  market: string;
  acceleratorId: string;
  regionId: string;
  hubId: string;
  bestAskFen: number | null;
  bestBidFen: number | null;
  lastTradeFen: number | null;
  freeGpus: number;
  halted: boolean;
  verified?: boolean;
}
interface Level {
  priceFenPerGpuHour: number;
  gpus: number;
}
interface Accelerator {
  id: string;
  memoryGiB: number;
  interconnect: string;
}
interface Order {
  id: string;
  status: string;
  holdFen: string | null;
  priceFen: number;
}
interface Lease {
  id: string;
  state: string;
  market: string;
  endReason: string | null;
}
interface Balances {
  cashFen: string;
  availableFen: string;
  heldFen: string;
  escrowFen: string;
  voucherFen: string;
  earningsFen: string;
}

const MARKET = 'nvidia-a100-sxm4-40g@cn-beijing';
const POLL = { timeout: 15_000, interval: 250 };
const STAMP = Date.now().toString(36);
const BUYER = { email: `buyer-${STAMP}@example.com`, password: 'correct-horse-battery', name: 'Web Buyer' };
const PROVIDER = { email: `provider-${STAMP}@example.com`, password: 'correct-horse-battery', name: 'Web Provider' };

let serve: Serve;
let browser: Browser;
let admin: BrowserContext;
let buyerPage: Watched | undefined;
let providerPage: Watched | undefined;
let agent: ChildProcess | undefined;
let agentDir: string | undefined;
const opened: Watched[] = [];

async function open(locale: 'en-US' | 'zh-CN'): Promise<Watched> {
  const w = await openPage(browser, serve.url, locale);
  opened.push(w);
  return w;
}

/** A screenshot, after checking the page fits a 1366-pixel laptop screen. */
async function shot(page: Page, name: string): Promise<void> {
  expect(await fitsWidth(page), `${name} is wider than the screen`).toBe(true);
  await screenshot(page, name);
}

/** Every journey ends with no console errors on its pages. */
function expectClean(w: Watched): void {
  expect(w.errors, w.errors.join('\n')).toEqual([]);
}

const texts = (page: Page, selector: string) => page.locator(selector).allInnerTexts();

beforeAll(async () => {
  serve = await startServe();
  browser = await launch();
  admin = await apiSession(browser, serve.url, 'admin@suanli.local', ADMIN_PASSWORD);
}, 120_000);

afterAll(async () => {
  if (agent && agent.exitCode === null) {
    const gone = new Promise((r) => agent!.once('exit', r));
    agent.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000))]);
    if (agent.exitCode === null) agent.kill('SIGKILL');
  }
  if (agentDir) rmSync(agentDir, { recursive: true, force: true });
  for (const w of opened) await w.context.close().catch(() => undefined);
  await admin?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await serve?.close();
});

describe('web app (Chromium against suanli serve)', () => {
  it('serves the app with a strict CSP, immutable assets and client routes; the API keeps its own paths', async () => {
    const home = await fetch(`${serve.url}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await home.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(`${serve.url}${asset}`);
    expect([js.status, js.headers.get('cache-control')]).toEqual([200, 'public, max-age=31536000, immutable']);
    expect((await fetch(`${serve.url}/markets/${encodeURIComponent(MARKET)}`)).headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${serve.url}/api/v1/nope`)).status).toBe(404);
    expect((await fetch(`${serve.url}/healthz`)).headers.get('content-type')).toContain('application/json');
    expect((await fetch(`${serve.url}/docs`)).status).toBe(200);
    expect((await fetch(`${serve.url}/missing.js`)).status).toBe(404);
  });

  it('journey 1 — market without login: markets table, price index, units and languages, live book, trades and candles', async () => {
    const w = await open('en-US');
    const { page } = w;
    await page.goto('/');
    await expect.poll(() => texts(page, '[data-testid=markets-table] tbody tr'), POLL).not.toHaveLength(0);
    // This page shows no live-feed data: no live-feed dot (it said "reconnecting" here before).
    expect(await page.locator('span.dot').count()).toBe(0);
    // The rows are the API's markets, with the API's prices.
    const apiMarkets = (await (await fetch(`${serve.url}/api/v1/markets`)).json()) as { items: Market[] };
    const shown = await page.locator('[data-testid=markets-table] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-market')));
    expect(new Set(shown)).toEqual(new Set(apiMarkets.items.map((m) => m.market)));
    await expect
      .poll(async () => {
        const m = ((await (await fetch(`${serve.url}/api/v1/markets`)).json()) as { items: Market[] }).items.find((x) => x.market === MARKET)!;
        const cell = await page.locator(`[data-testid=markets-table] tr[data-market="${MARKET}"] [data-col=ask]`).innerText();
        return cell === `¥${(m.bestAskFen! / 100).toFixed(2)}/GPU-hour`;
      }, POLL)
      .toBe(true);
    // Price index: SEED's cloud mean beside the market's lowest ask.
    const a100 = page.locator('[data-testid=price-index] tr[data-accelerator="nvidia-a100-sxm4-40g"]');
    await expect.poll(() => a100.locator('[data-col=cloud]').innerText()).toBe('¥22.70/GPU-hour');
    const lowest = Math.min(...apiMarkets.items.filter((m) => m.acceleratorId === 'nvidia-a100-sxm4-40g' && m.bestAskFen !== null).map((m) => m.bestAskFen!));
    expect(await a100.locator('[data-col=ask]').innerText()).toMatch(/^¥\d+\.\d\d\/GPU-hour$/);
    expect(Number.isFinite(lowest)).toBe(true);
    // Units: server-month and P-year, as the calculators convert (22.7 × 8 × 730 = 132,568).
    await page.getByTestId('unit-switch').selectOption('serverMonth');
    await expect.poll(() => a100.locator('[data-col=cloud]').innerText()).toBe('¥132,568/server-month');
    await page.getByTestId('unit-switch').selectOption('pYear');
    await expect.poll(() => a100.locator('[data-col=cloud]').innerText()).toBe('¥637,346/P-year');
    // Chinese (by keyboard alone), remembered across a reload (with the unit).
    expect(await tabTo(page, 'lang-switch')).toBe(true);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('nav').innerText()).toContain('市场');
    await expect.poll(() => a100.locator('[data-col=cloud]').innerText()).toBe('63.73万元/P·年');
    await page.getByTestId('unit-switch').selectOption('serverMonth');
    await page.reload();
    await expect.poll(() => page.locator('[data-testid=price-index] tr[data-accelerator="nvidia-a100-sxm4-40g"] [data-col=cloud]').innerText(), POLL).toBe('13.26万元/台·月');
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    await shot(page, 'journey1-markets-zh');
    await page.getByTestId('lang-switch').click();
    await page.getByTestId('unit-switch').selectOption('gpuHour');

    // The market page: the book equals the API's, and moves live with a new bid.
    await page.locator(`[data-testid=markets-table] tr[data-market="${MARKET}"] th a`).click();
    await expect.poll(() => page.url(), POLL).toMatch(/\/markets\/nvidia-a100-sxm4-40g%40cn-beijing$/);
    // Its book and trades come over the live feed: the dot says so.
    await expect.poll(() => page.locator('span.dot').getAttribute('title'), POLL).toBe('live');
    const bookRows = async () =>
      page.locator('[data-testid=book-table] tbody tr[data-side]').evaluateAll((rows) =>
        rows.map((r) => `${r.getAttribute('data-side')}:${r.getAttribute('data-price')}:${r.getAttribute('data-gpus')}`).sort(),
      );
    const apiBook = async () => {
      const b = (await (await fetch(`${serve.url}/api/v1/markets/${encodeURIComponent(MARKET)}/book?depth=12`)).json()) as { asks: Level[]; bids: Level[] };
      return [...b.asks.map((l) => `ask:${l.priceFenPerGpuHour}:${l.gpus}`), ...b.bids.map((l) => `bid:${l.priceFenPerGpuHour}:${l.gpus}`)].sort();
    };
    await expect.poll(async () => JSON.stringify(await bookRows()) === JSON.stringify(await apiBook()), POLL).toBe(true);
    // Someone bids ¥1.23: the book shows it without a reload (WebSocket delta).
    const demoBuyer = await apiSession(browser, serve.url, 'demo-buyer@suanli.local', DEMO_PASSWORD);
    const bid = await apiSend<{ order: Order }>(demoBuyer, 'POST', '/api/v1/bids', { acceleratorIds: ['nvidia-a100-sxm4-40g'], regionIds: ['cn-beijing'], gpus: 3, hours: 1, limitFenPerGpuHour: 123 }, `j1-${STAMP}`);
    await expect.poll(() => page.locator('[data-testid=book-table] tr[data-side=bid][data-price="123"]').count(), POLL).toBe(1);
    expect(await page.locator('[data-testid=book-table] tr[data-side=bid][data-price="123"]').getAttribute('data-gpus')).toBe('3');
    await apiSend(demoBuyer, 'DELETE', `/api/v1/orders/${bid.order.id}`);
    await expect.poll(() => page.locator('[data-testid=book-table] tr[data-side=bid][data-price="123"]').count(), POLL).toBe(0);
    // A trade (the demo buyer takes one GPU): it appears in the trades list and the candles.
    const trade = await apiSend<{ trades: { id: string }[] }>(demoBuyer, 'POST', '/api/v1/bids', { acceleratorIds: ['nvidia-a100-sxm4-40g'], regionIds: ['cn-beijing'], gpus: 1, hours: 1, limitFenPerGpuHour: 10_000, timeInForce: 'IOC' }, `j1t-${STAMP}`);
    expect(trade.trades).toHaveLength(1);
    await expect.poll(() => page.locator(`[data-testid=trades-table] tr[data-trade="${trade.trades[0]!.id}"]`).count(), POLL).toBe(1);
    await expect.poll(() => page.locator('[data-testid=chart-candles] canvas').count(), POLL).toBeGreaterThan(0);
    await expect.poll(() => page.locator('[data-testid=chart-depth] canvas').count(), POLL).toBeGreaterThan(0);
    await demoBuyer.close();
    await shot(page, 'journey1-market');
    expectClean(w);
  });

  it('journey 2 — buyer: sign up, filter capacity like the API, bid by GPUs and by P with the preview, trade, lease, end early, money', async () => {
    const w = await open('zh-CN');
    buyerPage = w;
    const { page, context } = w;
    w.expectFailure({ url: /\/api\/v1\/leases\/[^/]+\/logs$/, status: 404 }); // until the agent's log route lands
    await page.goto('/signup');
    await expect.poll(() => page.locator('h1').innerText()).toBe('注册');
    await page.getByLabel('邮箱').fill(BUYER.email);
    await page.getByLabel('密码').fill(BUYER.password);
    await page.getByLabel('显示名称').fill(BUYER.name);
    await page.getByLabel('买方').check();
    await page.getByRole('button', { name: '注册' }).click();
    await expect.poll(() => page.url(), POLL).toMatch(/\/capacity$/);
    await expect.poll(() => page.getByTestId('who').innerText()).toContain(BUYER.name);
    const me = await apiGet<{ user: { id: string; role: string } }>(context, '/api/v1/me');
    expect(me.user.role).toBe('buyer');
    // An operator credits ¥10,000 and a ¥500 voucher (journey 4 does it through the UI).
    await apiSend(admin, 'POST', '/api/v1/admin/deposits', { userId: me.user.id, amountFen: '1000000' }, `dep-${STAMP}`);
    await apiSend(admin, 'POST', '/api/v1/admin/programmes', { programmeId: `p-${STAMP}`, amountFen: '10000000' }, `prog-${STAMP}`);
    await apiSend(admin, 'POST', '/api/v1/admin/vouchers', { programmeId: `p-${STAMP}`, userId: me.user.id, amountFen: '50000', expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString() }, `v-${STAMP}`);

    // Filters: the rows are exactly the API's markets that pass them.
    const accs = new Map((await apiGet<{ items: Accelerator[] }>(context, '/api/v1/accelerators')).items.map((a) => [a.id, a]));
    const rows = () => page.locator('[data-testid=capacity-results] tbody tr').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-market')).sort());
    const agree = async (pass: (m: Market) => boolean) => {
      const api = (await apiGet<{ items: Market[] }>(context, '/api/v1/markets')).items.filter(pass).map((m) => m.market).sort();
      return JSON.stringify(await rows()) === JSON.stringify(api) ? 'agree' : `ui ${JSON.stringify(await rows())} api ${JSON.stringify(api)}`;
    };
    await expect.poll(() => agree(() => true), POLL).toBe('agree');
    await page.getByLabel('互联').selectOption('nvlink');
    await page.getByLabel('最小显存（GiB）').fill('40');
    await expect.poll(() => agree((m) => accs.get(m.acceleratorId)!.interconnect === 'nvlink' && accs.get(m.acceleratorId)!.memoryGiB >= 40), POLL).toBe('agree');
    await page.getByLabel('最高价（¥/卡·时）').fill('30');
    await page.getByLabel('最少空闲 GPU').fill('2');
    const passes = (m: Market) => accs.get(m.acceleratorId)!.interconnect === 'nvlink' && accs.get(m.acceleratorId)!.memoryGiB >= 40 && m.bestAskFen !== null && m.bestAskFen <= 3000 && m.freeGpus >= 2;
    await expect.poll(() => agree(passes), POLL).toBe('agree');
    await page.getByLabel('地区或枢纽').selectOption('region:cn-beijing');
    await expect.poll(() => agree((m) => passes(m) && m.regionId === 'cn-beijing'), POLL).toBe('agree');
    const verified = page.getByRole('checkbox', { name: /仅已验证/ });
    const apiHasAttestation = (await apiGet<{ items: Market[] }>(context, '/api/v1/markets')).items.some((m) => m.verified !== undefined);
    expect(await verified.isDisabled()).toBe(!apiHasAttestation);
    if (apiHasAttestation) {
      await verified.check();
      await expect.poll(() => agree((m) => passes(m) && m.regionId === 'cn-beijing' && m.verified === true), POLL).toBe('agree');
      await verified.uncheck();
    }
    await shot(page, 'journey2-capacity');

    // Bid by GPU count, resting below the asks: the preview's hold is the hold the API takes.
    await page.getByRole('button', { name: new RegExp(`出价: NVIDIA A100 SXM4 40GB`) }).click();
    const form = page.getByTestId('bid-form');
    await form.getByLabel('GPU 数', { exact: true }).fill('2');
    await form.getByLabel('小时').fill('3');
    await form.getByLabel('限价（¥/卡·时）').fill('5.00');
    await expect.poll(() => form.getByTestId('preview-hold').innerText()).toBe(yuan(500 * 2 * 3));
    await form.getByRole('button', { name: '提交出价' }).click();
    await expect.poll(() => form.getByTestId('bid-result').getAttribute('data-status'), POLL).toBe('active');
    const restingId = (await form.getByTestId('bid-result').getAttribute('data-order'))!;
    const resting = (await apiGet<{ order: Order }>(context, `/api/v1/orders/${restingId}`)).order;
    expect([resting.status, resting.holdFen]).toEqual(['active', String(500 * 2 * 3)]);

    // By P: 0.624 P of A100s (two GPUs) for 2 hours at ¥10/P-hour; the preview's hold is the API's.
    await form.getByLabel('按算力（P）').check();
    await form.getByLabel('算力（P）', { exact: true }).fill('0.624');
    await form.getByLabel('小时').fill('2');
    await form.getByLabel('限价（¥/P·时）').fill('10.00');
    const previewP = await form.getByTestId('preview-hold').innerText();
    await form.getByRole('button', { name: '提交出价' }).click();
    await expect.poll(async () => (await form.getByTestId('bid-result').getAttribute('data-order')) !== restingId, POLL).toBe(true);
    const pOrder = (await apiGet<{ order: Order }>(context, `/api/v1/orders/${(await form.getByTestId('bid-result').getAttribute('data-order'))!}`)).order;
    expect(yuan(pOrder.holdFen!)).toBe(previewP);

    // Too big for the balance: the exchange's refusal, in words.
    w.expectFailure({ url: /\/api\/v1\/bids$/, status: 402 });
    await form.getByLabel('按 GPU 数').check();
    await form.getByLabel('GPU 数', { exact: true }).fill('8');
    await form.getByLabel('小时').fill('720');
    await form.getByLabel('限价（¥/卡·时）').fill('60.00');
    await form.getByRole('button', { name: '提交出价' }).click();
    await expect.poll(() => form.getByRole('alert').innerText().catch(() => ''), POLL).toContain('余额不足');

    // Bid at a limit above the best ask: it trades at the ask's price and opens a lease.
    const bestAsk = async () => (await apiGet<{ asks: Level[] }>(context, `/api/v1/markets/${encodeURIComponent(MARKET)}/book`)).asks[0]?.priceFenPerGpuHour;
    await form.getByLabel('按 GPU 数').check();
    await form.getByLabel('GPU 数', { exact: true }).fill('1');
    await form.getByLabel('小时').fill('2');
    await form.getByLabel('限价（¥/卡·时）').fill('60.00');
    // The estimate follows the live book: the best ask × 2 hours.
    await expect.poll(async () => (await form.getByTestId('preview-cost').innerText()) === yuan((await bestAsk())! * 2), POLL).toBe(true);
    await expect.poll(() => form.getByTestId('preview-hold').innerText()).toBe(yuan(6000 * 2));
    await form.getByRole('button', { name: '提交出价' }).click();
    await expect.poll(() => form.getByTestId('bid-result').getAttribute('data-status'), POLL).toBe('filled');
    expect(await form.getByTestId('bid-result').innerText()).toContain('已成交');
    const leases = (await apiGet<{ items: Lease[] }>(context, '/api/v1/leases')).items;
    expect(leases).toHaveLength(1);
    const lease = leases[0]!;
    expect([lease.market, lease.state]).toEqual([MARKET, 'active']);

    // The account: balances (as the API), orders, the lease; cancel the P bid; end the lease early.
    await page.goto('/account');
    const bal = await apiGet<Balances>(context, '/api/v1/balances');
    await expect.poll(() => page.locator('[data-balance=cashFen] dd').innerText(), POLL).toBe(yuan(bal.cashFen));
    await expect.poll(() => page.locator('[data-balance=voucherFen] dd').innerText(), POLL).toBe(yuan(bal.voucherFen));
    await page.getByRole('button', { name: `撤单 ${pOrder.id}` }).click();
    await expect.poll(async () => (await apiGet<{ order: Order }>(context, `/api/v1/orders/${pOrder.id}`)).order.status, POLL).toBe('cancelled');
    await expect.poll(() => page.locator(`[data-testid=orders-table] tr[data-order="${pOrder.id}"]`).getAttribute('data-status'), POLL).toBe('cancelled');
    await expect.poll(() => page.locator(`[data-testid=leases-table] tr[data-lease="${lease.id}"]`).getAttribute('data-state'), POLL).toBe('active');
    await expect.poll(() => page.locator('[data-testid=vouchers-table] tbody tr').count(), POLL).toBe(1);
    expect(await page.locator('[data-testid=vouchers-table]').innerText()).toContain('¥500.00');
    await expect.poll(() => page.locator('[data-testid=statement-cash] tr[data-code]').count(), POLL).toBeGreaterThan(0);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: `立即结束 ${lease.id}` }).click();
    const ended = page.getByTestId('lease-ended');
    await expect.poll(() => ended.count(), POLL).toBe(1);
    const refundFen = (await ended.getAttribute('data-refund'))!;
    expect(BigInt(refundFen)).toBeGreaterThan(0n);
    expect(await ended.innerText()).toContain(yuan(refundFen));
    const after = (await apiGet<{ lease: Lease }>(context, `/api/v1/leases/${lease.id}`)).lease;
    expect([after.state, after.endReason]).toEqual(['ended', 'buyer']);
    await expect.poll(() => page.locator(`[data-testid=leases-table] tr[data-lease="${lease.id}"]`).getAttribute('data-state'), POLL).toBe('ended');
    const balAfter = await apiGet<Balances>(context, '/api/v1/balances');
    expect(balAfter.escrowFen).toBe('0');
    await expect.poll(() => page.locator('[data-balance=cashFen] dd').innerText(), POLL).toBe(yuan(balAfter.cashFen));
    await shot(page, 'journey2-account');
    // The lease page: terms, and access and logs (or a clear note while the exchange lacks them).
    await page.goto(`/leases/${lease.id}`);
    await expect.poll(() => page.getByTestId('lease-state').innerText(), POLL).toBe('ended');
    await expect.poll(() => page.locator('main').innerText(), POLL).toMatch(/访问方式/);
    await shot(page, 'journey2-lease');
    expectClean(w);
  });

  it('journey 3 — provider: sign up, enrollment command, servers with attestation, ask beside market and reference prices, earnings, payback', async () => {
    const w = await open('en-US');
    providerPage = w;
    const { page, context } = w;
    w.expectFailure({ url: /\/api\/v1\/enrollment-tokens$/, status: 404 }); // until the agent's routes land
    await page.goto('/signup?role=provider');
    await page.getByLabel('Email').fill(PROVIDER.email);
    await page.getByLabel('Password').fill(PROVIDER.password);
    await page.getByLabel('Display name').fill(PROVIDER.name);
    expect(await page.getByLabel('Provider').isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await expect.poll(() => page.url(), POLL).toMatch(/\/provider$/);
    expect((await apiGet<{ user: { role: string } }>(context, '/api/v1/me')).user.role).toBe('provider');

    // Enrollment: the exact `suanli agent …` command, or a clear note where the exchange lacks it.
    const enrollProbe = await context.request.get('/api/v1/enrollment-tokens');
    if (enrollProbe.status() === 404) {
      await expect.poll(() => page.locator('main').innerText(), POLL).toContain('does not accept agent enrollment yet');
    } else {
      await page.getByTestId('enroll-form').getByRole('button', { name: 'Create enrollment token' }).click();
      const cmd = page.getByTestId('enroll-command').locator('code');
      await expect.poll(() => cmd.count(), POLL).toBe(1);
      expect(await cmd.innerText()).toMatch(/^suanli agent /);
      const tokens = (await apiGet<{ items: unknown[] }>(context, '/api/v1/enrollment-tokens')).items;
      expect(tokens.length).toBe(1);
    }

    // A server by hand; the table shows it as the API holds it.
    const add = page.getByTestId('add-node');
    await add.getByLabel('Model').selectOption('nvidia-a100-sxm4-40g');
    await add.getByLabel('Region').selectOption('cn-beijing');
    await add.getByLabel('GPUs').fill('8');
    await add.getByRole('button', { name: 'Register' }).click();
    await expect.poll(() => page.locator('[data-testid=nodes-table] tbody tr').count(), POLL).toBe(1);
    const nodes = (await apiGet<{ items: { id: string; market: string; kind: string; gpuCount: number; attestation?: string }[] }>(context, '/api/v1/nodes')).items;
    expect(nodes.map((n) => [n.market, n.kind, n.gpuCount])).toEqual([[MARKET, 'manual', 8]]);
    const row = page.locator(`[data-testid=nodes-table] tr[data-node="${nodes[0]!.id}"]`);
    expect(await row.innerText()).toContain(MARKET);

    // The ask form, with the market's best prices and SEED's reference beside it.
    const ctx = page.getByTestId('ask-context');
    await expect
      .poll(async () => {
        const m = (await apiGet<{ items: Market[] }>(context, '/api/v1/markets')).items.find((x) => x.market === MARKET)!;
        return (await ctx.getByTestId('ctx-ask').innerText()) === `¥${(m.bestAskFen! / 100).toFixed(2)}/GPU-hour`;
      }, POLL)
      .toBe(true);
    expect(await ctx.getByTestId('ctx-reference').innerText()).toContain('¥22.70/GPU-hour');
    const askForm = page.getByTestId('ask-form');
    await askForm.getByLabel('Price (¥ per GPU-hour)').fill('25.00');
    await askForm.getByRole('button', { name: 'Post an ask' }).click();
    await expect.poll(() => askForm.getByTestId('ask-result').count(), POLL).toBe(1);
    const askId = (await askForm.getByTestId('ask-result').getAttribute('data-order'))!;
    const ask = (await apiGet<{ order: Order }>(context, `/api/v1/orders/${askId}`)).order;
    expect([ask.status, ask.priceFen]).toEqual(['active', 2500]);

    // Earnings as the API holds them; payback prefilled with this server at this price (8 × ¥25).
    const bal = await apiGet<Balances>(context, '/api/v1/balances');
    await expect.poll(() => page.locator('[data-balance=earningsFen] dd').innerText(), POLL).toBe(yuan(bal.earningsFen));
    const payback = page.getByTestId('calc-payback');
    await expect.poll(() => payback.getByLabel('Price per server-hour (¥)').inputValue(), POLL).toBe('200.00');
    expect(await payback.getByLabel('Capital cost (¥)').inputValue()).toBe('1800000');
    await payback.getByRole('button', { name: 'Calculate' }).click();
    const months = page.locator('[data-testid=calc-payback-result] tr[data-key=paybackMonths]');
    await expect.poll(() => months.count(), POLL).toBe(1);
    const api = await apiSend<{ paybackMonths: number }>(context, 'POST', '/api/v1/estimate/payback', { capex: 1_800_000, years: 5, cashShare: 0.4, pricePerServerHour: 200, utilization: 1 });
    expect(Number(await months.getAttribute('data-value'))).toBe(api.paybackMonths);
    await shot(page, 'journey3-provider');
    expectClean(w);
  });

  it('journey 3b — agent server: the copied command enrolls a fake-GPU host, flagged unverified with live health; a buyer runs a workload there and sees access and live logs', async () => {
    const { page, context } = providerPage!;
    if ((await context.request.get('/api/v1/enrollment-tokens')).status() === 404) return; // the exchange has no agent routes yet
    const REGION = 'cn-guangdong-shenzhen'; // no demo supply there: the demo traders leave it alone
    const SHENZHEN = `nvidia-a100-sxm4-40g@${REGION}`;
    const enroll = page.getByTestId('enroll-form');
    await enroll.getByLabel('Region').selectOption(REGION);
    await enroll.getByLabel('Label (optional)').fill('shenzhen-1');
    const code = page.getByTestId('enroll-command').locator('code');
    const previous = await code.innerText().catch(() => '');
    await enroll.getByRole('button', { name: 'Create enrollment token' }).click();
    await expect.poll(async () => (await code.innerText().catch(() => '')) !== previous, POLL).toBe(true);
    await expect.poll(async () => (await apiGet<{ items: { label: string }[] }>(context, '/api/v1/enrollment-tokens')).items.some((x) => x.label === 'shenzhen-1'), POLL).toBe(true);
    const command = await code.innerText();
    const words = command.trim().split(/\s+/);
    expect(words.slice(0, 2)).toEqual(['suanli', 'agent']);
    expect(command).toContain(`--server ${serve.url}`);
    // The exact command, with fake GPUs (this machine has none) and a private state directory.
    agentDir = mkdtempSync(join(tmpdir(), 'suanli-agent-'));
    agent = spawn(process.execPath, [CLI, ...words.slice(1), '--fake-gpus', 'nvidia-a100-sxm4-40g:8', '--state-dir', agentDir, '--runtime', 'process', '--heartbeat-ms', '1000'], {
      cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let agentOut = '';
    agent.stdout!.on('data', (d: Buffer) => (agentOut += d.toString()));
    agent.stderr!.on('data', (d: Buffer) => (agentOut += d.toString()));

    // The node: agent kind, unverified (fake GPUs) and flagged, online, per-GPU health.
    const agentRow = page.locator('[data-testid=nodes-table] tr[data-kind=agent]');
    await expect.poll(() => agentRow.count(), { timeout: 30_000, interval: 500 }).toBe(1);
    await expect.poll(() => agentRow.locator('[data-attestation]').getAttribute('data-attestation'), POLL).toBe('unverified');
    expect(await agentRow.getByTestId('attestation-reasons').innerText()).toContain('fake GPUs');
    await expect.poll(() => agentRow.locator('[data-online]').getAttribute('data-online'), { timeout: 30_000, interval: 500 }).toBe('true');
    await expect.poll(() => agentRow.locator('ul.gpus li').count(), { timeout: 30_000, interval: 500 }).toBe(8);
    const nodes = (await apiGet<{ items: { id: string; kind: string; market: string; attestation: string; unverified: boolean; online: boolean }[] }>(context, '/api/v1/nodes')).items;
    const node = nodes.find((n) => n.kind === 'agent')!;
    expect([node.market, node.attestation, node.unverified, node.online], agentOut).toEqual([SHENZHEN, 'unverified', true, true]);
    await shot(page, 'journey3b-agent-node');

    // List it at ¥21.00.
    const askForm = page.getByTestId('ask-form');
    await askForm.getByLabel('Servers').selectOption(node.id);
    await askForm.getByLabel('Price (¥ per GPU-hour)').fill('21.00');
    await askForm.getByRole('button', { name: 'Post an ask' }).click();
    await expect.poll(async () => (await askForm.getByTestId('ask-result').innerText().catch(() => '')).length > 0, POLL).toBe(true);
    await expect.poll(async () => (await apiGet<{ items: Market[] }>(context, '/api/v1/markets')).items.find((m) => m.market === SHENZHEN)?.bestAskFen, POLL).toBe(2100);

    // The buyer finds it, bids with a workload, and watches the lease's access details and logs.
    const b = buyerPage!;
    const bp = b.page;
    await bp.goto('/capacity');
    await bp.getByLabel('地区或枢纽').selectOption(`region:${REGION}`);
    const shown = () => bp.locator('[data-testid=capacity-results] tbody tr').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-market')));
    await expect.poll(shown, POLL).toEqual([SHENZHEN]);
    // Its capacity is on fake GPUs: marked, and gone under "verified only", as the API says.
    expect((await apiGet<{ items: Market[] }>(b.context, '/api/v1/markets')).items.find((m) => m.market === SHENZHEN)?.verified).toBe(false);
    expect(await bp.locator(`[data-testid=capacity-results] tr[data-market="${SHENZHEN}"] [data-unverified]`).count()).toBe(1);
    await bp.getByRole('checkbox', { name: /仅已验证/ }).check();
    await expect.poll(() => bp.locator('[data-testid=capacity-results] tbody tr').count(), POLL).toBe(0);
    await bp.getByRole('checkbox', { name: /仅已验证/ }).uncheck();
    await expect.poll(shown, POLL).toEqual([SHENZHEN]);
    await bp.locator(`[data-testid=capacity-results] tr[data-market="${SHENZHEN}"] button`).click();
    const form = bp.getByTestId('bid-form');
    await form.getByLabel('GPU 数', { exact: true }).fill('2');
    await form.getByLabel('小时').fill('1');
    await form.getByLabel('限价（¥/卡·时）').fill('30.00');
    await form.locator('summary').click();
    const script = "console.log('hello from the lease'); setInterval(() => console.log('tick'), 500)";
    await form.getByLabel('命令（空格分隔，或 JSON 数组）').fill(JSON.stringify([process.execPath, '-e', script]));
    await form.getByRole('button', { name: '提交出价' }).click();
    await expect.poll(() => form.getByTestId('bid-result').getAttribute('data-status'), POLL).toBe('filled');
    await form.getByRole('link', { name: /^租约 / }).click();
    await expect.poll(() => bp.url(), POLL).toMatch(/\/leases\//);
    const leaseId = decodeURIComponent(bp.url().split('/leases/')[1]!);
    await expect.poll(() => bp.getByTestId('lease-logs').innerText().catch(() => ''), { timeout: 30_000, interval: 500 }).toContain('hello from the lease');
    await expect.poll(() => bp.locator('[data-testid=lease-access]').innerText().catch(() => ''), { timeout: 30_000, interval: 500 }).toContain('process');
    const lease = (await apiGet<{ lease: Lease & { access: Record<string, unknown> | null; attestation: string | null } }>(b.context, `/api/v1/leases/${leaseId}`)).lease;
    expect([lease.market, lease.state, lease.access?.kind, lease.attestation]).toEqual([SHENZHEN, 'active', 'process', 'unverified']);
    const logs = (await apiGet<{ items: { line: string }[] }>(b.context, `/api/v1/leases/${leaseId}/logs`)).items.map((l) => l.line);
    expect(logs).toContain('hello from the lease');
    // Live: more lines arrive without a reload.
    const before = (await bp.getByTestId('lease-logs').innerText()).split('\n').length;
    await expect.poll(async () => (await bp.getByTestId('lease-logs').innerText()).split('\n').length, POLL).toBeGreaterThan(before + 2);
    await shot(bp, 'journey2-lease-logs');
    bp.once('dialog', (d) => void d.accept());
    await bp.getByRole('button', { name: `立即结束 ${leaseId}` }).click();
    await expect.poll(async () => (await apiGet<{ lease: Lease }>(b.context, `/api/v1/leases/${leaseId}`)).lease.state, POLL).toBe('ended');
    await expect.poll(() => bp.getByTestId('lease-state').innerText(), POLL).toBe('ended');
    expectClean(b);
    expectClean(providerPage!);
  });

  it('journey 4 — operator: credit cash, sponsor programme and voucher, fee, halt and resume, users, health', async () => {
    const w = await open('en-US');
    const { page } = w;
    await page.goto('/login');
    await page.getByLabel('Email').fill('admin@suanli.local');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.url(), POLL).toMatch(/\/admin$/);
    const buyerCtx = buyerPage!.context;
    const buyerId = (await apiGet<{ user: { id: string } }>(buyerCtx, '/api/v1/me')).user.id;
    const before = await apiGet<Balances>(buyerCtx, '/api/v1/balances');

    const deposit = page.getByTestId('deposit');
    await expect.poll(() => deposit.locator('option').count(), POLL).toBeGreaterThan(2);
    await deposit.getByLabel('User').selectOption(buyerId);
    await deposit.getByLabel('Amount (¥)').fill('1234.56');
    await deposit.getByRole('button', { name: 'Credit' }).click();
    await expect.poll(() => page.getByTestId('deposit-done').count(), POLL).toBe(1);
    expect(BigInt((await apiGet<Balances>(buyerCtx, '/api/v1/balances')).cashFen) - BigInt(before.cashFen)).toBe(123456n);

    const programme = page.getByTestId('programme');
    await programme.getByLabel('Programme id').fill(`sme-${STAMP}`);
    await programme.getByLabel('Amount (¥)').fill('50000');
    await programme.getByRole('button', { name: 'Fund programme' }).click();
    await expect.poll(() => page.getByTestId('programme-done').count(), POLL).toBe(1);
    const voucher = page.getByTestId('voucher');
    await voucher.getByLabel('User').selectOption(buyerId);
    await voucher.getByLabel('Amount (¥)').fill('800');
    await voucher.getByRole('button', { name: 'Grant voucher' }).click();
    await expect.poll(() => page.getByTestId('voucher-done').count(), POLL).toBe(1);
    const grants = (await apiGet<{ items: { programmeId: string; amountFen: string }[] }>(buyerCtx, '/api/v1/vouchers')).items;
    expect(grants.find((g) => g.programmeId === `sme-${STAMP}`)?.amountFen).toBe('80000');

    const fee = page.getByTestId('fee');
    await fee.getByLabel('Fee (basis points, 100 = 1%)').fill('300');
    await fee.getByRole('button', { name: 'Set fee' }).click();
    await expect.poll(() => page.getByTestId('fee-done').innerText(), POLL).toContain('300 bps');
    expect((await apiGet<{ feeBps: number }>(admin, '/api/v1/admin/fee')).feeBps).toBe(300);
    await expect.poll(() => page.getByTestId('fee-now').innerText(), POLL).toContain('300 bps');

    const L40S = 'nvidia-l40s-48g@cn-shanghai';
    const haltRow = page.locator(`[data-testid=halts-table] tr[data-market="${L40S}"]`);
    await haltRow.getByRole('button', { name: `Halt ${L40S}` }).click();
    await expect.poll(async () => (await apiGet<{ items: Market[] }>(admin, '/api/v1/markets')).items.find((m) => m.market === L40S)?.halted, POLL).toBe(true);
    await expect.poll(() => haltRow.getAttribute('data-halted'), POLL).toBe('true');
    await shot(page, 'journey4-admin-halted');
    await haltRow.getByRole('button', { name: `Resume ${L40S}` }).click();
    await expect.poll(async () => (await apiGet<{ items: Market[] }>(admin, '/api/v1/markets')).items.find((m) => m.market === L40S)?.halted, POLL).toBe(false);

    // Disable a user from the list (then enable them again): the API holds it each time.
    const extra = `extra-${STAMP}@example.com`;
    const made = await apiSend<{ user: { id: string } }>(admin, 'POST', '/api/v1/admin/users', { email: extra, password: 'extra-password-1', role: 'buyer', displayName: 'Extra' });
    await page.reload();
    const disabledOf = async (): Promise<string | null | undefined> =>
      (await apiGet<{ items: { id: string; disabledAt: string | null }[] }>(admin, '/api/v1/admin/users?limit=200')).items.find((x) => x.id === made.user.id)?.disabledAt;
    await page.getByRole('button', { name: `Disable ${extra}` }).click();
    await expect.poll(disabledOf, POLL).not.toBeNull();
    await expect.poll(() => page.locator(`[data-user="${made.user.id}"] td[data-disabled]`).getAttribute('data-disabled'), POLL).toBe('true');
    await page.getByRole('button', { name: `Enable ${extra}` }).click();
    await expect.poll(disabledOf, POLL).toBeNull();

    const users = (await apiGet<{ items: { email: string }[] }>(admin, '/api/v1/admin/users?limit=200')).items;
    await expect.poll(() => page.locator('[data-testid=users-table] tbody tr').count(), POLL).toBe(users.length);
    expect(await page.getByTestId('users-table').innerText()).toContain(BUYER.email);
    await expect.poll(() => page.getByTestId('health').innerText(), POLL).toContain('ready');
    await shot(page, 'journey4-admin');
    expectClean(w);
  });

  it('journey 5 — calculators show the same figures as `suanli estimate`', async () => {
    const w = await open('en-US');
    const { page } = w;
    await page.goto('/calculators');
    const cli = (args: string[]) => JSON.parse(execFileSync(process.execPath, [CLI, 'estimate', ...args, '--json'], { cwd: ROOT, encoding: 'utf8' })) as Record<string, unknown>;
    const cases: [string, string[], Record<string, string>][] = [
      ['training', ['training', '--params', '175e9', '--tokens', '300e9', '--days', '30', '--gpu', 'nvidia-a100-sxm4-40g', '--util', '0.45'], { gpus: '865.6' }],
      ['inference', ['inference', '--params', '80e9', '--visits', '1e6', '--questions', '10', '--tokens-per-question', '1000', '--gpu', 'nvidia-a100-sxm4-40g', '--util', '0.45'], { gpus: '65.9' }],
      ['payback', ['payback', '--capex', '1800000', '--years', '5', '--cash-share', '0.4', '--price-per-server-hour', '180', '--utilization', '1'], { paybackYears: '1.35', paybackMonths: '16.2' }],
      ['platform-margin', ['platform-margin', '--gpu', 'nvidia-a100-sxm4-40g', '--price-per-server-hour', '180', '--cost-per-p-year', '200000'], { pflops: '2.5', revenuePerPYear: '630,720', valuePerPYear: '430,720' }],
      ['convert', ['convert', '--gpu', 'nvidia-a100-sxm4-40g', '--price-per-gpu-hour', '22.7'], { pricePerServerMonthYuan: '132,568' }],
    ];
    for (const [kind, args, seen] of cases) {
      await page.getByTestId(`calc-${kind}`).getByRole('button', { name: 'Calculate' }).click();
      const result = page.getByTestId(`calc-${kind}-result`);
      await expect.poll(() => result.count(), POLL).toBe(1);
      const expected = cli(args);
      const shown = await result.locator('tr[data-key]').evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-key'), r.getAttribute('data-value'), r.querySelector('td')?.textContent ?? '']));
      for (const [key, value] of Object.entries(expected)) {
        const row = shown.find((r) => r[0] === key);
        expect(row, `${kind}.${key}`).toBeDefined();
        if (typeof value === 'number') expect(Number(row![1]), `${kind}.${key}`).toBe(value);
      }
      for (const [key, text] of Object.entries(seen)) expect(shown.find((r) => r[0] === key)?.[2], `${kind}.${key} as shown`).toBe(text);
    }
    // A calculator error in words, in both languages.
    await page.getByTestId('calc-payback').getByLabel('Price per server-hour (¥)').fill('1');
    w.expectFailure({ url: /\/api\/v1\/estimate\/payback$/, status: 400 });
    await page.getByTestId('calc-payback').getByRole('button', { name: 'Calculate' }).click();
    await expect.poll(() => page.locator('#calc-payback [role=alert]').innerText(), POLL).toContain('never pays back');
    await page.getByTestId('lang-switch').click();
    await page.getByTestId('calc-payback').getByRole('button', { name: '计算' }).click();
    await expect.poll(() => page.locator('#calc-payback [role=alert]').innerText(), POLL).toContain('无法回本');
    await shot(page, 'journey5-calculators');
    await page.getByTestId('lang-switch').click();
    expectClean(w);
  });
});
