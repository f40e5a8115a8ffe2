/**
 * The exchange core: the market engine and the ledger driven together, as one pure and
 * deterministic state machine. `apply(command)` → result, events and the transfers it wrote.
 * No I/O and no clock: the command loop journals every command and replays the journal to
 * rebuild this object after a restart.
 *
 * Money rules (DESIGN.md "Ledger"): a bid holds its worst case before it reaches the engine
 * (voucher first where the scope allows, then cash); each trade posts the lease's full cost
 * into escrow and re-reserves what the rest of the bid may still need; a finished bid releases
 * what is left; leases are billed per second from escrow (ticks settle them, see TickCommand);
 * ending early refunds at once; a provider-caused end pays an SLA credit.
 */
import type { Accelerator, Region } from '../core/catalog/types.js';
import { deposit, openPlatformAccounts, openUserAccounts, withdraw } from '../core/ledger/chart.js';
import { Ledger } from '../core/ledger/ledger.js';
import { checkInvariants } from '../core/ledger/invariants.js';
import { formatFen } from '../core/ledger/money.js';
import { type LedgerApi, LedgerRecorder, type Transfer } from './ledger-recorder.js';
import {
  type BidHold,
  bidWorstCaseFen,
  chargeFen,
  computeBidWorstCaseFen,
  endLease as endLeaseBilling,
  expireVoucher,
  fillBid,
  fundProgramme,
  grantVoucher,
  holdForBid,
  interruptLease,
  type LeaseBilling,
  accrue,
  openLease,
  releaseHold,
  type VoucherGrant,
  type VoucherScope,
} from '../core/lease/index.js';
import { Engine } from '../core/market/engine.js';
import {
  type CatalogIndex,
  compatibleAcceleratorList,
  deciTflopsOf,
  indexCatalog,
  limitPerGpuHour,
  validateStatic,
  worstCaseComputeDeciTflops,
} from '../core/market/rules.js';
import type { AmendOrder, Command, EndLease, EngineEvent, PlaceBid } from '../core/market/types.js';
import { MAX_BID_DECI_TFLOPS, MAX_BID_GPUS, MS_PER_HOUR } from '../core/market/types.js';

export interface ExchangeConfig {
  /** Platform fee on every lease charge, in basis points. */
  readonly feeBps: number;
  /** SLA credit on provider-caused interruptions, as a multiple of the downtime's value (bps). */
  readonly slaCreditMultipleBps: number;
}

export const DEFAULT_CONFIG: ExchangeConfig = { feeBps: 500, slaCreditMultipleBps: 20_000 };

/**
 * `endLease` may say when the lease really stopped (`interruptedAtMs`), never later than `now`:
 * - a provider-side failure (e.g. the last heartbeat of a node found silent): the time from then
 *   to now is downtime, never billed and credited per SLA;
 * - a task's own exit (`job_exited`, the exit time its agent reported): billing stops there, or
 *   where it was already settled if that is later (settlements never run backwards).
 * Absent, or for other reasons, it is `now`.
 */
export type EndLeaseCommand = EndLease & { readonly interruptedAtMs?: number };

/**
 * Time passes: orders expire, leases whose term is over end, running leases are settled, expired
 * vouchers go back to their sponsors. A lease's charge is always its price × GPUs × the
 * milliseconds it ran (floored on the cumulative total), so how often it is settled changes when
 * money moves, not how much, with one exception: an end that says the lease stopped earlier (a
 * task's reported exit, a node found silent) cannot take back time already settled past that
 * point; a task keeps it billed, a lost node's buyer gets it back as SLA credit from the
 * provider's earnings, fee included. The less often leases settle, the less of that time there
 * is (tested both ways). `settleEveryMs` is that cadence: a running lease is settled only
 * once at least that long has passed since its last settlement (absent or 0: at every tick, as
 * every tick journaled before the field existed was, so those journals replay unchanged). The
 * server's ticks carry it (`suanli serve --settle-every`), so replay settles exactly as the live
 * run did. Settling every second made one ledger transfer per running lease per second, of a fen
 * or two, each a row in the store, a line in statements, and about 0.4 KB of the ledger's memory
 * for as long as the process runs.
 */
