/**
 * Row mapping between the port's shapes (camelCase, bigint money, arrays) and the tables
 * (snake_case, decimal text, JSON text), with the checks that keep stored data exact:
 * every integer written is a safe integer, every amount fits a signed 64-bit value.
 * A failed check is a bug in the caller, so it throws (before the transaction starts).
 */
import type {
  ApiKeyRow,
  AttestationVerdict,
  EnrollmentTokenRow,
  IdempotencyRow,
  JournalEntry,
  LeaseLogRow,
  LeaseRow,
  LeaseState,
  NodeAttestationRow,
  NodeCredentialRow,
  NodeRow,
  OrderRow,
  OrderSide,
  OrderStatus,
  SessionRow,
  SettingRow,
  TradeRow,
  TransferRow,
  UserRole,
  UserRow,
} from './port.js';
import { MAX_JSON_CHARS } from './port.js';
import type {
  ApiKeysTable,
  EnrollmentTokensTable,
  IdempotencyKeysTable,
  JournalTable,
  LeaseLogsTable,
  LeasesTable,
  NodeAttestationsTable,
  NodeCredentialsTable,
  NodesTable,
  OrdersTable,
  SessionsTable,
  SettingsTable,
  TradesTable,
  TransfersTable,
  UsersTable,
} from './schema.js';

const MAX_TEXT_CHARS = 4_096;
const MIN_I64 = -(1n << 63n);
const MAX_I64 = (1n << 63n) - 1n;

// ---- checks on the way in ----

function int(what: string, v: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new TypeError(`store: ${what} must be a safe integer, got ${String(v)}`);
  return v;
}
function intOrNull(what: string, v: number | null): number | null {
  return v === null ? null : int(what, v);
}
function str(what: string, v: string, maxChars = MAX_TEXT_CHARS): string {
  if (typeof v !== 'string') throw new TypeError(`store: ${what} must be a string`);
  if (v.length > maxChars) throw new RangeError(`store: ${what} is longer than ${maxChars} characters`);
  return noNul(v);
}
/**
 * PostgreSQL text cannot hold U+0000 (a commit carrying one fails, and a failed commit stops the
 * exchange), so both stores keep U+FFFD in its place: a user's key name or a workload's output
 * may contain one.
 */
function noNul(v: string): string {
  return v.includes('\u0000') ? v.replaceAll('\u0000', '\uFFFD') : v;
}
function strOrNull(what: string, v: string | null): string | null {
  return v === null ? null : str(what, v);
}
function json(what: string, v: string): string {
  return str(what, v, MAX_JSON_CHARS);
}
function amount(what: string, v: bigint): string {
  if (typeof v !== 'bigint' || v < MIN_I64 || v > MAX_I64) throw new RangeError(`store: ${what} must be a signed 64-bit bigint`);
  return v.toString();
}

// ---- checks on the way out ----

/** Drivers must hand back numbers for bigint columns; anything else means a lost digit. */
export function num(v: unknown): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d{1,16}$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  throw new TypeError(`store: expected a safe integer from the database, got ${typeof v} ${String(v)}`);
}
function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}
function strings(v: string): readonly string[] {
  const parsed: unknown = JSON.parse(v);
  if (!Array.isArray(parsed) || !parsed.every((s) => typeof s === 'string')) throw new TypeError('store: expected a JSON string array');
  return parsed as string[];
}
function ints(v: string): readonly number[] {
  const parsed: unknown = JSON.parse(v);
  if (!Array.isArray(parsed) || !parsed.every((n) => Number.isSafeInteger(n))) throw new TypeError('store: expected a JSON integer array');
  return parsed as number[];
}
// Plain loops rather than `every` with a callback: an order's markets and a lease's GPUs are
// checked for every row of every batch.
function stringsJson(what: string, v: readonly string[]): string {
  let ok = Array.isArray(v);
  for (let i = 0; ok && i < v.length; i++) ok = typeof v[i] === 'string';
  if (!ok) throw new TypeError(`store: ${what} must be an array of strings`);
  return json(what, JSON.stringify(v));
}
function intsJson(what: string, v: readonly number[]): string {
  let ok = Array.isArray(v);
  for (let i = 0; ok && i < v.length; i++) ok = Number.isSafeInteger(v[i]);
  if (!ok) throw new TypeError(`store: ${what} must be an array of safe integers`);
  return json(what, JSON.stringify(v));
}

