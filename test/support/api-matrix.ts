/**
 * The authorization matrix: every route × anonymous / buyer / provider / admin / another buyer,
 * with the status each must get. Bodies are empty where that is enough: the guard runs before
 * validation, so an allowed caller gets 400 and nothing changes. Owners go last on rows that
 * change things. `null` = not asked (the call would end that actor's own session).
 */

export type ActorName = 'anon' | 'buyer' | 'provider' | 'admin' | 'other';
/** The order the matrix asks in: owners last. */
export const ACTOR_ORDER: readonly ActorName[] = ['anon', 'other', 'admin', 'provider', 'buyer'];

export interface Fixture {
  readonly market: string;
  readonly buyerOrderId: string;
  readonly askId: string;
  readonly askPriceFen: number;
  readonly nodeId: string;
  readonly leaseId: string;
  readonly buyerKeyId: string;
}

export interface MatrixRow {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** OpenAPI path (for the coverage check). */
  readonly route: string;
  readonly path: (f: Fixture) => string;
  readonly body?: (f: Fixture) => unknown;
  readonly expect: Readonly<Record<ActorName, number | null>>;
}

const all = (status: number): Record<ActorName, number> => ({ anon: status, buyer: status, provider: status, admin: status, other: status });
const users = (status: number): Record<ActorName, number> => ({ ...all(status), anon: 401 });
const only = (who: readonly ActorName[], allowed: number): Record<ActorName, number> => ({
  anon: 401, buyer: who.includes('buyer') ? allowed : 403, provider: who.includes('provider') ? allowed : 403, admin: who.includes('admin') ? allowed : 403, other: who.includes('other') ? allowed : 403,
});
const r = (method: MatrixRow['method'], route: string, expect: MatrixRow['expect'], path?: MatrixRow['path'], body?: MatrixRow['body']): MatrixRow => ({
  method, route, expect, path: path ?? (() => route), ...(body ? { body } : {}),
});
const empty = (): unknown => ({});

export const MATRIX: readonly MatrixRow[] = [
  // public
  r('POST', '/auth/signup', all(400), undefined, empty),
  r('POST', '/auth/login', all(400), undefined, empty),
  r('GET', '/accelerators', all(200)),
  r('GET', '/regions', all(200)),
  r('GET', '/hubs', all(200)),
  r('GET', '/markets', all(200)),
  r('GET', '/markets/{market}/book', all(200), (f) => `/markets/${f.market}/book`),
  r('GET', '/markets/{market}/trades', all(200), (f) => `/markets/${f.market}/trades`),
  r('GET', '/markets/{market}/candles', all(200), (f) => `/markets/${f.market}/candles?interval=1m`),
  r('POST', '/estimate/training', all(200), undefined, () => ({ params: 175e9, tokens: 300e9, days: 30, util: 0.45 })),
  r('POST', '/estimate/inference', all(200), undefined, () => ({ params: 80e9, visits: 1e6, questions: 10, tokensPerQuestion: 500, util: 0.45 })),
  r('POST', '/estimate/payback', all(200), undefined, () => ({ capex: 1_800_000, years: 5, cashShare: 0.4, pricePerServerHour: 100 })),
  r('POST', '/estimate/platform-margin', all(200), undefined, () => ({ pricePerServerHour: 180, costPerPYear: 200_000 })),
  r('POST', '/estimate/convert', all(200), undefined, () => ({ pricePerGpuHour: 22.7 })),
  r('GET', '/healthz', all(200), () => '/healthz'),
  r('GET', '/readyz', all(200), () => '/readyz'),
  // any user
  r('GET', '/me', users(200)),
  r('POST', '/auth/logout', { anon: 401, buyer: null, provider: null, admin: null, other: null }),
  r('POST', '/api-keys', users(400), undefined, empty),
  r('GET', '/api-keys', users(200)),
  r('DELETE', '/api-keys/{id}', { ...users(404), buyer: 204 }, (f) => `/api-keys/${f.buyerKeyId}`),
  r('GET', '/orders', users(200)),
  r('GET', '/orders/{id}', { ...users(404), buyer: 200 }, (f) => `/orders/${f.buyerOrderId}`),
  r('PATCH', '/orders/{id}', { ...users(404), provider: 200 }, (f) => `/orders/${f.askId}`, (f) => ({ priceFen: f.askPriceFen + 1 })),
  r('DELETE', '/orders/{id}', { ...users(404), buyer: 200 }, (f) => `/orders/${f.buyerOrderId}`),
  r('GET', '/trades', users(200)),
  r('GET', '/leases', users(200)),
  r('GET', '/leases/{id}', { ...users(404), buyer: 200, provider: 200 }, (f) => `/leases/${f.leaseId}`),
  r('POST', '/leases/{id}/end', { ...users(404), provider: null, buyer: 200 }, (f) => `/leases/${f.leaseId}/end`),
  r('GET', '/balances', users(200)),
  r('GET', '/statement', users(200)),
  r('GET', '/statement/monthly', users(200), () => '/statement/monthly?month=2026-01'),
  r('GET', '/vouchers', users(200)),
  // providers
  r('POST', '/nodes', only(['provider'], 400), undefined, empty),
  r('GET', '/nodes', only(['provider', 'admin'], 200)),
  r('GET', '/nodes/{id}', only(['provider', 'admin'], 200), (f) => `/nodes/${f.nodeId}`),
  r('PATCH', '/nodes/{id}', only(['provider'], 200), (f) => `/nodes/${f.nodeId}`, () => ({ status: 'online' })),
  r('POST', '/nodes/{id}/revoke', only(['provider'], 409), (f) => `/nodes/${f.nodeId}/revoke`),
  r('POST', '/asks', only(['provider'], 400), undefined, empty),
  r('POST', '/enrollment-tokens', only(['provider'], 400), undefined, empty),
  r('GET', '/enrollment-tokens', only(['provider'], 200)),
  // host agents (the enrollment token is the credential)
  r('POST', '/agent/enroll', all(400), undefined, empty),
  // buyers
  r('POST', '/bids', only(['buyer', 'other'], 400), undefined, empty),
  r('POST', '/jobs', only(['buyer', 'other'], 400), undefined, empty),
  r('GET', '/leases/{id}/logs', { ...users(404), buyer: 200 }, (f) => `/leases/${f.leaseId}/logs`),
  // admins
  r('POST', '/admin/deposits', only(['admin'], 400), undefined, empty),
  r('POST', '/admin/withdrawals', only(['admin'], 400), undefined, empty),
  r('POST', '/admin/programmes', only(['admin'], 400), undefined, empty),
  r('POST', '/admin/vouchers', only(['admin'], 400), undefined, empty),
  r('PUT', '/admin/fee', only(['admin'], 400), undefined, empty),
  r('GET', '/admin/fee', only(['admin'], 200)),
  r('POST', '/admin/markets/{market}/halt', only(['admin'], 200), (f) => `/admin/markets/${f.market}/halt`),
  r('POST', '/admin/markets/{market}/resume', only(['admin'], 200), (f) => `/admin/markets/${f.market}/resume`),
  r('GET', '/admin/ledger', only(['admin'], 200)),
  r('GET', '/admin/users', only(['admin'], 200)),
  r('POST', '/admin/users', only(['admin'], 400), undefined, empty),
  r('POST', '/admin/users/{id}/disable', only(['admin'], 404), () => '/admin/users/u-nobody/disable'),
  r('POST', '/admin/users/{id}/enable', only(['admin'], 404), () => '/admin/users/u-nobody/enable'),
];
