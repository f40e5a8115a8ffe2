/**
 * Nodes: a provider's servers. Here only capacity entered by hand (`manual`) or sold as an
 * offline block (`offline`); `agent` nodes enrol through the agent protocol.
 */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { MAX_NODE_GPUS } from '../core/market/types.js';
import { MAX_PAGE_LIMIT, type NodeRow } from '../store/port.js';
import { defineRoute, identityOf, newRouter } from './access.js';
import type { ApiEnv } from './context.js';
import { ApiError, notFound, validationError } from './errors.js';
import { runCommand } from './execute.js';
import { type NodeJson, NodeSchema, presentNode } from './present.js';
import { IdSchema, newId, PageQuerySchema, pageRequest, pageSchema } from './schemas.js';

const SpecSchema = z
  .strictObject({
    cpuCores: z.int().min(1).max(4096).optional(),
    ramGiB: z.int().min(1).max(1_048_576).optional(),
    diskGiB: z.int().min(1).max(10_000_000).optional(),
    networkGbps: z.number().positive().max(100_000).optional(),
    pue: z.number().min(1).max(5).optional(),
    greenPowerShare: z.number().min(0).max(1).optional(),
    notes: z.string().max(1_000).optional(),
  })
  .openapi('NodeSpec');
const CreateNodeSchema = z.strictObject({
  acceleratorId: z.string().min(1).max(64),
  regionId: z.string().min(1).max(64),
  gpuCount: z.int().min(1).max(MAX_NODE_GPUS),
  kind: z.enum(['manual', 'offline']).default('manual'),
  spec: SpecSchema.optional(),
});
const UpdateNodeSchema = z
  .strictObject({ gpuCount: z.int().min(1).max(MAX_NODE_GPUS).optional(), status: z.enum(['online', 'offline', 'draining']).optional() })
  .refine((b) => b.gpuCount !== undefined || b.status !== undefined, 'give gpuCount or status');
const NodeEnvelope = z.object({ node: NodeSchema });
const IdParams = z.object({ id: IdSchema });
const body = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } }, required: true });
const out = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

const create = defineRoute(
  { who: 'user', roles: ['provider'], scopes: ['provider'] },
  { method: 'post', path: '/nodes', tags: ['nodes'], summary: 'Register a manual or offline node', request: { body: body(CreateNodeSchema) }, responses: { 201: out(NodeEnvelope, 'registered') } },
);
const list = defineRoute(
  { who: 'user', roles: ['provider', 'admin'], scopes: ['provider', 'admin'] },
  {
    method: 'get', path: '/nodes', tags: ['nodes'], summary: 'Your nodes (admins: every node, or one provider’s)',
    request: { query: PageQuerySchema.extend({ providerId: IdSchema.optional() }) }, responses: { 200: out(pageSchema(NodeSchema, 'NodePage'), 'nodes') },
  },
);
const get = defineRoute(
  { who: 'user', roles: ['provider', 'admin'], scopes: ['provider', 'admin'] },
  { method: 'get', path: '/nodes/{id}', tags: ['nodes'], summary: 'One node', request: { params: IdParams }, responses: { 200: out(NodeEnvelope, 'the node') } },
  { errors: [404] },
);
const update = defineRoute(
  { who: 'user', roles: ['provider'], scopes: ['provider'] },
  {
    method: 'patch', path: '/nodes/{id}', tags: ['nodes'], summary: 'Resize a node or change its status (offline: its asks stop matching)',
    request: { params: IdParams, body: body(UpdateNodeSchema) }, responses: { 200: out(NodeEnvelope, 'the node') },
  },
  { errors: [404, 409] },
);

const revoke = defineRoute(
  { who: 'user', roles: ['provider'], scopes: ['provider'] },
  {
    method: 'post', path: '/nodes/{id}/revoke', tags: ['nodes'],
    summary: 'Retire an agent node: its node token stops working at once (the agent exits), the node goes offline, its running leases end (refunded as a provider-caused end)',
    request: { params: IdParams },
    responses: { 200: out(z.object({ node: NodeSchema, revokedCredentials: z.int(), endedLeases: z.array(z.string()) }), 'revoked') },
  },
  { errors: [404, 409] },
);

/** Nodes as the API shows them: agent nodes with their attestation and live health. */
async function presentNodes(c: Context<ApiEnv>, rows: readonly NodeRow[]): Promise<NodeJson[]> {
  const { store, agents } = c.get('runtime').ctx;
  const agentIds = rows.filter((n) => n.kind === 'agent').map((n) => n.id);
  const attestations = new Map((await store.nodeAttestations(agentIds)).map((a) => [a.nodeId, a]));
  return rows.map((n) => presentNode(n, attestations.get(n.id), agents?.view(n.id)));
}

