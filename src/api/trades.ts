/** Your trades, as buyer or as provider, newest first. */
import { defineRoute, identityOf, newRouter } from './access.js';
import { presentTrade, TradeSchema } from './present.js';
import { PageQuerySchema, pageRequest, pageSchema } from './schemas.js';

const list = defineRoute(
  { who: 'user', scopes: ['read'] },
  {
    method: 'get', path: '/trades', tags: ['orders'], summary: 'Your trades (side buy or sell)', request: { query: PageQuerySchema },
    responses: { 200: { description: 'trades', content: { 'application/json': { schema: pageSchema(TradeSchema, 'TradePage') } } } },
  },
);

export const tradeRoutes = newRouter().openapi(list, async (c) => {
  const userId = identityOf(c).user.id;
  const page = await c.get('runtime').ctx.store.listTrades({ userId, ...pageRequest(c.req.valid('query')) });
  return c.json({ items: page.items.map((t) => presentTrade(t, userId)), nextCursor: page.nextCursor }, 200);
});