// ---- journal ----

export function journalToDb(r: JournalEntry): JournalTable {
  return {
    seq: int('journal.seq', r.seq),
    at_ms: int('journal.atMs', r.atMs),
    kind: str('journal.kind', r.kind),
    command: json('journal.commandJson', r.commandJson),
    result: json('journal.resultJson', r.resultJson),
  };
}
export function journalFromDb(r: JournalTable): JournalEntry {
  return { seq: num(r.seq), atMs: num(r.at_ms), kind: r.kind, commandJson: r.command, resultJson: r.result };
}

// ---- users, sessions, api keys, idempotency ----

export function userToDb(r: UserRow): UsersTable {
  return {
    id: str('user.id', r.id),
    email: str('user.email', r.email),
    password_hash: str('user.passwordHash', r.passwordHash),
    role: str('user.role', r.role),
    display_name: str('user.displayName', r.displayName),
    created_at_ms: int('user.createdAtMs', r.createdAtMs),
    disabled_at_ms: intOrNull('user.disabledAtMs', r.disabledAtMs),
  };
}
export function userFromDb(r: UsersTable): UserRow {
  return {
    id: r.id,
    email: r.email,
    passwordHash: r.password_hash,
    role: r.role as UserRole,
    displayName: r.display_name,
    createdAtMs: num(r.created_at_ms),
    disabledAtMs: numOrNull(r.disabled_at_ms),
  };
}

export function sessionToDb(r: SessionRow): SessionsTable {
  return {
    id_hash: str('session.idHash', r.idHash),
    user_id: str('session.userId', r.userId),
    created_at_ms: int('session.createdAtMs', r.createdAtMs),
    expires_at_ms: int('session.expiresAtMs', r.expiresAtMs),
  };
}
export function sessionFromDb(r: SessionsTable): SessionRow {
  return { idHash: r.id_hash, userId: r.user_id, createdAtMs: num(r.created_at_ms), expiresAtMs: num(r.expires_at_ms) };
}

export function apiKeyToDb(r: ApiKeyRow): ApiKeysTable {
  return {
    id: str('apiKey.id', r.id),
    user_id: str('apiKey.userId', r.userId),
    name: str('apiKey.name', r.name),
    key_hash: str('apiKey.keyHash', r.keyHash),
    scopes: stringsJson('apiKey.scopes', r.scopes),
    created_at_ms: int('apiKey.createdAtMs', r.createdAtMs),
    last_used_at_ms: intOrNull('apiKey.lastUsedAtMs', r.lastUsedAtMs),
    revoked_at_ms: intOrNull('apiKey.revokedAtMs', r.revokedAtMs),
  };
}
export function apiKeyFromDb(r: ApiKeysTable): ApiKeyRow {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    keyHash: r.key_hash,
    scopes: strings(r.scopes),
    createdAtMs: num(r.created_at_ms),
    lastUsedAtMs: numOrNull(r.last_used_at_ms),
    revokedAtMs: numOrNull(r.revoked_at_ms),
  };
}

export function idempotencyToDb(r: IdempotencyRow): IdempotencyKeysTable {
  return {
    user_id: str('idempotency.userId', r.userId),
    key: str('idempotency.key', r.key),
    request_hash: str('idempotency.requestHash', r.requestHash),
    status_code: int('idempotency.statusCode', r.statusCode),
    response: json('idempotency.responseJson', r.responseJson),
    created_at_ms: int('idempotency.createdAtMs', r.createdAtMs),
  };
}
export function idempotencyFromDb(r: IdempotencyKeysTable): IdempotencyRow {
  return {
    userId: r.user_id,
    key: r.key,
    requestHash: r.request_hash,
    statusCode: num(r.status_code),
    responseJson: r.response,
    createdAtMs: num(r.created_at_ms),
  };
}

