/**
 * Leases: what a trade delivers, one per node. Its buyer and its provider see it; ending it early
 * bills up to now and refunds the rest at once (a provider-caused end also pays the SLA credit).
 */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { type AttestationVerdict, type LeaseRow, MAX_LOG_PAGE_LIMIT } from '../store/port.js';
import { defineRoute, IdempotencyHeaders, identityOf, newRouter } from './access.js';
import type { ApiEnv } from './context.js';
import { ApiError, notFound } from './errors.js';
import { runCommand } from './execute.js';
import { LeaseSchema, presentLease } from './present.js';
import { FenSchema, IdSchema, iso, PageQuerySchema, pageRequest, pageSchema } from './schemas.js';

const IdParams = z.object({ id: IdSchema });
const EndedSchema = z.object({ lease: LeaseSchema, refundFen: FenSchema, slaCreditFen: FenSchema }).openapi('EndedLease');
const out = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

const list = defineRoute(
  { who: 'user', scopes: ['read'] },
  {
    method: 'get', path: '/leases', tags: ['leases'], summary: 'Your leases as buyer (default for buyers) or provider (default for providers)',
    request: {
      query: PageQuerySchema.extend({
        role: z.enum(['buyer', 'provider']).optional(),
        state: z.enum(['pending', 'provisioning', 'active', 'ended', 'failed', 'cancelled']).optional(),
      }),
    },
    responses: { 200: out(pageSchema(LeaseSchema, 'LeasePage'), 'leases') },
  },
);
const get = defineRoute(
  { who: 'user', scopes: ['read'] },
  { method: 'get', path: '/leases/{id}', tags: ['leases'], summary: 'One lease you bought or provide', request: { params: IdParams }, responses: { 200: out(z.object({ lease: LeaseSchema }), 'the lease') } },
  { errors: [404] },
);
const end = defineRoute(
  { who: 'user', scopes: ['trade', 'provider'] },
  {
    method: 'post', path: '/leases/{id}/end', tags: ['leases'], summary: 'End a lease early (buyer: refund of the unused time; provider: refund plus SLA credit)',
    request: { params: IdParams, headers: IdempotencyHeaders }, responses: { 200: out(EndedSchema, 'ended') },
  },
  { idempotent: true, errors: [404, 409, 422] },
);

const LogLineSchema = z.object({ seq: z.int(), stream: z.enum(['stdout', 'stderr', 'system']), line: z.string(), at: z.string() }).openapi('LeaseLogLine');
const logs = defineRoute(
  { who: 'user', scopes: ['read'] },
  {
    method: 'get', path: '/leases/{id}/logs', tags: ['leases'], summary: 'The workload’s output (buyer only; the last 2,000 lines are kept)',
    request: {
      params: IdParams,
      query: z.object({
        after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().openapi({ type: 'integer', description: 'lines after this seq (default 0)' }),
        limit: z.coerce.number().int().min(1).max(MAX_LOG_PAGE_LIMIT).optional().openapi({ type: 'integer', example: 500 }),
      }),
    },
    responses: { 200: out(z.object({ items: z.array(LogLineSchema), nextAfter: z.int() }).openapi('LeaseLogPage'), 'log lines, oldest first') },
  },
  { errors: [404] },
);

/** Node attestations of the leases' nodes (only agent nodes have one). */
async function attestationsOf(c: Context<ApiEnv>, leases: readonly LeaseRow[]): Promise<Map<string, AttestationVerdict>> {
  const ids = [...new Set(leases.map((l) => l.nodeId))];
  const rows = await c.get('runtime').ctx.store.nodeAttestations(ids);
  return new Map(rows.map((a) => [a.nodeId, a.verdict]));
}

async function partyLease(c: Context<ApiEnv>, id: string): Promise<LeaseRow> {
  const userId = identityOf(c).user.id;
  const lease = await c.get('runtime').ctx.store.getLease(id);
  if (!lease || (lease.buyerId !== userId && lease.providerId !== userId)) throw notFound('LEASE_NOT_FOUND', 'lease');
  return lease;
}

export const leaseRoutes = newRouter()
  .openapi(list, async (c) => {
    const { user } = identityOf(c);
    const q = c.req.valid('query');
    const { store, core, loop } = c.get('runtime').ctx;
    const role = q.role ?? (user.role === 'provider' ? 'provider' : 'buyer');
    const page = await store.listLeases({ userId: user.id, role, ...(q.state ? { state: q.state } : {}), ...pageRequest(q) });
    const att = await attestationsOf(c, page.items);
    const nowMs = loop.now();
    return c.json({ items: page.items.map((l) => presentLease(l, user.id, core, nowMs, att.get(l.nodeId) ?? null)), nextCursor: page.nextCursor }, 200);
  })
  .openapi(get, async (c) => {
    const lease = await partyLease(c, c.req.valid('param').id);
    const att = await attestationsOf(c, [lease]);
    const { core, loop } = c.get('runtime').ctx;
    return c.json({ lease: presentLease(lease, identityOf(c).user.id, core, loop.now(), att.get(lease.nodeId) ?? null) }, 200);
  })
  .openapi(logs, async (c) => {
    const lease = await partyLease(c, c.req.valid('param').id);
    // The buyer's output is the buyer's: its provider learns nothing of it, not even that it exists.
    if (lease.buyerId !== identityOf(c).user.id) throw notFound('LEASE_NOT_FOUND', 'lease');
    const q = c.req.valid('query');
    const after = q.after ?? 0;
    const rows = await c.get('runtime').ctx.store.leaseLogs({ leaseId: lease.id, afterSeq: after, limit: q.limit ?? 500 });
    return c.json({ items: rows.map((r) => ({ seq: r.seq, stream: r.stream, line: r.line, at: iso(r.atMs) })), nextAfter: rows[rows.length - 1]?.seq ?? after }, 200);
  })
  .openapi(end, async (c) => {
    const { ctx } = c.get('runtime');
    const userId = identityOf(c).user.id;
    const lease = await partyLease(c, c.req.valid('param').id);
    if (lease.state === 'ended' || lease.state === 'failed' || lease.state === 'cancelled') throw new ApiError(409, 'LEASE_ALREADY_ENDED', `the lease is ${lease.state}`);
    const reason = lease.buyerId === userId ? 'buyer' : 'provider';
    const body = await runCommand(c, { type: 'endLease', now: 0, leaseId: lease.id, reason }, {
      status: 200,
      remap: { LEASE_NOT_FOUND: { status: 409, code: 'LEASE_ALREADY_ENDED' } },
      respond: (r) => {
        const ended = r.events.find((e) => e.type === 'lease_ended' && e.leaseId === lease.id);
        const billed = r.events.find((e) => e.type === 'lease_billed' && e.leaseId === lease.id);
        const nowMs = ctx.loop.now();
        const row: LeaseRow = {
          ...lease, state: 'ended', endedAtMs: ended?.type === 'lease_ended' ? ended.atMs : nowMs, endReason: ended?.type === 'lease_ended' ? ended.reason : reason, updatedAtMs: nowMs,
        };
        return {
          lease: presentLease(row, userId, ctx.core, nowMs),
          refundFen: billed?.type === 'lease_billed' ? billed.refundFen : '0',
          slaCreditFen: billed?.type === 'lease_billed' ? billed.slaCreditFen : '0',
        };
      },
    });
    return c.json(body, 200);
  });
