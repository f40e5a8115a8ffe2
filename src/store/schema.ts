/**
 * Table shapes as Kysely sees them (snake_case, as stored). Both adapters hand back JS numbers
 * for bigint columns (the pg adapter parses int8; better-sqlite3 returns numbers), and every
 * write is checked to be a safe integer, so `number` is exact here. Money amounts that may
 * exceed 2^53 (transfers.amount_fen) are decimal text.
 */

export interface JournalTable {
  seq: number;
  at_ms: number;
  kind: string;
  command: string;
  result: string;
}

export interface UsersTable {
  id: string;
  email: string;
  password_hash: string;
  role: string;
  display_name: string;
  created_at_ms: number;
  disabled_at_ms: number | null;
}

export interface SessionsTable {
  id_hash: string;
  user_id: string;
  created_at_ms: number;
  expires_at_ms: number;
}

export interface ApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  key_hash: string;
  scopes: string;
  created_at_ms: number;
  last_used_at_ms: number | null;
  revoked_at_ms: number | null;
}

export interface IdempotencyKeysTable {
  user_id: string;
  key: string;
  request_hash: string;
  status_code: number;
  response: string;
  created_at_ms: number;
}

export interface NodesTable {
  id: string;
  provider_id: string;
  accelerator_id: string;
  region_id: string;
  gpu_count: number;
  kind: string;
  status: string;
  spec: string;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface OrdersTable {
  id: string;
  user_id: string;
  side: string;
  markets: string;
  spec: string;
  status: string;
  remaining: number;
  price_fen: number;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface TradesTable {
  id: string;
  bid_id: string;
  ask_id: string;
  buyer_id: string;
  provider_id: string;
  market: string;
  gpus: number;
  price_fen: number;
  start_ms: number;
  end_ms: number;
  at_ms: number;
  seq: number;
}

export interface LeasesTable {
  id: string;
  trade_id: string;
  node_id: string;
  buyer_id: string;
  provider_id: string;
  market: string;
  gpu_indices: string;
  price_fen: number;
  start_ms: number;
  end_ms: number;
  state: string;
  ended_at_ms: number | null;
  end_reason: string | null;
  created_at_ms: number;
  updated_at_ms: number;
  workload: string | null;
  access: string | null;
}

export interface TransfersTable {
  id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount_fen: string;
  code: string;
  flags: number;
  pending_id: string | null;
  user_data: string;
  at_ms: number;
  seq: number;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface EnrollmentTokensTable {
  token_hash: string;
  id: string;
  provider_id: string;
  region_id: string;
  accelerator_id: string | null;
  gpu_count: number | null;
  label: string;
  created_at_ms: number;
  expires_at_ms: number;
  used_at_ms: number | null;
  node_id: string | null;
}

export interface NodeCredentialsTable {
  token_hash: string;
  node_id: string;
  created_at_ms: number;
  revoked_at_ms: number | null;
}

export interface NodeAttestationsTable {
  node_id: string;
  verdict: string;
  reasons: string;
  hardware: string;
  measured_tflops: string | null;
  agent_version: string;
  at_ms: number;
}

export interface LeaseLogsTable {
  lease_id: string;
  seq: number;
  stream: string;
  line: string;
  at_ms: number;
}

export interface Database {
  journal: JournalTable;
  users: UsersTable;
  sessions: SessionsTable;
  api_keys: ApiKeysTable;
  idempotency_keys: IdempotencyKeysTable;
  nodes: NodesTable;
  orders: OrdersTable;
  trades: TradesTable;
  leases: LeasesTable;
  transfers: TransfersTable;
  settings: SettingsTable;
  enrollment_tokens: EnrollmentTokensTable;
  node_credentials: NodeCredentialsTable;
  node_attestations: NodeAttestationsTable;
  lease_logs: LeaseLogsTable;
}
