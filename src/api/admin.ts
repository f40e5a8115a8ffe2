/**
 * Operator routes: credit deposits (no payment gateway: an operator records money received),
 * record withdrawals (money paid out to a user's bank, from cash or from a provider's earnings),
 * fund voucher programmes and grant vouchers, set the fee, halt and resume markets, manage users
 * (create; disable: sessions end and keys stop at once, resting orders are cancelled, running
 * leases go on; enable again).
 */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { accountIds, isSafeId } from '../core/ledger/chart.js';
import { balanceFen } from '../core/ledger/types.js';
import type { UserRow } from '../store/port.js';
import { defineRoute, IdempotencyHeaders, identityOf, newRouter } from './access.js';
import type { ApiEnv } from './context.js';
import { ApiError, notFound, validationError } from './errors.js';
import { runCommand } from './execute.js';
import { HALTED_MARKETS_SETTING, haltedMarkets, rememberHaltedMarkets } from './halts.js';
import { presentUser, UserSchema } from './present.js';
import { FenAmountSchema, IdSchema, IsoTimeSchema, MarketKeySchema, msOf, newId, PageQuerySchema, pageRequest, pageSchema, PriceFenSchema } from './schemas.js';
import { createUser } from './users.js';

const ADMIN = { who: 'user', roles: ['admin'], scopes: ['admin'] } as const;
const body = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } }, required: true });
const out = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const CatalogIds = z.array(z.string().min(1).max(64)).min(1).max(64);

const DepositSchema = z.strictObject({ userId: IdSchema, amountFen: FenAmountSchema });
const WithdrawalSchema = z.strictObject({ userId: IdSchema, amountFen: FenAmountSchema, from: z.enum(['cash', 'earnings']).default('earnings') });
const ProgrammeSchema = z.strictObject({ programmeId: IdSchema, amountFen: FenAmountSchema });
const VoucherGrantSchema = z.strictObject({
  grantId: IdSchema.optional(),
  programmeId: IdSchema,
  userId: IdSchema,
  amountFen: FenAmountSchema,
  expiresAt: IsoTimeSchema,
  scope: z.strictObject({ acceleratorIds: CatalogIds.optional(), regionIds: CatalogIds.optional(), maxPriceFenPerGpuHour: PriceFenSchema.optional() }).default({}),
});
const NewUserSchema = z.strictObject({
  email: z.email().max(254),
  password: z.string().min(10).max(256),
  role: z.enum(['buyer', 'provider', 'admin']),
  displayName: z.string().trim().min(1).max(100),
});
const MoneyMoved = z.object({ transferId: z.string(), amountFen: z.string() });

const deposit = defineRoute(
  ADMIN,
  { method: 'post', path: '/admin/deposits', tags: ['admin'], summary: 'Credit money received to a user’s cash', request: { headers: IdempotencyHeaders, body: body(DepositSchema) }, responses: { 201: out(MoneyMoved.extend({ userId: z.string() }), 'credited') } },
  { idempotent: true, errors: [404, 409, 422] },
);
const withdrawal = defineRoute(
  ADMIN,
  {
    method: 'post', path: '/admin/withdrawals', tags: ['admin'], summary: 'Record money paid out to a user (from cash, or from a provider’s earnings); never below zero',
    request: { headers: IdempotencyHeaders, body: body(WithdrawalSchema) }, responses: { 201: out(MoneyMoved.extend({ userId: z.string(), from: z.enum(['cash', 'earnings']) }), 'paid out') },
  },
  { idempotent: true, errors: [402, 404, 409, 422] },
);
const programme = defineRoute(
  ADMIN,
  { method: 'post', path: '/admin/programmes', tags: ['admin'], summary: 'Fund a voucher programme (sponsor account)', request: { headers: IdempotencyHeaders, body: body(ProgrammeSchema) }, responses: { 201: out(MoneyMoved.extend({ programmeId: z.string() }), 'funded') } },
  { idempotent: true, errors: [409, 422] },
);
const voucher = defineRoute(
  ADMIN,
  {
    method: 'post', path: '/admin/vouchers', tags: ['admin'], summary: 'Grant a scoped, expiring voucher from a programme',
    request: { headers: IdempotencyHeaders, body: body(VoucherGrantSchema) }, responses: { 201: out(z.object({ grantId: z.string(), userId: z.string(), programmeId: z.string(), amountFen: z.string(), expiresAt: z.string() }), 'granted') },
  },
  { idempotent: true, errors: [404, 409, 422] },
);
const fee = defineRoute(
  ADMIN,
  { method: 'put', path: '/admin/fee', tags: ['admin'], summary: 'Set the platform fee (bps) for leases opened from now on', request: { body: body(z.strictObject({ feeBps: z.int().min(0).max(5_000) })) }, responses: { 200: out(z.object({ feeBps: z.int() }), 'set') } },
);
const feeNow = defineRoute(ADMIN, {
  method: 'get', path: '/admin/fee', tags: ['admin'], summary: 'The platform fee (bps) leases opened now pay', responses: { 200: out(z.object({ feeBps: z.int() }), 'the fee') },
});
const haltParams = z.object({ market: MarketKeySchema });
const haltOut = out(z.object({ market: z.string(), halted: z.boolean(), haltedMarkets: z.array(z.string()) }), 'the halt state');
const halt = defineRoute(
  ADMIN,
  { method: 'post', path: '/admin/markets/{market}/halt', tags: ['admin'], summary: 'Halt a market: nothing trades there until resumed; new orders only there are refused; resting orders stay', request: { params: haltParams }, responses: { 200: haltOut } },
  { errors: [404, 409] },
);
const resume = defineRoute(
  ADMIN,
  { method: 'post', path: '/admin/markets/{market}/resume', tags: ['admin'], summary: 'Resume a halted market', request: { params: haltParams }, responses: { 200: haltOut } },
  { errors: [404, 409] },
);
const LedgerSchema = z
  .object({
    accounts: z.array(z.object({ id: z.string(), kind: z.string(), balanceFen: z.string() })),
    totals: z.object({ feesFen: z.string(), depositedFen: z.string(), sumFen: z.string().openapi({ description: 'every balance summed: always "0"' }) }),
  })
  .openapi('PlatformLedger');
