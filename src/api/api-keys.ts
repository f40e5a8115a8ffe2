/** API keys for programs: `sk_…` shown once at creation; only its SHA-256 is stored. */
import { z } from '@hono/zod-openapi';
import { defineRoute, identityOf, newRouter } from './access.js';
import { ROLE_SCOPES, SCOPES, type Scope } from './context.js';
import { ApiError, notFound } from './errors.js';
import { API_KEY_PREFIX, newSecret, sha256Hex } from './identity.js';
import { IdSchema, iso, isoOrNull, newId, PageQuerySchema, pageRequest, pageSchema } from './schemas.js';
import type { ApiKeyRow } from '../store/port.js';

const ScopeSchema = z.enum(SCOPES as [Scope, ...Scope[]]);
const CreateKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(ScopeSchema).min(1).max(SCOPES.length),
});
const ApiKeySchema = z
  .object({ id: z.string(), name: z.string(), scopes: z.array(z.string()), createdAt: z.string(), lastUsedAt: z.string().nullable(), revokedAt: z.string().nullable() })
  .openapi('ApiKey');
const CreatedKeySchema = ApiKeySchema.extend({ key: z.string().openapi({ description: 'shown once; store it now' }) }).openapi('CreatedApiKey');

/** Most live (unrevoked) keys a user may hold. */
const MAX_ACTIVE_KEYS = 100;

const present = (k: ApiKeyRow): z.infer<typeof ApiKeySchema> => ({
  id: k.id, name: k.name, scopes: [...k.scopes], createdAt: iso(k.createdAtMs), lastUsedAt: isoOrNull(k.lastUsedAtMs), revokedAt: isoOrNull(k.revokedAtMs),
});

const create = defineRoute(
  { who: 'user', scopes: ['read'], sessionOnly: true },
  {
    method: 'post', path: '/api-keys', tags: ['auth'], summary: 'Create an API key (logged-in session only)',
    request: { body: { content: { 'application/json': { schema: CreateKeySchema } }, required: true } },
    responses: { 201: { description: 'the key, shown once', content: { 'application/json': { schema: CreatedKeySchema } } } },
  },
  { errors: [409] },
);
const list = defineRoute(
  { who: 'user', scopes: ['read'] },
  {
    method: 'get', path: '/api-keys', tags: ['auth'], summary: 'Your API keys (revoked ones included)', request: { query: PageQuerySchema },
    responses: { 200: { description: 'keys', content: { 'application/json': { schema: pageSchema(ApiKeySchema, 'ApiKeyPage') } } } },
  },
);
const revoke = defineRoute(
  { who: 'user', scopes: ['read'] },
  { method: 'delete', path: '/api-keys/{id}', tags: ['auth'], summary: 'Revoke an API key', request: { params: z.object({ id: IdSchema }) }, responses: { 204: { description: 'revoked' } } },
  { errors: [404] },
);

export const apiKeyRoutes = newRouter()
  .openapi(create, async (c) => {
    const { user } = identityOf(c);
    const { name, scopes } = c.req.valid('json');
    const allowed = ROLE_SCOPES[user.role];
    const refused = scopes.filter((s) => !allowed.includes(s));
    if (refused.length > 0) throw new ApiError(403, 'SCOPE_NOT_ALLOWED', `a ${user.role} account cannot grant ${refused.join(', ')}`);
    const existing = await c.get('runtime').ctx.store.listApiKeys({ userId: user.id, limit: 500 });
    if (existing.items.filter((k) => k.revokedAtMs === null).length >= MAX_ACTIVE_KEYS) {
      throw new ApiError(409, 'TOO_MANY_API_KEYS', `at most ${MAX_ACTIVE_KEYS} live keys; revoke some first`);
    }
    const key = `${API_KEY_PREFIX}${newSecret()}`;
    const row: ApiKeyRow = {
      id: newId('k'), userId: user.id, name, keyHash: sha256Hex(key), scopes: [...new Set(scopes)], createdAtMs: c.get('runtime').ctx.clock(), lastUsedAtMs: null, revokedAtMs: null,
    };
    await c.get('runtime').ctx.loop.write({ apiKeys: [row] });
    return c.json({ ...present(row), key }, 201);
  })
  .openapi(list, async (c) => {
    const page = await c.get('runtime').ctx.store.listApiKeys({ userId: identityOf(c).user.id, ...pageRequest(c.req.valid('query')) });
    return c.json({ items: page.items.map(present), nextCursor: page.nextCursor }, 200);
  })
  .openapi(revoke, async (c) => {
    const { ctx } = c.get('runtime');
    const { id } = c.req.valid('param');
    const identity = identityOf(c);
    const userId = identity.user.id;
    // A key may revoke itself (`suanli logout`); revoking other keys needs a logged-in session,
    // so a leaked read-only key cannot lock its owner's programs out.
    if (identity.via === 'api_key' && identity.credentialId !== id) {
      throw new ApiError(403, 'SESSION_REQUIRED', 'log in to revoke other API keys; a key may only revoke itself');
    }
    // Keys are looked up by hash; find this one among the user's own.
    let cursor: string | null = null;
    let row: ApiKeyRow | undefined;
    do {
      const page = await ctx.store.listApiKeys({ userId, cursor, limit: 500 });
      row = page.items.find((k) => k.id === id);
      cursor = page.nextCursor;
    } while (!row && cursor !== null);
    if (!row) throw notFound('API_KEY_NOT_FOUND', 'API key');
    if (row.revokedAtMs === null) await ctx.loop.write({ apiKeys: [{ ...row, revokedAtMs: ctx.clock() }] });
    return c.body(null, 204);
  });
