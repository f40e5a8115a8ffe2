/**
 * The typed client of the exchange's REST API (docs/api-contract.md; the server's OpenAPI
 * document at /openapi.json is the precise reference). Same origin, session cookie; every POST
 * that creates an order or moves money carries an Idempotency-Key. Errors become `ApiError`
 * with the server's stable code, shown to people through `errorText` in their language.
 */

import { ERRORS } from './errors';

export type Lang = 'zh' | 'en';

export interface User {
  id: string;
  email: string;
  role: 'buyer' | 'provider' | 'admin';
  displayName: string;
  createdAt: string;
  disabledAt?: string | null;
}
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
export interface Accelerator {
  id: string;
  name: string;
  vendor: string;
  architecture: string;
  memoryGiB: number;
  memoryBandwidthGBps: number;
  fp16Tflops: number;
  fp32Tflops: number;
  int8Tops: number;
  interconnect: string;
  stack: string;
  smiNames: string[];
  unofficial?: boolean;
}
export interface Region {
  id: string;
  name: string;
  nameZh: string;
  hubId: string;
  side: 'east' | 'west' | 'abroad';
}
export interface Hub {
  id: string;
  name: string;
  nameZh: string;
  side: 'east' | 'west' | 'abroad';
  role: string;
}
export interface Market {
  market: string;
  acceleratorId: string;
  acceleratorName: string;
  regionId: string;
  regionName: string;
  hubId: string;
  side: 'east' | 'west' | 'abroad';
  bestAskFen: number | null;
  bestBidFen: number | null;
  lastTradeFen: number | null;
  volume24hGpuHours: number;
  change24hPct: number | null;
  freeGpus: number;
  halted: boolean;
  /** False when some of its capacity comes from agent nodes not attested real (fake GPUs); absent on older exchanges. */
  verified?: boolean;
  unverifiedNodes?: number;
}
export interface Level {
  priceFenPerGpuHour: number;
  gpus: number;
}
export interface Book {
  market: string;
  asks: Level[];
  bids: Level[];
  seq?: number;
}
export interface MarketTrade {
  id: string;
  market: string;
  gpus: number;
  priceFenPerGpuHour: number;
  hours: number;
  startAt: string;
  endAt: string;
  at: string;
}
export interface Candle {
  startAt: string;
  open: number;
  high: number;
  low: number;
  close: number;
  tradeCount: number;
  volumeGpus: number;
  volumeGpuHours: number;
}
export interface Order {
  id: string;
  side: 'ask' | 'bid';
  status: 'active' | 'filled' | 'cancelled' | 'expired' | 'rejected';
  markets: string[];
  priceFen: number;
  priceUnit: 'fen_per_gpu_hour' | 'fen_per_p_hour';
  remaining: number;
  remainingUnit: 'gpus' | 'deci_tflops';
  holdFen: string | null;
  createdAt: string;
  updatedAt: string;
  ask: { nodeIds: string[]; unit: 'gpu' | 'node'; minHours: number | null; maxHours: number | null } | null;
  bid: { acceleratorIds: string[] | null; regionIds: string[] | null; gpus: number | null; computeP: string | null; hours: number; timeInForce: string; allowPartial: boolean } | null;
}
export interface LeaseAccess {
  [key: string]: unknown;
}
export interface Lease {
  id: string;
  tradeId: string;
  nodeId: string;
  market: string;
  role: 'buyer' | 'provider';
  gpuIndices: number[];
  priceFenPerGpuHour: number;
  startAt: string;
  endAt: string;
  state: 'pending' | 'provisioning' | 'active' | 'ended' | 'failed' | 'cancelled';
  endedAt: string | null;
  endReason: string | null;
  createdAt: string;
  updatedAt: string;
  /** chargedFen: settled so far; accruedFen: what it has cost up to now, settled or not. */
  billing: { billedUntil: string; chargedFen: string; accruedFen: string } | null;
  /** How to reach the leased machine (agent nodes), when the exchange provides it. */
  access?: LeaseAccess | null;
  attestation?: 'verified' | 'unverified' | 'mismatch' | null;
  [key: string]: unknown;
}
export interface Placement {
  order: Order;
  holdFen: string | null;
  trades: (MarketTrade & { side?: string })[];
  leases: Lease[];
}
export interface Balances {
  cashFen: string;
  availableFen: string;
  heldFen: string;
  escrowFen: string;
  voucherFen: string;
  voucherEscrowFen: string;
  earningsFen: string;
}
export interface StatementLine {
  seq: number;
  transferId: string;
  at: string;
  code: string;
  counterparty: string;
  debitFen: string;
  creditFen: string;
  balanceFen: string;
}
export interface Statement {
  account: string;
  accountId: string;
  openingBalanceFen: string;
  closingBalanceFen: string;
  items: StatementLine[];
  nextCursor: string | null;
}
export interface Voucher {
  grantId: string;
  programmeId: string;
  amountFen: string;
  balanceFen: string;
  expiresAt: string;
  expired: boolean;
  scope: { acceleratorIds?: string[]; regionIds?: string[]; maxPriceFenPerGpuHour?: number };
}
export interface GpuHealth {
  index?: number;
  utilizationPct?: number;
  utilisationPct?: number;
  temperatureC?: number;
  memoryUsedMiB?: number;
  healthy?: boolean;
  health?: string;
  [key: string]: unknown;
}
export interface NodeInfo {
  id: string;
  providerId: string;
  acceleratorId: string;
  regionId: string;
  market: string;
  gpuCount: number;
  kind: string;
  status: string;
  spec: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  // Agent nodes (provider agent issue); absent on exchanges without it.
  attestation?: 'verified' | 'unverified' | 'mismatch' | string | null;
  unverified?: boolean;
  online?: boolean;
  gpus?: GpuHealth[];
  lastHeartbeatAt?: string | null;
  [key: string]: unknown;
}
export interface EnrollmentToken {
  token?: string;
  id?: string;
  expiresAt: string;
  command?: string;
  regionId?: string;
  acceleratorId?: string | null;
  gpuCount?: number | null;
  label?: string | null;
  usedAt?: string | null;
  [key: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const API = '/api/v1';

function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

export async function request<T>(method: string, path: string, body?: unknown, opts: { idempotent?: boolean; signal?: AbortSignal } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (opts.idempotent) headers['idempotency-key'] = newIdempotencyKey();
  let res: Response;
  try {
    res = await fetch(path.startsWith('/') && !path.startsWith(API) && !path.startsWith('/readyz') && !path.startsWith('/healthz') ? `${API}${path}` : path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'NETWORK', e instanceof Error ? e.message : String(e));
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: reported below by status
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? res.statusText, err?.details);
  }
  return json as T;
}

const q = (params: Record<string, string | number | undefined | null>): string => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') s.set(k, String(v));
  const t = s.toString();
  return t === '' ? '' : `?${t}`;
};