export interface TickCommand {
  readonly type: 'tick';
  readonly now: number;
  readonly settleEveryMs?: number;
}

/** The longest settlement cadence a tick may ask for: a day. */
export const MAX_SETTLE_EVERY_MS = 86_400_000;

/** Commands beyond the engine's own. Money travels as decimal strings so commands are JSON. */
export type CoreCommand =
  | Exclude<Command, EndLease>
  | EndLeaseCommand
  | { readonly type: 'openAccount'; readonly now: number; readonly userId: string }
  | { readonly type: 'deposit'; readonly now: number; readonly userId: string; readonly amountFen: string; readonly transferId: string }
  | {
      readonly type: 'withdraw';
      readonly now: number;
      readonly userId: string;
      readonly amountFen: string;
      readonly transferId: string;
      readonly from: 'cash' | 'earnings';
    }
  | TickCommand
  | { readonly type: 'setFee'; readonly now: number; readonly feeBps: number }
  | { readonly type: 'fundProgramme'; readonly now: number; readonly programmeId: string; readonly amountFen: string; readonly transferId: string }
  | {
      readonly type: 'grantVoucher';
      readonly now: number;
      readonly grantId: string;
      readonly programmeId: string;
      readonly userId: string;
      readonly amountFen: string;
      readonly expiresAtMs: number;
      readonly scope: VoucherScope;
    }
  /**
   * A host agent reports a lease's workload running, with how the buyer reaches it (the agent
   * protocol's `Access`, opaque here). Journaled so the lease's `active` state and its access
   * survive a restart.
   */
  | { readonly type: 'leaseReady'; readonly now: number; readonly leaseId: string; readonly access: unknown }
  /** A host agent could not provision the lease: it ends as a provider-caused interruption. */
  | { readonly type: 'leaseFailed'; readonly now: number; readonly leaseId: string; readonly error: string };

export type CoreEvent =
  | EngineEvent
  | { readonly type: 'account_opened'; readonly userId: string }
  | { readonly type: 'bid_held'; readonly orderId: string; readonly heldFen: string }
  | { readonly type: 'bid_released'; readonly orderId: string }
  | {
      readonly type: 'lease_billed';
      readonly leaseId: string;
      readonly state: 'active' | 'ended';
      readonly billedUntilMs: number;
      readonly chargedFen: string;
      readonly endReason: string | null;
      readonly refundFen: string;
      readonly slaCreditFen: string;
    }
  | { readonly type: 'lease_unfunded'; readonly leaseId: string; readonly code: string }
  | { readonly type: 'fee_changed'; readonly feeBps: number }
  | { readonly type: 'lease_ready'; readonly leaseId: string; readonly buyerId: string; readonly access: unknown }
  | { readonly type: 'lease_failed'; readonly leaseId: string; readonly error: string }
  | { readonly type: 'voucher_granted'; readonly grantId: string; readonly userId: string; readonly amountFen: string; readonly expiresAtMs: number }
  | { readonly type: 'voucher_expired'; readonly grantId: string; readonly userId: string; readonly returnedFen: string };

/** Rejections of the exchange layer (the engine's own codes pass through unchanged). */
export const CoreRejectCodes = [
  'ACCOUNT_EXISTS',
  'ACCOUNT_NOT_FOUND',
  'INSUFFICIENT_FUNDS',
  'INVALID_AMOUNT',
  'DUPLICATE_TRANSFER',
  'INVALID_FEE',
  'VOUCHER_REJECTED',
  'PROGRAMME_REJECTED',
  'LEASE_NOT_STARTED',
  'INVALID_TICK',
] as const;
export type CoreRejectCode = (typeof CoreRejectCodes)[number];

export type CoreResult =
  | { readonly ok: true; readonly events: readonly CoreEvent[]; readonly transfers: readonly Transfer[] }
  | {
      readonly ok: false;
      readonly code: string;
      readonly message: string;
      readonly events: readonly CoreEvent[];
      readonly transfers: readonly Transfer[];
    };

