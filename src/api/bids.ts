/**
 * Bids (buyers): every engine bid field. A GPU-count bid's limit is per GPU-hour; a compute
 * amount ("2.5" P, at most 4 decimals = exact deci-TFLOPS) has its limit per P-hour. The worst
 * case is held before the bid reaches the book; trades execute at the ask's price.
 */
import { z } from '@hono/zod-openapi';
import { compatibleAccelerators, validateStatic } from '../core/market/rules.js';
import { MAX_BID_GPUS, MAX_LEASE_HOURS, type PlaceBid } from '../core/market/types.js';
import type { Context } from 'hono';
import { type Workload, WorkloadSchema } from '../agent/protocol.js';
import { defineRoute, IdempotencyHeaders, identityOf, newRouter } from './access.js';
import type { ApiEnv, Runtime } from './context.js';
import { ApiError, REJECTION_STATUS, validationError } from './errors.js';
import { runCommand } from './execute.js';
import { assertTradable } from './halts.js';
import { PlacementSchema, placementResponse } from './placement.js';
import { deciTflopsOfP, IsoTimeSchema, msOf, newId, PriceFenSchema } from './schemas.js';

const CatalogIdSchema = z.string().min(1).max(64);

export const BidSchema = z
  .strictObject({
    acceleratorIds: z.array(CatalogIdSchema).min(1).max(64).optional(),
    computeClass: z
      .strictObject({
        minFp16Tflops: z.number().positive().max(1_000_000).optional(),
        minMemoryGiB: z.number().positive().max(1_000_000).optional(),
        stacks: z.array(z.string().min(1).max(32)).min(1).max(16).optional(),
      })
      .optional(),
    regionIds: z.array(CatalogIdSchema).min(1).max(64).optional().openapi({ description: 'absent: any region' }),
    gpus: z.int().min(1).max(MAX_BID_GPUS).optional(),
    computeP: z
      .string()
      .regex(/^[0-9]{1,7}(\.[0-9]+)?$/, 'a decimal number of P, e.g. "2.5"')
      .optional()
      .openapi({ description: 'compute amount in P (1 P = 1000 dense FP16 TFLOPS), at most 4 decimals', example: '2.5' }),
    gpusPerNode: z.int().min(1).max(64).optional(),
    hours: z.int().min(1).max(MAX_LEASE_HOURS),
    startAt: IsoTimeSchema.optional().openapi({ description: 'absent: start when matched' }),
    limitFenPerGpuHour: PriceFenSchema.optional(),
    limitFenPerPHour: PriceFenSchema.optional(),
    timeInForce: z.enum(['GTC', 'GTD', 'IOC', 'FOK']).optional(),
    expiresAt: IsoTimeSchema.optional(),
    allowPartial: z.boolean().optional().openapi({ description: 'default false: all-or-none' }),
    workload: WorkloadSchema.optional().openapi({ description: 'what the host agent runs on each lease (agent nodes); env values are shown to you only' }),
    rematch: z.boolean().optional().openapi({
      description: 'if a server under one of its leases is lost, re-place that lease’s remaining time (whole hours, rounded up) as a new bid with the same limit, good until the lease’s end',
    }),
  })
  .openapi('BidInput');
type BidInput = z.infer<typeof BidSchema>;

/** A task: a bid whose workload ends the lease (and its billing) when it exits; `hours` is the most it may run. */
export const JobSchema = BidSchema.extend({ workload: WorkloadSchema }).openapi('JobInput');

/**
 * A placeBid carrying the buyer's workload (the projection copies it to the leases) and the
 * re-match wish (the agent hub reads it back from the order when a node is lost); the engine
 * ignores both.
 */
export type PlaceBidWithWorkload = PlaceBid & { readonly workload?: Workload; readonly rematch?: boolean };

