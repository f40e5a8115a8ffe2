/**
 * The trading client: `suanli login | logout | markets | book | bid | ask | orders | cancel |
 * leases | balance | statement`, over the REST API (docs/api-contract.md) with global fetch.
 *
 * Readable tables by default, `--json` prints the server's JSON as is. Money goes in as yuan
 * ("22.70") and is converted exactly to integer fen. Exit codes: 0 done, 1 the server refused
 * (its error code and message are printed) or could not be reached, 2 bad flags.
 */
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { type Command, Option } from 'commander';
import {
  type Column,
  computeP,
  fen,
  isoTime,
  nonNegativeNumber,
  oneOf,
  pairs,
  positiveInt,
  table,
  text,
  UsageError,
  when,
  yuanToFen,
} from './client-format.js';
import {
  ApiClient,
  ApiFailure,
  cookieFrom,
  type Connection,
  newIdempotencyKey,
  readConfig,
  resolveConnection,
  writeConfig,
} from './client-http.js';

const USAGE_EXIT_CODE = 2;
const FAILURE_EXIT_CODE = 1;
const SESSION_COOKIE = 'suanli_session';
const ROLE_SCOPES: Readonly<Record<string, readonly string[]>> = {
  buyer: ['read', 'trade'],
  provider: ['read', 'trade', 'provider'],
  admin: ['read', 'trade', 'provider', 'admin'],
};

interface CommonOpts {
  server?: string;
  apiKey?: string;
  json?: boolean;
}

type Json = Record<string, unknown>;
type Page = { items?: Json[]; nextCursor?: string | null };

function print(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
}

function printJson(v: unknown): void {
  print(JSON.stringify(v, null, 2));
}

function fail(err: unknown, json: boolean): never {
  if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(USAGE_EXIT_CODE);
  }
  if (err instanceof ApiFailure) {
    if (json) process.stderr.write(`${JSON.stringify(err.body ?? { error: { code: err.code, message: err.message } })}\n`);
    else {
      process.stderr.write(`error: ${err.code}: ${err.message}\n`);
      const issues = (err.details as { issues?: { path?: unknown; message?: unknown }[] } | undefined)?.issues;
      if (Array.isArray(issues)) for (const i of issues) process.stderr.write(`  ${text(i.path)}: ${text(i.message)}\n`);
    }
    process.exit(FAILURE_EXIT_CODE);
  }
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(FAILURE_EXIT_CODE);
}

/** Adds --server, --api-key, --json and the shared exit behaviour to a command. */
function client(cmd: Command): Command {
  return cmd
    .addOption(new Option('--server <url>', 'exchange URL (env SUANLI_SERVER; default: the logged-in server, else http://127.0.0.1:8080)'))
    .addOption(new Option('--api-key <key>', 'API key sk_… (env SUANLI_API_KEY; default: the one `suanli login` saved)'))
    .addOption(new Option('--json', "print the server's JSON"))
    .showHelpAfterError('(add --help for usage)')
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : USAGE_EXIT_CODE);
    });
}

/** Runs an action with a connection; every failure ends the process with the right code. */
function action<O extends CommonOpts>(fn: (api: ApiClient, opts: O, args: string[]) => Promise<void>) {
  return async (...all: unknown[]): Promise<void> => {
    // `suanli orders | head` closes stdout early: that is not an error.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : FAILURE_EXIT_CODE));
    const cmd = all[all.length - 1] as Command;
    const opts = cmd.opts<O>();
    const args = all.slice(0, -2).filter((a): a is string => typeof a === 'string');
    try {
      await fn(new ApiClient(resolveConnection(opts)), opts, args);
    } catch (err) {
      fail(err, opts.json === true);
    }
  };
}

/** One path segment: escaped, but '@' (legal in a segment) stays readable in market keys. */
const enc = (s: string): string => encodeURIComponent(s).replace(/%40/g, '@');

function pageHint(p: Page): void {
  if (p.nextCursor) process.stderr.write(`(more: --cursor ${p.nextCursor})\n`);
}

// ---- login / logout ------------------------------------------------------------------------

