/**
 * Enrollment: a provider creates a one-time token for a region (optionally stating the model and
 * GPU count it lists); `suanli agent --token` sends it with what it detected and gets a node and a
 * long-lived node token for the agent WebSocket (src/api/agent-ws.ts). Only hashes are stored.
 *
 * Attestation: the node's model is the catalog entry of its GPUs' product name, never guessed
 * (unknown or mixed products are refused). A detection that disagrees with what the token stated
 * (model, GPU count) or shows less memory than the catalog's model (by more than 5%) enrolls
 * the node as `mismatch`: stored and shown to its provider, never put into the engine, never
 * traded. Fake GPUs (`--fake-gpus`) enroll as `unverified`: traded, and flagged wherever shown.
 */
import { z } from '@hono/zod-openapi';
import { DEFAULT_HEARTBEAT_INTERVAL_MS, EnrollRequestSchema, EnrollResponseSchema, type HardwareReport } from '../agent/protocol.js';
import { findAcceleratorBySmiName, getAccelerator } from '../core/catalog/index.js';
import { MAX_NODE_GPUS } from '../core/market/types.js';
import type { AttestationVerdict, EnrollmentTokenRow, NodeAttestationRow, NodeCredentialRow, NodeRow } from '../store/port.js';
import { defineRoute, identityOf, newRouter } from './access.js';
import type { Runtime } from './context.js';
import { ApiError, ErrorSchema } from './errors.js';
import { newSecret, sha256Hex } from './identity.js';
import { iso, newId } from './schemas.js';

export const ENROLLMENT_TOKEN_TTL_MS = 24 * 3_600_000;
/** Detected memory may fall this far below the catalog's before it counts as a different card. */
const MEMORY_TOLERANCE = 0.05;
const MAX_OPEN_TOKENS_LISTED = 200;

const CreateTokenSchema = z
  .strictObject({
    regionId: z.string().min(1).max(64),
    acceleratorId: z.string().min(1).max(64).optional().openapi({ description: 'the model you list: a detection that differs is a mismatch' }),
    gpuCount: z.int().min(1).max(1_024).optional(),
    label: z.string().max(200).optional(),
  })
  .openapi('EnrollmentTokenInput');
const TokenInfoSchema = z
  .object({
    id: z.string(),
    regionId: z.string(),
    acceleratorId: z.string().nullable(),
    gpuCount: z.int().nullable(),
    label: z.string(),
    createdAt: z.string(),
    expiresAt: z.string(),
  })
  .openapi('EnrollmentToken');
const CreatedTokenSchema = TokenInfoSchema.extend({
  token: z.string().openapi({ description: 'shown once; only its hash is kept' }),
  command: z.string().openapi({ example: 'suanli agent --server https://suanli.example --token …' }),
}).openapi('NewEnrollmentToken');

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

const createToken = defineRoute(
  { who: 'user', roles: ['provider'], scopes: ['provider'] },
  {
    method: 'post', path: '/enrollment-tokens', tags: ['agents'], summary: 'Create a one-time token that enrolls one host agent (24 h)',
    request: { body: { content: { 'application/json': { schema: CreateTokenSchema } }, required: true } },
    responses: { 201: json(CreatedTokenSchema, 'the token (shown once) and the command to run on the host') },
  },
);
const listTokens = defineRoute(
  { who: 'user', roles: ['provider'], scopes: ['provider'] },
  { method: 'get', path: '/enrollment-tokens', tags: ['agents'], summary: 'Your unused, unexpired enrollment tokens (never the secret)', responses: { 200: json(z.object({ items: z.array(TokenInfoSchema) }), 'tokens') } },
);
const enroll = defineRoute(
  // Not under the login limiter: a provider enrolls a rack of hosts from one address, and the
  // token (256 random bits, one use, 24 h) cannot be guessed. The general per-address limit applies.
  { who: 'anyone' },
  {
    method: 'post', path: '/agent/enroll', tags: ['agents'], summary: 'Enroll a host (the agent calls this with its one-time token)',
    request: { body: { content: { 'application/json': { schema: EnrollRequestSchema } }, required: true } },
    responses: {
      201: json(EnrollResponseSchema, 'the node and its node token'),
      401: json(ErrorSchema, 'ENROLLMENT_TOKEN_INVALID'),
      410: json(ErrorSchema, 'ENROLLMENT_TOKEN_USED or ENROLLMENT_TOKEN_EXPIRED'),
      409: json(ErrorSchema, 'ENROLLMENT_IN_PROGRESS'),
      422: json(ErrorSchema, 'NO_GPUS, UNKNOWN_ACCELERATOR, MIXED_ACCELERATORS'),
    },
  },
);

