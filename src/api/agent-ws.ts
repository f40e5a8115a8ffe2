/**
 * The agent protocol's WebSocket, `GET /api/v1/agent/ws` with `Authorization: Bearer <nodeToken>`.
 * This file only speaks the socket: it authenticates (close 4401), enforces the limits (message
 * size, text frames that parse as one AgentMessage, else close 4400; a reader too slow for its
 * own lease commands is closed with 1013) and hands parsed messages to the AgentHub.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { AGENT_WS_PATH, AgentCloseCodes, AgentMessageSchema, type ExchangeMessage, MAX_AGENT_MESSAGE_BYTES } from '../agent/protocol.js';
import type { AgentHub, AgentSession } from '../exchange/agent-hub.js';
import type { Store } from '../store/port.js';
import { sha256Hex } from './identity.js';
import { rawText, refuseUpgrade } from './ws.js';

export interface AgentEndpointOptions {
  readonly path?: string;
  /** Upgrade paths another listener serves (the live feed); any other path is answered 404. */
  readonly otherPaths?: readonly string[];
  /** Unsent bytes to one agent beyond which it is closed (1013). */
  readonly maxBufferedBytes?: number;
  readonly maxSessions?: number;
}

/** Serves the agent protocol on `server`; returns a function that stops it and closes every session. */
export function attachAgentEndpoint(server: Server, hub: AgentHub, store: Store, options: AgentEndpointOptions = {}): () => void {
  const path = options.path ?? AGENT_WS_PATH;
  const otherPaths = options.otherPaths ?? ['/api/v1/ws'];
  const maxBuffered = options.maxBufferedBytes ?? 8 * 1024 * 1024;
  const maxSessions = options.maxSessions ?? 200_000;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_AGENT_MESSAGE_BYTES, perMessageDeflate: false, clientTracking: true });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    let pathname = '';
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      // answered below
    }
    if (pathname !== path) {
      if (!otherPaths.includes(pathname) || server.listenerCount('upgrade') <= 1) refuseUpgrade(socket, 404, 'Not Found');
      return;
    }
    socket.on('error', () => socket.destroy());
    if (wss.clients.size >= maxSessions) return refuseUpgrade(socket, 503, 'Service Unavailable');
    void nodeOf(req, store).then((nodeId) => {
      if (socket.destroyed) return;
      wss.handleUpgrade(req, socket, head, (ws) => {
        if (nodeId === null) return ws.close(AgentCloseCodes.unauthorized, 'unknown, revoked or missing node token');
        void serve(ws, nodeId);
      });
    });
  };

  const serve = async (ws: WebSocket, nodeId: string): Promise<void> => {
    const session: AgentSession = {
      send: (m: ExchangeMessage) => {
        if (ws.readyState !== ws.OPEN) return;
        if (ws.bufferedAmount > maxBuffered) return ws.close(1013, 'not reading fast enough');
        ws.send(JSON.stringify(m));
      },
      close: (code, reason) => ws.close(code, reason),
    };
    // Messages that arrive while the hub looks the node up wait, in order.
    const early: RawData[] = [];
    let handle: Awaited<ReturnType<AgentHub['open']>> = null;
    let closed = false;
    const onRaw = (raw: RawData, isBinary: boolean): void => {
      if (isBinary) return ws.close(AgentCloseCodes.badMessage, 'text frames only');
      if (!handle) {
        early.push(raw);
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(rawText(raw));
      } catch {
        return ws.close(AgentCloseCodes.badMessage, 'not JSON');
      }
      const m = AgentMessageSchema.safeParse(parsed);
      if (!m.success) return ws.close(AgentCloseCodes.badMessage, `not an agent message: ${m.error.issues[0]?.message ?? ''}`.slice(0, 120));
      handle.onMessage(m.data);
    };
    ws.on('message', onRaw);
    ws.on('close', () => {
      closed = true;
      handle?.onClose();
    });
    ws.on('error', () => ws.terminate());
    try {
      handle = await hub.open(nodeId, session);
    } catch {
      handle = null;
    }
    if (!handle) return ws.close(AgentCloseCodes.unauthorized, 'the node is not an agent node');
    if (closed) return handle.onClose();
    for (const raw of early.splice(0)) onRaw(raw, false);
  };

  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  };
}

async function nodeOf(req: IncomingMessage, store: Store): Promise<string | null> {
  const m = /^Bearer ([A-Za-z0-9_-]{16,256})$/.exec(req.headers.authorization ?? '');
  if (!m) return null;
  try {
    const cred = await store.nodeCredentialByHash(sha256Hex(m[1]!));
    return cred && cred.revokedAtMs === null ? cred.nodeId : null;
  } catch {
    return null;
  }
}