/** Reads answers line by line from stdin (a terminal or a pipe); hides typed passwords. */
class Prompter {
  private readonly rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY === true });
  private readonly lines = this.rl[Symbol.asyncIterator]();
  private muted = false;

  constructor() {
    const rl = this.rl as unknown as { _writeToOutput?: (s: string) => void };
    const write = rl._writeToOutput?.bind(this.rl);
    if (write) rl._writeToOutput = (s: string) => (this.muted && s !== '\r\n' && s !== '\n' ? undefined : write(s));
  }

  async ask(question: string, hidden = false): Promise<string> {
    process.stderr.write(question);
    this.muted = hidden && process.stdin.isTTY === true;
    const r = await this.lines.next();
    if (this.muted) process.stderr.write('\n');
    this.muted = false;
    if (r.done === true) throw new UsageError(`no answer to "${question.trim()}" (stdin closed); pass it as a flag`);
    return String(r.value).trim();
  }

  close(): void {
    this.rl.close();
  }
}

interface LoginOpts extends CommonOpts {
  email?: string;
  password?: string;
  name?: string;
  scopes?: string[];
}

async function login(api: ApiClient, o: LoginOpts): Promise<void> {
  let email = o.email;
  let password = o.password ?? process.env['SUANLI_PASSWORD'];
  if (email === undefined || password === undefined) {
    const p = new Prompter();
    try {
      email ??= await p.ask('Email: ');
      password ??= await p.ask('Password: ', true);
    } finally {
      p.close();
    }
  }
  const res = await api.request('POST', '/auth/login', { auth: 'none', body: { email, password } });
  const user = (res.body as { user?: Json }).user ?? {};
  const cookie = cookieFrom(res.headers, SESSION_COOKIE);
  if (cookie === undefined) throw new ApiFailure(res.status, 'NO_SESSION', 'the server logged us in but set no session cookie');
  const role = String(user['role'] ?? 'buyer');
  const scopes = o.scopes ?? ROLE_SCOPES[role] ?? ['read'];
  const name = o.name ?? `suanli-cli@${hostname()}`.slice(0, 100);
  let key: Json;
  try {
    key = (await api.request('POST', '/api-keys', { auth: { cookie }, body: { name, scopes } })).body as Json;
  } finally {
    // The session was only needed to create the key.
    await api.request('POST', '/auth/logout', { auth: { cookie } }).catch(() => undefined);
  }
  if (typeof key['key'] !== 'string') throw new ApiFailure(201, 'NO_KEY', 'the server created no API key');
  const conn = api.conn;
  writeConfig(
    { server: conn.server, apiKey: key['key'], apiKeyId: text(key['id']), email: text(user['email'] ?? email), userId: text(user['id']), role },
    conn.configPath,
  );
  if (o.json === true) printJson({ user, apiKey: { id: key['id'], name: key['name'], scopes: key['scopes'] }, server: conn.server, configPath: conn.configPath });
  else print(`logged in to ${conn.server} as ${text(user['email'] ?? email)} (${role}); API key ${text(key['id'])} [${text(key['scopes'])}] saved to ${conn.configPath}`);
}

async function logout(api: ApiClient, o: CommonOpts): Promise<void> {
  const conn: Connection = api.conn;
  const config = readConfig(conn.configPath);
  const saved = config.apiKey !== undefined && config.apiKey === conn.apiKey;
  let revoked = false;
  if (saved && config.apiKeyId !== undefined) {
    try {
      await api.request('DELETE', `/api-keys/${enc(config.apiKeyId)}`);
      revoked = true;
    } catch (err) {
      // A key the server no longer accepts is as good as revoked; anything else is worth saying.
      if (!(err instanceof ApiFailure) || (err.status !== 401 && err.status !== 404)) throw err;
    }
  }
  if (config.apiKey !== undefined) {
    const { apiKey: _k, apiKeyId: _i, ...rest } = config;
    writeConfig(rest, conn.configPath);
  }
  if (o.json === true) printJson({ loggedOut: config.apiKey !== undefined, revoked });
  else print(config.apiKey === undefined ? 'not logged in' : `logged out${revoked ? '; API key revoked' : ''}`);
}

// ---- market data -----------------------------------------------------------------------------

