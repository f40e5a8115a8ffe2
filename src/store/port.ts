/**
 * The store port: what the exchange needs from durable storage. Two adapters implement it
 * (src/store/sqlite, src/store/postgres) over one Kysely query layer; one contract suite
 * (test/store.contract.test.ts) runs on both.
 *
 * Conventions: times are epoch milliseconds (`…Ms`, safe integers); prices are fen as safe
 * integers (the engine's `number` prices); ledger amounts are `bigint` fen, stored as decimal
 * text so no driver ever rounds them; opaque documents (commands, results, specs, responses)
 * are JSON text the caller serialises (`…Json`), so the store never has to know their shape
 * nor how the caller encodes bigints inside them.
 */

/** Largest page any list returns; `limit` above it is a RangeError. */
export const MAX_PAGE_LIMIT = 500;
/** Largest journal page (replay reads big pages). */
export const MAX_JOURNAL_PAGE_LIMIT = 10_000;
/** Most rows (of all kinds together) one `commit` accepts; the command loop splits above it. */
export const MAX_COMMIT_ROWS = 200_000;
/** Longest JSON text in any one column. */
export const MAX_JSON_CHARS = 1_000_000;
/** Most candles one `candles` call may span ((toMs − fromMs) / intervalMs). */
export const MAX_CANDLES = 5_000;
/** Largest page of lease log lines. */
export const MAX_LOG_PAGE_LIMIT = 2_000;
/** Most settings `listSettings` returns. */
export const MAX_SETTINGS = 1_000;

export type UserRole = 'buyer' | 'provider' | 'admin';
export type OrderSide = 'ask' | 'bid';
export type OrderStatus = 'active' | 'filled' | 'cancelled' | 'expired' | 'rejected';
export type LeaseState = 'pending' | 'provisioning' | 'active' | 'ended' | 'failed' | 'cancelled';

/** One command applied to the core: the system of record. `seq` starts at 1, gap-free. */
export interface JournalEntry {
  readonly seq: number;
  readonly atMs: number;
  readonly kind: string;
  readonly commandJson: string;
  readonly resultJson: string;
}

export interface UserRow {
  readonly id: string;
  /** Unique, compared byte for byte: normalise (trim, lower-case) before storing and looking up. */
  readonly email: string;
  readonly passwordHash: string;
  readonly role: UserRole;
  readonly displayName: string;
  readonly createdAtMs: number;
  readonly disabledAtMs: number | null;
}

export interface SessionRow {
  /** Hash of the cookie's secret; the secret itself is never stored. */
  readonly idHash: string;
  readonly userId: string;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
}

export interface ApiKeyRow {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly keyHash: string;
  readonly scopes: readonly string[];
  readonly createdAtMs: number;
  readonly lastUsedAtMs: number | null;
  readonly revokedAtMs: number | null;
}

export interface IdempotencyRow {
  readonly userId: string;
  readonly key: string;
  readonly requestHash: string;
  readonly statusCode: number;
  readonly responseJson: string;
  readonly createdAtMs: number;
}