/** The node if the caller may see it (its provider, or an admin when `adminToo`). */
async function ownNode(c: Context<ApiEnv>, id: string, adminToo: boolean): Promise<NodeRow> {
  const user = identityOf(c).user;
  const node = await c.get('runtime').ctx.store.getNode(id);
  if (!node || (node.providerId !== user.id && !(adminToo && user.role === 'admin'))) throw notFound('NODE_NOT_FOUND', 'node');
  return node;
}

export const nodeRoutes = newRouter()
  .openapi(revoke, async (c) => {
    const node = await ownNode(c, c.req.valid('param').id, false);
    if (node.kind !== 'agent') throw new ApiError(409, 'NOT_AN_AGENT_NODE', 'only agent nodes have a node token to revoke');
    const { ctx } = c.get('runtime');
    const nowMs = ctx.clock();
    const creds = (await ctx.store.nodeCredentialsOfNode(node.id)).filter((k) => k.revokedAtMs === null);
    // The door first: no agent can open a new session once this commits.
    if (creds.length > 0) await ctx.loop.write({ nodeCredentials: creds.map((k) => ({ ...k, revokedAtMs: nowMs })) });
    ctx.agents?.revoked(node.id);
    if (node.status !== 'offline') await ctx.loop.submit({ type: 'setNodeStatus', now: 0, nodeId: node.id, status: 'offline' });
    const ended: string[] = [];
    for (const l of await ctx.store.liveLeasesOfNode(node.id, MAX_PAGE_LIMIT)) {
      const r = await ctx.loop.submit({ type: 'endLease', now: 0, leaseId: l.id, reason: 'provider' });
      if (r.ok) ended.push(l.id);
    }
    const after = (await ctx.store.getNode(node.id)) ?? node;
    return c.json({ node: (await presentNodes(c, [after]))[0]!, revokedCredentials: creds.length, endedLeases: ended }, 200);
  })
  .openapi(create, async (c) => {
    const rt = c.get('runtime');
    const input = c.req.valid('json');
    if (!rt.catalog.accelerators.has(input.acceleratorId)) throw new ApiError(400, 'UNKNOWN_ACCELERATOR', `unknown accelerator ${input.acceleratorId}`);
    if (!rt.catalog.regions.has(input.regionId)) throw new ApiError(400, 'UNKNOWN_REGION', `unknown region ${input.regionId}`);
    const nodeId = newId('n');
    // `spec` travels on the command (the projection stores it; the engine ignores it).
    const command = {
      type: 'registerNode' as const, now: 0, nodeId, providerId: identityOf(c).user.id, acceleratorId: input.acceleratorId,
      regionId: input.regionId, gpuCount: input.gpuCount, kind: input.kind, spec: input.spec ?? {},
    };
    await runCommand(c, command, { status: 201, respond: () => null });
    const node = await rt.ctx.store.getNode(nodeId);
    if (!node) throw new Error(`node ${nodeId} registered but not stored`);
    return c.json({ node: (await presentNodes(c, [node]))[0]! }, 201);
  })
  .openapi(list, async (c) => {
    const user = identityOf(c).user;
    const q = c.req.valid('query');
    const providerId = user.role === 'admin' ? q.providerId : user.id;
    const page = await c.get('runtime').ctx.store.listNodes({ ...(providerId === undefined ? {} : { providerId }), ...pageRequest(q) });
    return c.json({ items: await presentNodes(c, page.items), nextCursor: page.nextCursor }, 200);
  })
  .openapi(get, async (c) => c.json({ node: (await presentNodes(c, [await ownNode(c, c.req.valid('param').id, true)]))[0]! }, 200))
  .openapi(update, async (c) => {
    const node = await ownNode(c, c.req.valid('param').id, false);
    const input = c.req.valid('json');
    if (input.gpuCount !== undefined && node.kind === 'agent') throw validationError([{ path: 'json.gpuCount', message: 'an agent node’s size is what its agent detects' }]);
    if (input.gpuCount !== undefined && input.gpuCount !== node.gpuCount) {
      await runCommand(c, { type: 'updateNode', now: 0, nodeId: node.id, providerId: node.providerId, gpuCount: input.gpuCount }, { status: 200, respond: () => null });
    }
    if (input.status !== undefined && node.kind === 'agent' && (await c.get('runtime').ctx.store.nodeAttestations([node.id]))[0]?.verdict === 'mismatch') {
      throw new ApiError(409, 'NODE_ATTESTATION_MISMATCH', 'what the agent detected differs from what was listed: this node is not traded; enroll it again with a matching token');
    }
    if (input.status !== undefined && input.status !== node.status) {
      await runCommand(c, { type: 'setNodeStatus', now: 0, nodeId: node.id, status: input.status }, { status: 200, respond: () => null });
    }
    const after = await c.get('runtime').ctx.store.getNode(node.id);
    return c.json({ node: (await presentNodes(c, [after ?? node]))[0]! }, 200);
  });