async function markets(api: ApiClient, o: CommonOpts): Promise<void> {
  const body = await api.get<Page>('/markets', { auth: api.conn.apiKey === undefined ? 'none' : 'key' });
  if (o.json === true) return printJson(body);
  const cols: Column<Json>[] = [
    { header: 'MARKET', value: (m) => text(m['market']) },
    { header: 'BEST ASK', value: (m) => fen(m['bestAskFen']), right: true },
    { header: 'BEST BID', value: (m) => fen(m['bestBidFen']), right: true },
    { header: 'LAST', value: (m) => fen(m['lastTradeFen']), right: true },
    { header: '24H %', value: (m) => (typeof m['change24hPct'] === 'number' ? `${m['change24hPct'] > 0 ? '+' : ''}${m['change24hPct']}%` : '-'), right: true },
    { header: 'VOL 24H GPU-H', value: (m) => text(typeof m['volume24hGpuHours'] === 'number' ? Math.round(m['volume24hGpuHours'] * 10) / 10 : m['volume24hGpuHours']), right: true },
    { header: 'FREE GPUS', value: (m) => text(m['freeGpus']), right: true },
    { header: 'HALTED', value: (m) => (m['halted'] === true ? 'halted' : '') },
  ];
  print(table(body.items ?? [], cols, 'no markets yet'));
  print('prices are ¥ per GPU-hour');
}

interface BookOpts extends CommonOpts {
  depth?: string;
}

async function book(api: ApiClient, o: BookOpts, [market]: string[]): Promise<void> {
  const depth = o.depth === undefined ? undefined : positiveInt(o.depth, '--depth', 500);
  const body = await api.get<{ market?: string; asks?: Json[]; bids?: Json[]; seq?: number }>(`/markets/${enc(market!)}/book`, {
    auth: api.conn.apiKey === undefined ? 'none' : 'key',
    query: { depth },
  });
  if (o.json === true) return printJson(body);
  const asks: Json[] = [...(body.asks ?? [])].reverse().map((l) => ({ side: 'ask', ...l }));
  const bids: Json[] = (body.bids ?? []).map((l) => ({ side: 'bid', ...l }));
  print(`${text(body.market ?? market)}  (seq ${text(body.seq)})`);
  print(
    table(
      [...asks, ...bids],
      [
        { header: 'SIDE', value: (l) => text(l['side']) },
        { header: '¥/GPU-HOUR', value: (l) => fen(l['priceFenPerGpuHour']), right: true },
        { header: 'GPUS', value: (l) => text(l['gpus']), right: true },
      ],
      'the book is empty',
    ),
  );
}

// ---- orders ----------------------------------------------------------------------------------

interface BidOpts extends CommonOpts {
  gpu?: string[];
  minTflops?: string;
  minMemory?: string;
  stack?: string[];
  region?: string[];
  gpus?: string;
  p?: string;
  gpusPerNode?: string;
  hours?: string;
  start?: string;
  limit?: string;
  tif?: string;
  expires?: string;
  partial?: boolean;
  idempotencyKey?: string;
}

/** The POST /bids body from the flags (exported for tests). */
export function bidBody(o: BidOpts): Json {
  if ((o.gpus === undefined) === (o.p === undefined)) throw new UsageError('give either --gpus N or --p AMOUNT (compute in P), not both');
  const computeClass: Json = {};
  if (o.minTflops !== undefined) computeClass['minFp16Tflops'] = nonNegativeNumber(o.minTflops, '--min-tflops');
  if (o.minMemory !== undefined) computeClass['minMemoryGiB'] = nonNegativeNumber(o.minMemory, '--min-memory');
  if (o.stack !== undefined && o.stack.length > 0) computeClass['stacks'] = o.stack;
  const hasClass = Object.keys(computeClass).length > 0;
  if ((o.gpu === undefined || o.gpu.length === 0) && !hasClass) throw new UsageError('say what to buy: --gpu <id…>, or a compute class (--min-tflops, --min-memory, --stack)');
  if (o.hours === undefined) throw new UsageError('--hours is required');
  if (o.limit === undefined) throw new UsageError(`--limit is required (yuan per ${o.p === undefined ? 'GPU-hour' : 'P-hour'}, e.g. 22.70)`);
  const tif = o.tif === undefined ? undefined : oneOf(o.tif, '--tif', ['GTC', 'GTD', 'IOC', 'FOK'] as const);
  if (tif === 'GTD' && o.expires === undefined) throw new UsageError('--tif GTD needs --expires <ISO time>');
  const limitFen = yuanToFen(o.limit, '--limit');
  return {
    ...(o.gpu !== undefined && o.gpu.length > 0 ? { acceleratorIds: o.gpu } : {}),
    ...(hasClass ? { computeClass } : {}),
    ...(o.region !== undefined && o.region.length > 0 ? { regionIds: o.region } : {}),
    ...(o.gpus !== undefined ? { gpus: positiveInt(o.gpus, '--gpus') } : { computeP: computeP(o.p!, '--p') }),
    ...(o.gpusPerNode !== undefined ? { gpusPerNode: positiveInt(o.gpusPerNode, '--gpus-per-node', 1_024) } : {}),
    hours: positiveInt(o.hours, '--hours'),
    ...(o.start !== undefined ? { startAt: isoTime(o.start, '--start') } : {}),
    ...(o.p === undefined ? { limitFenPerGpuHour: limitFen } : { limitFenPerPHour: limitFen }),
    ...(tif !== undefined ? { timeInForce: tif } : {}),
    ...(o.expires !== undefined ? { expiresAt: isoTime(o.expires, '--expires') } : {}),
    ...(o.partial === true ? { allowPartial: true } : {}),
  };
}