interface BidState {
  readonly buyerId: string;
  /** Accelerators and regions the bid accepts: the scope a voucher must cover. */
  readonly acceleratorIds: readonly string[];
  readonly regionIds: readonly string[] | undefined;
  readonly isCompute: boolean;
  /** Compute bids only (empty for GPU-count bids): the size of each accelerator in `acceleratorIds`. */
  readonly accDeciTflops: readonly number[];
  readonly gpusPerNode: number | undefined;
  readonly durationMs: number;
  limitFen: number;
  /** GPUs, or deci-TFLOPS for compute bids, still wanted. */
  remaining: number;
  hold: BidHold;
  generation: number;
}

/** A new bid's hold until the ledger has made the real one (see placeBid); never stored with a bid. */
const NOT_HELD_YET: BidHold = { bidId: '', buyerId: '', state: 'closed', heldFen: 0n, sources: [], expiresAtMs: undefined, fills: 0 };

const NO_GRANTS: readonly VoucherGrant[] = [];
const NO_DECI_TFLOPS: readonly number[] = [];

const MAX_FEN_INPUT = 10n ** 15n; // 10 trillion CNY: bounds any single deposit or grant

class Rejected {
  constructor(
    readonly code: string,
    readonly message: string,
  ) {}
}

export class ExchangeCore {
  readonly engine: Engine;
  private readonly recorder: LedgerRecorder;
  private readonly catalogIndex: CatalogIndex;
  private readonly users = new Set<string>();
  /** Ids of orders the engine holds active (both sides), followed from its events. */
  private readonly activeOrders = new Set<string>();
  private readonly bids = new Map<string, BidState>();
  /** Leases still being billed, by id: each one's billing state, replaced as it is settled. */
  private readonly leases = new Map<string, LeaseBilling>();
  private readonly vouchers = new Map<string, VoucherGrant[]>();
  /** Grants not yet swept back to their sponsor, in grant order, and the earliest expiry among them. */
  private unexpiredGrants: VoucherGrant[] = [];
  private nextVoucherExpiryMs = Number.POSITIVE_INFINITY;
  private feeBps: number;
  private readonly slaCreditMultipleBps: number;
  private events: CoreEvent[] = [];
  private started = false;
  /** Set while an `endLease` that names its interruption time runs (see EndLeaseCommand). */
  private interruptedAtMs: number | undefined;

  constructor(
    catalog: { readonly accelerators: readonly Accelerator[]; readonly regions: readonly Region[] },
    config: ExchangeConfig = DEFAULT_CONFIG,
  ) {
    this.engine = new Engine(catalog);
    this.catalogIndex = indexCatalog(catalog);
    this.recorder = new LedgerRecorder(new Ledger());
    this.feeBps = config.feeBps;
    this.slaCreditMultipleBps = config.slaCreditMultipleBps;
  }

  get ledger(): LedgerApi {
    return this.recorder;
  }

  get platformFeeBps(): number {
    return this.feeBps;
  }

  hasAccount(userId: string): boolean {
    return this.users.has(userId);
  }

  vouchersOf(userId: string): readonly VoucherGrant[] {
    return this.vouchers.get(userId) ?? [];
  }

  /** The billing state of a lease still being billed. */
  leaseBilling(leaseId: string): LeaseBilling | undefined {
    return this.leases.get(leaseId);
  }

  /** Held amount of an active bid, in fen. */
  bidHoldFen(orderId: string): bigint | undefined {
    return this.bids.get(orderId)?.hold.heldFen;
  }

  apply(cmd: CoreCommand): CoreResult {
    this.events = [];
    this.recorder.begin();
    if (!this.started) {
      openPlatformAccounts(this.recorder, cmd.now);
      this.started = true;
    }
    let rejection: Rejected | null = null;
    try {
      this.execute(cmd);
    } catch (e) {
      if (!(e instanceof Rejected)) throw e;
      rejection = e;
    }
    const transfers = this.recorder.end();
    const events = this.events;
    if (rejection) return { ok: false, code: rejection.code, message: rejection.message, events, transfers };
    return { ok: true, events, transfers };
  }

  /** Throws if the ledger or the books are inconsistent (start-up check, tests). */
  check(): void {
    const problems = checkInvariants(this.recorder.inner);
    if (problems.length > 0) throw new Error(`ledger invariants: ${problems.join('; ')}`);
    this.engine.validateInternalState();
  }