const ledger = defineRoute(ADMIN, {
  method: 'get', path: '/admin/ledger', tags: ['admin'], summary: 'The platform’s own accounts (fees earned, money in from outside, sponsors) and the zero-sum check',
  responses: { 200: out(LedgerSchema, 'platform accounts') },
});
const UserParams = z.object({ id: IdSchema });
const disable = defineRoute(ADMIN, {
  method: 'post', path: '/admin/users/{id}/disable', tags: ['admin'], summary: 'Disable a user: sessions end, keys stop working, resting orders are cancelled; running leases go on',
  request: { params: UserParams }, responses: { 200: out(z.object({ user: UserSchema, cancelledOrders: z.array(z.string()) }), 'disabled') },
}, { errors: [404, 409] });
const enable = defineRoute(ADMIN, {
  method: 'post', path: '/admin/users/{id}/enable', tags: ['admin'], summary: 'Enable a disabled user again',
  request: { params: UserParams }, responses: { 200: out(z.object({ user: UserSchema }), 'enabled') },
}, { errors: [404] });
const users = defineRoute(
  ADMIN,
  { method: 'get', path: '/admin/users', tags: ['admin'], summary: 'Every user, oldest first', request: { query: PageQuerySchema }, responses: { 200: out(pageSchema(UserSchema, 'UserPage'), 'users') } },
);
const createUserRoute = defineRoute(
  ADMIN,
  { method: 'post', path: '/admin/users', tags: ['admin'], summary: 'Create a user of any role (the only way to make an admin)', request: { body: body(NewUserSchema) }, responses: { 201: out(z.object({ user: UserSchema }), 'created') } },
  { errors: [409] },
);

async function existingUser(c: Context<ApiEnv>, userId: string): Promise<UserRow> {
  const user = await c.get('runtime').ctx.store.userById(userId);
  if (!user) throw notFound('USER_NOT_FOUND', 'user');
  return user;
}

async function setHalt(c: Context<ApiEnv>, market: string, halted: boolean) {
  const rt = c.get('runtime');
  const [acc, region] = market.split('@') as [string, string];
  if (!rt.catalog.accelerators.has(acc) || !rt.catalog.regions.has(region)) throw notFound('MARKET_NOT_FOUND', `market ${market}`);
  // Read-modify-write of one setting: one change at a time.
  if (rt.claims.has('halts')) throw new ApiError(409, 'HALT_IN_PROGRESS', 'another halt change is running; retry');
  rt.claims.add('halts');
  try {
    const set = new Set(await haltedMarkets(rt.ctx.store));
    if (halted) set.add(market);
    else set.delete(market);
    const list = [...set].sort();
    // The engine stops (or resumes) matching there; the setting, in the same transaction, lets
    // the API refuse new orders that could only trade in halted markets.
    const r = await rt.ctx.loop.submit({ type: 'setMarketHalted', now: 0, market, halted }, () => ({
      settings: [{ key: HALTED_MARKETS_SETTING, value: JSON.stringify(list) }],
    }));
    if (!r.ok) throw new ApiError(400, r.code, r.message);
    rememberHaltedMarkets(rt.ctx.store, list);
    return { market, halted, haltedMarkets: list };
  } finally {
    rt.claims.delete('halts');
  }
}