interface AskOpts extends CommonOpts {
  node?: string[];
  price?: string;
  unit?: string;
  minHours?: string;
  maxHours?: string;
  availableUntil?: string;
  expires?: string;
  idempotencyKey?: string;
}

/** The POST /asks body from the flags (exported for tests). */
export function askBody(o: AskOpts): Json {
  if (o.node === undefined || o.node.length === 0) throw new UsageError('--node <id…> is required');
  if (o.price === undefined) throw new UsageError('--price is required (yuan per GPU-hour, e.g. 22.70)');
  return {
    nodeIds: o.node,
    priceFenPerGpuHour: yuanToFen(o.price, '--price'),
    ...(o.unit !== undefined ? { unit: oneOf(o.unit, '--unit', ['gpu', 'node'] as const) } : {}),
    ...(o.minHours !== undefined ? { minHours: positiveInt(o.minHours, '--min-hours') } : {}),
    ...(o.maxHours !== undefined ? { maxHours: positiveInt(o.maxHours, '--max-hours') } : {}),
    ...(o.availableUntil !== undefined ? { availableUntil: isoTime(o.availableUntil, '--available-until') } : {}),
    ...(o.expires !== undefined ? { expiresAt: isoTime(o.expires, '--expires') } : {}),
  };
}

function orderPrice(o: Json): string {
  return `${fen(o['priceFen'])}${o['priceUnit'] === 'fen_per_p_hour' ? '/P-h' : '/GPU-h'}`;
}

function orderRemaining(o: Json): string {
  if (o['side'] === 'ask') return '-';
  if (o['remainingUnit'] === 'deci_tflops' && typeof o['remaining'] === 'number') return `${o['remaining'] / 10_000} P`;
  return `${text(o['remaining'])} ${o['remaining'] === 1 ? 'GPU' : 'GPUs'}`;
}

const ORDER_COLUMNS: Column<Json>[] = [
  { header: 'ID', value: (o) => text(o['id']) },
  { header: 'SIDE', value: (o) => text(o['side']) },
  { header: 'STATUS', value: (o) => text(o['status']) },
  { header: 'PRICE', value: orderPrice, right: true },
  { header: 'REMAINING', value: orderRemaining, right: true },
  { header: 'HELD', value: (o) => fen(o['holdFen']), right: true },
  { header: 'MARKETS', value: (o) => {
    const ms = Array.isArray(o['markets']) ? (o['markets'] as unknown[]).map(String) : [];
    return ms.length > 3 ? `${ms.slice(0, 3).join(',')},… (${ms.length})` : ms.join(',') || '-';
  } },
  { header: 'CREATED', value: (o) => when(o['createdAt']) },
];

const TRADE_COLUMNS: Column<Json>[] = [
  { header: 'TRADE', value: (t) => text(t['id']) },
  { header: 'MARKET', value: (t) => text(t['market']) },
  { header: 'GPUS', value: (t) => text(t['gpus']), right: true },
  { header: '¥/GPU-HOUR', value: (t) => fen(t['priceFenPerGpuHour']), right: true },
  { header: 'START', value: (t) => when(t['startAt']) },
  { header: 'END', value: (t) => when(t['endAt']) },
];