const tokenInfo = (t: EnrollmentTokenRow): z.infer<typeof TokenInfoSchema> => ({
  id: t.id, regionId: t.regionId, acceleratorId: t.acceleratorId, gpuCount: t.gpuCount, label: t.label, createdAt: iso(t.createdAtMs), expiresAt: iso(t.expiresAtMs),
});

/** The public URL agents should dial: the configured one, else the one this request came in on. */
function publicUrl(rt: Runtime, requestUrl: string): string {
  return (rt.ctx.config.publicUrl ?? new URL(requestUrl).origin).replace(/\/+$/, '');
}

export interface Attestation {
  readonly acceleratorId: string;
  readonly verdict: AttestationVerdict;
  readonly reasons: readonly string[];
}

/** The model of the detected GPUs and the verdict against the token's claims; throws 422 when no model can be named. */
export function attest(hw: HardwareReport, claimed: Pick<EnrollmentTokenRow, 'acceleratorId' | 'gpuCount'>): Attestation {
  if (hw.gpus.length === 0) throw new ApiError(422, 'NO_GPUS', 'the agent detected no GPUs');
  if (hw.gpus.length > MAX_NODE_GPUS) throw new ApiError(422, 'TOO_MANY_GPUS', 'too many GPUs for one node');
  const ids = hw.gpus.map((g) => findAcceleratorBySmiName(g.productName)?.id ?? (g.acceleratorId !== null && getAccelerator(g.acceleratorId) ? g.acceleratorId : null));
  const unknown = hw.gpus.filter((_, i) => ids[i] === null).map((g) => g.productName);
  if (unknown.length > 0) {
    throw new ApiError(422, 'UNKNOWN_ACCELERATOR', `not in the catalog: ${[...new Set(unknown)].join(', ')}`.slice(0, 500), { products: [...new Set(unknown)].slice(0, 16) });
  }
  const models = [...new Set(ids as string[])];
  if (models.length > 1) throw new ApiError(422, 'MIXED_ACCELERATORS', `one node is one model; this host has ${models.join(', ')}: enroll each model separately`, { acceleratorIds: models });
  const acceleratorId = models[0]!;
  const acc = getAccelerator(acceleratorId)!;
  const reasons: string[] = [];
  if (claimed.acceleratorId !== null && claimed.acceleratorId !== acceleratorId) reasons.push(`listed as ${claimed.acceleratorId}, detected ${acceleratorId}`);
  if (claimed.gpuCount !== null && claimed.gpuCount !== hw.gpus.length) reasons.push(`listed ${claimed.gpuCount} GPUs, detected ${hw.gpus.length}`);
  const minMiB = acc.memoryGiB * 1024 * (1 - MEMORY_TOLERANCE);
  const short = hw.gpus.filter((g) => g.memoryMiB !== null && g.memoryMiB < minMiB);
  if (short.length > 0) reasons.push(`GPU ${short.map((g) => g.index).join(', ')}: ${short[0]!.memoryMiB} MiB, the catalog's ${acceleratorId} has ${acc.memoryGiB} GiB`);
  if (reasons.length > 0) return { acceleratorId, verdict: 'mismatch', reasons };
  if (hw.fake) return { acceleratorId, verdict: 'unverified', reasons: ['fake GPUs (--fake-gpus)'] };
  return { acceleratorId, verdict: 'verified', reasons: [] };
}

const GIB = 1024 ** 3;

