/**
 * `suanli serve`'s demo market: on an empty journal, accounts, nodes and asks around SEED.md's
 * reference prices (east hubs at the list price, west hubs ~12% under), all through the command
 * loop like any client; then a demo trader that bids, cancels and ends leases so the market moves.
 */
import { randomBytes } from 'node:crypto';
import { getRegion } from '../core/catalog/index.js';
import type { AppContext } from '../api/context.js';
import { haltedMarkets } from '../api/halts.js';
import { newId } from '../api/schemas.js';
import { createUser } from '../api/users.js';
import { accountIds } from '../core/ledger/chart.js';
import type { CoreCommand } from '../exchange/core.js';
import { EAST_REFERENCE_FEN, DEMO_PROVIDERS, WEST_DISCOUNT } from '../sim/demo-market.js';
import { Rng } from '../sim/prng.js';
import type { UserRole } from '../store/port.js';

export const DEMO_EMAILS = { admin: 'admin@suanli.local', buyer: 'demo-buyer@suanli.local', provider: 'demo-provider@suanli.local' } as const;
const BOT_BUYERS = ['model-startup', 'big-model-co', 'univ-nlp-lab', 'indie-dev'] as const;
const BOT_EMAIL = (name: string): string => `${name}@bots.suanli.local`;
const BOT_DEPOSIT_FEN = 100_000_000n; // ¥1,000,000 each
const DEMO_BUYER_DEPOSIT_FEN = 10_000_000n; // ¥100,000
const TOP_UP_BELOW_FEN = 20_000_000n;

export interface Credential {
  readonly role: UserRole;
  readonly email: string;
  readonly password: string;
}

interface Listing {
  readonly provider: string;
  readonly acceleratorId: string;
  readonly regionId: string;
  readonly nodes: number;
  readonly gpusPerNode: number;
  readonly unit?: 'gpu' | 'node';
  readonly kind?: 'manual' | 'offline';
  readonly minHours?: number;
}

/** East (Beijing, Shanghai, Hangzhou, Chengdu) and west (Gui'an, Horinger, Zhongwei) supply. */
const SUPPLY: readonly Listing[] = [
  { provider: 'jingbei-dc', acceleratorId: 'nvidia-a100-sxm4-40g', regionId: 'cn-beijing', nodes: 2, gpusPerNode: 8 },
  { provider: 'jingbei-dc', acceleratorId: 'nvidia-a100-sxm4-80g', regionId: 'cn-beijing', nodes: 1, gpusPerNode: 8, unit: 'node' },
  { provider: 'xibu-dc', acceleratorId: 'nvidia-a100-sxm4-40g', regionId: 'cn-guizhou-guian', nodes: 2, gpusPerNode: 8 },
  { provider: 'xibu-dc', acceleratorId: 'huawei-ascend-910b', regionId: 'cn-neimenggu-horinger', nodes: 2, gpusPerNode: 8 },
  { provider: 'xibu-dc', acceleratorId: 'nvidia-v100-sxm2-32g', regionId: 'cn-guizhou-guian', nodes: 1, gpusPerNode: 8 },
  { provider: 'telecom-yrd', acceleratorId: 'nvidia-a100-pcie-40g', regionId: 'cn-shanghai', nodes: 2, gpusPerNode: 8 },
  { provider: 'telecom-yrd', acceleratorId: 'nvidia-l40s-48g', regionId: 'cn-shanghai', nodes: 1, gpusPerNode: 8 },
  { provider: 'telecom-yrd', acceleratorId: 'nvidia-rtx-4090-24g', regionId: 'cn-zhejiang-hangzhou', nodes: 2, gpusPerNode: 8 },
  { provider: 'uni-chengdu', acceleratorId: 'nvidia-rtx-4090-24g', regionId: 'cn-sichuan-chengdu', nodes: 1, gpusPerNode: 4 },
  { provider: 'ningxia-compute', acceleratorId: 'nvidia-h800-sxm5-80g', regionId: 'cn-ningxia-zhongwei', nodes: 1, gpusPerNode: 64, unit: 'node', kind: 'offline', minHours: 24 },
  { provider: 'demo-provider', acceleratorId: 'nvidia-h20-96g', regionId: 'cn-beijing', nodes: 1, gpusPerNode: 8 },
];

/** Reference price of a market: SEED's east list price, the west discount in western hubs. */
export function referenceFen(acceleratorId: string, regionId: string): number {
  const east = EAST_REFERENCE_FEN[acceleratorId] ?? 1_000;
  return Math.round(east * (getRegion(regionId)?.side === 'west' ? WEST_DISCOUNT : 1));
}

const password = (): string => process.env.SUANLI_DEMO_PASSWORD ?? randomBytes(12).toString('base64url');

async function must(ctx: AppContext, cmd: CoreCommand): Promise<void> {
  const r = await ctx.loop.submit(cmd);
  if (!r.ok) throw new Error(`demo seeding: ${cmd.type} refused: ${r.code} ${r.message}`);
}

/** Creates the first admin (every fresh exchange needs one). */
export async function seedAdmin(ctx: AppContext, email: string, adminPassword?: string): Promise<Credential> {
  const pw = adminPassword ?? process.env.SUANLI_ADMIN_PASSWORD ?? randomBytes(12).toString('base64url');
  await createUser(ctx, new Set(), { email, password: pw, role: 'admin', displayName: 'Operator' });
  return { role: 'admin', email, password: pw };
}