const LEASE_COLUMNS: Column<Json>[] = [
  { header: 'LEASE', value: (l) => text(l['id']) },
  { header: 'ROLE', value: (l) => text(l['role']) },
  { header: 'STATE', value: (l) => text(l['state']) },
  { header: 'MARKET', value: (l) => text(l['market']) },
  { header: 'NODE', value: (l) => text(l['nodeId']) },
  { header: 'GPUS', value: (l) => (Array.isArray(l['gpuIndices']) ? String(l['gpuIndices'].length) : '-'), right: true },
  { header: '¥/GPU-HOUR', value: (l) => fen(l['priceFenPerGpuHour']), right: true },
  { header: 'START', value: (l) => when(l['startAt']) },
  { header: 'END', value: (l) => when(l['endAt']) },
  // What it has cost so far (settled or not); an older server sends only what was settled.
  {
    header: 'CHARGED',
    value: (l) => {
      const b = l['billing'] as Json | null | undefined;
      return fen(b?.['accruedFen'] ?? b?.['chargedFen']);
    },
    right: true,
  },
];

async function placeBid(api: ApiClient, o: BidOpts): Promise<void> {
  const body = bidBody(o);
  const res = await api.post<{ order?: Json; holdFen?: unknown; trades?: Json[]; leases?: Json[] }>('/bids', body, { idempotencyKey: o.idempotencyKey ?? newIdempotencyKey() });
  if (o.json === true) return printJson(res);
  const order = res.order ?? {};
  const held = res.holdFen ?? order['holdFen'];
  const open = order['status'] === 'active' ? `, ${orderRemaining(order)} remaining` : '';
  print(`bid ${text(order['id'])}: ${text(order['status'])}${open} (limit ${orderPrice(order)})${held === null || held === undefined ? '' : `, held ${fen(held)}`}`);
  if ((res.trades ?? []).length > 0) print(table(res.trades ?? [], TRADE_COLUMNS));
  if ((res.leases ?? []).length > 0) print(table(res.leases ?? [], LEASE_COLUMNS));
}

async function placeAsk(api: ApiClient, o: AskOpts): Promise<void> {
  const body = askBody(o);
  const res = await api.post<{ order?: Json }>('/asks', body, { idempotencyKey: o.idempotencyKey ?? newIdempotencyKey() });
  if (o.json === true) return printJson(res);
  const order = res.order ?? {};
  print(`ask ${text(order['id'])}: ${text(order['status'])} at ${orderPrice(order)} on ${text(body['nodeIds'])} (${text(order['markets'])})`);
}

interface ListOpts extends CommonOpts {
  cursor?: string;
  pageSize?: string;
  side?: string;
  status?: string;
  role?: string;
  state?: string;
  account?: string;
}

function pageQuery(o: ListOpts): Record<string, string | number | undefined> {
  return { cursor: o.cursor, limit: o.pageSize === undefined ? undefined : positiveInt(o.pageSize, '--page-size', 500) };
}

async function orders(api: ApiClient, o: ListOpts): Promise<void> {
  const query = {
    ...pageQuery(o),
    side: o.side === undefined ? undefined : oneOf(o.side, '--side', ['bid', 'ask'] as const),
    status: o.status === undefined ? undefined : oneOf(o.status, '--status', ['active', 'filled', 'cancelled', 'expired', 'rejected'] as const),
  };
  const page = await api.get<Page>('/orders', { query });
  if (o.json === true) return printJson(page);
  print(table(page.items ?? [], ORDER_COLUMNS, 'no orders'));
  pageHint(page);
}

async function cancel(api: ApiClient, o: CommonOpts, [id]: string[]): Promise<void> {
  const res = await api.delete<{ order?: Json }>(`/orders/${enc(id!)}`);
  if (o.json === true) return printJson(res);
  print(`${text(res.order?.['side'] ?? 'order')} ${text(res.order?.['id'] ?? id)}: ${text(res.order?.['status'] ?? 'cancelled')}`);
}

