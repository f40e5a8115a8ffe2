/**
 * Result codes are a public contract (store, API errors, finance reports): append only, never
 * renamed, never reused. This test pins the lists so any change is a deliberate one.
 */
import { describe, expect, it } from 'vitest';
import { LEASE_REJECTIONS } from '../lease/result.js';
import { CREATE_ACCOUNT_RESULTS, CREATE_TRANSFER_RESULTS, TRANSFER_CODES, TRANSIENT_TRANSFER_RESULTS } from './codes.js';

describe('stable codes', () => {
  it('pins the transfer results', () => {
    expect(CREATE_TRANSFER_RESULTS).toEqual([
      'ok', 'exists',
      'linked_event_failed', 'linked_event_chain_open', 'batch_too_large',
      'id_must_not_be_empty', 'reserved_flag', 'flags_are_mutually_exclusive', 'code_invalid',
      'pending_id_required', 'pending_id_must_be_empty', 'pending_id_must_be_different',
      'timeout_invalid', 'timeout_reserved_for_pending_transfer',
      'debit_account_id_required', 'credit_account_id_required', 'same_debit_and_credit_account',
      'amount_must_be_positive',
      'exists_with_different_fields', 'id_already_failed',
      'debit_account_not_found', 'credit_account_not_found',
      'pending_not_found', 'pending_not_pending', 'pending_has_different_debit_account',
      'pending_has_different_credit_account', 'pending_has_different_amount',
      'pending_already_posted', 'pending_already_voided', 'pending_expired', 'post_exceeds_pending',
      'overflow', 'exceeds_credits', 'exceeds_debits',
    ]);
    for (const code of TRANSIENT_TRANSFER_RESULTS) expect(CREATE_TRANSFER_RESULTS).toContain(code);
  });

  it('pins the account results, transfer codes and billing rejections', () => {
    expect(CREATE_ACCOUNT_RESULTS).toEqual([
      'ok', 'exists', 'linked_event_failed', 'linked_event_chain_open', 'batch_too_large',
      'id_must_not_be_empty', 'reserved_flag', 'flags_are_mutually_exclusive', 'kind_invalid',
      'flags_invalid_for_kind', 'exists_with_different_fields',
    ]);
    expect(TRANSFER_CODES).toEqual([
      'deposit', 'withdrawal', 'hold', 'release', 'settle', 'fee', 'refund', 'sla_credit',
      'voucher_fund', 'voucher_grant', 'voucher_spend', 'voucher_expire',
    ]);
    expect(LEASE_REJECTIONS).toEqual([
      'ledger_rejected', 'id_invalid', 'amount_must_be_positive', 'amount_invalid', 'terms_invalid',
      'scope_invalid', 'expiry_invalid', 'hold_not_active', 'lease_not_active', 'funding_short',
      'voucher_not_expired', 'voucher_unknown',
    ]);
    for (const list of [CREATE_TRANSFER_RESULTS, CREATE_ACCOUNT_RESULTS, TRANSFER_CODES, LEASE_REJECTIONS] as readonly (readonly string[])[]) {
      expect(new Set(list).size).toBe(list.length);
    }
  });
});
