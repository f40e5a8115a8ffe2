/**
 * The HTTP app: `/api/v1` resources (one file each), health, the OpenAPI document and /docs.
 * Order of the shared middleware: body limit → who is calling → rate limit; each route then
 * runs its own guard (role, scope), Idempotency-Key claim, input validation and handler.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { listAccelerators, listRegions } from '../core/catalog/index.js';
import { indexCatalog } from '../core/market/rules.js';
import { adminRoutes } from './admin.js';
import { agentRoutes } from './agents.js';
import { apiKeyRoutes } from './api-keys.js';
import { askRoutes } from './asks.js';
import { authRoutes } from './auth.js';
import { balanceRoutes } from './balances.js';
import { bidRoutes } from './bids.js';
import { catalogRoutes } from './catalog.js';
import type { ApiEnv, AppContext, Runtime } from './context.js';
import { docsPage, OPENAPI_INFO } from './docs.js';
import { ApiError, errorResponse, handleError } from './errors.js';
import { estimateRoutes } from './estimate.js';
import { healthRoutes } from './health.js';
import { identify } from './identity.js';
import { leaseRoutes } from './leases.js';
import { marketRoutes } from './markets.js';
import { nodeRoutes } from './nodes.js';
import { orderRoutes } from './orders.js';
import { clientAddress, RateLimiter } from './rate-limit.js';
import { tradeRoutes } from './trades.js';
import { mountWeb } from './web.js';

export const API_PREFIX = '/api/v1';

export function createRuntime(ctx: AppContext): Runtime {
  return {
    ctx,
    limiter: new RateLimiter(ctx.config.rateLimit, ctx.config.maxRateLimitBuckets),
    authLimiter: new RateLimiter(ctx.config.authRateLimit, ctx.config.maxRateLimitBuckets),
    claims: new Set(),
    catalog: indexCatalog({ accelerators: listAccelerators(), regions: listRegions() }),
  };
}

/** What other edges add to the app (metrics middleware, GET /metrics). */
export interface AppExtensions {
  /** Run before everything else, on every request. */
  readonly middleware?: readonly MiddlewareHandler[];
  /** Registers extra routes (outside the OpenAPI document unless they use `openapi`). */
  readonly routes?: (app: OpenAPIHono<ApiEnv>) => void;
}

export function createApp(ctx: AppContext, runtime: Runtime = createRuntime(ctx), extensions: AppExtensions = {}): OpenAPIHono<ApiEnv> {
  const app = new OpenAPIHono<ApiEnv>();
  for (const m of extensions.middleware ?? []) app.use('*', m);
  app.use('*', async (c, next) => {
    c.set('runtime', runtime);
    await next();
  });
  app.use(
    `${API_PREFIX}/*`,
    bodyLimit({
      maxSize: ctx.config.maxBodyBytes,
      onError: () => {
        throw new ApiError(413, 'BODY_TOO_LARGE', `the body is over ${ctx.config.maxBodyBytes} bytes`);
      },
    }),
  );
  app.use(`${API_PREFIX}/*`, identify(ctx.store, ctx.clock));
  app.use(`${API_PREFIX}/*`, async (c, next) => {
    const id = c.get('identity');
    const key = id ? (id.via === 'api_key' ? `key:${id.credentialId}` : `user:${id.user.id}`) : `ip:${clientAddress(c)}`;
    runtime.limiter.check(key, ctx.clock());
    await next();
  });

  for (const routes of [authRoutes, apiKeyRoutes, catalogRoutes, marketRoutes, nodeRoutes, askRoutes, bidRoutes, orderRoutes, tradeRoutes, leaseRoutes, balanceRoutes, adminRoutes, estimateRoutes, agentRoutes]) {
    app.route(API_PREFIX, routes);
  }
  app.route('/', healthRoutes);

  app.doc('/openapi.json', OPENAPI_INFO);
  app.openAPIRegistry.registerComponent('securitySchemes', 'session', { type: 'apiKey', in: 'cookie', name: 'suanli_session' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', { type: 'http', scheme: 'bearer', description: 'sk_… API key' });
  app.get('/docs', (c) => c.html(docsPage(app.getOpenAPIDocument(OPENAPI_INFO))));
  mountWeb(app); // the web app at / (dist/web), else / → /docs
  extensions.routes?.(app);

  app.notFound((c) => errorResponse(c, new ApiError(404, 'NOT_FOUND', `no route ${c.req.method} ${c.req.path}`)));
  app.onError(handleError);
  return app;
}