/** Seeds the demo market through the loop; returns the credentials to print. */
export async function seedDemo(ctx: AppContext, rng: Rng): Promise<Credential[]> {
  const claims = new Set<string>();
  const creds: Credential[] = [];
  const providers = new Map<string, string>();
  for (const name of [...Object.keys(DEMO_PROVIDERS), 'demo-provider']) {
    const email = name === 'demo-provider' ? DEMO_EMAILS.provider : `${name}@providers.suanli.local`;
    const pw = password();
    const { user } = await createUser(ctx, claims, { email, password: pw, role: 'provider', displayName: DEMO_PROVIDERS[name] ?? 'Demo provider' });
    providers.set(name, user.id);
    if (name === 'demo-provider') creds.push({ role: 'provider', email, password: pw });
  }
  for (const l of SUPPLY) {
    const providerId = providers.get(l.provider)!;
    const nodeIds: string[] = [];
    for (let i = 0; i < l.nodes; i++) {
      const nodeId = newId('n');
      await must(ctx, { type: 'registerNode', now: 0, nodeId, providerId, acceleratorId: l.acceleratorId, regionId: l.regionId, gpuCount: l.gpusPerNode, kind: l.kind ?? 'manual' });
      nodeIds.push(nodeId);
    }
    const price = Math.max(1, Math.round(referenceFen(l.acceleratorId, l.regionId) * (0.98 + 0.04 * rng.float())));
    await must(ctx, {
      type: 'placeAsk', now: 0, orderId: newId('o'), providerId, nodeIds, priceFenPerGpuHour: price,
      ...(l.unit ? { unit: l.unit } : {}), ...(l.minHours ? { minHours: l.minHours } : {}),
    });
  }
  const buyerPw = password();
  const { user: buyer } = await createUser(ctx, claims, { email: DEMO_EMAILS.buyer, password: buyerPw, role: 'buyer', displayName: 'Demo buyer' });
  creds.push({ role: 'buyer', email: DEMO_EMAILS.buyer, password: buyerPw });
  await must(ctx, { type: 'deposit', now: 0, userId: buyer.id, amountFen: DEMO_BUYER_DEPOSIT_FEN.toString(), transferId: newId('tx') });
  for (const name of BOT_BUYERS) {
    const { user } = await createUser(ctx, claims, { email: BOT_EMAIL(name), password: password(), role: 'buyer', displayName: name });
    await must(ctx, { type: 'deposit', now: 0, userId: user.id, amountFen: BOT_DEPOSIT_FEN.toString(), transferId: newId('tx') });
  }
  return creds;
}

/**
 * Every `intervalMs`: a bot places one or two bids near the reference price (mostly IOC, some
 * resting), sometimes cancels a resting bid, sometimes ends a lease early. Returns a stop function.
 */
export async function startDemoTrader(ctx: AppContext, rng: Rng, intervalMs: number, log: (line: string) => void): Promise<() => void> {
  const bots = (await Promise.all(BOT_BUYERS.map((n) => ctx.store.userByEmail(BOT_EMAIL(n))))).filter((u) => u !== undefined);
  if (bots.length === 0) return () => undefined;
  let running = false;
  const step = async (): Promise<void> => {
    const bot = rng.pick(bots);
    const halted = await haltedMarkets(ctx.store);
    const markets = ctx.core.engine.markets().filter((m) => !halted.has(m) && SUPPLY.some((l) => `${l.acceleratorId}@${l.regionId}` === m && l.kind !== 'offline'));
    const cash = ctx.core.ledger.getAccount(accountIds.cash(bot.id));
    if (cash && cash.creditsPostedFen - cash.debitsPostedFen < TOP_UP_BELOW_FEN) {
      await ctx.loop.submit({ type: 'deposit', now: 0, userId: bot.id, amountFen: BOT_DEPOSIT_FEN.toString(), transferId: newId('tx') });
    }
    for (let i = rng.int(1, 2); i > 0 && markets.length > 0; i--) {
      const market = rng.pick(markets);
      const [acceleratorId, regionId] = market.split('@') as [string, string];
      const wholeNodes = SUPPLY.some((l) => l.unit === 'node' && `${l.acceleratorId}@${l.regionId}` === market);
      const ref = ctx.core.engine.summary(market).bestAskFen ?? referenceFen(acceleratorId, regionId);
      await ctx.loop.submit({
        type: 'placeBid', now: 0, orderId: newId('o'), buyerId: bot.id, acceleratorIds: [acceleratorId], regionIds: [regionId],
        quantity: { kind: 'gpus', gpus: wholeNodes ? 8 : rng.pick([1, 2, 4, 8]) }, ...(wholeNodes ? { gpusPerNode: 8 } : {}),
        hours: rng.int(1, 12), limitFen: Math.max(1, Math.round(ref * (0.94 + 0.12 * rng.float()))), timeInForce: rng.chance(0.7) ? 'IOC' : 'GTC',
      });
    }
    if (rng.chance(0.3)) {
      const resting = await ctx.store.listOrders({ userId: bot.id, status: 'active', limit: 20 });
      const o = resting.items.length > 0 ? rng.pick(resting.items) : undefined;
      if (o) await ctx.loop.submit({ type: 'cancel', now: 0, orderId: o.id, ownerId: bot.id });
    }
    if (rng.chance(0.45)) {
      const leases = await ctx.store.listLeases({ userId: bot.id, role: 'buyer', state: 'active', limit: 50 });
      const l = leases.items.length > 0 ? rng.pick(leases.items) : undefined;
      if (l) await ctx.loop.submit({ type: 'endLease', now: 0, leaseId: l.id, reason: 'buyer' });
    }
  };
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    step()
      .catch((e: unknown) => log(`demo trader: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
