/**
 * A small stand-in for the exchange's agent edge, speaking src/agent/protocol.ts: the enroll
 * route and the agent WebSocket (bearer node token, hello → welcome, every agent message parsed
 * with AgentMessageSchema, close 4400 on one that does not parse, 4401 for a bad token). Tests
 * script it: which leases a welcome lists, dropping connections, refusing upgrades, revoking.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  AGENT_WS_PATH,
  AgentCloseCodes,
  AgentMessageSchema,
  EnrollRequestSchema,
  type AgentMessage,
  type EnrollRequest,
  type ExchangeMessage,
  type LeaseSpec,
} from '../../src/agent/protocol.js';
import { waitFor } from './agent-harness.js';

export const GOOD_TOKEN = 'enroll-good-0001';
export const USED_TOKEN = 'enroll-used-0002';

export class FakeExchange {
  readonly received: { conn: number; message: AgentMessage }[] = [];
  readonly enrollments: EnrollRequest[] = [];
  /** Leases the next welcome lists. */
  welcomeLeases: () => LeaseSpec[] = () => [];
  /** Sent between the hello and the welcome (a lease pushed while the welcome was being built). */
  beforeWelcome: () => ExchangeMessage[] = () => [];
  heartbeatIntervalMs = 10_000;
  /** When false, upgrades are answered 503 (the exchange is down). */
  accepting = true;
  nodeToken = 'node-token-0123456789abcdef';
  connections = 0;
  upgradeAttempts = 0;
  private current: WebSocket | null = null;
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  url = '';

  constructor() {
    this.server = createServer((req, res) => void this.http(req, res));
    this.server.on('upgrade', (req, socket, head) => {
      this.upgradeAttempts++;
      if (!this.accepting || req.url !== AGENT_WS_PATH) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.serve(ws, req));
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  get connected(): boolean {
    return this.current !== null;
  }

  send(message: ExchangeMessage | Record<string, unknown>): void {
    this.current?.send(JSON.stringify(message));
  }

  /** Cuts the connection as a crashed exchange or a network fault would (no close frame). */
  drop(): void {
    this.current?.terminate();
    this.current = null;
  }

  /** Stops reading the current connection: no messages, no pongs (a hung exchange). */
  hang(): void {
    this.current?.pause();
  }

  revoke(): void {
    this.nodeToken = 'revoked-revoked-revoked';
    this.current?.close(AgentCloseCodes.unauthorized, 'node token revoked');
  }

  of<T extends AgentMessage['type']>(type: T, leaseId?: string): Extract<AgentMessage, { type: T }>[] {
    return this.received
      .map((r) => r.message)
      .filter((m): m is Extract<AgentMessage, { type: T }> => m.type === type && (leaseId === undefined || ('leaseId' in m && m.leaseId === leaseId)));
  }

  /** Messages of one connection (1-based, in the order connections were accepted). */
  onConnection(conn: number): AgentMessage[] {
    return this.received.filter((r) => r.conn === conn).map((r) => r.message);
  }

  waitFor<T extends AgentMessage['type']>(type: T, leaseId?: string, count = 1): Promise<Extract<AgentMessage, { type: T }>> {
    return waitFor(`${count} × ${type}${leaseId ? ` for ${leaseId}` : ''} at the exchange`, () => {
      const all = this.of(type, leaseId);
      return all.length >= count ? all[count - 1] : undefined;
    });
  }

  logLines(leaseId: string, stream: 'stdout' | 'stderr' = 'stdout'): string[] {
    return this.of('lease.log', leaseId)
      .filter((m) => m.stream === stream)
      .flatMap((m) => m.lines);
  }

  private serve(ws: WebSocket, req: IncomingMessage): void {
    if (req.headers.authorization !== `Bearer ${this.nodeToken}`) {
      ws.close(AgentCloseCodes.unauthorized, 'unknown, revoked or missing node token');
      return;
    }
    this.current?.close(AgentCloseCodes.replaced, 'replaced');
    this.current = ws;
    const conn = ++this.connections;
    ws.on('message', (raw) => {
      const parsed = AgentMessageSchema.safeParse(JSON.parse(String(raw)));
      if (!parsed.success) {
        ws.close(AgentCloseCodes.badMessage, 'not an agent message');
        return;
      }
      this.received.push({ conn, message: parsed.data });
      if (parsed.data.type === 'hello') {
        for (const m of this.beforeWelcome()) this.send(m);
        this.send({ type: 'welcome', nodeId: 'node-1', heartbeatIntervalMs: this.heartbeatIntervalMs, serverTimeMs: Date.now(), leases: this.welcomeLeases() });
      }
    });
    ws.on('close', () => {
      if (this.current === ws) this.current = null;
    });
  }

  private async http(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url !== '/api/v1/agent/enroll') return reply(404, { error: { code: 'NOT_FOUND', message: 'no route' } });
    const body = EnrollRequestSchema.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    if (!body.success) return reply(400, { error: { code: 'VALIDATION_FAILED', message: body.error.issues[0]?.message ?? '' } });
    if (body.data.token === USED_TOKEN) return reply(410, { error: { code: 'ENROLLMENT_TOKEN_USED', message: 'this enrollment token was already used' } });
    if (body.data.token !== GOOD_TOKEN) return reply(401, { error: { code: 'ENROLLMENT_TOKEN_INVALID', message: 'unknown enrollment token' } });
    this.enrollments.push(body.data);
    return reply(200, { nodeId: 'node-1', nodeToken: this.nodeToken, heartbeatIntervalMs: this.heartbeatIntervalMs, attestation: body.data.hardware.fake ? 'unverified' : 'verified' });
  }
}
