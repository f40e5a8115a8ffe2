/**
 * Asks (providers): sell the free GPUs of your nodes in one market at a price per GPU-hour.
 * The quantity is never typed: it is what the nodes have free.
 */
import { z } from '@hono/zod-openapi';
import { validateStatic } from '../core/market/rules.js';
import { MAX_ASK_NODES, MAX_LEASE_HOURS, type PlaceAsk } from '../core/market/types.js';
import { defineRoute, IdempotencyHeaders, identityOf, newRouter } from './access.js';
import { ApiError, notFound, REJECTION_STATUS } from './errors.js';
import { runCommand } from './execute.js';
import { assertTradable } from './halts.js';
import { PlacementSchema, placementResponse } from './placement.js';
import { IdSchema, IsoTimeSchema, msOf, newId, PriceFenSchema } from './schemas.js';

const AskSchema = z
  .strictObject({
    nodeIds: z.array(IdSchema).min(1).max(MAX_ASK_NODES),
    priceFenPerGpuHour: PriceFenSchema,
    unit: z.enum(['gpu', 'node']).optional().openapi({ description: 'gpu (default): single GPUs; node: whole nodes only' }),
    minHours: z.int().min(1).max(MAX_LEASE_HOURS).optional(),
    maxHours: z.int().min(1).max(MAX_LEASE_HOURS).optional(),
    availableUntil: IsoTimeSchema.optional().openapi({ description: 'leases must end by then' }),
    expiresAt: IsoTimeSchema.optional().openapi({ description: 'the ask stops matching then' }),
  })
  .openapi('AskInput');

const place = defineRoute(
  { who: 'user', roles: ['provider'], scopes: ['provider'] },
  {
    method: 'post', path: '/asks', tags: ['orders'], summary: 'List nodes for sale (may trade at once with resting bids)',
    request: { headers: IdempotencyHeaders, body: { content: { 'application/json': { schema: AskSchema } }, required: true } },
    responses: { 201: { description: 'listed; trades it made at once', content: { 'application/json': { schema: PlacementSchema } } } },
  },
  { idempotent: true, errors: [404, 409, 422] },
);

export const askRoutes = newRouter().openapi(place, async (c) => {
  const rt = c.get('runtime');
  const providerId = identityOf(c).user.id;
  const a = c.req.valid('json');
  const nodes = await Promise.all(a.nodeIds.map((id) => rt.ctx.store.getNode(id)));
  if (nodes.some((n) => !n || n.providerId !== providerId)) throw notFound('NODE_NOT_FOUND', 'node');
  const markets = [...new Set(nodes.map((n) => `${n!.acceleratorId}@${n!.regionId}`))];
  const cmd: PlaceAsk = {
    type: 'placeAsk', now: 0, orderId: newId('o'), providerId, nodeIds: a.nodeIds, priceFenPerGpuHour: a.priceFenPerGpuHour,
    ...(a.unit === undefined ? {} : { unit: a.unit }),
    ...(a.minHours === undefined ? {} : { minHours: a.minHours }),
    ...(a.maxHours === undefined ? {} : { maxHours: a.maxHours }),
    ...(a.availableUntil === undefined ? {} : { availableUntil: msOf(a.availableUntil, 'json.availableUntil') }),
    ...(a.expiresAt === undefined ? {} : { expiresAt: msOf(a.expiresAt, 'json.expiresAt') }),
  };
  const bad = validateStatic({ ...cmd, now: rt.ctx.loop.now() }, rt.catalog);
  if (bad) throw new ApiError(REJECTION_STATUS[bad.code] ?? 400, bad.code, bad.message);
  if (markets.length > 1) throw new ApiError(400, 'NODE_MARKET_MISMATCH', 'an ask’s nodes must all be in one market (same accelerator and region)');
  await assertTradable(rt.ctx.store, markets);
  const body = await runCommand(c, cmd, { status: 201, respond: (r) => placementResponse(rt, cmd, markets, r) });
  return c.json(body, 201);
});