  // ---- dispatch -------------------------------------------------------------------------

  private execute(cmd: CoreCommand): void {
    switch (cmd.type) {
      case 'openAccount':
        return this.openAccount(cmd.userId, cmd.now);
      case 'deposit':
        return this.deposit(cmd.userId, cmd.amountFen, cmd.transferId, cmd.now);
      case 'withdraw':
        return this.withdraw(cmd);
      case 'tick': {
        const every = cmd.settleEveryMs ?? 0;
        if (!Number.isSafeInteger(every) || every < 0 || every > MAX_SETTLE_EVERY_MS) {
          throw new Rejected('INVALID_TICK', `settleEveryMs must be a whole number of milliseconds from 0 to ${MAX_SETTLE_EVERY_MS}`);
        }
        this.engineApply({ type: 'expire', now: cmd.now });
        this.settle(cmd.now, every);
        return this.expireVouchers(cmd.now);
      }
      case 'setFee':
        if (!Number.isSafeInteger(cmd.feeBps) || cmd.feeBps < 0 || cmd.feeBps > 5_000) throw new Rejected('INVALID_FEE', 'fee must be 0..5000 bps');
        this.feeBps = cmd.feeBps;
        this.events.push({ type: 'fee_changed', feeBps: cmd.feeBps });
        return;
      case 'fundProgramme': {
        const amountFen = parseFen(cmd.amountFen);
        const r = fundProgramme(this.recorder, { programmeId: cmd.programmeId, amountFen, transferId: cmd.transferId }, cmd.now);
        if (!r.ok) throw new Rejected('PROGRAMME_REJECTED', `funding refused: ${r.code}${r.transferResult ? ` (${r.transferResult})` : ''}`);
        return;
      }
      case 'grantVoucher':
        return this.grant(cmd);
      case 'placeBid':
        return this.placeBid(cmd);
      case 'amend':
        return this.amend(cmd);
      case 'endLease':
        return this.endLease(cmd);
      case 'leaseReady':
        return this.leaseReady(cmd.leaseId, cmd.access, cmd.now);
      case 'leaseFailed': {
        const l = this.leases.get(cmd.leaseId);
        if (!l) throw new Rejected('LEASE_NOT_FOUND', `no running lease ${cmd.leaseId}`);
        this.engineApply({ type: 'endLease', now: cmd.now, leaseId: cmd.leaseId, reason: 'provider' });
        this.events.push({ type: 'lease_failed', leaseId: cmd.leaseId, error: String(cmd.error).slice(0, 1_000) });
        return;
      }
      case 'registerNode':
      case 'placeAsk':
        // Providers are paid into their earnings account: they need one before they sell.
        this.requireAccount(cmd.providerId);
        return this.engineApply(cmd);
      default:
        this.engineApply(cmd);
    }
  }

  // ---- accounts -------------------------------------------------------------------------

  private openAccount(userId: string, now: number): void {
    if (this.users.has(userId)) throw new Rejected('ACCOUNT_EXISTS', `account ${userId} exists`);
    const r = openUserAccounts(this.recorder, userId, now);
    if (r !== 'ok') throw new Rejected('INVALID_ID', `cannot open accounts for ${userId}: ${r}`);
    this.users.add(userId);
    this.events.push({ type: 'account_opened', userId });
  }

  private requireAccount(userId: string): void {
    if (!this.users.has(userId)) throw new Rejected('ACCOUNT_NOT_FOUND', `no account ${userId}`);
  }

  private deposit(userId: string, amount: string, transferId: string, now: number): void {
    this.requireAccount(userId);
    const amountFen = parseFen(amount);
    const r = deposit(this.recorder, { transferId, userId, amountFen }, now);
    if (r === 'exists') return;
    if (r !== 'ok') throw new Rejected(r === 'exists_with_different_fields' ? 'DUPLICATE_TRANSFER' : 'INVALID_AMOUNT', `deposit refused: ${r}`);
  }