export interface NodeRow {
  readonly id: string;
  readonly providerId: string;
  readonly acceleratorId: string;
  readonly regionId: string;
  readonly gpuCount: number;
  readonly kind: string;
  readonly status: string;
  /** cpu, ram, disk, net, PUE, attestation… */
  readonly specJson: string;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface OrderRow {
  readonly id: string;
  readonly userId: string;
  readonly side: OrderSide;
  /** Market keys `acceleratorId@regionId` the order can trade in. */
  readonly markets: readonly string[];
  /** The placing command. */
  readonly specJson: string;
  readonly status: OrderStatus;
  /** In the order's own unit: GPUs, or deci-TFLOPS for compute-amount bids. */
  readonly remaining: number;
  /** Ask price or bid limit: fen per GPU-hour, or per P-hour for compute-amount bids. */
  readonly priceFen: number;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface TradeRow {
  readonly id: string;
  readonly bidId: string;
  readonly askId: string;
  readonly buyerId: string;
  readonly providerId: string;
  readonly market: string;
  readonly gpus: number;
  readonly priceFenPerGpuHour: number;
  readonly startMs: number;
  readonly endMs: number;
  /** When it was matched (the command's time). */
  readonly atMs: number;
  /** Journal seq of the command that produced it. */
  readonly seq: number;
}

export interface LeaseRow {
  readonly id: string;
  readonly tradeId: string;
  readonly nodeId: string;
  readonly buyerId: string;
  readonly providerId: string;
  readonly market: string;
  readonly gpuIndices: readonly number[];
  readonly priceFenPerGpuHour: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly state: LeaseState;
  readonly endedAtMs: number | null;
  readonly endReason: string | null;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  /** The buyer's workload (agent protocol `Workload`) copied from the bid; absent = none. */
  readonly workloadJson?: string | null;
  /** How the buyer reaches it (agent protocol `Access`), once the agent reported it ready. */
  readonly accessJson?: string | null;
}

/** A one-time token a provider creates so an agent can enroll a node; only its hash is kept. */
export interface EnrollmentTokenRow {
  readonly id: string;
  readonly tokenHash: string;
  readonly providerId: string;
  readonly regionId: string;
  /** What the provider says it lists: a detection that disagrees is an attestation mismatch. */
  readonly acceleratorId: string | null;
  readonly gpuCount: number | null;
  readonly label: string;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly usedAtMs: number | null;
  /** The node it enrolled. */
  readonly nodeId: string | null;
}

/** A node's long-lived agent credential (hash of the node token). */
export interface NodeCredentialRow {
  readonly tokenHash: string;
  readonly nodeId: string;
  readonly createdAtMs: number;
  readonly revokedAtMs: number | null;
}

export type AttestationVerdict = 'verified' | 'unverified' | 'mismatch';

/** What an agent node's hardware showed when it enrolled. */
export interface NodeAttestationRow {
  readonly nodeId: string;
  readonly verdict: AttestationVerdict;
  /** Why it is not `verified` (empty when it is). */
  readonly reasons: readonly string[];
  /** The agent's HardwareReport. */
  readonly hardwareJson: string;
  /** Measured dense FP16 TFLOPS per GPU index, when the agent probed. */
  readonly measuredTflops: Readonly<Record<string, number>> | null;
  readonly agentVersion: string;
  readonly atMs: number;
}

/** One line of a workload's output. `seq` counts per lease from 1. */
export interface LeaseLogRow {
  readonly leaseId: string;
  readonly seq: number;
  readonly stream: 'stdout' | 'stderr' | 'system';
  readonly line: string;
  readonly atMs: number;
}

/** A committed ledger transfer (src/core/ledger `Transfer`, as history). */
export interface TransferRow {
  readonly id: string;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  /** Any signed 64-bit amount; stored as decimal text, exact. */
  readonly amountFen: bigint;
  readonly code: string;
  readonly flags: number;
  /** Null unless a post or void (the ledger's '' maps to null). */
  readonly pendingId: string | null;
  /** The ledger's opaque tag (e.g. a lease id); '' when none. */
  readonly userData: string;
  readonly atMs: number;
  /** The ledger's commit order. */
  readonly seq: number;
}

export interface SettingRow {
  readonly key: string;
  readonly value: string;
}

/**
 * Everything one command-loop batch writes, in one transaction: all or nothing.
 * Inserts fail on an existing key (that is a bug upstream, and fails the whole batch);
 * upserts insert or overwrite every column; within one batch the last row for a key wins.
 */
export interface CommitBatch {
  /** Insert. Seqs ascending and gap-free, the first = `lastJournalSeq() + 1`. */
  readonly journal?: readonly JournalEntry[];
  /** Upsert by id (a second id with the same email violates the unique email). */
  readonly users?: readonly UserRow[];
  /** Upsert by idHash. */
  readonly sessions?: readonly SessionRow[];
  /** Upsert by id (revoke, last used). */
  readonly apiKeys?: readonly ApiKeyRow[];
  /** Insert. */
  readonly idempotency?: readonly IdempotencyRow[];
  /** Upsert by id. */
  readonly nodes?: readonly NodeRow[];
  /** Upsert by id. */
  readonly orders?: readonly OrderRow[];
  /** Insert. */
  readonly trades?: readonly TradeRow[];
  /** Upsert by id. */
  readonly leases?: readonly LeaseRow[];
  /** Insert. */
  readonly transfers?: readonly TransferRow[];
  /** Upsert by key. */
  readonly settings?: readonly SettingRow[];
  /** Upsert by tokenHash (marking one used). */
  readonly enrollmentTokens?: readonly EnrollmentTokenRow[];
  /** Upsert by tokenHash (revoking one). */
  readonly nodeCredentials?: readonly NodeCredentialRow[];
  /** Upsert by nodeId. */
  readonly nodeAttestations?: readonly NodeAttestationRow[];
  /** Upsert by (leaseId, seq). */
  readonly leaseLogs?: readonly LeaseLogRow[];
  /** Run after the writes above, in the same transaction. */
  readonly deletes?: CommitDeletes;
}

export interface CommitDeletes {
  readonly sessionIdHashes?: readonly string[];
  /** Every session of these users (log out everywhere, user disabled). */
  readonly sessionsOfUserIds?: readonly string[];
  /** Sessions with expiresAtMs <= this. */
  readonly sessionsExpiredAtMs?: number;
  /** Idempotency records with createdAtMs < this. */
  readonly idempotencyCreatedBeforeMs?: number;
  /** Log lines of the lease with seq <= upToSeq (keeps each lease's log bounded). */
  readonly leaseLogsUpTo?: readonly { readonly leaseId: string; readonly upToSeq: number }[];
}

/** One page of a list. `nextCursor` is null on the last page. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

/** `limit`: 1…MAX_PAGE_LIMIT. `cursor`: a previous page's `nextCursor` from the same list. */
export interface PageRequest {
  readonly cursor?: string | null;
  readonly limit: number;
}

/** One OHLC candle; prices are fen per GPU-hour. Buckets without trades are omitted. */
export interface Candle {
  /** fromMs + k × intervalMs. */
  readonly startMs: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly tradeCount: number;
  /** GPUs traded (sum of trade GPU counts). */
  readonly volumeGpus: number;
  /** GPU-hours traded: Σ GPUs × lease length (a float for display; summed exactly first). */
  readonly volumeGpuHours: number;
}

export interface TradeVolume {
  readonly tradeCount: number;
  readonly volumeGpus: number;
  readonly volumeGpuHours: number;
  /** Σ price × GPUs × hours over the trades, exact, rounded down to the fen once at the end. */
  readonly notionalFen: bigint;
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /** Creates or upgrades the schema; safe to run at every start and from several processes. */
  migrate(): Promise<void>;
  /** Writes one batch in one transaction; throws (and writes nothing) on any failure. */
  commit(batch: CommitBatch): Promise<void>;
  /**
   * Takes the store's writer lock, held until `close` (or the process ends): one command loop
   * per store (CommandLoop.open takes it). Throws StoreLockedError while another process, or another store object in this one,
   * holds it. Taking it again on the same store object is a no-op. A throwaway in-memory SQLite
   * store has nothing to share and no lock.
   */
  lockWriter(): Promise<void>;

  /** Entries with seq > afterSeq, ascending; limit 1…MAX_JOURNAL_PAGE_LIMIT. */
  journalAfter(afterSeq: number, limit: number): Promise<readonly JournalEntry[]>;
  /** 0 when the journal is empty. */
  lastJournalSeq(): Promise<number>;

  userByEmail(email: string): Promise<UserRow | undefined>;
  userById(id: string): Promise<UserRow | undefined>;
  /** Oldest first. */
  listUsers(page: PageRequest): Promise<Page<UserRow>>;
  sessionByHash(idHash: string): Promise<SessionRow | undefined>;
  apiKeyByHash(keyHash: string): Promise<ApiKeyRow | undefined>;
  /** Oldest first, revoked ones included. */
  listApiKeys(query: { readonly userId: string } & PageRequest): Promise<Page<ApiKeyRow>>;
  idempotency(userId: string, key: string): Promise<IdempotencyRow | undefined>;

  getOrder(id: string): Promise<OrderRow | undefined>;
  /** Newest first (createdAtMs, then id, descending). */
  listOrders(
    query: { readonly userId: string; readonly side?: OrderSide; readonly status?: OrderStatus } & PageRequest,
  ): Promise<Page<OrderRow>>;
  /** Newest first (atMs, then id, descending). `userId` matches the buyer or the provider. */
  listTrades(query: { readonly market?: string; readonly userId?: string } & PageRequest): Promise<Page<TradeRow>>;
  getTrade(id: string): Promise<TradeRow | undefined>;
  getLease(id: string): Promise<LeaseRow | undefined>;
  /** Newest first (createdAtMs, then id, descending). */
  listLeases(
    query: { readonly userId: string; readonly role: 'buyer' | 'provider'; readonly state?: LeaseState } & PageRequest,
  ): Promise<Page<LeaseRow>>;
  /** Leases of the node not ended (pending, provisioning, active), oldest first; at most `limit` (1…MAX_PAGE_LIMIT). */
  liveLeasesOfNode(nodeId: string, limit: number): Promise<readonly LeaseRow[]>;
  getNode(id: string): Promise<NodeRow | undefined>;
  /** Oldest first (createdAtMs, then id). */
  listNodes(query: { readonly providerId?: string; readonly kind?: string } & PageRequest): Promise<Page<NodeRow>>;

  enrollmentTokenByHash(tokenHash: string): Promise<EnrollmentTokenRow | undefined>;
  /** The provider's tokens neither used nor expired at `atMs`, newest first, at most `limit`. */
  listOpenEnrollmentTokens(query: { readonly providerId: string; readonly atMs: number; readonly limit: number }): Promise<readonly EnrollmentTokenRow[]>;
  nodeCredentialByHash(tokenHash: string): Promise<NodeCredentialRow | undefined>;
  /** Every credential of the node, revoked ones included (at most a handful: one per enrollment). */
  nodeCredentialsOfNode(nodeId: string): Promise<readonly NodeCredentialRow[]>;
  /** Attestations of these nodes (at most MAX_PAGE_LIMIT ids); nodes without one are left out. */
  nodeAttestations(nodeIds: readonly string[]): Promise<readonly NodeAttestationRow[]>;
  /** The lease's log lines with seq > afterSeq, ascending, at most `limit`. */
  leaseLogs(query: { readonly leaseId: string; readonly afterSeq: number; readonly limit: number }): Promise<readonly LeaseLogRow[]>;
  /** The highest log seq of the lease, 0 when it has none. */
  lastLeaseLogSeq(leaseId: string): Promise<number>;
  /** Transfers debiting or crediting the account, ascending by (seq, id): statement order. */
  accountTransfers(query: { readonly accountId: string } & PageRequest): Promise<Page<TransferRow>>;

  /** Trades of the market with sinceMs <= atMs < untilMs (default: no upper bound). */
  tradeVolume(query: { readonly market: string; readonly sinceMs: number; readonly untilMs?: number }): Promise<TradeVolume>;
  /**
   * Candles over trades with fromMs <= atMs < toMs, bucketed from fromMs (so pass an aligned
   * fromMs: a UTC or Asia/Shanghai midnight for 1d). Open/close are the first/last trade by
   * (atMs, seq, id). At most MAX_CANDLES buckets.
   */
  candles(query: {
    readonly market: string;
    readonly intervalMs: number;
    readonly fromMs: number;
    readonly toMs: number;
  }): Promise<readonly Candle[]>;

  getSetting(key: string): Promise<string | undefined>;
  /** Ordered by key; at most MAX_SETTINGS. */
  listSettings(): Promise<readonly SettingRow[]>;

  /** Closes connections; the store is unusable afterwards. */
  close(): Promise<void>;
}
