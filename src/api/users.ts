/**
 * Accounts: argon2id password hashes and user creation. A user row is written in the same
 * transaction as the `openAccount` command that opens the user's ledger accounts, so there is
 * never a user without accounts (or accounts without a user).
 */
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import type { SessionRow, UserRole, UserRow } from '../store/port.js';
import type { AppContext, Argon2Config } from './context.js';
import { ApiError, rejectionError } from './errors.js';
import { newId } from './schemas.js';

/** `Algorithm.Argon2id` (a const enum, which per-file transpilers cannot inline). */
const ARGON2ID = 2 as Algorithm;

export const normaliseEmail = (email: string): string => email.trim().toLowerCase();

export function hashPassword(password: string, cfg: Argon2Config): Promise<string> {
  return hash(password, { algorithm: ARGON2ID, memoryCost: cfg.memoryCostKiB, timeCost: cfg.timeCost, parallelism: cfg.parallelism });
}

let dummyHash: Promise<string> | null = null;

/** Verifies a password; with no user, spends the same time on a dummy hash (no user probing by timing). */
export async function verifyPassword(user: UserRow | undefined, password: string, cfg: Argon2Config): Promise<boolean> {
  if (!user) {
    dummyHash ??= hashPassword('not a real password', cfg);
    await verify(await dummyHash, password).catch(() => false);
    return false;
  }
  try {
    return await verify(user.passwordHash, password);
  } catch {
    return false;
  }
}

export interface NewUser {
  readonly email: string;
  readonly password: string;
  readonly role: UserRole;
  readonly displayName: string;
}

/**
 * Creates a user and opens its ledger accounts in one transaction, plus `session` if given.
 * `claims` serialises signups of one email (a unique-email clash inside a commit would stop the
 * exchange). Throws 409 EMAIL_TAKEN.
 */
export async function createUser(
  ctx: AppContext,
  claims: Set<string>,
  input: NewUser,
  session?: (user: UserRow) => SessionRow,
): Promise<{ user: UserRow; session: SessionRow | undefined }> {
  const email = normaliseEmail(input.email);
  const claim = `email\n${email}`;
  if (claims.has(claim)) throw new ApiError(409, 'EMAIL_TAKEN', 'an account with this email exists');
  claims.add(claim);
  try {
    if (await ctx.store.userByEmail(email)) throw new ApiError(409, 'EMAIL_TAKEN', 'an account with this email exists');
    const passwordHash = await hashPassword(input.password, ctx.config.argon2);
    const user: UserRow = {
      id: newId('u'), email, passwordHash, role: input.role, displayName: input.displayName.trim(), createdAtMs: ctx.clock(), disabledAtMs: null,
    };
    const sessionRow = session?.(user);
    const result = await ctx.loop.submit({ type: 'openAccount', now: 0, userId: user.id }, (r) =>
      r.ok ? { users: [user], ...(sessionRow ? { sessions: [sessionRow] } : {}) } : undefined,
    );
    if (!result.ok) throw rejectionError(result);
    return { user, session: sessionRow };
  } finally {
    claims.delete(claim);
  }
}