  private withdraw(cmd: Extract<CoreCommand, { type: 'withdraw' }>): void {
    this.requireAccount(cmd.userId);
    const amountFen = parseFen(cmd.amountFen);
    const r = withdraw(this.recorder, { transferId: cmd.transferId, userId: cmd.userId, amountFen, from: cmd.from }, cmd.now);
    if (r === 'exists' || r === 'ok') return;
    if (r === 'exceeds_credits') throw new Rejected('INSUFFICIENT_FUNDS', `not enough ${cmd.from} to withdraw`);
    throw new Rejected(r === 'exists_with_different_fields' ? 'DUPLICATE_TRANSFER' : 'INVALID_AMOUNT', `withdrawal refused: ${r}`);
  }

  private grant(cmd: Extract<CoreCommand, { type: 'grantVoucher' }>): void {
    this.requireAccount(cmd.userId);
    const r = grantVoucher(
      this.recorder,
      { grantId: cmd.grantId, programmeId: cmd.programmeId, userId: cmd.userId, amountFen: parseFen(cmd.amountFen), expiresAtMs: cmd.expiresAtMs, scope: cmd.scope },
      cmd.now,
    );
    if (!r.ok) throw new Rejected('VOUCHER_REJECTED', `grant refused: ${r.code}${r.transferResult ? ` (${r.transferResult})` : ''}`);
    const list = this.vouchers.get(cmd.userId) ?? [];
    if (!list.some((g) => g.grantId === r.value.grantId)) {
      list.push(r.value);
      this.unexpiredGrants.push(r.value);
      this.nextVoucherExpiryMs = Math.min(this.nextVoucherExpiryMs, r.value.expiresAtMs);
    }
    this.vouchers.set(cmd.userId, list);
    this.events.push({ type: 'voucher_granted', grantId: cmd.grantId, userId: cmd.userId, amountFen: cmd.amountFen, expiresAtMs: cmd.expiresAtMs });
  }

  /**
   * Ticks: an expired voucher's unreserved balance goes back to its sponsor once (money held by
   * bids then goes home when those holds are released, see releaseHold).
   */
  private expireVouchers(now: number): void {
    if (now < this.nextVoucherExpiryMs) return;
    const keep: VoucherGrant[] = [];
    for (const g of this.unexpiredGrants) {
      if (g.expiresAtMs > now) {
        keep.push(g);
        continue;
      }
      const r = expireVoucher(this.recorder, g, now);
      if (!r.ok) throw new Error(`expiring voucher ${g.grantId} failed: ${r.code} ${r.transferResult ?? ''}`);
      this.events.push({ type: 'voucher_expired', grantId: g.grantId, userId: g.userId, returnedFen: r.value.toString() });
    }
    this.unexpiredGrants = keep;
    this.nextVoucherExpiryMs = keep.reduce((m, g) => Math.min(m, g.expiresAtMs), Number.POSITIVE_INFINITY);
  }

  // ---- bids -----------------------------------------------------------------------------

  private worstCaseFen(b: Pick<BidState, 'isCompute' | 'limitFen' | 'remaining' | 'accDeciTflops' | 'gpusPerNode' | 'durationMs'>): bigint {
    if (!b.isCompute) return bidWorstCaseFen(b.limitFen, b.remaining, b.durationMs);
    const worst = worstCaseComputeDeciTflops(b.remaining, b.accDeciTflops, b.gpusPerNode);
    return computeBidWorstCaseFen(b.limitFen, worst, b.durationMs);
  }

