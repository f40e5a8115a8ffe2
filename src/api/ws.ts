/**
 * The live feed: one WebSocket at /api/v1/ws with three kinds of channel (docs/api-contract.md).
 *
 *   book:<market>    snapshot = the engine's depth; deltas = changed price levels, absolute
 *                    (`gpus: 0` removes a level), so applying a delta twice is harmless
 *   trades:<market>  snapshot = the last 50 trades from the store; deltas = one per new trade
 *   user             (authenticated) the user's own order, trade, lease and voucher events,
 *                    `balance` messages when a transfer touches one of their accounts, and from
 *                    host agents a buyer's `lease_ready` (with access) and `lease_log` lines
 *
 * Client → server: {"op":"subscribe"|"unsubscribe","channel":"…"}. Server → client:
 * {"channel","type":"snapshot","seq",data}, then {"channel","type":"delta","seq",data} with seq
 * counting that channel's deltas; a client that sees a gap subscribes again and gets a fresh
 * snapshot. Errors: {"type":"error","code","message","channel"?}.
 *
 * Everything is fed from the command loop: `prepare(batch)` when a batch is sealed for its commit
 * (it reads the changed books and balances, memory being exactly at that batch), and what it
 * returns once the batch is durable: deltas never report what the store might still lose. (A
 * first snapshot, of a book or of a user's balances, reads the in-memory core, which can be up
 * to two batches ahead of the store, the second partly applied; levels and balances are
 * absolute, so the client is right again after the next delta, and a failed commit stops the
 * process.)
 *
 * Limits: subscriptions per socket, message size (ws maxPayload), incoming message rate, clients,
 * a per-client send buffer (a slow reader is closed with 1013), ping/pong heartbeats, and an
 * anonymous socket with no subscription is closed after a while.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { getAccelerator, getRegion } from '../core/catalog/index.js';
import { balanceFen, type Account } from '../core/ledger/types.js';
import type { Depth, DepthLevel } from '../core/market/types.js';
import type { CoreCommand, CoreEvent, ExchangeCore } from '../exchange/core.js';
import type { AppliedEntries } from '../exchange/loop.js';
import type { Store, TradeRow } from '../store/port.js';

export interface AuthUser {
  readonly userId: string;
}
export type Authenticate = (req: IncomingMessage) => Promise<AuthUser | null>;

export type DropReason = 'slow' | 'heartbeat' | 'idle';

export interface LiveFeedHooks {
  /** Called with the number of open sockets whenever it changes. */
  readonly clients?: (count: number) => void;
  /** Called when the feed closes a socket on its own. */
  readonly dropped?: (reason: DropReason) => void;
}