export const agentRoutes = newRouter()
  .openapi(createToken, async (c) => {
    const rt = c.get('runtime');
    const input = c.req.valid('json');
    if (!rt.catalog.regions.has(input.regionId)) throw new ApiError(400, 'UNKNOWN_REGION', `unknown region ${input.regionId}`);
    if (input.acceleratorId !== undefined && !rt.catalog.accelerators.has(input.acceleratorId)) throw new ApiError(400, 'UNKNOWN_ACCELERATOR', `unknown accelerator ${input.acceleratorId}`);
    const token = `set_${newSecret()}`;
    const nowMs = rt.ctx.clock();
    const row: EnrollmentTokenRow = {
      id: newId('et'), tokenHash: sha256Hex(token), providerId: identityOf(c).user.id, regionId: input.regionId, acceleratorId: input.acceleratorId ?? null,
      gpuCount: input.gpuCount ?? null, label: input.label ?? '', createdAtMs: nowMs, expiresAtMs: nowMs + ENROLLMENT_TOKEN_TTL_MS, usedAtMs: null, nodeId: null,
    };
    await rt.ctx.loop.write({ enrollmentTokens: [row] });
    const command = `suanli agent --server ${publicUrl(rt, c.req.url)} --token ${token}`;
    return c.json({ ...tokenInfo(row), token, command }, 201);
  })
  .openapi(listTokens, async (c) => {
    const rt = c.get('runtime');
    const rows = await rt.ctx.store.listOpenEnrollmentTokens({ providerId: identityOf(c).user.id, atMs: rt.ctx.clock(), limit: MAX_OPEN_TOKENS_LISTED });
    return c.json({ items: rows.map(tokenInfo) }, 200);
  })
  .openapi(enroll, async (c) => {
    const rt = c.get('runtime');
    const { ctx } = rt;
    const input = c.req.valid('json');
    const tokenHash = sha256Hex(input.token);
    const claim = `enroll:${tokenHash}`;
    if (rt.claims.has(claim)) throw new ApiError(409, 'ENROLLMENT_IN_PROGRESS', 'this token is being used right now');
    rt.claims.add(claim);
    try {
      const token = await ctx.store.enrollmentTokenByHash(tokenHash);
      if (!token) throw new ApiError(401, 'ENROLLMENT_TOKEN_INVALID', 'unknown enrollment token');
      if (token.usedAtMs !== null) throw new ApiError(410, 'ENROLLMENT_TOKEN_USED', 'this enrollment token was used already; create a new one');
      const nowMs = ctx.clock();
      if (token.expiresAtMs <= nowMs) throw new ApiError(410, 'ENROLLMENT_TOKEN_EXPIRED', 'this enrollment token has expired; create a new one');
      const a = attest(input.hardware, token);
      const nodeId = newId('n');
      const nodeToken = newSecret();
      const hw = input.hardware;
      const spec = {
        hostname: hw.host.hostname, cpuCores: hw.host.cpuCores, ramGiB: Math.floor(hw.host.ramBytes / GIB),
        ...(hw.host.diskAvailableBytes === null ? {} : { diskGiB: Math.floor(hw.host.diskAvailableBytes / GIB) }),
        driverVersion: hw.driverVersion, cudaVersion: hw.cudaVersion, nvlinkGroups: hw.nvlinkGroups, agentVersion: input.agentVersion,
        ...(token.label === '' ? {} : { label: token.label }),
      };
      const rows = {
        enrollmentTokens: [{ ...token, usedAtMs: nowMs, nodeId }],
        nodeCredentials: [{ tokenHash: sha256Hex(nodeToken), nodeId, createdAtMs: nowMs, revokedAtMs: null } satisfies NodeCredentialRow],
        nodeAttestations: [
          {
            nodeId, verdict: a.verdict, reasons: a.reasons, hardwareJson: JSON.stringify(hw), measuredTflops: hw.measuredTflops ?? null,
            agentVersion: input.agentVersion, atMs: nowMs,
          } satisfies NodeAttestationRow,
        ],
      };
      if (a.verdict === 'mismatch') {
        // Never in the engine: the row exists for its provider and the admins to see, offline.
        const node: NodeRow = {
          id: nodeId, providerId: token.providerId, acceleratorId: a.acceleratorId, regionId: token.regionId, gpuCount: hw.gpus.length, kind: 'agent',
          status: 'offline', specJson: JSON.stringify(spec), createdAtMs: nowMs, updatedAtMs: nowMs,
        };
        await ctx.loop.write({ ...rows, nodes: [node] });
      } else {
        const r = await ctx.loop.submit(
          {
            type: 'registerNode', now: 0, nodeId, providerId: token.providerId, acceleratorId: a.acceleratorId, regionId: token.regionId,
            gpuCount: hw.gpus.length, kind: 'agent', spec,
          } as Parameters<typeof ctx.loop.submit>[0],
          (result) => (result.ok ? rows : undefined),
        );
        if (!r.ok) throw new ApiError(409, r.code, r.message);
      }
      ctx.agents?.enrolled(nodeId, `${a.acceleratorId}@${token.regionId}`, a.verdict);
      const heartbeatIntervalMs = ctx.agents?.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
      return c.json({ nodeId, nodeToken, heartbeatIntervalMs, attestation: a.verdict }, 201);
    } finally {
      rt.claims.delete(claim);
    }
  });
