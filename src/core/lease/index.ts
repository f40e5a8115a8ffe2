/** Billing rules over the ledger: bid holds, per-second lease billing, SLA credits, vouchers. */
export * from './billing.js';
export * from './result.js';
export * from './voucher.js';
export * from './hold.js';
export * from './lease.js';
export * from './statement.js';