// ---- market ----

export function nodeToDb(r: NodeRow): NodesTable {
  return {
    id: str('node.id', r.id),
    provider_id: str('node.providerId', r.providerId),
    accelerator_id: str('node.acceleratorId', r.acceleratorId),
    region_id: str('node.regionId', r.regionId),
    gpu_count: int('node.gpuCount', r.gpuCount),
    kind: str('node.kind', r.kind),
    status: str('node.status', r.status),
    spec: json('node.specJson', r.specJson),
    created_at_ms: int('node.createdAtMs', r.createdAtMs),
    updated_at_ms: int('node.updatedAtMs', r.updatedAtMs),
  };
}
export function nodeFromDb(r: NodesTable): NodeRow {
  return {
    id: r.id,
    providerId: r.provider_id,
    acceleratorId: r.accelerator_id,
    regionId: r.region_id,
    gpuCount: num(r.gpu_count),
    kind: r.kind,
    status: r.status,
    specJson: r.spec,
    createdAtMs: num(r.created_at_ms),
    updatedAtMs: num(r.updated_at_ms),
  };
}

export function orderToDb(r: OrderRow): OrdersTable {
  return {
    id: str('order.id', r.id),
    user_id: str('order.userId', r.userId),
    side: str('order.side', r.side),
    markets: stringsJson('order.markets', r.markets),
    spec: json('order.specJson', r.specJson),
    status: str('order.status', r.status),
    remaining: int('order.remaining', r.remaining),
    price_fen: int('order.priceFen', r.priceFen),
    created_at_ms: int('order.createdAtMs', r.createdAtMs),
    updated_at_ms: int('order.updatedAtMs', r.updatedAtMs),
  };
}
export function orderFromDb(r: OrdersTable): OrderRow {
  return {
    id: r.id,
    userId: r.user_id,
    side: r.side as OrderSide,
    markets: strings(r.markets),
    specJson: r.spec,
    status: r.status as OrderStatus,
    remaining: num(r.remaining),
    priceFen: num(r.price_fen),
    createdAtMs: num(r.created_at_ms),
    updatedAtMs: num(r.updated_at_ms),
  };
}

export function tradeToDb(r: TradeRow): TradesTable {
  return {
    id: str('trade.id', r.id),
    bid_id: str('trade.bidId', r.bidId),
    ask_id: str('trade.askId', r.askId),
    buyer_id: str('trade.buyerId', r.buyerId),
    provider_id: str('trade.providerId', r.providerId),
    market: str('trade.market', r.market),
    gpus: int('trade.gpus', r.gpus),
    price_fen: int('trade.priceFenPerGpuHour', r.priceFenPerGpuHour),
    start_ms: int('trade.startMs', r.startMs),
    end_ms: int('trade.endMs', r.endMs),
    at_ms: int('trade.atMs', r.atMs),
    seq: int('trade.seq', r.seq),
  };
}
export function tradeFromDb(r: TradesTable): TradeRow {
  return {
    id: r.id,
    bidId: r.bid_id,
    askId: r.ask_id,
    buyerId: r.buyer_id,
    providerId: r.provider_id,
    market: r.market,
    gpus: num(r.gpus),
    priceFenPerGpuHour: num(r.price_fen),
    startMs: num(r.start_ms),
    endMs: num(r.end_ms),
    atMs: num(r.at_ms),
    seq: num(r.seq),
  };
}