/** The engine command for a validated body; rejects what the engine would (nothing is journaled). */
export function toPlaceBid(rt: Runtime, buyerId: string, b: BidInput): PlaceBidWithWorkload {
  const issues: { path: string; message: string }[] = [];
  if ((b.gpus === undefined) === (b.computeP === undefined)) issues.push({ path: 'json.gpus', message: 'give exactly one of gpus and computeP' });
  if (b.gpus !== undefined && b.limitFenPerGpuHour === undefined) issues.push({ path: 'json.limitFenPerGpuHour', message: 'a GPU-count bid needs limitFenPerGpuHour' });
  if (b.gpus !== undefined && b.limitFenPerPHour !== undefined) issues.push({ path: 'json.limitFenPerPHour', message: 'limitFenPerPHour goes with computeP' });
  if (b.computeP !== undefined && b.limitFenPerPHour === undefined) issues.push({ path: 'json.limitFenPerPHour', message: 'a compute-amount bid needs limitFenPerPHour' });
  if (b.computeP !== undefined && b.limitFenPerGpuHour !== undefined) issues.push({ path: 'json.limitFenPerGpuHour', message: 'limitFenPerGpuHour goes with gpus' });
  const deci = b.computeP === undefined ? undefined : deciTflopsOfP(b.computeP);
  if (b.computeP !== undefined && deci === undefined) issues.push({ path: 'json.computeP', message: 'a positive amount with at most 4 decimals (0.1 TFLOPS)' });
  if (b.acceleratorIds === undefined && b.computeClass === undefined) issues.push({ path: 'json.acceleratorIds', message: 'give acceleratorIds or a computeClass' });
  if (issues.length > 0) throw validationError(issues);
  const cmd: PlaceBid = {
    type: 'placeBid', now: 0, orderId: newId('o'), buyerId,
    ...(b.acceleratorIds ? { acceleratorIds: b.acceleratorIds } : {}),
    ...(b.computeClass ? { computeClass: b.computeClass } : {}),
    ...(b.regionIds ? { regionIds: b.regionIds } : {}),
    quantity: deci === undefined ? { kind: 'gpus', gpus: b.gpus! } : { kind: 'compute', deciTflops: deci },
    ...(b.gpusPerNode === undefined ? {} : { gpusPerNode: b.gpusPerNode }),
    hours: b.hours,
    ...(b.startAt === undefined ? {} : { startAt: msOf(b.startAt, 'json.startAt') }),
    limitFen: (deci === undefined ? b.limitFenPerGpuHour : b.limitFenPerPHour)!,
    ...(b.timeInForce === undefined ? {} : { timeInForce: b.timeInForce }),
    ...(b.expiresAt === undefined ? {} : { expiresAt: msOf(b.expiresAt, 'json.expiresAt') }),
    ...(b.allowPartial === undefined ? {} : { allowPartial: b.allowPartial }),
  };
  const bad = validateStatic({ ...cmd, now: rt.ctx.loop.now() }, rt.catalog);
  if (bad) throw new ApiError(REJECTION_STATUS[bad.code] ?? 400, bad.code, bad.message);
  if (b.workload === undefined && !b.rematch) return cmd;
  return { ...cmd, ...(b.workload === undefined ? {} : { workload: b.workload }), ...(b.rematch ? { rematch: true } : {}) };
}

/** The markets a bid could trade in (`acc@*` = any region, as the order rows list them). */
export function bidMarkets(rt: Runtime, cmd: PlaceBid): { listed: string[]; concrete: string[] } {
  const accs = compatibleAccelerators(cmd, rt.catalog);
  const regions = cmd.regionIds ?? [...rt.catalog.regions.keys()];
  return {
    listed: accs.flatMap((a) => (cmd.regionIds ?? ['*']).map((r) => `${a}@${r}`)),
    concrete: accs.flatMap((a) => regions.map((r) => `${a}@${r}`)),
  };
}

const place = defineRoute(
  { who: 'user', roles: ['buyer'], scopes: ['trade'] },
  {
    method: 'post', path: '/bids', tags: ['orders'], summary: 'Place a bid (holds its worst case; may trade at once)',
    request: { headers: IdempotencyHeaders, body: { content: { 'application/json': { schema: BidSchema } }, required: true } },
    responses: { 201: { description: 'placed; trades and leases it made at once', content: { 'application/json': { schema: PlacementSchema } } } },
  },
  { idempotent: true, errors: [402, 409, 422] },
);

const job = defineRoute(
  { who: 'user', roles: ['buyer'], scopes: ['trade'] },
  {
    method: 'post', path: '/jobs', tags: ['orders'],
    summary: 'Run a task: a bid with a workload that ends the lease when it exits (billed for the seconds it ran)',
    description: '`hours` is the most the task may run; the worst case is held as for any bid and the unused part is refunded when the task exits.',
    request: { headers: IdempotencyHeaders, body: { content: { 'application/json': { schema: JobSchema } }, required: true } },
    responses: { 201: { description: 'placed; trades and leases it made at once', content: { 'application/json': { schema: PlacementSchema } } } },
  },
  { idempotent: true, errors: [402, 409, 422] },
);

async function placeBid(c: Context<ApiEnv>, input: BidInput) {
  const rt = c.get('runtime');
  const cmd = toPlaceBid(rt, identityOf(c).user.id, input);
  const markets = bidMarkets(rt, cmd);
  await assertTradable(rt.ctx.store, markets.concrete);
  return runCommand(c, cmd, { status: 201, respond: (r) => placementResponse(rt, cmd, markets.listed, r) });
}

export const bidRoutes = newRouter()
  .openapi(place, async (c) => c.json(await placeBid(c, c.req.valid('json')), 201))
  .openapi(job, async (c) => {
    const input = c.req.valid('json');
    return c.json(await placeBid(c, { ...input, workload: { ...input.workload, mode: 'task' } }), 201);
  });