interface LogLike {
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface LiveFeedOptions {
  readonly maxSubscriptionsPerSocket?: number;
  /** Largest message a client may send (ws closes the socket with 1009 above it). */
  readonly maxPayloadBytes?: number;
  /** A client whose unsent data exceeds this is closed with 1013. */
  readonly maxBufferedBytes?: number;
  readonly heartbeatMs?: number;
  /** An anonymous socket with no subscription is closed after this long. */
  readonly idleUnauthenticatedMs?: number;
  readonly maxClients?: number;
  /** Most messages a client may send per `messageWindowMs`; beyond it they are refused. */
  readonly maxMessagesPerWindow?: number;
  readonly messageWindowMs?: number;
  readonly tradesSnapshotSize?: number;
  /** Which markets may be subscribed; default: any catalog accelerator@region, or a live market. */
  readonly isMarket?: (market: string) => boolean;
  /**
   * Origins (scheme://host[:port]) whose browsers may use their session cookie here. A socket
   * from any other cross-site origin is served anonymously (public channels only), so another
   * site cannot read a user's feed with the user's cookie. Same-host origins are always allowed.
   */
  readonly allowedOrigins?: readonly string[];
  readonly hooks?: LiveFeedHooks;
  readonly log?: LogLike;
}

const DEFAULTS = {
  maxSubscriptionsPerSocket: 50,
  maxPayloadBytes: 16 * 1024,
  maxBufferedBytes: 4 * 1024 * 1024,
  heartbeatMs: 30_000,
  idleUnauthenticatedMs: 60_000,
  maxClients: 10_000,
  maxMessagesPerWindow: 100,
  messageWindowMs: 10_000,
  tradesSnapshotSize: 50,
};
const MAX_CHANNEL_CHARS = 200;
/** How long a socket closed for being slow gets to say goodbye before it is cut. */
const CLOSE_GRACE_MS = 2_000;

/** Codes follow the REST API's where the meaning is the same (MARKET_NOT_FOUND, UNAUTHENTICATED, RATE_LIMITED). */
export type ErrorCode = 'BAD_REQUEST' | 'UNKNOWN_CHANNEL' | 'MARKET_NOT_FOUND' | 'UNAUTHENTICATED' | 'TOO_MANY_SUBSCRIPTIONS' | 'RATE_LIMITED' | 'INTERNAL';

/** The book as sent: the engine's depth; in a delta, absolute GPUs per changed level (0: the level is gone). */
export type BookData = Depth;

/** A trade as the market sees it (no parties): the REST MarketTrade shape. */
export interface PublicTrade {
  readonly id: string;
  readonly market: string;
  readonly gpus: number;
  readonly priceFenPerGpuHour: number;
  readonly hours: number;
  readonly startAt: string;
  readonly endAt: string;
  readonly at: string;
}

/** Balances of one user, fen as decimal strings: the REST GET /balances shape (without `display`). */
export interface Balances {
  /** Posted cash, holds included. */
  readonly cashFen: string;
  /** Cash not held for bids. */
  readonly availableFen: string;
  /** Held for open bids (cash and vouchers). */
  readonly heldFen: string;
  readonly escrowFen: string;
  readonly voucherFen: string;
  readonly voucherEscrowFen: string;
  readonly earningsFen: string;
}

interface Sub {
  /** Prepare count at subscribe time: user-channel batches up to it are covered by the snapshot. */
  readonly since: number;
  /** Snapshot not sent yet (trades: the store is being read); deltas wait here. */
  pending: string[] | null;
}

interface Client {
  readonly ws: WebSocket;
  readonly userId: string | null;
  readonly subs: Map<string, Sub>;
  alive: boolean;
  closing: boolean;
  idleTimer: NodeJS.Timeout | null;
  windowStartMs: number;
  windowCount: number;
}

interface UserItem {
  /** Recipients; null = look the owner up in the store (an order or lease from before start). */
  readonly owners: readonly string[] | null;
  readonly lookup?: { readonly kind: 'order' | 'lease'; readonly id: string };
  /** The message, or a message per recipient (a trade says `side` and hides the other party). */
  readonly data: object | ((owner: string) => object);
}

const iso = (ms: number): string => new Date(ms).toISOString();
const MS_PER_HOUR = 3_600_000;

/** Balances of a user from the in-memory ledger (the accounts `getAccountsByOwner` gives). */
export function balancesOf(accounts: readonly Account[]): Balances {
  let cash = 0n;
  let cashPending = 0n;
  let escrow = 0n;
  let voucher = 0n;
  let voucherEscrow = 0n;
  let earnings = 0n;
  let held = 0n;
  for (const a of accounts) {
    switch (a.kind) {
      case 'user_cash':
        cash += balanceFen(a);
        cashPending += a.debitsPendingFen;
        held += a.debitsPendingFen;
        break;
      case 'user_voucher':
        voucher += balanceFen(a);
        held += a.debitsPendingFen;
        break;
      case 'user_escrow':
        escrow += balanceFen(a);
        break;
      case 'user_voucher_escrow':
        voucherEscrow += balanceFen(a);
        break;
      case 'user_earnings':
        earnings += balanceFen(a);
        break;
      default:
        break;
    }
  }
  return {
    cashFen: cash.toString(),
    availableFen: (cash - cashPending).toString(),
    heldFen: held.toString(),
    escrowFen: escrow.toString(),
    voucherFen: voucher.toString(),
    voucherEscrowFen: voucherEscrow.toString(),
    earningsFen: earnings.toString(),
  };
}

/** The user id in a ledger account id `user:<id>:…`, or null. */
function userOfAccount(accountId: string): string | null {
  if (!accountId.startsWith('user:')) return null;
  const end = accountId.indexOf(':', 5);
  return end > 5 ? accountId.slice(5, end) : null;
}

function publicTrade(t: { tradeId: string; market: string; gpus: number; priceFenPerGpuHour: number; startMs: number; endMs: number }, atMs: number): PublicTrade {
  return {
    id: t.tradeId, market: t.market, gpus: t.gpus, priceFenPerGpuHour: t.priceFenPerGpuHour, hours: (t.endMs - t.startMs) / MS_PER_HOUR,
    startAt: iso(t.startMs), endAt: iso(t.endMs), at: iso(atMs),
  };
}

function tradeRowToPublic(r: TradeRow): PublicTrade {
  return publicTrade({ tradeId: r.id, market: r.market, gpus: r.gpus, priceFenPerGpuHour: r.priceFenPerGpuHour, startMs: r.startMs, endMs: r.endMs }, r.atMs);
}

/** A core event as the edge shows it: epoch-ms fields become ISO-8601 `…At` strings, plus `at`. */
export function edgeEvent(e: CoreEvent, nowMs: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === 'atMs' && typeof v === 'number') out[e.type === 'lease_ended' ? 'endedAt' : 'at'] = iso(v);
    else if (k === 'startMs' && typeof v === 'number') out['startAt'] = iso(v);
    else if (k === 'endMs' && typeof v === 'number') out['endAt'] = iso(v);
    else if (k === 'billedUntilMs' && typeof v === 'number') out['billedUntil'] = iso(v);
    else if (k === 'expiresAtMs' && typeof v === 'number') out['expiresAt'] = iso(v);
    else if (k === 'expiresAt') out['expiresAt'] = typeof v === 'number' ? iso(v) : null;
    else out[k] = v;
  }
  if (!('at' in out)) out['at'] = iso(nowMs);
  return out;
}