export function leaseToDb(r: LeaseRow): LeasesTable {
  return {
    id: str('lease.id', r.id),
    trade_id: str('lease.tradeId', r.tradeId),
    node_id: str('lease.nodeId', r.nodeId),
    buyer_id: str('lease.buyerId', r.buyerId),
    provider_id: str('lease.providerId', r.providerId),
    market: str('lease.market', r.market),
    gpu_indices: intsJson('lease.gpuIndices', r.gpuIndices),
    price_fen: int('lease.priceFenPerGpuHour', r.priceFenPerGpuHour),
    start_ms: int('lease.startMs', r.startMs),
    end_ms: int('lease.endMs', r.endMs),
    state: str('lease.state', r.state),
    ended_at_ms: intOrNull('lease.endedAtMs', r.endedAtMs),
    end_reason: strOrNull('lease.endReason', r.endReason),
    created_at_ms: int('lease.createdAtMs', r.createdAtMs),
    updated_at_ms: int('lease.updatedAtMs', r.updatedAtMs),
    workload: r.workloadJson === undefined || r.workloadJson === null ? null : json('lease.workloadJson', r.workloadJson),
    access: r.accessJson === undefined || r.accessJson === null ? null : json('lease.accessJson', r.accessJson),
  };
}
export function leaseFromDb(r: LeasesTable): LeaseRow {
  return {
    id: r.id,
    tradeId: r.trade_id,
    nodeId: r.node_id,
    buyerId: r.buyer_id,
    providerId: r.provider_id,
    market: r.market,
    gpuIndices: ints(r.gpu_indices),
    priceFenPerGpuHour: num(r.price_fen),
    startMs: num(r.start_ms),
    endMs: num(r.end_ms),
    state: r.state as LeaseState,
    endedAtMs: numOrNull(r.ended_at_ms),
    endReason: r.end_reason,
    createdAtMs: num(r.created_at_ms),
    updatedAtMs: num(r.updated_at_ms),
    workloadJson: r.workload ?? null,
    accessJson: r.access ?? null,
  };
}

// ---- agents ----

const VERDICTS: readonly AttestationVerdict[] = ['verified', 'unverified', 'mismatch'];
const LOG_STREAMS: readonly LeaseLogRow['stream'][] = ['stdout', 'stderr', 'system'];
/** A log line is cut to this before it is stored (the protocol's own cut is 4,096). */
const MAX_LOG_LINE_CHARS = 4_096;

export function enrollmentTokenToDb(r: EnrollmentTokenRow): EnrollmentTokensTable {
  return {
    token_hash: str('enrollmentToken.tokenHash', r.tokenHash),
    id: str('enrollmentToken.id', r.id),
    provider_id: str('enrollmentToken.providerId', r.providerId),
    region_id: str('enrollmentToken.regionId', r.regionId),
    accelerator_id: strOrNull('enrollmentToken.acceleratorId', r.acceleratorId),
    gpu_count: intOrNull('enrollmentToken.gpuCount', r.gpuCount),
    label: str('enrollmentToken.label', r.label),
    created_at_ms: int('enrollmentToken.createdAtMs', r.createdAtMs),
    expires_at_ms: int('enrollmentToken.expiresAtMs', r.expiresAtMs),
    used_at_ms: intOrNull('enrollmentToken.usedAtMs', r.usedAtMs),
    node_id: strOrNull('enrollmentToken.nodeId', r.nodeId),
  };
}
export function enrollmentTokenFromDb(r: EnrollmentTokensTable): EnrollmentTokenRow {
  return {
    tokenHash: r.token_hash, id: r.id, providerId: r.provider_id, regionId: r.region_id, acceleratorId: r.accelerator_id,
    gpuCount: numOrNull(r.gpu_count), label: r.label, createdAtMs: num(r.created_at_ms), expiresAtMs: num(r.expires_at_ms),
    usedAtMs: numOrNull(r.used_at_ms), nodeId: r.node_id,
  };
}

export function nodeCredentialToDb(r: NodeCredentialRow): NodeCredentialsTable {
  return {
    token_hash: str('nodeCredential.tokenHash', r.tokenHash),
    node_id: str('nodeCredential.nodeId', r.nodeId),
    created_at_ms: int('nodeCredential.createdAtMs', r.createdAtMs),
    revoked_at_ms: intOrNull('nodeCredential.revokedAtMs', r.revokedAtMs),
  };
}
export function nodeCredentialFromDb(r: NodeCredentialsTable): NodeCredentialRow {
  return { tokenHash: r.token_hash, nodeId: r.node_id, createdAtMs: num(r.created_at_ms), revokedAtMs: numOrNull(r.revoked_at_ms) };
}