async function leases(api: ApiClient, o: ListOpts): Promise<void> {
  const query = {
    ...pageQuery(o),
    role: o.role === undefined ? undefined : oneOf(o.role, '--role', ['buyer', 'provider'] as const),
    state: o.state === undefined ? undefined : oneOf(o.state, '--state', ['pending', 'provisioning', 'active', 'ended', 'failed', 'cancelled'] as const),
  };
  const page = await api.get<Page>('/leases', { query });
  if (o.json === true) return printJson(page);
  print(table(page.items ?? [], LEASE_COLUMNS, 'no leases'));
  pageHint(page);
}

// ---- money -----------------------------------------------------------------------------------

const BALANCE_LABELS: readonly (readonly [string, string])[] = [
  ['cashFen', 'cash'],
  ['availableFen', 'available'],
  ['heldFen', 'held by open bids'],
  ['escrowFen', 'escrow (leases)'],
  ['voucherFen', 'vouchers'],
  ['voucherEscrowFen', 'voucher escrow'],
  ['earningsFen', 'earnings'],
];

async function balance(api: ApiClient, o: CommonOpts): Promise<void> {
  const b = await api.get<Json>('/balances');
  if (o.json === true) return printJson(b);
  const known = BALANCE_LABELS.filter(([k]) => k in b).map(([k, label]) => [label, fen(b[k])] as const);
  const other = Object.entries(b)
    .filter(([k]) => k.endsWith('Fen') && !BALANCE_LABELS.some(([x]) => x === k))
    .map(([k, v]) => [k.replace(/Fen$/, ''), fen(v)] as const);
  print(pairs([...known, ...other].map(([k, v]) => [k, v.padStart(16)] as const)));
}

async function statement(api: ApiClient, o: ListOpts): Promise<void> {
  const account = oneOf(o.account ?? 'cash', '--account', ['cash', 'escrow', 'earnings', 'voucher_escrow'] as const);
  const page = await api.get<Page & Json>('/statement', { query: { ...pageQuery(o), account } });
  if (o.json === true) return printJson(page);
  print(`${account}: opening ${fen(page['openingBalanceFen'])}, closing ${fen(page['closingBalanceFen'])}`);
  print(
    table(
      page.items ?? [],
      [
        { header: 'AT', value: (t) => when(t['at']) },
        { header: 'CODE', value: (t) => text(t['code']) },
        { header: 'COUNTERPARTY', value: (t) => text(t['counterparty']) },
        { header: 'IN', value: (t) => (t['creditFen'] === '0' ? '' : fen(t['creditFen'])), right: true },
        { header: 'OUT', value: (t) => (t['debitFen'] === '0' ? '' : fen(t['debitFen'])), right: true },
        { header: 'BALANCE', value: (t) => fen(t['balanceFen']), right: true },
        { header: 'TRANSFER', value: (t) => text(t['transferId']) },
      ],
      `no ${account} movements`,
    ),
  );
  pageHint(page);
}

// ---- registration ----------------------------------------------------------------------------

const list = (flags: string, description: string): Option => new Option(flags, description);