  private placeBid(cmd: PlaceBid): void {
    this.requireAccount(cmd.buyerId);
    // Judge the fields as the engine would first, so a bid it refuses never touches money.
    const bad = validateStatic(cmd, this.catalogIndex);
    if (bad) throw new Rejected(bad.code, bad.message);
    if (this.activeOrders.has(cmd.orderId)) throw new Rejected('DUPLICATE_ID', `order ${cmd.orderId} is active`);
    // The catalog's shared list (never mutated here): no copy per bid.
    const accs = compatibleAcceleratorList(cmd, this.catalogIndex);
    const isCompute = cmd.quantity.kind === 'compute';
    const dts = isCompute ? accs.map((id) => deciTflopsOf(this.catalogIndex.accelerators.get(id)!)) : NO_DECI_TFLOPS;
    // Built once, with every field it will have (V8 builds a copy gaining a property, `{ ...s, hold }`,
    // about 8× slower): its hold is filled in below, before the bid is stored.
    const state: BidState = {
      buyerId: cmd.buyerId,
      acceleratorIds: accs,
      regionIds: cmd.regionIds,
      isCompute,
      accDeciTflops: dts,
      gpusPerNode: cmd.gpusPerNode,
      durationMs: cmd.hours * MS_PER_HOUR,
      limitFen: cmd.limitFen,
      remaining: cmd.quantity.kind === 'compute' ? cmd.quantity.deciTflops : cmd.quantity.gpus,
      hold: NOT_HELD_YET,
      generation: 1,
    };
    const hold = this.hold(cmd.orderId, state, cmd.now);
    state.hold = hold;
    this.bids.set(cmd.orderId, state);
    this.events.push({ type: 'bid_held', orderId: cmd.orderId, heldFen: hold.heldFen.toString() });
    try {
      this.engineApply(cmd);
    } catch (e) {
      // Not expected (the fields were checked above), but never leave money held for a bid
      // the engine does not know.
      if (e instanceof Rejected && this.bids.get(cmd.orderId)?.hold === hold) this.finishBid(cmd.orderId, cmd.now);
      throw e;
    }
  }

  private hold(orderId: string, state: Omit<BidState, 'hold'>, now: number): BidHold {
    const amountFen = this.worstCaseFen(state);
    const maxPrice = state.isCompute ? Math.max(...state.accDeciTflops.map((dt) => limitPerGpuHour(true, state.limitFen, dt))) : state.limitFen;
    const holdKey = state.generation === 1 ? orderId : `${orderId}.g${state.generation}`;
    const r = holdForBid(
      this.recorder,
      {
        bidId: holdKey,
        buyerId: state.buyerId,
        amountFen,
        scope: { acceleratorIds: state.acceleratorIds, regionIds: state.regionIds, maxPriceFenPerGpuHour: maxPrice },
        vouchers: this.liveVouchers(state.buyerId, now),
      },
      now,
    );
    if (!r.ok) {
      if (r.transferResult === 'exceeds_credits') throw new Rejected('INSUFFICIENT_FUNDS', `the bid's worst case is ¥${formatFen(amountFen)} and the balance is short`);
      throw new Rejected('INVALID_AMOUNT', `hold refused: ${r.code}${r.transferResult ? ` (${r.transferResult})` : ''}`);
    }
    return r.value;
  }

  /** The user's grants not yet expired at `now` (no copy made when the user has none). */
  private liveVouchers(userId: string, now: number): readonly VoucherGrant[] {
    const list = this.vouchers.get(userId);
    return list === undefined || list.length === 0 ? NO_GRANTS : list.filter((g) => g.expiresAtMs > now);
  }

  private amend(cmd: AmendOrder): void {
    const bid = this.bids.get(cmd.orderId);
    if (!bid || bid.buyerId !== cmd.ownerId || (cmd.priceFen === undefined && cmd.remaining === undefined)) {
      this.engineApply(cmd); // asks, expiry-only amends, and unknown orders: the engine decides
      return;
    }
    const bad = validateStatic(cmd, this.catalogIndex);
    if (bad) throw new Rejected(bad.code, bad.message);
    // The engine's own quantity checks, judged here first: a refusal after the hold below has
    // grown would leave money moved (and this bid's state changed) by a rejected command.
    if (cmd.remaining !== undefined) {
      if (!bid.isCompute && cmd.remaining > MAX_BID_GPUS) throw new Rejected('INVALID_QUANTITY', `gpus must be at most ${MAX_BID_GPUS}`);
      if (bid.isCompute && cmd.remaining > MAX_BID_DECI_TFLOPS) throw new Rejected('INVALID_QUANTITY', 'a compute amount is at most 1,000,000 P');
      if (!bid.isCompute && bid.gpusPerNode !== undefined && cmd.remaining % bid.gpusPerNode !== 0) {
        throw new Rejected('INVALID_GPUS_PER_NODE', 'remaining must be a multiple of gpusPerNode');
      }
    }
    const next = { ...bid, limitFen: cmd.priceFen ?? bid.limitFen, remaining: cmd.remaining ?? bid.remaining };
    if (this.worstCaseFen(next) > bid.hold.heldFen) {
      // Hold the new worst case in full before letting the old hold go: the bid is never unfunded.
      const generation = bid.generation + 1;
      const hold = this.hold(cmd.orderId, { ...next, generation }, cmd.now);
      this.release(bid.hold, cmd.now);
      Object.assign(bid, { generation, hold });
      this.events.push({ type: 'bid_held', orderId: cmd.orderId, heldFen: hold.heldFen.toString() });
    }
    bid.limitFen = next.limitFen;
    bid.remaining = next.remaining;
    this.engineApply(cmd);
  }