export const adminRoutes = newRouter()
  .openapi(deposit, async (c) => {
    const { userId, amountFen } = c.req.valid('json');
    await existingUser(c, userId);
    const transferId = newId('tx');
    const res = await runCommand(c, { type: 'deposit', now: 0, userId, amountFen, transferId }, { status: 201, respond: () => ({ transferId, userId, amountFen }) });
    return c.json(res, 201);
  })
  .openapi(withdrawal, async (c) => {
    const { userId, amountFen, from } = c.req.valid('json');
    await existingUser(c, userId);
    const transferId = newId('tx');
    const res = await runCommand(c, { type: 'withdraw', now: 0, userId, amountFen, transferId, from }, { status: 201, respond: () => ({ transferId, userId, amountFen, from }) });
    return c.json(res, 201);
  })
  .openapi(programme, async (c) => {
    const { programmeId, amountFen } = c.req.valid('json');
    if (!isSafeId(programmeId)) throw validationError([{ path: 'json.programmeId', message: 'not a valid id' }]);
    const transferId = newId('tx');
    const res = await runCommand(c, { type: 'fundProgramme', now: 0, programmeId, amountFen, transferId }, { status: 201, respond: () => ({ transferId, programmeId, amountFen }) });
    return c.json(res, 201);
  })
  .openapi(voucher, async (c) => {
    const v = c.req.valid('json');
    await existingUser(c, v.userId);
    const expiresAtMs = msOf(v.expiresAt, 'json.expiresAt');
    if (expiresAtMs <= c.get('runtime').ctx.loop.now()) throw new ApiError(400, 'EXPIRY_IN_PAST', 'expiresAt must be in the future');
    const grantId = v.grantId ?? newId('g');
    const scope = {
      ...(v.scope.acceleratorIds ? { acceleratorIds: v.scope.acceleratorIds } : {}),
      ...(v.scope.regionIds ? { regionIds: v.scope.regionIds } : {}),
      ...(v.scope.maxPriceFenPerGpuHour === undefined ? {} : { maxPriceFenPerGpuHour: v.scope.maxPriceFenPerGpuHour }),
    };
    const res = await runCommand(c, { type: 'grantVoucher', now: 0, grantId, programmeId: v.programmeId, userId: v.userId, amountFen: v.amountFen, expiresAtMs, scope }, {
      status: 201,
      respond: () => ({ grantId, userId: v.userId, programmeId: v.programmeId, amountFen: v.amountFen, expiresAt: new Date(expiresAtMs).toISOString() }),
    });
    return c.json(res, 201);
  })
  .openapi(fee, async (c) => {
    const { feeBps } = c.req.valid('json');
    const res = await runCommand(c, { type: 'setFee', now: 0, feeBps }, { status: 200, respond: () => ({ feeBps }) });
    return c.json(res, 200);
  })
  .openapi(feeNow, (c) => c.json({ feeBps: c.get('runtime').ctx.core.platformFeeBps }, 200))
  .openapi(halt, async (c) => c.json(await setHalt(c, c.req.valid('param').market, true), 200))
  .openapi(resume, async (c) => c.json(await setHalt(c, c.req.valid('param').market, false), 200))
  .openapi(ledger, (c) => {
    const book = c.get('runtime').ctx.core.ledger;
    let sum = 0n;
    const accounts: { id: string; kind: string; balanceFen: string }[] = [];
    for (const a of book.listAccounts()) {
      const fen = balanceFen(a);
      sum += fen;
      if (!a.id.startsWith('user:')) accounts.push({ id: a.id, kind: a.kind, balanceFen: fen.toString() });
    }
    const of = (id: string): bigint => {
      const a = book.getAccount(id);
      return a ? balanceFen(a) : 0n;
    };
    return c.json({ accounts, totals: { feesFen: of(accountIds.fees).toString(), depositedFen: (-of(accountIds.world)).toString(), sumFen: sum.toString() } }, 200);
  })
  .openapi(disable, async (c) => {
    const { ctx } = c.get('runtime');
    const user = await existingUser(c, c.req.valid('param').id);
    if (user.id === identityOf(c).user.id) throw new ApiError(409, 'CANNOT_DISABLE_SELF', 'an admin cannot disable their own account');
    const disabled: UserRow = { ...user, disabledAtMs: user.disabledAtMs ?? ctx.clock() };
    // First shut the door (the user row and every session, one transaction), then clear the book.
    await ctx.loop.write({ users: [disabled], deletes: { sessionsOfUserIds: [user.id] } });
    const cancelled: string[] = [];
    for (let cursor: string | null = null; ; ) {
      const page = await ctx.store.listOrders({ userId: user.id, status: 'active', cursor, limit: 500 });
      for (const o of page.items) {
        const r = await ctx.loop.submit({ type: 'cancel', now: 0, orderId: o.id, ownerId: o.userId });
        if (r.ok) cancelled.push(o.id);
      }
      cursor = page.nextCursor;
      if (cursor === null) break;
    }
    return c.json({ user: presentUser(disabled), cancelledOrders: cancelled }, 200);
  })
  .openapi(enable, async (c) => {
    const user = await existingUser(c, c.req.valid('param').id);
    const enabled: UserRow = { ...user, disabledAtMs: null };
    await c.get('runtime').ctx.loop.write({ users: [enabled] });
    return c.json({ user: presentUser(enabled) }, 200);
  })
  .openapi(users, async (c) => {
    const page = await c.get('runtime').ctx.store.listUsers(pageRequest(c.req.valid('query')));
    return c.json({ items: page.items.map(presentUser), nextCursor: page.nextCursor }, 200);
  })
  .openapi(createUserRoute, async (c) => {
    const rt = c.get('runtime');
    const { user } = await createUser(rt.ctx, rt.claims, c.req.valid('json'));
    return c.json({ user: presentUser(user) }, 201);
  });
