/**
 * Enrollment over the REST API on both stores: one-time tokens (hash only, 24 h), every refusal
 * with its stable code and no state change, attestation (mismatch is stored but never traded;
 * fake GPUs are traded but shown unverified), and task bids that carry a workload.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/api/identity.js';
import type { Store } from '../src/store/index.js';
import { A100, hardware } from './support/agent-fixtures.js';
import { type Actor, type Harness, ok, openHarness, type Reply } from './support/api-harness.js';
import { storeAdapters } from './support/stores.js';

const { adapters } = storeAdapters('enroll');

describe.each(adapters)('agent enrollment on $name', (adapter) => {
  let store: Store;
  let h: Harness;
  let admin: Actor;

  beforeAll(async () => {
    store = await adapter.open();
    h = await openHarness(store);
    admin = await h.admin(`admin-enroll-${adapter.name}`);
  });
  afterAll(async () => {
    await store.close();
  });

  const enroll = (token: string, hw = hardware(8), agentVersion = '0.1.0') => h.actor('agent').post('/agent/enroll', { token, hardware: hw, agentVersion });

  it('creates one-time tokens that only their provider lists, without the secret', async () => {
    const provider = await h.signup(`prov-tok-${adapter.name}`, 'provider');
    const created = ok(await provider.post('/enrollment-tokens', { regionId: 'cn-beijing', acceleratorId: A100, gpuCount: 8, label: 'rack 1' }), 201).body;
    expect(created.token).toMatch(/^set_[A-Za-z0-9_-]{40,}$/);
    expect(created.command).toBe(`suanli agent --server http://localhost --token ${created.token}`);
    expect(Date.parse(created.expiresAt) - h.now()).toBe(24 * 3_600_000);
    const listed = ok(await provider.get('/enrollment-tokens')).body.items;
    expect(listed).toEqual([{ id: created.id, regionId: 'cn-beijing', acceleratorId: A100, gpuCount: 8, label: 'rack 1', createdAt: created.createdAt, expiresAt: created.expiresAt }]);
    expect(JSON.stringify(listed)).not.toContain(created.token);
    // Stored as a hash only.
    expect(await store.enrollmentTokenByHash(sha256Hex(created.token))).toMatchObject({ id: created.id, usedAtMs: null });
    const other = await h.signup(`prov-tok2-${adapter.name}`, 'provider');
    expect(ok(await other.get('/enrollment-tokens')).body.items).toEqual([]);
    expect((await provider.post('/enrollment-tokens', { regionId: 'mars' })).body.error.code).toBe('UNKNOWN_REGION');
    expect((await provider.post('/enrollment-tokens', { regionId: 'cn-beijing', acceleratorId: 'nvidia-b999' })).body.error.code).toBe('UNKNOWN_ACCELERATOR');
    expect((await provider.post('/enrollment-tokens', { regionId: 'cn-beijing', gpuCount: 0 })).body.error.code).toBe('VALIDATION_FAILED');
  });

  it('enrolls a verified node once; every refusal has its own code and changes nothing', async () => {
    const provider = await h.signup(`prov-en-${adapter.name}`, 'provider');
    const { token } = ok(await provider.post('/enrollment-tokens', { regionId: 'cn-beijing', acceleratorId: A100, gpuCount: 8 }), 201).body;
    const seq = h.loop.journalSeq;
    const refuse = async (r: Promise<Reply>, status: number, code: string): Promise<void> => {
      const reply = await r;
      expect([reply.status, reply.body.error?.code]).toEqual([status, code]);
    };
    await refuse(enroll('set_not-a-real-token-at-all'), 401, 'ENROLLMENT_TOKEN_INVALID');
    await refuse(enroll(token, hardware(0)), 422, 'NO_GPUS');
    await refuse(enroll(token, hardware(8, {}, 'NVIDIA Mystery GPU')), 422, 'UNKNOWN_ACCELERATOR');
    const mixed = hardware(2);
    await refuse(enroll(token, { ...mixed, gpus: [mixed.gpus[0]!, { ...mixed.gpus[1]!, productName: 'NVIDIA H100 80GB HBM3', acceleratorId: null }] }), 422, 'MIXED_ACCELERATORS');
    await refuse(h.actor('agent').post('/agent/enroll', { token }), 400, 'VALIDATION_FAILED');
    expect(h.loop.journalSeq).toBe(seq);
    expect(ok(await provider.get('/nodes')).body.items).toEqual([]);

    const enrolled = ok(await enroll(token), 201).body;
    expect(enrolled).toMatchObject({ attestation: 'verified', heartbeatIntervalMs: 10_000 });
    expect(enrolled.nodeToken).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(await store.nodeCredentialByHash(sha256Hex(enrolled.nodeToken))).toMatchObject({ nodeId: enrolled.nodeId, revokedAtMs: null });
    const node = ok(await provider.get(`/nodes/${enrolled.nodeId}`)).body.node;
    expect(node).toMatchObject({
      kind: 'agent', acceleratorId: A100, regionId: 'cn-beijing', gpuCount: 8, status: 'online', attestation: 'verified', unverified: false, online: false, gpus: [],
    });
    expect(node.spec).toMatchObject({ hostname: 'gpu-01', cpuCores: 64, ramGiB: 512, diskGiB: 2048 });
    // Tradable: an ask on it takes.
    ok(await provider.post('/asks', { nodeIds: [enrolled.nodeId], priceFenPerGpuHour: 1000 }), 201);

    const after = h.loop.journalSeq;
    await refuse(enroll(token), 410, 'ENROLLMENT_TOKEN_USED');
    expect(ok(await provider.get('/enrollment-tokens')).body.items).toEqual([]);
    const late = ok(await provider.post('/enrollment-tokens', { regionId: 'cn-beijing' }), 201).body.token;
    h.advance(24 * 3_600_000);
    await refuse(enroll(late), 410, 'ENROLLMENT_TOKEN_EXPIRED');
    expect(h.loop.journalSeq).toBe(after);
  });

  it('stores a mismatch but never trades it, and shows fake GPUs as unverified', async () => {
    const provider = await h.signup(`prov-att-${adapter.name}`, 'provider');
    const seller = async (body: object) => ok(await provider.post('/enrollment-tokens', { regionId: 'cn-shanghai', ...body }), 201).body.token as string;

    const fewer = ok(await enroll(await seller({ acceleratorId: A100, gpuCount: 8 }), hardware(4)), 201).body;
    expect(fewer.attestation).toBe('mismatch');
    const wrongModel = ok(await enroll(await seller({ acceleratorId: 'nvidia-h100-sxm5-80g' }), hardware(8)), 201).body;
    expect(wrongModel.attestation).toBe('mismatch');
    const lessMemory = ok(await enroll(await seller({}), hardware(8, {}, undefined, 30_000)), 201).body;
    expect(lessMemory.attestation).toBe('mismatch');
    const node = ok(await provider.get(`/nodes/${fewer.nodeId}`)).body.node;
    expect(node).toMatchObject({ kind: 'agent', status: 'offline', attestation: 'mismatch', unverified: true, gpuCount: 4 });
    expect(node.attestationReasons).toEqual(['listed 8 GPUs, detected 4']);
    // Not in the engine: no ask, and it cannot be switched on.
    expect((await provider.post('/asks', { nodeIds: [fewer.nodeId], priceFenPerGpuHour: 1000 })).body.error.code).toBe('NODE_NOT_FOUND');
    expect((await provider.call('PATCH', `/nodes/${fewer.nodeId}`, { status: 'online' })).body.error.code).toBe('NODE_ATTESTATION_MISMATCH');
    // The admin sees it too.
    expect(ok(await admin.get(`/nodes/${fewer.nodeId}`)).body.node.attestation).toBe('mismatch');

    const fake = ok(await enroll(await seller({}), hardware(2, { fake: true })), 201).body;
    expect(fake.attestation).toBe('unverified');
    expect(ok(await provider.get(`/nodes/${fake.nodeId}`)).body.node).toMatchObject({ status: 'online', attestation: 'unverified', unverified: true });
    ok(await provider.post('/asks', { nodeIds: [fake.nodeId], priceFenPerGpuHour: 1000 }), 201);
    const buyer = await h.signup(`buyer-att-${adapter.name}`, 'buyer');
    ok(await admin.post('/admin/deposits', { userId: buyer.userId, amountFen: '100000' }), 201);
    const placed = ok(
      await buyer.post('/jobs', {
        acceleratorIds: [A100], regionIds: ['cn-shanghai'], gpus: 1, hours: 2, limitFenPerGpuHour: 1000, timeInForce: 'IOC',
        workload: { runtime: 'process', command: ['python', 'train.py'], env: { HF_TOKEN: 'hf_secret' } },
      }),
      201,
    ).body;
    expect(placed.leases).toHaveLength(1);
    const leaseId = placed.leases[0].id;
    const mine = ok(await buyer.get(`/leases/${leaseId}`)).body.lease;
    expect(mine).toMatchObject({ attestation: 'unverified', workload: { runtime: 'process', command: ['python', 'train.py'], env: { HF_TOKEN: 'hf_secret' }, mode: 'task' }, access: null });
    const theirs = ok(await provider.get(`/leases/${leaseId}`)).body.lease;
    expect(theirs.workload).toEqual({ runtime: 'process', command: ['python', 'train.py'], mode: 'task', envNames: ['HF_TOKEN'] });
    expect(JSON.stringify(theirs)).not.toContain('hf_secret');
    // No agent in this in-process app, so nothing provisions it: the store says provisioning.
    expect((await store.getLease(leaseId))?.state).toBe('provisioning');
    expect(ok(await buyer.get(`/leases/${leaseId}/logs`)).body).toEqual({ items: [], nextAfter: 0 });
    expect((await provider.get(`/leases/${leaseId}/logs`)).status).toBe(404);
    expect((await buyer.post('/jobs', { acceleratorIds: [A100], gpus: 1, hours: 1, limitFenPerGpuHour: 1000 })).body.error.code).toBe('VALIDATION_FAILED');
    expect((await buyer.post('/jobs', { acceleratorIds: [A100], gpus: 1, hours: 1, limitFenPerGpuHour: 1000, workload: { runtime: 'docker' } })).body.error.code).toBe('VALIDATION_FAILED');
  });
});