  private release(hold: BidHold, now: number): void {
    const r = releaseHold(this.recorder, hold, now);
    if (!r.ok) throw new Error(`releasing hold of ${hold.bidId} failed: ${r.code} ${r.transferResult ?? ''}`);
  }

  // ---- leases ---------------------------------------------------------------------------

  private endLease(cmd: EndLeaseCommand): void {
    const at = cmd.interruptedAtMs;
    this.interruptedAtMs = at !== undefined && Number.isSafeInteger(at) && at <= cmd.now ? at : undefined;
    try {
      this.engineApply(cmd);
    } finally {
      this.interruptedAtMs = undefined;
    }
  }

  private leaseReady(leaseId: string, access: unknown, now: number): void {
    const l = this.leases.get(leaseId);
    if (!l) throw new Rejected('LEASE_NOT_FOUND', `no running lease ${leaseId}`);
    if (l.startMs > now) throw new Rejected('LEASE_NOT_STARTED', `lease ${leaseId} starts later`);
    this.events.push({ type: 'lease_ready', leaseId, buyerId: l.buyerId, access: access ?? null });
  }

  /**
   * Ticks: close the leases whose term is over, and bill each running lease up to now once
   * `every` ms or more have passed since it was last billed (see TickCommand).
   */
  private settle(now: number, every: number): void {
    for (const [leaseId, b] of this.leases) {
      if (b.endMs <= now) this.closeLease(leaseId, b, now, 'completed');
      else if (b.startMs < now && now - b.billedUntilMs >= every) {
        const r = accrue(this.recorder, b, now);
        if (!r.ok) throw new Error(`accrual of ${leaseId} failed: ${r.code} ${r.transferResult ?? ''}`);
        // An existing key: the map's order, and so this loop, is unchanged.
        this.leases.set(leaseId, r.value);
      }
    }
  }

  /** Where billing stops for a lease that ends now: a task at its reported exit (see EndLeaseCommand). */
  private stoppedAt(l: LeaseBilling, now: number, reason: string): number {
    const at = this.interruptedAtMs;
    return reason === 'job_exited' && at !== undefined ? Math.max(at, l.billedUntilMs, l.startMs) : now;
  }

  private closeLease(leaseId: string, l: LeaseBilling, now: number, reason: 'completed' | 'buyer_stopped' | 'job_exited' | 'provider'): void {
    const r =
      reason === 'provider'
        ? interruptLease(this.recorder, l, { interruptedAtMs: this.interruptedAtMs ?? now, slaCreditMultipleBps: this.slaCreditMultipleBps }, now)
        : endLeaseBilling(this.recorder, l, Math.min(this.stoppedAt(l, now, reason), l.endMs), reason);
    if (!r.ok) throw new Error(`closing ${leaseId} failed: ${r.code} ${r.transferResult ?? ''}`);
    this.leases.delete(leaseId);
    const b = r.value;
    this.events.push({
      type: 'lease_billed',
      leaseId,
      state: 'ended',
      billedUntilMs: b.billedUntilMs,
      chargedFen: (b.settled.cashChargeFen + b.settled.voucherChargeFen).toString(),
      endReason: b.endReason ?? null,
      refundFen: (b.refund.cashFen + b.refund.voucherFen).toString(),
      slaCreditFen: b.slaCreditFen.toString(),
    });
  }

