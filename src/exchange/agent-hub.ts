/**
 * The exchange side of the agent protocol (src/agent/protocol.ts), without the socket: which
 * agent nodes exist, which are connected, when each was last heard from, and what each session
 * is told. The WebSocket endpoint (src/api/agent-ws.ts) feeds it parsed messages.
 *
 * Heartbeats are never journaled (at the paper's scale they are 17.5k a second): last-seen times
 * and GPU health live here, in memory. Only state changes become commands through the loop:
 * a node silent for MISSED_HEARTBEATS_OFFLINE intervals goes offline and its started leases end
 * (`node_lost`, SLA credit); a valid `hello` brings it back; `lease.ready` / `lease.failed` /
 * task-mode `lease.exited` become `leaseReady` / `leaseFailed` / `endLease job_exited`.
 * After a restart every agent node gets one full offline window to reconnect before it is lost.
 */
import {
  AgentCloseCodes,
  AGENT_PROTOCOL_VERSION,
  type AgentMessage,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  type ExchangeMessage,
  type LeaseSpec,
  MISSED_HEARTBEATS_OFFLINE,
  WorkloadSchema,
} from '../agent/protocol.js';
import { getAccelerator } from '../core/catalog/index.js';
import { deciTflopsOf } from '../core/market/rules.js';
import { MS_PER_HOUR, type NodeStatus, type PlaceBid } from '../core/market/types.js';
import type { AttestationVerdict, LeaseLogRow, LeaseRow, Store } from '../store/port.js';
import { MAX_PAGE_LIMIT } from '../store/port.js';
import { LeaseLogs } from './lease-logs.js';
import type { CommandLoop, CommittedBatch } from './loop.js';

export interface AgentSession {
  send(message: ExchangeMessage): void;
  close(code: number, reason: string): void;
}

export interface GpuHealth {
  readonly index: number;
  readonly healthy: boolean;
  readonly utilizationPct: number | null;
  readonly memoryUsedMiB: number | null;
  readonly temperatureC: number | null;
}

export interface AgentHubHooks {
  readonly connected?: (count: number) => void;
  readonly heartbeat?: () => void;
  readonly nodeLost?: () => void;
}

/** Pushes a message to one user's live feed (`user` channel). */
export type UserSink = (userId: string, data: object) => void;

export interface AgentHubOptions {
  readonly clock: () => number;
  readonly heartbeatIntervalMs?: number;
  /** Log lines kept per lease; older ones are deleted as new ones arrive. */
  readonly maxLogLinesPerLease?: number;
  /** Lines waiting to be written, all leases together; beyond it the oldest are dropped. */
  readonly maxPendingLogLines?: number;
  readonly logFlushMs?: number;
  /** Lease messages one session may have waiting; beyond it the session is closed (1013). */
  readonly maxQueuedPerSession?: number;
  readonly log?: (obj: object, msg: string) => void;
}

export interface NodeView {
  readonly online: boolean;
  readonly connected: boolean;
  readonly lastHeartbeatAtMs: number | null;
  readonly gpus: readonly GpuHealth[];
}

interface LeaseInfo {
  readonly buyerId: string;
  readonly mode: 'lease' | 'task';
  readonly startMs: number;
}

interface Live {
  readonly session: AgentSession;
  chain: Promise<void>;
  queued: number;
  /** `hello` arrived (checked as messages arrive, before it is handled). */
  greeted: boolean;
  /** `hello` is being handled: from then on new leases are pushed as `lease.start`. */
  ready: boolean;
  /** Pushes made while `welcome` is being built wait here: nothing may overtake it. */
  held: ExchangeMessage[] | null;
}

interface AgentNode {
  readonly nodeId: string;
  readonly market: string;
  readonly verdict: AttestationVerdict;
  /** The engine's status as last committed; null = not in the engine (attestation mismatch). */
  status: NodeStatus | null;
  lastSeenMs: number;
  lastHeartbeatMs: number | null;
  gpus: readonly GpuHealth[];
  live: Live | null;
  losing: boolean;
  readonly leases: Map<string, LeaseInfo>;
}

const MAX_WELCOME_LEASES = 1_024;

