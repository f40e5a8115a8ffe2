/**
 * Probes. `/healthz`: the process answers. `/readyz`: the journal was replayed (an app exists only
 * after `CommandLoop.open`) and the store answers a query.
 */
import { z } from '@hono/zod-openapi';
import { defineRoute, newRouter } from './access.js';

const READY_TIMEOUT_MS = 2_000;

const healthz = defineRoute(
  { who: 'anyone' },
  { method: 'get', path: '/healthz', tags: ['ops'], summary: 'Liveness', responses: { 200: { description: 'up', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } } },
);
const ReadySchema = z.object({ status: z.enum(['ready', 'not_ready']), journalSeq: z.int(), reason: z.string().optional() });
const readyz = defineRoute(
  { who: 'anyone' },
  {
    method: 'get', path: '/readyz', tags: ['ops'], summary: 'Readiness: journal replayed and store reachable',
    responses: { 200: { description: 'ready', content: { 'application/json': { schema: ReadySchema } } }, 503: { description: 'not ready', content: { 'application/json': { schema: ReadySchema } } } },
  },
);

export const healthRoutes = newRouter()
  .openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200))
  .openapi(readyz, async (c) => {
    const { store, loop } = c.get('runtime').ctx;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        store.lastJournalSeq(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('store timed out')), READY_TIMEOUT_MS);
        }),
      ]);
      return c.json({ status: 'ready' as const, journalSeq: loop.journalSeq }, 200);
    } catch (e) {
      return c.json({ status: 'not_ready' as const, journalSeq: loop.journalSeq, reason: e instanceof Error ? e.message : String(e) }, 503);
    } finally {
      clearTimeout(timer);
    }
  });