/** Levels of `next` that differ from `prev`, absolute; levels gone from `next` come as 0 GPUs. */
export function diffLevels(prev: readonly DepthLevel[], next: readonly DepthLevel[]): DepthLevel[] {
  const before = new Map(prev.map((l) => [l.priceFenPerGpuHour, l.gpus]));
  const out: DepthLevel[] = [];
  const seen = new Set<number>();
  for (const l of next) {
    seen.add(l.priceFenPerGpuHour);
    if (before.get(l.priceFenPerGpuHour) !== l.gpus) out.push({ priceFenPerGpuHour: l.priceFenPerGpuHour, gpus: l.gpus });
  }
  for (const l of prev) if (!seen.has(l.priceFenPerGpuHour)) out.push({ priceFenPerGpuHour: l.priceFenPerGpuHour, gpus: 0 });
  return out;
}

/** Applies a book delta to a book (client side; exported for tests and the web app). */
export function applyBookDelta(book: BookData, delta: BookData): BookData {
  const merge = (levels: readonly DepthLevel[], changes: readonly DepthLevel[], ascending: boolean): DepthLevel[] => {
    const m = new Map(levels.map((l) => [l.priceFenPerGpuHour, l.gpus]));
    for (const c of changes) {
      if (c.gpus === 0) m.delete(c.priceFenPerGpuHour);
      else m.set(c.priceFenPerGpuHour, c.gpus);
    }
    return [...m].map(([priceFenPerGpuHour, gpus]) => ({ priceFenPerGpuHour, gpus })).sort((a, b) => (ascending ? a.priceFenPerGpuHour - b.priceFenPerGpuHour : b.priceFenPerGpuHour - a.priceFenPerGpuHour));
  };
  return { market: book.market, asks: merge(book.asks, delta.asks, true), bids: merge(book.bids, delta.bids, false) };
}

export class LiveFeed {
  private readonly o: typeof DEFAULTS & Pick<LiveFeedOptions, 'isMarket' | 'allowedOrigins' | 'hooks' | 'log'>;
  private readonly clients = new Set<Client>();
  /** Public channel → subscribers; user id → sockets subscribed to `user`. */
  private readonly channelSubs = new Map<string, Set<Client>>();
  private readonly userSubs = new Map<string, Set<Client>>();
  /** Delta sequence per channel (user channels keyed `user:<id>`), kept while subscribed. */
  private readonly seqs = new Map<string, number>();
  /** Last depth sent per subscribed market: the base of the next delta. */
  private readonly books = new Map<string, BookData>();
  /** Owners of live orders and leases, learned from commands and events. */
  private readonly orderOwners = new Map<string, string>();
  private readonly leaseOwners = new Map<string, readonly string[]>();
  /** User-channel work runs in order (an owner lookup may wait for the store). */
  private userChain: Promise<void> = Promise.resolve();
  /** Batches prepared so far: a user subscription gets the user events of batches prepared after it. */
  private prepareCount = 0;
  private wss: WebSocketServer | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private detach: (() => void) | null = null;
  private droppedCount = { slow: 0, heartbeat: 0, idle: 0 };

