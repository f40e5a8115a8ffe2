/**
 * The live feed (/api/v1/ws): one socket for the page, reconnecting with backoff. A channel's
 * handler gets the snapshot, then deltas; a gap in seq (or a reconnect) resubscribes, which
 * brings a fresh snapshot, so what is shown never drifts from the exchange.
 */
import { useEffect, useRef, useState } from 'react';

export interface FeedMessage {
  channel: string;
  type: 'snapshot' | 'delta';
  seq: number;
  data: unknown;
}
type Handler = (m: FeedMessage) => void;

class LiveFeed {
  private ws: WebSocket | null = null;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly lastSeq = new Map<string, number>();
  private retryMs = 500;
  private timer: number | null = null;
  private readonly statusListeners = new Set<(state: FeedState) => void>();
  private up = false;

  /** live: the socket is open; down: a page wants live data and the socket is not open; idle: nothing wants it. */
  get state(): FeedState {
    return this.up ? 'live' : this.handlers.size > 0 ? 'down' : 'idle';
  }

  subscribe(channel: string, h: Handler): () => void {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      this.send({ op: 'subscribe', channel });
    }
    set.add(h);
    this.ensure();
    return () => {
      const s = this.handlers.get(channel);
      if (!s) return;
      s.delete(h);
      if (s.size === 0) {
        this.handlers.delete(channel);
        this.lastSeq.delete(channel);
        this.send({ op: 'unsubscribe', channel });
      }
    };
  }

  onStatus(f: (state: FeedState) => void): () => void {
    this.statusListeners.add(f);
    return () => this.statusListeners.delete(f);
  }

  /** After login or logout the socket must carry the new cookie. */
  reconnect(): void {
    this.ws?.close();
  }

  private setUp(up: boolean): void {
    this.up = up;
    const state = this.state;
    for (const f of this.statusListeners) f(state);
  }

  private send(msg: object): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private ensure(): void {
    if (this.ws || this.timer !== null) return;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = 500;
      this.setUp(true);
      for (const channel of this.handlers.keys()) ws.send(JSON.stringify({ op: 'subscribe', channel }));
    };
    ws.onmessage = (ev) => {
      let m: Omit<FeedMessage, 'type'> & { type: string; code?: string };
      try {
        m = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (m.type === 'error' || !m.channel) return;
      const last = this.lastSeq.get(m.channel);
      if (m.type === 'delta' && last !== undefined && m.seq !== last + 1) {
        this.lastSeq.delete(m.channel);
        this.send({ op: 'subscribe', channel: m.channel }); // gap: a fresh snapshot
        return;
      }
      if (m.type === 'delta' && last === undefined) return; // waiting for the snapshot
      this.lastSeq.set(m.channel, m.seq);
      for (const h of this.handlers.get(m.channel) ?? []) h(m as FeedMessage);
    };
    ws.onclose = () => {
      this.ws = null;
      this.lastSeq.clear();
      this.setUp(false);
      if (this.handlers.size === 0) return;
      this.timer = window.setTimeout(() => {
        this.timer = null;
        this.ensure();
      }, this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
    ws.onerror = () => undefined; // onclose follows and retries
  }
}

export type FeedState = 'live' | 'down' | 'idle';

export const feed = new LiveFeed();

export function useChannel(channel: string | null, h: Handler): void {
  const ref = useRef(h);
  ref.current = h;
  useEffect(() => {
    if (channel === null) return;
    return feed.subscribe(channel, (m) => ref.current(m));
  }, [channel]);
}

export function useFeedState(): FeedState {
  const [state, setState] = useState(feed.state);
  useEffect(() => feed.onStatus(setState), []);
  return state;
}
