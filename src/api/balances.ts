/**
 * Money: balances, per-account statements with a running balance, the monthly statement and
 * voucher grants. Read from the ledger in memory (it holds the full history); amounts in fen as
 * decimal strings. Other users' account ids are masked in counterparties.
 */
import { z } from '@hono/zod-openapi';
import { accountIds } from '../core/ledger/chart.js';
import { accountStatement, STATEMENT_MAX_LINES } from '../core/ledger/statement.js';
import type { Account } from '../core/ledger/types.js';
import { monthlyStatement } from '../core/lease/statement.js';
import { defineRoute, identityOf, newRouter } from './access.js';
import { ApiError } from './errors.js';
import { FenSchema, formatFen, iso, IsoTimeSchema, msOf } from './schemas.js';

const ACCOUNTS = { cash: accountIds.cash, escrow: accountIds.escrow, earnings: accountIds.earnings, voucher_escrow: accountIds.voucherEscrow } as const;

const BalancesSchema = z
  .object({
    cashFen: FenSchema,
    availableFen: FenSchema.openapi({ description: 'cash not held for bids' }),
    heldFen: FenSchema.openapi({ description: 'held for open bids (cash and vouchers)' }),
    escrowFen: FenSchema,
    voucherFen: FenSchema,
    voucherEscrowFen: FenSchema,
    earningsFen: FenSchema,
    display: z.record(z.string(), z.string()),
  })
  .openapi('Balances');
const LineSchema = z.object({
  seq: z.int(), transferId: z.string(), at: z.string(), code: z.string(), counterparty: z.string(), debitFen: FenSchema, creditFen: FenSchema, balanceFen: FenSchema,
});
const StatementSchema = z
  .object({ account: z.string(), accountId: z.string(), openingBalanceFen: FenSchema, closingBalanceFen: FenSchema, items: z.array(LineSchema), nextCursor: z.string().nullable() })
  .openapi('Statement');
const InvoiceLineSchema = z.object({ code: z.string(), funding: z.enum(['cash', 'voucher', 'earnings']), inFen: FenSchema, outFen: FenSchema, count: z.int() });
const MonthlySchema = z
  .object({
    month: z.string(), from: z.string(), to: z.string(), lines: z.array(InvoiceLineSchema),
    compute: z.object({ voucherFen: FenSchema, cashFen: FenSchema, totalFen: FenSchema }),
    earnings: z.object({ grossFen: FenSchema, slaPaidFen: FenSchema, withdrawnFen: FenSchema }),
  })
  .openapi('MonthlyStatement');
const VoucherSchema = z
  .object({
    grantId: z.string(), programmeId: z.string(), amountFen: FenSchema, balanceFen: FenSchema, expiresAt: z.string(), expired: z.boolean(),
    scope: z.object({ acceleratorIds: z.array(z.string()).optional(), regionIds: z.array(z.string()).optional(), maxPriceFenPerGpuHour: z.int().optional() }),
  })
  .openapi('Voucher');
const out = <T extends z.ZodType>(schema: T, description: string) => ({ 200: { description, content: { 'application/json': { schema } } } });
const READ = { who: 'user', scopes: ['read'] } as const;

const balances = defineRoute(READ, { method: 'get', path: '/balances', tags: ['money'], summary: 'Your balances', responses: out(BalancesSchema, 'balances') });
const statement = defineRoute(READ, {
  method: 'get', path: '/statement', tags: ['money'], summary: 'Posted transfers of one of your accounts with the running balance',
  request: {
    query: z.object({
      account: z.enum(['cash', 'escrow', 'earnings', 'voucher_escrow']).default('cash'),
      from: IsoTimeSchema.optional(),
      to: IsoTimeSchema.optional(),
      cursor: z.string().regex(/^[0-9]{1,15}$/, 'a cursor from a previous page').optional(),
      limit: z.coerce.number().int().min(1).max(STATEMENT_MAX_LINES).optional().openapi({ type: 'integer' }),
    }),
  },
  responses: out(StatementSchema, 'statement'),
});
const monthly = defineRoute(READ, {
  method: 'get', path: '/statement/monthly', tags: ['money'], summary: 'A month’s totals by transfer code, voucher and cash apart',
  request: { query: z.object({ month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'YYYY-MM'), utcOffsetMinutes: z.coerce.number().int().min(-720).max(840).optional().openapi({ type: 'integer', example: 480 }) }) },
  responses: out(MonthlySchema, 'monthly statement'),
});
const vouchers = defineRoute(READ, { method: 'get', path: '/vouchers', tags: ['money'], summary: 'Your voucher grants (算力券)', responses: out(z.object({ items: z.array(VoucherSchema) }), 'grants') });

const balanceOf = (a: Account | undefined): bigint => (a ? a.creditsPostedFen - a.debitsPostedFen : 0n);

/** `user:<other>:earnings` → `user:*:earnings`: statements never name other users. */
function maskAccount(accountId: string, userId: string): string {
  const m = /^user:([^:]+):(.*)$/.exec(accountId);
  return m && m[1] !== userId ? `user:*:${m[2]}` : accountId;
}

