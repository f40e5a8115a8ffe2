/** Your orders (asks and bids): list, detail, cancel, amend. Someone else's order is a 404. */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { validateStatic } from '../core/market/rules.js';
import type { AmendOrder } from '../core/market/types.js';
import type { OrderRow } from '../store/port.js';
import { defineRoute, identityOf, newRouter } from './access.js';
import type { ApiEnv } from './context.js';
import { ApiError, notFound, REJECTION_STATUS } from './errors.js';
import { runCommand } from './execute.js';
import { OrderSchema, presentOrder } from './present.js';
import { IdSchema, IsoTimeSchema, msOf, PageQuerySchema, pageRequest, pageSchema, PriceFenSchema } from './schemas.js';

const OrderEnvelope = z.object({ order: OrderSchema });
const IdParams = z.object({ id: IdSchema });
const AmendSchema = z
  .strictObject({
    priceFen: PriceFenSchema.optional().openapi({ description: 'new ask price or bid limit (the order’s own unit)' }),
    remaining: z.int().min(1).max(Number.MAX_SAFE_INTEGER).optional().openapi({ description: 'bids: GPUs, or deci-TFLOPS for compute-amount bids' }),
    expiresAt: IsoTimeSchema.nullable().optional().openapi({ description: 'new GTD expiry; null clears it' }),
  })
  .refine((b) => b.priceFen !== undefined || b.remaining !== undefined || b.expiresAt !== undefined, 'give priceFen, remaining or expiresAt');
const out = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const TRADERS = { who: 'user', scopes: ['trade', 'provider'] } as const;
/** The order exists (the store says active), so the engine's "not found" means it just expired. */
const FINISHED = { ORDER_NOT_FOUND: { status: 409, code: 'ORDER_NOT_ACTIVE' } } as const;

const list = defineRoute(
  { who: 'user', scopes: ['read'] },
  {
    method: 'get', path: '/orders', tags: ['orders'], summary: 'Your orders, newest first',
    request: { query: PageQuerySchema.extend({ side: z.enum(['ask', 'bid']).optional(), status: z.enum(['active', 'filled', 'cancelled', 'expired', 'rejected']).optional() }) },
    responses: { 200: out(pageSchema(OrderSchema, 'OrderPage'), 'orders') },
  },
);
const get = defineRoute(
  { who: 'user', scopes: ['read'] },
  { method: 'get', path: '/orders/{id}', tags: ['orders'], summary: 'One of your orders', request: { params: IdParams }, responses: { 200: out(OrderEnvelope, 'the order') } },
  { errors: [404] },
);
const cancel = defineRoute(
  TRADERS,
  { method: 'delete', path: '/orders/{id}', tags: ['orders'], summary: 'Cancel an active order (a bid’s hold is released)', request: { params: IdParams }, responses: { 200: out(OrderEnvelope, 'cancelled') } },
  { errors: [404, 409] },
);
const amend = defineRoute(
  TRADERS,
  {
    method: 'patch', path: '/orders/{id}', tags: ['orders'], summary: 'Amend price, remaining quantity or expiry (a bigger bid holds more first)',
    request: { params: IdParams, body: { content: { 'application/json': { schema: AmendSchema } }, required: true } },
    responses: { 200: out(OrderEnvelope, 'amended') },
  },
  { errors: [402, 404, 409] },
);

async function ownOrder(c: Context<ApiEnv>, id: string): Promise<OrderRow> {
  const order = await c.get('runtime').ctx.store.getOrder(id);
  if (!order || order.userId !== identityOf(c).user.id) throw notFound('ORDER_NOT_FOUND', 'order');
  return order;
}

async function activeOrder(c: Context<ApiEnv>, id: string): Promise<OrderRow> {
  const order = await ownOrder(c, id);
  if (order.status !== 'active') throw new ApiError(409, 'ORDER_NOT_ACTIVE', `the order is ${order.status}`);
  return order;
}

async function reread(c: Context<ApiEnv>, id: string): Promise<z.infer<typeof OrderSchema>> {
  const { store, core } = c.get('runtime').ctx;
  const row = await store.getOrder(id);
  if (!row) throw new Error(`order ${id} vanished`);
  return presentOrder(row, core);
}

export const orderRoutes = newRouter()
  .openapi(list, async (c) => {
    const q = c.req.valid('query');
    const { store, core } = c.get('runtime').ctx;
    const page = await store.listOrders({
      userId: identityOf(c).user.id, ...(q.side ? { side: q.side } : {}), ...(q.status ? { status: q.status } : {}), ...pageRequest(q),
    });
    return c.json({ items: page.items.map((o) => presentOrder(o, core)), nextCursor: page.nextCursor }, 200);
  })
  .openapi(get, async (c) => c.json({ order: presentOrder(await ownOrder(c, c.req.valid('param').id), c.get('runtime').ctx.core) }, 200))
  .openapi(cancel, async (c) => {
    const order = await activeOrder(c, c.req.valid('param').id);
    await runCommand(c, { type: 'cancel', now: 0, orderId: order.id, ownerId: order.userId }, { status: 200, respond: () => null, remap: FINISHED });
    return c.json({ order: await reread(c, order.id) }, 200);
  })
  .openapi(amend, async (c) => {
    const rt = c.get('runtime');
    const order = await activeOrder(c, c.req.valid('param').id);
    const b = c.req.valid('json');
    if (b.remaining !== undefined && order.side === 'ask') throw new ApiError(400, 'INVALID_QUANTITY', 'an ask’s quantity is its nodes’ free GPUs: resize the nodes instead');
    const cmd: AmendOrder = {
      type: 'amend', now: 0, orderId: order.id, ownerId: order.userId,
      ...(b.priceFen === undefined ? {} : { priceFen: b.priceFen }),
      ...(b.remaining === undefined ? {} : { remaining: b.remaining }),
      ...(b.expiresAt === undefined ? {} : { expiresAt: b.expiresAt === null ? null : msOf(b.expiresAt, 'json.expiresAt') }),
    };
    const bad = validateStatic({ ...cmd, now: rt.ctx.loop.now() }, rt.catalog);
    if (bad) throw new ApiError(REJECTION_STATUS[bad.code] ?? 400, bad.code, bad.message);
    await runCommand(c, cmd, { status: 200, respond: () => null, remap: FINISHED });
    return c.json({ order: await reread(c, order.id) }, 200);
  });