  constructor(
    private readonly core: ExchangeCore,
    private readonly store: Store,
    options: LiveFeedOptions = {},
  ) {
    this.o = { ...DEFAULTS, ...stripUndefined(options) };
  }

  /** Serves the feed on `server` at `path`; other upgrade paths are left to other listeners. */
  attach(server: Server, path = '/api/v1/ws', authenticate: Authenticate = () => Promise.resolve(null)): void {
    if (this.wss) throw new Error('LiveFeed is already attached');
    const wss = new WebSocketServer({ noServer: true, maxPayload: this.o.maxPayloadBytes, perMessageDeflate: false, clientTracking: false });
    this.wss = wss;
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      let pathname: string;
      try {
        pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
      } catch {
        pathname = '';
      }
      if (pathname !== path) {
        // Another listener (the agent protocol) may own this path; if none does, answer 404.
        if (server.listenerCount('upgrade') <= 1) refuseUpgrade(socket, 404, 'Not Found');
        return;
      }
      socket.on('error', () => socket.destroy());
      if (this.clients.size >= this.o.maxClients) {
        refuseUpgrade(socket, 503, 'Service Unavailable');
        return;
      }
      const auth = this.originAllowed(req) ? authenticate(req).catch(() => null) : Promise.resolve(null);
      void auth.then((user) => {
        if (socket.destroyed || !this.wss) return;
        wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, user?.userId ?? null));
      });
    };
    server.on('upgrade', onUpgrade);
    this.detach = () => server.off('upgrade', onUpgrade);
    this.heartbeat = setInterval(() => this.beat(), this.o.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Number of open sockets. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Sockets the feed closed on its own, by reason. */
  get dropped(): Readonly<Record<DropReason, number>> {
    return { ...this.droppedCount };
  }

  /** Closes every socket and stops serving. */
  close(): void {
    this.detach?.();
    this.detach = null;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const c of this.clients) c.ws.terminate();
    this.wss?.close();
    this.wss = null;
  }

  // ---- publishing -------------------------------------------------------------------------

  /** Feeds one batch to the subscribers at once (memory must be exactly at the batch's end). */
  publish(batch: AppliedEntries): void {
    this.prepare(batch)();
  }

  /**
   * Reads what the batch's messages need from memory (the changed books, touched users'
   * balances), which must be exactly at the batch's end: call it from the loop's `onApplied`
   * (and in batch order).
   * Returns what sends them, to call once the batch is durable.
   */
  prepare(batch: AppliedEntries): () => void {
    const k = ++this.prepareCount;
    const changedMarkets = new Set<string>();
    const trades: [channel: string, data: PublicTrade][] = [];
    const userItems: UserItem[] = [];
    const touchedUsers = new Set<string>();
    const wantUsers = this.userSubs.size > 0;
    for (const { command, result } of batch.entries) {
      const now = command.now;
      let lastTrade: Extract<CoreEvent, { type: 'trade' }> | null = null;
      const finishedOrders: string[] = [];
      const finishedLeases: string[] = [];
      for (const e of result.events) {
        switch (e.type) {
          case 'book_changed':
            changedMarkets.add(e.market);
            break;
          case 'trade':
            lastTrade = e;
            this.orderOwners.set(e.bidId, e.buyerId);
            this.orderOwners.set(e.askId, e.providerId);
            trades.push([`trades:${e.market}`, publicTrade(e, now)]);
            break;
          case 'order_filled':
          case 'order_cancelled':
          case 'order_expired':
            finishedOrders.push(e.orderId);
            break;
          case 'lease_created':
            if (lastTrade) this.leaseOwners.set(e.leaseId, uniq([lastTrade.buyerId, lastTrade.providerId]));
            break;
          case 'lease_unfunded':
            finishedLeases.push(e.leaseId);
            break;
          case 'lease_billed':
            if (e.state === 'ended') finishedLeases.push(e.leaseId);
            break;
          default:
            break;
        }
        if (e.type === 'order_accepted') {
          const owner = placer(command, e.orderId);
          if (owner) this.orderOwners.set(e.orderId, owner);
        }
        if (wantUsers) {
          const item = this.userItem(e, command, lastTrade, now);
          if (item) userItems.push(item);
        }
      }
      for (const id of finishedOrders) this.orderOwners.delete(id);
      for (const id of finishedLeases) this.leaseOwners.delete(id);
      if (wantUsers) {
        for (const t of result.transfers) {
          for (const acc of [t.debitAccountId, t.creditAccountId]) {
            const u = userOfAccount(acc);
            if (u !== null && this.userSubs.has(u)) touchedUsers.add(u);
          }
        }
      }
    }
    // Only books someone follows are read (a book's first subscriber reads memory itself).
    const books: BookData[] = [];
    for (const market of changedMarkets) if (this.channelSubs.has(`book:${market}`) && this.books.has(market)) books.push(this.depth(market));
    for (const u of touchedUsers) userItems.push({ owners: [u], data: { type: 'balance', ...this.balances(u) } });
    return () => {
      for (const [channel, trade] of trades) this.deliverPublic(channel, trade);
      for (const book of books) this.deliverBook(book);
      if (userItems.length === 0) return;
      this.userChain = this.userChain.then(() => this.deliverUser(k, userItems)).catch((err: unknown) => this.o.log?.warn({ err }, 'live feed: user delivery failed'));
    };
  }

  private userItem(e: CoreEvent, command: CoreCommand, lastTrade: Extract<CoreEvent, { type: 'trade' }> | null, now: number): UserItem | null {
    const data = edgeEvent(e, now);
    switch (e.type) {
      case 'order_accepted':
      case 'order_rested':
      case 'order_filled':
      case 'order_cancelled':
      case 'order_expired':
      case 'order_amended':
      case 'bid_held':
      case 'bid_released': {
        const owner = this.orderOwners.get(e.orderId) ?? placer(command, e.orderId);
        return owner ? { owners: [owner], data } : { owners: null, lookup: { kind: 'order', id: e.orderId }, data };
      }
      case 'trade': {
        const t = publicTrade(e, now);
        return {
          owners: uniq([e.buyerId, e.providerId]),
          data: (owner: string) => ({ type: 'trade', ...t, side: owner === e.buyerId ? 'buy' : 'sell', bidId: e.bidId, askId: e.askId }),
        };
      }
      case 'lease_created': {
        const owners = this.leaseOwners.get(e.leaseId) ?? (lastTrade ? uniq([lastTrade.buyerId, lastTrade.providerId]) : null);
        return owners ? { owners, data } : { owners: null, lookup: { kind: 'lease', id: e.leaseId }, data };
      }
      case 'lease_ended':
      case 'lease_billed':
      case 'lease_unfunded': {
        const owners = this.leaseOwners.get(e.leaseId);
        return owners ? { owners, data } : { owners: null, lookup: { kind: 'lease', id: e.leaseId }, data };
      }
      case 'voucher_granted':
      case 'voucher_expired':
        return { owners: [e.userId], data };
      case 'lease_ready':
        // Access details are the buyer's alone.
        return { owners: [e.buyerId], data: { type: 'lease_ready', leaseId: e.leaseId, access: e.access, at: data['at'] } };
      case 'lease_failed': {
        const owners = this.leaseOwners.get(e.leaseId);
        return owners ? { owners, data } : { owners: null, lookup: { kind: 'lease', id: e.leaseId }, data };
      }
      default:
        return null;
    }
  }

  /**
   * A message for one user's `user` channel that is not a core event (a lease's log lines from
   * its agent). It queues behind the batches already published, so seqs stay in order.
   */
  notifyUser(userId: string, data: object): void {
    if (!this.userSubs.has(userId)) return;
    const k = this.prepareCount;
    this.userChain = this.userChain.then(() => this.deliverUser(k + 1, [{ owners: [userId], data }])).catch((err: unknown) => this.o.log?.warn({ err }, 'live feed: user delivery failed'));
  }

  private async deliverUser(k: number, items: readonly UserItem[]): Promise<void> {
    for (const item of items) {
      let owners = item.owners;
      if (owners === null && item.lookup) owners = await this.lookupOwners(item.lookup);
      for (const owner of owners ?? []) {
        const sockets = this.userSubs.get(owner);
        if (!sockets) continue;
        const channel = `user:${owner}`;
        const seq = (this.seqs.get(channel) ?? 0) + 1;
        this.seqs.set(channel, seq);
        const data = typeof item.data === 'function' ? item.data(owner) : item.data;
        const text = JSON.stringify({ channel: 'user', type: 'delta', seq, data });
        for (const c of sockets) {
          const sub = c.subs.get('user');
          if (sub && sub.since < k) this.send(c, text);
        }
      }
    }
  }

  private async lookupOwners(l: { kind: 'order' | 'lease'; id: string }): Promise<readonly string[]> {
    try {
      if (l.kind === 'order') {
        const o = await this.store.getOrder(l.id);
        return o ? [o.userId] : [];
      }
      const lease = await this.store.getLease(l.id);
      return lease ? uniq([lease.buyerId, lease.providerId]) : [];
    } catch (err) {
      this.o.log?.warn({ err, ...l }, 'live feed: owner lookup failed');
      return [];
    }
  }

  /** Sends the levels that differ between the last book sent and `next` (read when its batch was applied). */
  private deliverBook(next: BookData): void {
    const market = next.market;
    const channel = `book:${market}`;
    const subs = this.channelSubs.get(channel);
    const prev = this.books.get(market);
    if (!subs || !prev) return;
    const delta: BookData = { market, asks: diffLevels(prev.asks, next.asks), bids: diffLevels(prev.bids, next.bids) };
    this.books.set(market, next);
    if (delta.asks.length === 0 && delta.bids.length === 0) return;
    this.broadcast(channel, subs, delta);
  }

  private deliverPublic(channel: string, data: object): void {
    const subs = this.channelSubs.get(channel);
    if (subs) this.broadcast(channel, subs, data);
  }

  private broadcast(channel: string, subs: ReadonlySet<Client>, data: object): void {
    const seq = (this.seqs.get(channel) ?? 0) + 1;
    this.seqs.set(channel, seq);
    const text = JSON.stringify({ channel, type: 'delta', seq, data });
    for (const c of subs) {
      const sub = c.subs.get(channel);
      if (!sub) continue;
      if (sub.pending) sub.pending.push(text);
      else this.send(c, text);
    }
  }

  private depth(market: string): BookData {
    const d = this.core.engine.depth(market);
    return { market, asks: d.asks.map(copyLevel), bids: d.bids.map(copyLevel) };
  }

  private balances(userId: string): Balances {
    return balancesOf(this.core.ledger.getAccountsByOwner(userId));
  }

  // ---- sockets ----------------------------------------------------------------------------

  private onConnection(ws: WebSocket, userId: string | null): void {
    const c: Client = { ws, userId, subs: new Map(), alive: true, closing: false, idleTimer: null, windowStartMs: Date.now(), windowCount: 0 };
    this.clients.add(c);
    this.o.hooks?.clients?.(this.clients.size);
    this.armIdle(c);
    ws.on('pong', () => {
      c.alive = true;
    });
    ws.on('message', (raw, isBinary) => this.onMessage(c, raw, isBinary));
    ws.on('error', (err) => this.o.log?.debug({ err }, 'live feed: socket error'));
    ws.on('close', () => this.onClose(c));
  }

  private onClose(c: Client): void {
    if (!this.clients.delete(c)) return;
    if (c.idleTimer) clearTimeout(c.idleTimer);
    for (const channel of [...c.subs.keys()]) this.removeSub(c, channel);
    this.o.hooks?.clients?.(this.clients.size);
  }

  /** An anonymous socket with nothing subscribed is closed once idle for too long. */
  private armIdle(c: Client): void {
    if (c.idleTimer) clearTimeout(c.idleTimer);
    c.idleTimer = null;
    if (c.userId !== null || c.subs.size > 0 || c.closing) return;
    c.idleTimer = setTimeout(() => {
      if (c.subs.size === 0 && !c.closing) this.drop(c, 'idle', 1000, 'idle: subscribe to a channel or authenticate');
    }, this.o.idleUnauthenticatedMs);
    c.idleTimer.unref();
  }

  private beat(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        this.droppedCount.heartbeat++;
        this.o.hooks?.dropped?.('heartbeat');
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      try {
        c.ws.ping();
      } catch {
        c.ws.terminate();
      }
    }
  }

  private drop(c: Client, reason: DropReason, code: number, why: string): void {
    if (c.closing) return;
    c.closing = true;
    this.droppedCount[reason]++;
    this.o.hooks?.dropped?.(reason);
    c.ws.close(code, why);
    setTimeout(() => c.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  private send(c: Client, text: string): void {
    if (c.closing || c.ws.readyState !== WebSocket.OPEN) return;
    if (c.ws.bufferedAmount + text.length > this.o.maxBufferedBytes) {
      this.drop(c, 'slow', 1013, 'too slow: the send buffer is full; reconnect and resubscribe');
      return;
    }
    c.ws.send(text);
  }

  private error(c: Client, code: ErrorCode, message: string, channel?: string): void {
    this.send(c, JSON.stringify({ type: 'error', code, message, ...(channel === undefined ? {} : { channel }) }));
  }

  private onMessage(c: Client, raw: RawData, isBinary: boolean): void {
    const now = Date.now();
    if (now - c.windowStartMs >= this.o.messageWindowMs) {
      c.windowStartMs = now;
      c.windowCount = 0;
    }
    if (++c.windowCount > this.o.maxMessagesPerWindow) {
      this.error(c, 'RATE_LIMITED', `at most ${this.o.maxMessagesPerWindow} messages per ${this.o.messageWindowMs} ms`);
      return;
    }
    if (isBinary) return this.error(c, 'BAD_REQUEST', 'send JSON text messages');
    let msg: unknown;
    try {
      msg = JSON.parse(rawText(raw));
    } catch {
      return this.error(c, 'BAD_REQUEST', 'not JSON');
    }
    if (typeof msg !== 'object' || msg === null) return this.error(c, 'BAD_REQUEST', 'expected {"op":"subscribe"|"unsubscribe","channel":"…"}');
    const { op, channel } = msg as { op?: unknown; channel?: unknown };
    if (typeof channel !== 'string' || channel.length === 0 || channel.length > MAX_CHANNEL_CHARS) {
      return this.error(c, 'BAD_REQUEST', 'channel must be a string such as "book:<market>", "trades:<market>" or "user"');
    }
    if (op === 'unsubscribe') {
      this.removeSub(c, channel);
      this.armIdle(c);
      return;
    }
    if (op !== 'subscribe') return this.error(c, 'BAD_REQUEST', 'op must be "subscribe" or "unsubscribe"', channel);
    this.subscribe(c, channel);
  }

  private subscribe(c: Client, channel: string): void {
    const colon = channel.indexOf(':');
    const kind = colon < 0 ? channel : channel.slice(0, colon);
    const market = colon < 0 ? '' : channel.slice(colon + 1);
    if (kind === 'user' && colon < 0) {
      if (c.userId === null) return this.error(c, 'UNAUTHENTICATED', 'the user channel needs a session cookie or an API key', channel);
    } else if (kind === 'book' || kind === 'trades') {
      if (!this.isMarket(market)) return this.error(c, 'MARKET_NOT_FOUND', `no market ${JSON.stringify(market)}; markets are <acceleratorId>@<regionId>`, channel);
    } else {
      return this.error(c, 'UNKNOWN_CHANNEL', 'channels are book:<market>, trades:<market> and user', channel);
    }
    if (!c.subs.has(channel) && c.subs.size >= this.o.maxSubscriptionsPerSocket) {
      return this.error(c, 'TOO_MANY_SUBSCRIPTIONS', `at most ${this.o.maxSubscriptionsPerSocket} subscriptions per socket`, channel);
    }
    // Subscribing again replaces the subscription in place (the channel keeps its seq): that is
    // how a client recovers from a gap.
    const sub: Sub = { since: this.prepareCount, pending: null };
    c.subs.set(channel, sub);
    this.armIdle(c);
    if (kind === 'user') {
      const userId = c.userId!;
      let set = this.userSubs.get(userId);
      if (!set) this.userSubs.set(userId, (set = new Set()));
      set.add(c);
      const balances = this.balances(userId);
      // Behind the user work already queued, so the snapshot's seq continues from its deltas.
      this.userChain = this.userChain.then(() => {
        if (c.subs.get('user') !== sub) return;
        const seq = this.seqs.get(`user:${userId}`) ?? 0;
        this.send(c, JSON.stringify({ channel, type: 'snapshot', seq, data: { userId, balances } }));
      });
      return;
    }
    let set = this.channelSubs.get(channel);
    if (!set) this.channelSubs.set(channel, (set = new Set()));
    set.add(c);
    if (kind === 'book') {
      let book = this.books.get(market);
      if (!book) this.books.set(market, (book = this.depth(market)));
      this.send(c, JSON.stringify({ channel, type: 'snapshot', seq: this.seqs.get(channel) ?? 0, data: book }));
      return;
    }
    // trades: read the store; deltas published meanwhile wait, and the snapshot leaves them out.
    const seq0 = this.seqs.get(channel) ?? 0;
    sub.pending = [];
    void this.store.listTrades({ market, limit: this.o.tradesSnapshotSize }).then(
      (page) => {
        if (c.subs.get(channel) !== sub) return;
        const waiting = sub.pending ?? [];
        sub.pending = null;
        const later = new Set(waiting.map((t) => (JSON.parse(t) as { data: PublicTrade }).data.id));
        const trades = page.items.filter((t) => !later.has(t.id)).map(tradeRowToPublic);
        this.send(c, JSON.stringify({ channel, type: 'snapshot', seq: seq0, data: { market, trades } }));
        for (const text of waiting) this.send(c, text);
      },
      (err: unknown) => {
        if (c.subs.get(channel) !== sub) return;
        this.o.log?.warn({ err, channel }, 'live feed: trades snapshot failed');
        this.removeSub(c, channel);
        this.error(c, 'INTERNAL', 'could not read the trades; subscribe again', channel);
      },
    );
  }

  private removeSub(c: Client, channel: string): void {
    if (!c.subs.delete(channel)) return;
    if (channel === 'user') {
      const set = this.userSubs.get(c.userId ?? '');
      set?.delete(c);
      if (set && set.size === 0) {
        this.userSubs.delete(c.userId!);
        this.seqs.delete(`user:${c.userId}`);
      }
      return;
    }
    const set = this.channelSubs.get(channel);
    set?.delete(c);
    if (set && set.size === 0) {
      this.channelSubs.delete(channel);
      this.seqs.delete(channel);
      if (channel.startsWith('book:')) this.books.delete(channel.slice(5));
    }
  }

  private isMarket(market: string): boolean {
    if (this.o.isMarket) return this.o.isMarket(market);
    const at = market.indexOf('@');
    if (at > 0 && getAccelerator(market.slice(0, at)) !== undefined && getRegion(market.slice(at + 1)) !== undefined) return true;
    return this.core.engine.markets().includes(market);
  }

  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true; // not a browser
    if (this.o.allowedOrigins?.includes(origin)) return true;
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }
}

function placer(command: CoreCommand, orderId: string): string | null {
  if (command.type === 'placeBid' && command.orderId === orderId) return command.buyerId;
  if (command.type === 'placeAsk' && command.orderId === orderId) return command.providerId;
  if ((command.type === 'cancel' || command.type === 'amend') && command.orderId === orderId) return command.ownerId;
  return null;
}

function uniq(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

function copyLevel(l: DepthLevel): DepthLevel {
  return { priceFenPerGpuHour: l.priceFenPerGpuHour, gpus: l.gpus };
}

/** A WebSocket message as text, whatever frames it came in (shared with the agent socket). */
export function rawText(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  if (raw instanceof ArrayBuffer) return Buffer.from(raw).toString('utf8');
  return raw.toString('utf8');
}

/** Answers an HTTP upgrade we will not take, and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  if (!socket.destroyed) socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
