/** The REST API: `createApp(ctx)` and what the server and other edges (WebSocket) reuse. */
export { API_PREFIX, type AppExtensions, createApp, createRuntime } from './app.js';
export { type ApiConfig, type AppContext, DEFAULT_API_CONFIG, type Identity, type Runtime } from './context.js';
export { ApiError } from './errors.js';
export { authenticateRequest, resolveIdentity, SESSION_COOKIE } from './identity.js';
export { createUser } from './users.js';