export class AgentHub {
  readonly heartbeatIntervalMs: number;
  private readonly nodes = new Map<string, AgentNode>();
  private readonly leaseNode = new Map<string, string>();
  private readonly logs: LeaseLogs;
  private unverifiedByMarket: Map<string, number> | null = null;
  private heartbeats = 0;
  private lost = 0;
  private connected = 0;
  private hooks: AgentHubHooks = {};
  private sink: UserSink = () => undefined;
  private timers: NodeJS.Timeout[] = [];
  private readonly o: Required<Omit<AgentHubOptions, 'log'>> & Pick<AgentHubOptions, 'log'>;

  constructor(
    private readonly loop: CommandLoop,
    private readonly store: Store,
    options: AgentHubOptions,
  ) {
    this.o = {
      heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS, maxLogLinesPerLease: 2_000, maxPendingLogLines: 50_000, logFlushMs: 100,
      maxQueuedPerSession: 1_000, ...options,
    };
    this.heartbeatIntervalMs = this.o.heartbeatIntervalMs;
    this.logs = new LeaseLogs(loop, store, {
      maxPerLease: this.o.maxLogLinesPerLease, maxPending: this.o.maxPendingLogLines, isLive: (id) => this.leaseNode.has(id), ...(this.o.log ? { log: this.o.log } : {}),
    });
  }

  setHooks(hooks: AgentHubHooks): void {
    this.hooks = hooks;
  }

  setUserSink(sink: UserSink): void {
    this.sink = sink;
  }

  /** Loads every agent node and starts watching; call `listening()` once agents can connect. */
  async start(): Promise<void> {
    let cursor: string | null = null;
    do {
      const page = await this.store.listNodes({ kind: 'agent', cursor, limit: MAX_PAGE_LIMIT });
      const verdicts = new Map((await this.store.nodeAttestations(page.items.map((n) => n.id))).map((a) => [a.nodeId, a.verdict]));
      for (const n of page.items) {
        const verdict = verdicts.get(n.id) ?? 'unverified';
        const node = this.track(n.id, `${n.acceleratorId}@${n.regionId}`, verdict, verdict === 'mismatch' ? null : (n.status as NodeStatus));
        // A node that was down when the exchange stopped: its leases yet to start are watched (see `watch`).
        if (node.status === 'offline') for (const l of await this.store.liveLeasesOfNode(n.id, MAX_PAGE_LIMIT)) this.remember(node, l);
      }
      cursor = page.nextCursor;
    } while (cursor !== null);
    const watch = setInterval(() => this.watch(), Math.max(20, Math.floor(this.heartbeatIntervalMs / 2)));
    const flush = setInterval(() => void this.logs.flush(), this.o.logFlushMs);
    watch.unref();
    flush.unref();
    this.timers.push(watch, flush);
  }

