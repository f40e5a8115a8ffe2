/** Signup, login, logout and "who am I". Sessions live in an http-only cookie. */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { defineRoute, identityOf, newRouter } from './access.js';
import type { ApiEnv } from './context.js';
import { ApiError } from './errors.js';
import { newSession, SESSION_COOKIE } from './identity.js';
import { presentUser, UserSchema } from './present.js';
import { createUser, normaliseEmail, verifyPassword } from './users.js';

const EmailSchema = z.email().max(254).openapi({ example: 'buyer@example.com' });
const PasswordSchema = z.string().min(10, 'passwords are at least 10 characters').max(256);

const SignupSchema = z.strictObject({
  email: EmailSchema,
  password: PasswordSchema,
  role: z.enum(['buyer', 'provider']),
  displayName: z.string().trim().min(1).max(100),
});
const LoginSchema = z.strictObject({ email: EmailSchema, password: z.string().min(1).max(256) });
const UserEnvelope = z.object({ user: UserSchema });
const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } }, required: true });
const ok = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

const signup = defineRoute(
  { who: 'anyone', authLimited: true },
  { method: 'post', path: '/auth/signup', tags: ['auth'], summary: 'Create a buyer or provider account (and log in)', request: { body: json(SignupSchema) }, responses: { 201: ok(UserEnvelope, 'created; sets the session cookie') } },
  { errors: [409] },
);
const login = defineRoute(
  { who: 'anyone', authLimited: true },
  { method: 'post', path: '/auth/login', tags: ['auth'], summary: 'Log in with email and password', request: { body: json(LoginSchema) }, responses: { 200: ok(UserEnvelope, 'logged in; sets the session cookie') } },
);
const logout = defineRoute(
  { who: 'user', scopes: ['read'], sessionOnly: true },
  { method: 'post', path: '/auth/logout', tags: ['auth'], summary: 'End this session', responses: { 204: { description: 'logged out' } } },
);
const me = defineRoute(
  { who: 'user', scopes: ['read'] },
  { method: 'get', path: '/me', tags: ['auth'], summary: 'The calling user', responses: { 200: ok(UserEnvelope, 'the user') } },
);

function setSessionCookie(c: Context<ApiEnv>, secret: string): void {
  const { config } = c.get('runtime').ctx;
  setCookie(c, SESSION_COOKIE, secret, { httpOnly: true, sameSite: 'Lax', path: '/', secure: config.secureCookies, maxAge: Math.floor(config.sessionTtlMs / 1000) });
}

export const authRoutes = newRouter()
  .openapi(signup, async (c) => {
    const rt = c.get('runtime');
    const input = c.req.valid('json');
    let secret = '';
    const { user } = await createUser(rt.ctx, rt.claims, input, (u) => {
      const s = newSession(u.id, rt.ctx.clock(), rt.ctx.config.sessionTtlMs);
      secret = s.secret;
      return s.row;
    });
    setSessionCookie(c, secret);
    return c.json({ user: presentUser(user) }, 201);
  })
  .openapi(login, async (c) => {
    const { ctx } = c.get('runtime');
    const { email, password } = c.req.valid('json');
    const user = await ctx.store.userByEmail(normaliseEmail(email));
    if (!(await verifyPassword(user, password, ctx.config.argon2)) || !user) throw new ApiError(401, 'INVALID_CREDENTIALS', 'wrong email or password');
    if (user.disabledAtMs !== null) throw new ApiError(403, 'ACCOUNT_DISABLED', 'this account is disabled');
    const s = newSession(user.id, ctx.clock(), ctx.config.sessionTtlMs);
    await ctx.loop.write({ sessions: [s.row] });
    setSessionCookie(c, s.secret);
    return c.json({ user: presentUser(user) }, 200);
  })
  .openapi(logout, async (c) => {
    const id = identityOf(c);
    await c.get('runtime').ctx.loop.write({ deletes: { sessionIdHashes: [id.credentialId] } });
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.body(null, 204);
  })
  .openapi(me, (c) => c.json({ user: presentUser(identityOf(c).user) }, 200));