  // ---- engine events → money ---------------------------------------------------------

  private engineApply(cmd: Command): void {
    const r = this.engine.apply(cmd);
    this.onEngineEvents(r.events, cmd.now);
    if (!r.ok) throw new Rejected(r.code, r.message);
  }

  private onEngineEvents(events: readonly EngineEvent[], now: number): void {
    let trade: Extract<EngineEvent, { type: 'trade' }> | null = null;
    for (const e of events) {
      this.events.push(e);
      switch (e.type) {
        case 'order_accepted':
          this.activeOrders.add(e.orderId);
          break;
        case 'trade':
          trade = e;
          break;
        case 'lease_created':
          this.onLease(trade!, e, now);
          break;
        case 'order_filled':
        case 'order_cancelled':
        case 'order_expired':
          this.activeOrders.delete(e.orderId);
          this.finishBid(e.orderId, now);
          break;
        case 'lease_ended':
          this.onLeaseEnded(e.leaseId, e.reason, now);
          break;
        default:
          break;
      }
    }
  }

  private onLease(trade: Extract<EngineEvent, { type: 'trade' }>, lease: Extract<EngineEvent, { type: 'lease_created' }>, now: number): void {
    const bid = this.bids.get(trade.bidId);
    if (!bid) throw new Error(`trade ${trade.tradeId} for a bid without a hold: ${trade.bidId}`);
    const durationMs = trade.endMs - trade.startMs;
    const dt = bid.isCompute ? deciTflopsOf(this.catalogIndex.accelerators.get(trade.market.split('@')[0]!)!) : 1;
    bid.remaining = Math.max(0, bid.remaining - trade.gpus * dt);
    const costFen = chargeFen(trade.priceFenPerGpuHour, trade.gpus, durationMs);
    const fill = fillBid(this.recorder, bid.hold, { leaseId: lease.leaseId, costFen, remainingFen: this.worstCaseFen(bid) }, now);
    if (!fill.ok) {
      // Only an expired voucher with no cash behind it can get here: undo the lease at once.
      this.events.push({ type: 'lease_unfunded', leaseId: lease.leaseId, code: fill.transferResult ?? fill.code });
      const undo = this.engine.apply({ type: 'endLease', now, leaseId: lease.leaseId, reason: 'admin' });
      for (const e of undo.events) if (e.type !== 'lease_ended') this.events.push(e);
      return;
    }
    bid.hold = fill.value.hold;
    const opened = openLease(
      {
        leaseId: lease.leaseId,
        buyerId: trade.buyerId,
        providerId: trade.providerId,
        priceFenPerGpuHour: trade.priceFenPerGpuHour,
        gpuCount: trade.gpus,
        startMs: trade.startMs,
        durationMs,
        feeBps: this.feeBps,
      },
      fill.value.funding,
    );
    if (!opened.ok) throw new Error(`opening billing for ${lease.leaseId} failed: ${opened.code}`);
    this.leases.set(lease.leaseId, opened.value);
  }

  private finishBid(orderId: string, now: number): void {
    const bid = this.bids.get(orderId);
    if (!bid) return; // an ask
    this.bids.delete(orderId);
    if (bid.hold.state === 'held') this.release(bid.hold, now);
    this.events.push({ type: 'bid_released', orderId });
  }

  private onLeaseEnded(leaseId: string, reason: EndLease['reason'], now: number): void {
    const l = this.leases.get(leaseId);
    if (!l) return; // undone before billing started
    const why = reason === 'buyer' || reason === 'admin' ? 'buyer_stopped' : reason === 'job_exited' ? 'job_exited' : 'provider';
    this.closeLease(leaseId, l, now, why);
  }
}

/** Parses a decimal string of fen (commands carry money as strings so they stay JSON). */
export function parseFen(s: string): bigint {
  if (typeof s !== 'string' || !/^[0-9]{1,19}$/.test(s)) throw new Rejected('INVALID_AMOUNT', 'amounts are positive whole fen, as a decimal string');
  const v = BigInt(s);
  if (v <= 0n || v > MAX_FEN_INPUT) throw new Rejected('INVALID_AMOUNT', 'amount out of range');
  return v;
}