  /**
   * Restart grace: every node gets a full offline window from the moment agents can reach the
   * exchange again (not from when it began to start: replaying a long journal must not eat it).
   */
  listening(): void {
    const now = this.o.clock();
    for (const n of this.nodes.values()) n.lastSeenMs = Math.max(n.lastSeenMs, now);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const n of this.nodes.values()) n.live?.session.close(1001, 'exchange shutting down');
    await this.logs.flush();
  }

  /** A node just enrolled (its rows are committed; the enrollment route tells, not the journal, which knows no verdicts). */
  enrolled(nodeId: string, market: string, verdict: AttestationVerdict): void {
    this.track(nodeId, market, verdict, verdict === 'mismatch' ? null : 'online');
  }

  /** The node's credentials were revoked: its session ends now (the agent stops for good on 4401). */
  revoked(nodeId: string): void {
    const n = this.nodes.get(nodeId);
    if (n) this.disconnect(n, AgentCloseCodes.unauthorized, 'node credential revoked');
  }

  // ---- read views (API) -------------------------------------------------------------------

  view(nodeId: string): NodeView | undefined {
    const n = this.nodes.get(nodeId);
    if (!n) return undefined;
    return { online: n.status === 'online' && n.live !== null, connected: n.live !== null, lastHeartbeatAtMs: n.lastHeartbeatMs, gpus: n.gpus };
  }

  /** Agent nodes of the market whose GPUs are not attested real (`--fake-gpus`). */
  unverifiedNodes(market: string): number {
    if (!this.unverifiedByMarket) {
      // Rebuilt after a change, not per call: GET /markets asks for every market at once.
      const counts = new Map<string, number>();
      for (const n of this.nodes.values()) if (n.verdict === 'unverified' && n.status === 'online') counts.set(n.market, (counts.get(n.market) ?? 0) + 1);
      this.unverifiedByMarket = counts;
    }
    return this.unverifiedByMarket.get(market) ?? 0;
  }

  get connectedCount(): number {
    return this.connected;
  }

  get stats(): { readonly heartbeats: number; readonly nodesLost: number; readonly droppedLogLines: number } {
    return { heartbeats: this.heartbeats, nodesLost: this.lost, droppedLogLines: this.logs.droppedLines };
  }

  // ---- sessions ---------------------------------------------------------------------------

  /** A session authenticated as `nodeId`; returns its message handler, or null if the node is unknown. */
  async open(nodeId: string, session: AgentSession): Promise<{ onMessage(m: AgentMessage): void; onClose(): void } | null> {
    let node = this.nodes.get(nodeId);
    if (!node) {
      const row = await this.store.getNode(nodeId);
      if (!row || row.kind !== 'agent') return null;
      const verdict = (await this.store.nodeAttestations([nodeId]))[0]?.verdict ?? 'unverified';
      node = this.track(nodeId, `${row.acceleratorId}@${row.regionId}`, verdict, verdict === 'mismatch' ? null : (row.status as NodeStatus));
    }
    const n = node;
    const previous = n.live;
    const live: Live = { session, chain: Promise.resolve(), queued: 0, greeted: false, ready: false, held: null };
    n.live = live;
    if (previous) previous.session.close(4409, 'another session for this node took over');
    else this.hooks.connected?.(++this.connected);
    return {
      onMessage: (m) => this.receive(n, live, m),
      onClose: () => {
        if (n.live !== live) return;
        n.live = null;
        this.hooks.connected?.(--this.connected);
      },
    };
  }

  private receive(n: AgentNode, live: Live, m: AgentMessage): void {
    if (n.live !== live) return;
    // Nothing counts before `hello`: a session that only heartbeats would keep selling a node it never provisions.
    if (m.type === 'hello') live.greeted = true;
    else if (!live.greeted) return live.session.close(4400, 'send hello first');
    n.lastSeenMs = this.o.clock();
    if (m.type === 'heartbeat') {
      n.lastHeartbeatMs = n.lastSeenMs;
      n.gpus = m.gpus; // parsed by the schema: exactly GpuHealth's fields, owned by nobody else
      this.heartbeats++;
      this.hooks.heartbeat?.();
      return;
    }
    if (live.queued >= this.o.maxQueuedPerSession) {
      live.session.close(1013, 'too many messages waiting');
      return;
    }
    // One message at a time per session, in order: `ready` lands before `exited`.
    live.queued++;
    live.chain = live.chain
      .then(() => (m.type === 'hello' ? this.hello(n, live, m) : this.leaseMessage(n, live, m)))
      .catch((err: unknown) => this.o.log?.({ err: String(err), nodeId: n.nodeId, type: m.type }, 'agent message failed'))
      .finally(() => {
        live.queued--;
      });
  }

  private async hello(n: AgentNode, live: Live, m: Extract<AgentMessage, { type: 'hello' }>): Promise<void> {
    if (m.protocol !== AGENT_PROTOCOL_VERSION) return live.session.close(4400, 'unsupported protocol version');
    // Ready before the read below, so a lease made meanwhile is pushed too (the agent dedups by
    // id); held until `welcome` has gone, since welcome tells the agent to stop what it omits.
    live.ready = true;
    live.held = [];
    let leases: LeaseSpec[];
    try {
      if (n.status === 'offline') await this.loop.submit({ type: 'setNodeStatus', now: 0, nodeId: n.nodeId, status: 'online' });
      const rows = await this.store.liveLeasesOfNode(n.nodeId, Math.min(MAX_PAGE_LIMIT, MAX_WELCOME_LEASES));
      leases = rows.map((l) => this.remember(n, l)).filter((spec): spec is LeaseSpec => spec !== undefined);
    } catch (err) {
      live.held = null;
      live.session.close(1011, 'the exchange could not load this node’s leases');
      throw err;
    }
    const held = live.held;
    live.held = null;
    if (n.live !== live) return;
    live.session.send({ type: 'welcome', nodeId: n.nodeId, heartbeatIntervalMs: this.heartbeatIntervalMs, serverTimeMs: this.o.clock(), leases });
    for (const pushed of held) live.session.send(pushed);
    // A task that ended while the exchange could not hear it ends its lease now.
    for (const r of m.running) {
      const info = n.leases.get(r.leaseId);
      if (r.state === 'exited' && info?.mode === 'task') await this.loop.submit({ type: 'endLease', now: 0, leaseId: r.leaseId, reason: 'job_exited' });
    }
  }

  private async leaseMessage(n: AgentNode, live: Live, m: Exclude<AgentMessage, { type: 'hello' | 'heartbeat' }>): Promise<void> {
    const info = await this.leaseOf(n, m.leaseId);
    if (!info) {
      live.session.send({ type: 'error', code: 'UNKNOWN_LEASE', message: `lease ${m.leaseId} is not running on this node` });
      return;
    }
    const now = this.o.clock();
    switch (m.type) {
      case 'lease.ready': {
        const r = await this.loop.submit({ type: 'leaseReady', now: 0, leaseId: m.leaseId, access: m.access });
        if (!r.ok) live.session.send({ type: 'error', code: r.code, message: r.message });
        return;
      }
      case 'lease.log':
        return this.appendLogs(m.leaseId, info.buyerId, m.stream, m.lines, now);
      case 'lease.exited': {
        const how = m.signal !== null ? `signal ${m.signal}` : `exit code ${m.exitCode ?? 'unknown'}`;
        await this.appendLogs(m.leaseId, info.buyerId, 'system', [`workload exited (${how})`], now);
        // Billed to the exit the agent saw (the core clamps it to what was settled and to now).
        if (info.mode === 'task') await this.loop.submit({ type: 'endLease', now: 0, leaseId: m.leaseId, reason: 'job_exited', interruptedAtMs: m.atMs });
        return;
      }
      case 'lease.stopped':
        return this.appendLogs(m.leaseId, info.buyerId, 'system', [`workload stopped${m.scratchWiped ? '; scratch wiped' : ''}`], now);
      case 'lease.failed':
        await this.appendLogs(m.leaseId, info.buyerId, 'system', [`provisioning failed: ${m.error}`], now);
        await this.loop.submit({ type: 'leaseFailed', now: 0, leaseId: m.leaseId, error: m.error });
        return;
    }
  }

  /** What the node's agent may report on: a live lease of this node. */
  private async leaseOf(n: AgentNode, leaseId: string): Promise<LeaseInfo | undefined> {
    const known = n.leases.get(leaseId);
    if (known) return known;
    const row = await this.store.getLease(leaseId);
    if (!row || row.nodeId !== n.nodeId) return undefined;
    this.remember(n, row);
    // An ended lease still takes its last words (`lease.stopped`, late logs); commands about it are refused by the core.
    return n.leases.get(leaseId) ?? { buyerId: row.buyerId, mode: parseWorkload(row.workloadJson ?? null)?.mode ?? 'lease', startMs: row.startMs };
  }

  /** Caches a lease of the node; its spec when it is live and has a workload to run. */
  private remember(n: AgentNode, l: LeaseRow): LeaseSpec | undefined {
    const live = l.state === 'pending' || l.state === 'provisioning' || l.state === 'active';
    if (!live) return undefined;
    const workload = parseWorkload(l.workloadJson ?? null);
    n.leases.set(l.id, { buyerId: l.buyerId, mode: workload?.mode ?? 'lease', startMs: l.startMs });
    this.leaseNode.set(l.id, n.nodeId);
    return workload ? { leaseId: l.id, gpuIndices: [...l.gpuIndices], startMs: l.startMs, endMs: l.endMs, workload } : undefined;
  }

  // ---- committed batches ------------------------------------------------------------------

  /** Call from the loop's `onCommitted`: pushes new leases and ends to the agents at once. */
  onCommitted(batch: CommittedBatch): void {
    for (const { result } of batch.entries) {
      for (const e of result.events) {
        switch (e.type) {
          case 'node_status_changed': {
            const n = this.nodes.get(e.nodeId);
            if (n) n.status = e.status;
            this.unverifiedByMarket = null;
            break;
          }
          case 'lease_created': {
            const n = this.nodes.get(e.nodeId);
            if (n) void this.pushStart(e.leaseId, n);
            break;
          }
          case 'lease_ended':
            this.pushStop(e.leaseId, e.reason);
            break;
          case 'lease_unfunded':
            this.pushStop(e.leaseId, 'unfunded');
            break;
          case 'lease_billed':
            if (e.state === 'ended') this.pushStop(e.leaseId, e.endReason ?? 'ended');
            break;
          default:
            break;
        }
      }
    }
  }

  private async pushStart(leaseId: string, n: AgentNode): Promise<void> {
    this.leaseNode.set(leaseId, n.nodeId);
    try {
      const row = await this.store.getLease(leaseId);
      if (!row) return;
      const spec = this.remember(n, row);
      if (spec && n.live?.ready) this.deliver(n.live, { type: 'lease.start', lease: spec });
    } catch (err) {
      this.o.log?.({ err: String(err), leaseId }, 'pushing lease.start failed');
    }
  }

  private pushStop(leaseId: string, reason: string): void {
    const nodeId = this.leaseNode.get(leaseId);
    if (nodeId === undefined) return;
    this.leaseNode.delete(leaseId);
    const n = this.nodes.get(nodeId);
    if (!n) return;
    n.leases.delete(leaseId);
    if (n.live?.ready) this.deliver(n.live, { type: 'lease.stop', leaseId, reason: reason.slice(0, 64) });
  }

  /** Ends the node's session, if any, from this side (its onClose then finds it replaced). */
  private disconnect(n: AgentNode, code: number, reason: string): void {
    if (!n.live) return;
    const { session } = n.live;
    n.live = null;
    this.hooks.connected?.(--this.connected);
    session.close(code, reason);
  }

  private deliver(live: Live, m: ExchangeMessage): void {
    if (live.held) live.held.push(m);
    else live.session.send(m);
  }

  // ---- liveness ---------------------------------------------------------------------------

  private track(nodeId: string, market: string, verdict: AttestationVerdict, status: NodeStatus | null): AgentNode {
    const existing = this.nodes.get(nodeId);
    if (existing) return existing;
    const n: AgentNode = {
      nodeId, market, verdict, status, lastSeenMs: this.o.clock(), lastHeartbeatMs: null, gpus: [], live: null, losing: false, leases: new Map(),
    };
    this.nodes.set(nodeId, n);
    this.unverifiedByMarket = null;
    return n;
  }

  /**
   * Every half heartbeat interval: a node silent for the offline window is lost. One still selling
   * (online or draining) goes offline and its running leases end (`declareLost`). One already
   * offline gets no new sales, but leases it sold earlier still come due: any whose start passes
   * while the node is silent ends too (what a tick billed since its start returns as SLA credit), instead of billing the buyer for
   * GPUs nobody hands over.
   */
  private watch(): void {
    const now = this.o.clock();
    const windowMs = MISSED_HEARTBEATS_OFFLINE * this.heartbeatIntervalMs;
    for (const n of this.nodes.values()) {
      if (n.status === null || n.losing || now - n.lastSeenMs <= windowMs) continue;
      if (n.status !== 'offline') void this.declareLost(n);
      else if (n.leases.size > 0) void this.endUnserved(n, now);
    }
  }

  /** Ends the leases of silent node `n` that have started, as `node_lost` from when it went quiet (or from their start). */
  private async endUnserved(n: AgentNode, now: number): Promise<void> {
    const due = [...n.leases.entries()].filter(([, info]) => info.startMs <= now);
    if (due.length === 0) return;
    await this.whileLosing(n, 'ending the leases of a lost node failed', async (silentSinceMs) => {
      for (const [leaseId, info] of due) {
        // Back meanwhile (a hello came): what is left is served again.
        if (n.lastSeenMs !== silentSinceMs || n.status !== 'offline') break;
        const row = await this.store.getLease(leaseId);
        // Gone or refused (already ended elsewhere): nothing of it is left to watch.
        if (!row || !(await this.endLost(row, Math.max(info.startMs, silentSinceMs)))) n.leases.delete(leaseId);
      }
    });
  }

  private async declareLost(n: AgentNode): Promise<void> {
    await this.whileLosing(n, 'taking a lost node offline failed', async (silentSinceMs) => {
      const r = await this.loop.submit({ type: 'setNodeStatus', now: 0, nodeId: n.nodeId, status: 'offline' });
      if (!r.ok) return;
      this.lost++;
      this.hooks.nodeLost?.();
      const now = this.o.clock();
      for (const l of await this.store.liveLeasesOfNode(n.nodeId, MAX_PAGE_LIMIT)) {
        if (l.startMs > now) {
          // Not started yet: it may still be served if the node comes back in time (see `watch`).
          this.remember(n, l);
          continue;
        }
        await this.endLost(l, silentSinceMs);
      }
    });
  }

  /**
   * Runs `work` for silent node `n`: marked `losing` (a second pass keeps off it until done), its
   * socket closed (a half-open socket that stopped talking is as good as gone), given the time it
   * was last heard from (fixed before the first await: the node is down since then, and that
   * downtime is credited, not billed); a failure is logged as `failure`.
   */
  private async whileLosing(n: AgentNode, failure: string, work: (silentSinceMs: number) => Promise<void>): Promise<void> {
    n.losing = true;
    const silentSinceMs = n.lastSeenMs;
    try {
      this.disconnect(n, 1001, 'no heartbeat');
      await work(silentSinceMs);
    } catch (err) {
      this.o.log?.({ err: String(err), nodeId: n.nodeId }, failure);
    } finally {
      n.losing = false;
    }
  }

  /** Ends lease `l` as `node_lost` (down since `interruptedAtMs`) and re-matches it if asked; whether it ended. */
  private async endLost(l: LeaseRow, interruptedAtMs: number): Promise<boolean> {
    const ended = await this.loop.submit({ type: 'endLease', now: 0, leaseId: l.id, reason: 'node_lost', interruptedAtMs });
    if (ended.ok) await this.rematch(l);
    return ended.ok;
  }

  /**
   * The buyer asked for it (`rematch` on the bid): the lost lease's remaining time goes back to
   * the market as a new bid of the buyer's — same accelerators or compute class, regions, GPUs per
   * node, limit and workload; whole hours rounded up (the engine's unit; the buyer may end early);
   * GTD until the lost lease's end. It is an ordinary command: journaled, held, fed, replayed.
   */
  private async rematch(l: LeaseRow): Promise<void> {
    const trade = await this.store.getTrade(l.tradeId);
    const order = trade && (await this.store.getOrder(trade.bidId));
    if (!order) return;
    const spec = JSON.parse(order.specJson) as PlaceBid & { readonly workload?: unknown; readonly rematch?: boolean };
    const leftMs = l.endMs - this.o.clock();
    if (spec.rematch !== true || leftMs <= 0) return;
    const gpus = l.gpuIndices.length;
    const acc = getAccelerator(l.market.split('@')[0]!);
    const deciTflops = acc ? deciTflopsOf(acc) * gpus : 0;
    const cmd = {
      type: 'placeBid', now: 0, orderId: `r-${l.id}`, buyerId: l.buyerId,
      ...(spec.acceleratorIds ? { acceleratorIds: spec.acceleratorIds } : {}),
      ...(spec.computeClass ? { computeClass: spec.computeClass } : {}),
      ...(spec.regionIds ? { regionIds: spec.regionIds } : {}),
      quantity: spec.quantity.kind === 'compute' ? { kind: 'compute', deciTflops } : { kind: 'gpus', gpus },
      ...(spec.gpusPerNode === undefined ? {} : { gpusPerNode: spec.gpusPerNode }),
      hours: Math.ceil(leftMs / MS_PER_HOUR), limitFen: spec.limitFen, timeInForce: 'GTD', expiresAt: l.endMs,
      ...(spec.workload === undefined ? {} : { workload: spec.workload }),
    } as PlaceBid;
    const r = await this.loop.submit(cmd);
    const line = r.ok ? `re-matching the remaining time as bid ${cmd.orderId}` : `re-match refused: ${r.code} (${r.message})`;
    await this.appendLogs(l.id, l.buyerId, 'system', [line], this.o.clock());
  }

  // ---- logs -------------------------------------------------------------------------------

  private async appendLogs(leaseId: string, buyerId: string, stream: LeaseLogRow['stream'], lines: readonly string[], atMs: number): Promise<void> {
    const firstSeq = await this.logs.append(leaseId, stream, lines, atMs);
    this.sink(buyerId, { type: 'lease_log', leaseId, stream, firstSeq, lines: [...lines], at: new Date(atMs).toISOString() });
  }
}

function parseWorkload(json: string | null): LeaseSpec['workload'] | undefined {
  if (json === null) return undefined;
  try {
    const r = WorkloadSchema.safeParse(JSON.parse(json));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