export function nodeAttestationToDb(r: NodeAttestationRow): NodeAttestationsTable {
  if (!VERDICTS.includes(r.verdict)) throw new TypeError(`store: nodeAttestation.verdict must be one of ${VERDICTS.join(', ')}`);
  const tflops = r.measuredTflops;
  if (tflops !== null && !Object.values(tflops).every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new TypeError('store: nodeAttestation.measuredTflops must map to finite numbers');
  }
  return {
    node_id: str('nodeAttestation.nodeId', r.nodeId),
    verdict: r.verdict,
    reasons: stringsJson('nodeAttestation.reasons', r.reasons),
    hardware: json('nodeAttestation.hardwareJson', r.hardwareJson),
    measured_tflops: tflops === null ? null : json('nodeAttestation.measuredTflops', JSON.stringify(tflops)),
    agent_version: str('nodeAttestation.agentVersion', r.agentVersion),
    at_ms: int('nodeAttestation.atMs', r.atMs),
  };
}
export function nodeAttestationFromDb(r: NodeAttestationsTable): NodeAttestationRow {
  return {
    nodeId: r.node_id, verdict: r.verdict as AttestationVerdict, reasons: strings(r.reasons), hardwareJson: r.hardware,
    measuredTflops: r.measured_tflops === null ? null : (JSON.parse(r.measured_tflops) as Record<string, number>),
    agentVersion: r.agent_version, atMs: num(r.at_ms),
  };
}

export function leaseLogToDb(r: LeaseLogRow): LeaseLogsTable {
  if (!LOG_STREAMS.includes(r.stream)) throw new TypeError(`store: leaseLog.stream must be one of ${LOG_STREAMS.join(', ')}`);
  if (typeof r.line !== 'string') throw new TypeError('store: leaseLog.line must be a string');
  return {
    lease_id: str('leaseLog.leaseId', r.leaseId),
    seq: int('leaseLog.seq', r.seq),
    stream: r.stream,
    line: noNul(r.line.length > MAX_LOG_LINE_CHARS ? r.line.slice(0, MAX_LOG_LINE_CHARS) : r.line),
    at_ms: int('leaseLog.atMs', r.atMs),
  };
}
export function leaseLogFromDb(r: LeaseLogsTable): LeaseLogRow {
  return { leaseId: r.lease_id, seq: num(r.seq), stream: r.stream as LeaseLogRow['stream'], line: r.line, atMs: num(r.at_ms) };
}

// ---- ledger ----

export function transferToDb(r: TransferRow): TransfersTable {
  return {
    id: str('transfer.id', r.id),
    debit_account_id: str('transfer.debitAccountId', r.debitAccountId),
    credit_account_id: str('transfer.creditAccountId', r.creditAccountId),
    amount_fen: amount('transfer.amountFen', r.amountFen),
    code: str('transfer.code', r.code),
    flags: int('transfer.flags', r.flags),
    pending_id: strOrNull('transfer.pendingId', r.pendingId),
    user_data: str('transfer.userData', r.userData),
    at_ms: int('transfer.atMs', r.atMs),
    seq: int('transfer.seq', r.seq),
  };
}
export function transferFromDb(r: TransfersTable): TransferRow {
  if (!/^-?\d{1,19}$/.test(r.amount_fen)) throw new TypeError(`store: bad amount_fen ${r.amount_fen}`);
  return {
    id: r.id,
    debitAccountId: r.debit_account_id,
    creditAccountId: r.credit_account_id,
    amountFen: BigInt(r.amount_fen),
    code: r.code,
    flags: num(r.flags),
    pendingId: r.pending_id,
    userData: r.user_data,
    atMs: num(r.at_ms),
    seq: num(r.seq),
  };
}

export function settingToDb(r: SettingRow): SettingsTable {
  return { key: str('setting.key', r.key), value: json('setting.value', r.value) };
}