export const balanceRoutes = newRouter()
  .openapi(balances, (c) => {
    const userId = identityOf(c).user.id;
    const ledger = c.get('runtime').ctx.core.ledger;
    const cash = ledger.getAccount(accountIds.cash(userId));
    const vouchers = ledger.getAccountsByOwner(userId).filter((a) => a.kind === 'user_voucher');
    const held = (cash?.debitsPendingFen ?? 0n) + vouchers.reduce((s, a) => s + a.debitsPendingFen, 0n);
    const amounts = {
      cashFen: balanceOf(cash),
      availableFen: balanceOf(cash) - (cash?.debitsPendingFen ?? 0n),
      heldFen: held,
      escrowFen: balanceOf(ledger.getAccount(accountIds.escrow(userId))),
      voucherFen: vouchers.reduce((s, a) => s + balanceOf(a), 0n),
      voucherEscrowFen: balanceOf(ledger.getAccount(accountIds.voucherEscrow(userId))),
      earningsFen: balanceOf(ledger.getAccount(accountIds.earnings(userId))),
    };
    const entries = Object.entries(amounts);
    return c.json(
      { ...(Object.fromEntries(entries.map(([k, v]) => [k, v.toString()])) as Record<keyof typeof amounts, string>), display: Object.fromEntries(entries.map(([k, v]) => [k.replace(/Fen$/, ''), formatFen(v)])) },
      200,
    );
  })
  .openapi(statement, (c) => {
    const userId = identityOf(c).user.id;
    const q = c.req.valid('query');
    const accountId = ACCOUNTS[q.account](userId);
    const s = accountStatement(c.get('runtime').ctx.core.ledger, accountId, {
      ...(q.from === undefined ? {} : { fromMs: msOf(q.from, 'query.from') }),
      ...(q.to === undefined ? {} : { toMs: msOf(q.to, 'query.to') }),
      ...(q.cursor === undefined ? {} : { afterSeq: Number(q.cursor) }),
      limit: q.limit ?? 100,
    });
    if (!s) throw new ApiError(404, 'ACCOUNT_NOT_FOUND', 'no such account');
    return c.json(
      {
        account: q.account, accountId, openingBalanceFen: s.openingBalanceFen.toString(), closingBalanceFen: s.closingBalanceFen.toString(),
        items: s.lines.map((l) => ({
          seq: l.seq, transferId: l.transferId, at: iso(l.timestampMs), code: l.code, counterparty: maskAccount(l.counterpartyAccountId, userId),
          debitFen: l.debitFen.toString(), creditFen: l.creditFen.toString(), balanceFen: l.balanceFen.toString(),
        })),
        nextCursor: s.nextAfterSeq === undefined ? null : String(s.nextAfterSeq),
      },
      200,
    );
  })
  .openapi(monthly, (c) => {
    const q = c.req.valid('query');
    const m = monthlyStatement(c.get('runtime').ctx.core.ledger, identityOf(c).user.id, q.month, q.utcOffsetMinutes ?? 0);
    if (!m) throw new ApiError(400, 'VALIDATION_FAILED', 'bad month', { issues: [{ path: 'query.month', message: 'YYYY-MM' }] });
    return c.json(
      {
        month: m.month, from: iso(m.fromMs), to: iso(m.toMs),
        lines: m.lines.map((l) => ({ code: l.code, funding: l.funding, inFen: l.inFen.toString(), outFen: l.outFen.toString(), count: l.count })),
        compute: { voucherFen: m.compute.voucherFen.toString(), cashFen: m.compute.cashFen.toString(), totalFen: m.compute.totalFen.toString() },
        earnings: { grossFen: m.earnings.grossFen.toString(), slaPaidFen: m.earnings.slaPaidFen.toString(), withdrawnFen: m.earnings.withdrawnFen.toString() },
      },
      200,
    );
  })
  .openapi(vouchers, (c) => {
    const userId = identityOf(c).user.id;
    const { core, clock } = c.get('runtime').ctx;
    const nowMs = clock();
    return c.json(
      {
        items: core.vouchersOf(userId).map((g) => ({
          grantId: g.grantId, programmeId: g.programmeId, amountFen: g.amountFen.toString(), balanceFen: balanceOf(core.ledger.getAccount(g.accountId)).toString(),
          expiresAt: iso(g.expiresAtMs), expired: g.expiresAtMs <= nowMs,
          scope: {
            ...(g.scope.acceleratorIds ? { acceleratorIds: [...g.scope.acceleratorIds] } : {}),
            ...(g.scope.regionIds ? { regionIds: [...g.scope.regionIds] } : {}),
            ...(g.scope.maxPriceFenPerGpuHour === undefined ? {} : { maxPriceFenPerGpuHour: g.scope.maxPriceFenPerGpuHour }),
          },
        })),
      },
      200,
    );
  });
