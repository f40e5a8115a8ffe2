/** The ledger: double-entry accounts and transfers in integer fen (see DESIGN.md "Ledger"). */
export * from './codes.js';
export * from './types.js';
export { Ledger, type LedgerOptions } from './ledger.js';
export { sameTransferInput } from './batch.js';
export { checkTransferInput } from './input-check.js';
export { ReferenceLedger } from './reference.js';
export { checkInvariants, assertInvariants } from './invariants.js';
export * from './chart.js';
export * from './statement.js';
export * from './money.js';