export interface LogLine {
  seq: number;
  stream: 'stdout' | 'stderr' | 'system';
  line: string;
  at: string;
}
export interface Workload {
  runtime: 'process' | 'docker';
  command?: string[];
  image?: string;
  env?: Record<string, string>;
  sshPublicKey?: string;
}
export interface BidInput {
  workload?: Workload;
  acceleratorIds?: string[];
  computeClass?: { minFp16Tflops?: number; minMemoryGiB?: number; stacks?: string[] };
  regionIds?: string[];
  gpus?: number;
  computeP?: string;
  gpusPerNode?: number;
  hours: number;
  limitFenPerGpuHour?: number;
  limitFenPerPHour?: number;
  timeInForce?: 'GTC' | 'GTD' | 'IOC' | 'FOK';
  allowPartial?: boolean;
}
export interface AskInput {
  nodeIds: string[];
  priceFenPerGpuHour: number;
  unit?: 'gpu' | 'node';
  minHours?: number;
  maxHours?: number;
}

export const api = {
  me: () => request<{ user: User }>('GET', '/me'),
  login: (email: string, password: string) => request<{ user: User }>('POST', '/auth/login', { email, password }),
  signup: (b: { email: string; password: string; role: 'buyer' | 'provider'; displayName: string }) => request<{ user: User }>('POST', '/auth/signup', b),
  logout: () => request<void>('POST', '/auth/logout'),
  accelerators: () => request<{ items: Accelerator[] }>('GET', '/accelerators'),
  regions: () => request<{ items: Region[] }>('GET', '/regions'),
  hubs: () => request<{ items: Hub[] }>('GET', '/hubs'),
  markets: () => request<{ items: Market[] }>('GET', '/markets'),
  book: (market: string, depth = 50) => request<Book>('GET', `/markets/${encodeURIComponent(market)}/book${q({ depth })}`),
  marketTrades: (market: string, limit = 50) => request<Page<MarketTrade>>('GET', `/markets/${encodeURIComponent(market)}/trades${q({ limit })}`),
  candles: (market: string, interval: '1m' | '1h' | '1d') => request<{ items: Candle[] }>('GET', `/markets/${encodeURIComponent(market)}/candles${q({ interval })}`),
  orders: (p: { side?: string; status?: string; limit?: number } = {}) => request<Page<Order>>('GET', `/orders${q(p)}`),
  cancelOrder: (id: string) => request<{ order: Order }>('DELETE', `/orders/${encodeURIComponent(id)}`),
  placeBid: (b: BidInput) => request<Placement>('POST', '/bids', b, { idempotent: true }),
  placeAsk: (a: AskInput) => request<Placement>('POST', '/asks', a, { idempotent: true }),
  leases: (p: { role?: 'buyer' | 'provider'; state?: string; limit?: number } = {}) => request<Page<Lease>>('GET', `/leases${q(p)}`),
  lease: (id: string) => request<{ lease: Lease }>('GET', `/leases/${encodeURIComponent(id)}`),
  endLease: (id: string) => request<{ lease: Lease; refundFen: string; slaCreditFen: string }>('POST', `/leases/${encodeURIComponent(id)}/end`, undefined, { idempotent: true }),
  leaseLogs: (id: string, after?: number) => request<{ items: LogLine[]; nextAfter: number }>('GET', `/leases/${encodeURIComponent(id)}/logs${q({ after })}`),
  placeJob: (b: BidInput) => request<Placement>('POST', '/jobs', b, { idempotent: true }),
  balances: () => request<Balances & { display: Record<string, string> }>('GET', '/balances'),
  statement: (account: string, limit = 100) => request<Statement>('GET', `/statement${q({ account, limit })}`),
  vouchers: () => request<{ items: Voucher[] }>('GET', '/vouchers'),
  nodes: () => request<Page<NodeInfo>>('GET', `/nodes${q({ limit: 200 })}`),
  createNode: (b: { acceleratorId: string; regionId: string; gpuCount: number; kind: 'manual' | 'offline' }) => request<{ node: NodeInfo }>('POST', '/nodes', b),
  enrollmentTokens: () => request<Page<EnrollmentToken> | { items: EnrollmentToken[] }>('GET', '/enrollment-tokens'),
  createEnrollmentToken: (b: { regionId: string; acceleratorId?: string; gpuCount?: number; label?: string }) => request<EnrollmentToken>('POST', '/enrollment-tokens', b),
  deposit: (userId: string, amountFen: string) => request<{ transferId: string }>('POST', '/admin/deposits', { userId, amountFen }, { idempotent: true }),
  fundProgramme: (programmeId: string, amountFen: string) => request<{ transferId: string }>('POST', '/admin/programmes', { programmeId, amountFen }, { idempotent: true }),
  grantVoucher: (b: { programmeId: string; userId: string; amountFen: string; expiresAt: string }) => request<{ grantId: string }>('POST', '/admin/vouchers', b, { idempotent: true }),
  setFee: (feeBps: number) => request<{ feeBps: number }>('PUT', '/admin/fee', { feeBps }),
  halt: (market: string, halted: boolean) => request<{ market: string; halted: boolean; haltedMarkets: string[] }>('POST', `/admin/markets/${encodeURIComponent(market)}/${halted ? 'halt' : 'resume'}`),
  users: (cursor?: string) => request<Page<User>>('GET', `/admin/users${q({ cursor, limit: 200 })}`),
  setUserDisabled: (userId: string, disabled: boolean) => request<{ user: User }>('POST', `/admin/users/${encodeURIComponent(userId)}/${disabled ? 'disable' : 'enable'}`),
  fee: () => request<{ feeBps: number }>('GET', '/admin/fee'),
  readyz: () => request<{ status: string; journalSeq: number; reason?: string }>('GET', '/readyz'),
  estimate: (kind: 'training' | 'inference' | 'payback' | 'platform-margin' | 'convert', body: Record<string, unknown>) => request<Record<string, unknown>>('POST', `/estimate/${kind}`, body),
};


/** The error in words in `lang`, with field issues for 400s. Unknown codes show the code. */
export function errorText(e: unknown, lang: Lang): string {
  if (!(e instanceof ApiError)) return lang === 'zh' ? `出错了：${String(e)}` : `Something went wrong: ${String(e)}`;
  const words = ERRORS[e.code];
  const base = words ? words[lang === 'zh' ? 1 : 0] : lang === 'zh' ? `请求失败（${e.code}）。` : `Request failed (${e.code}).`;
  const issues = (e.details as { issues?: { path: string; message: string }[] } | undefined)?.issues;
  const extra = issues && issues.length > 0 ? ` ${issues.map((i) => `${i.path.replace(/^(json|query)\./, '')}: ${i.message}`).join('; ')}` : '';
  return `${base}${extra}`;
}