export function registerClient(program: Command): void {
  client(program.command('login').description('log in with email and password; saves an API key to the config file (0600)'))
    .addOption(new Option('--email <email>', 'account email (asked if absent)'))
    .addOption(new Option('--password <password>', 'password (asked if absent; env SUANLI_PASSWORD)'))
    .addOption(new Option('--name <name>', 'name of the API key (default suanli-cli@<host>)'))
    .addOption(new Option('--scopes <scope...>', 'scopes of the key (default: all of your role)').choices(['read', 'trade', 'provider', 'admin']))
    .action(action<LoginOpts>((api, o) => login(api, o)));

  client(program.command('logout').description('revoke the saved API key and forget it')).action(action<CommonOpts>((api, o) => logout(api, o)));

  client(program.command('markets').description('every market: best ask and bid, last trade, 24 h volume, free GPUs')).action(action<CommonOpts>((api, o) => markets(api, o)));

  client(program.command('book').description('order book of one market (acceleratorId@regionId)').argument('<market>', 'e.g. nvidia-a100-sxm4-40g@cn-beijing'))
    .addOption(new Option('--depth <n>', 'price levels per side (1-500, default 50)'))
    .action(action<BookOpts>((api, o, args) => book(api, o, args)));

  client(program.command('bid').description('buy capacity: a bid on GPUs (--gpus) or compute (--p), trading at once where it can'))
    .addOption(list('--gpu <id...>', 'accelerator ids the bid accepts (see /api/v1/accelerators)'))
    .addOption(new Option('--min-tflops <n>', 'compute class: at least this dense FP16 TFLOPS per GPU'))
    .addOption(new Option('--min-memory <GiB>', 'compute class: at least this much GPU memory'))
    .addOption(list('--stack <name...>', 'compute class: software stacks (cuda, cann, rocm…)'))
    .addOption(list('--region <id...>', 'regions (default: any)'))
    .addOption(new Option('--gpus <n>', 'how many GPUs'))
    .addOption(new Option('--p <amount>', 'or how much compute, in P (1 P = 1000 dense FP16 TFLOPS), e.g. 2.5'))
    .addOption(new Option('--gpus-per-node <n>', 'GPUs per node, e.g. 8 for whole NVLink servers'))
    .addOption(new Option('--hours <n>', 'lease length in hours'))
    .addOption(new Option('--start <ISO>', 'start time (default: as soon as matched)'))
    .addOption(new Option('--limit <yuan>', 'highest price: yuan per GPU-hour (per P-hour with --p), e.g. 22.70'))
    .addOption(new Option('--tif <tif>', 'time in force: GTC (default), GTD, IOC, FOK'))
    .addOption(new Option('--expires <ISO>', 'GTD: stop matching at this time'))
    .addOption(new Option('--partial', 'accept partial fills (default: all or none)'))
    .addOption(new Option('--idempotency-key <key>', 'makes a retry safe (default: a fresh one)'))
    .action(action<BidOpts>((api, o) => placeBid(api, o)));

  client(program.command('ask').description('sell capacity: list nodes at a price per GPU-hour'))
    .addOption(list('--node <id...>', 'node ids (one market)'))
    .addOption(new Option('--price <yuan>', 'yuan per GPU-hour, e.g. 22.70'))
    .addOption(new Option('--unit <unit>', 'sell single GPUs (gpu, default) or whole nodes (node)'))
    .addOption(new Option('--min-hours <n>', 'shortest lease'))
    .addOption(new Option('--max-hours <n>', 'longest lease'))
    .addOption(new Option('--available-until <ISO>', 'leases must end by then'))
    .addOption(new Option('--expires <ISO>', 'stop matching at this time'))
    .addOption(new Option('--idempotency-key <key>', 'makes a retry safe (default: a fresh one)'))
    .action(action<AskOpts>((api, o) => placeAsk(api, o)));

  client(program.command('orders').description('your orders, newest first'))
    .addOption(new Option('--side <side>', 'bid or ask'))
    .addOption(new Option('--status <status>', 'active, filled, cancelled, expired or rejected'))
    .addOption(new Option('--cursor <cursor>', 'next page'))
    .addOption(new Option('--page-size <n>', 'items per page (1-500)'))
    .action(action<ListOpts>((api, o) => orders(api, o)));

  client(program.command('cancel').description('cancel one of your orders').argument('<id>', 'order id')).action(action<CommonOpts>((api, o, args) => cancel(api, o, args)));

  client(program.command('leases').description('your leases, as buyer or provider'))
    .addOption(new Option('--role <role>', 'buyer or provider'))
    .addOption(new Option('--state <state>', 'pending, provisioning, active, ended, failed or cancelled'))
    .addOption(new Option('--cursor <cursor>', 'next page'))
    .addOption(new Option('--page-size <n>', 'items per page (1-500)'))
    .action(action<ListOpts>((api, o) => leases(api, o)));

  client(program.command('balance').description('cash, held, escrow, vouchers and earnings')).action(action<CommonOpts>((api, o) => balance(api, o)));

  client(program.command('statement').description('movements of one account with the running balance'))
    .addOption(new Option('--account <account>', 'cash (default), escrow, earnings or voucher_escrow'))
    .addOption(new Option('--cursor <cursor>', 'next page'))
    .addOption(new Option('--page-size <n>', 'items per page (1-500)'))
    .action(action<ListOpts>((api, o) => statement(api, o)));
}
