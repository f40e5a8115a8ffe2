/** The catalog: accelerators (spec-sheet numbers), regions and the national hubs. Public. */
import { z } from '@hono/zod-openapi';
import { listAccelerators, listHubs, listRegions } from '../core/catalog/index.js';
import { defineRoute, newRouter } from './access.js';

const AcceleratorSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    vendor: z.string(),
    architecture: z.string(),
    memoryGiB: z.number(),
    memoryBandwidthGBps: z.number(),
    fp16Tflops: z.number(),
    fp32Tflops: z.number(),
    int8Tops: z.number(),
    interconnect: z.string(),
    stack: z.string(),
    smiNames: z.array(z.string()),
    unofficial: z.boolean().optional(),
    notes: z.string().optional(),
  })
  .openapi('Accelerator');
const RegionSchema = z.object({ id: z.string(), name: z.string(), nameZh: z.string(), hubId: z.string(), side: z.enum(['east', 'west', 'abroad']) }).openapi('Region');
const HubSchema = z
  .object({ id: z.string(), name: z.string(), nameZh: z.string(), side: z.enum(['east', 'west', 'abroad']), role: z.enum(['demand', 'supply', 'abroad']) })
  .openapi('Hub');

const listOf = <T extends z.ZodType>(schema: T, description: string) => ({
  200: { description, content: { 'application/json': { schema: z.object({ items: z.array(schema) }) } } },
});

const accelerators = defineRoute({ who: 'anyone' }, { method: 'get', path: '/accelerators', tags: ['catalog'], summary: 'Accelerator models', responses: listOf(AcceleratorSchema, 'accelerators') });
const regions = defineRoute({ who: 'anyone' }, { method: 'get', path: '/regions', tags: ['catalog'], summary: 'Regions, each in one hub', responses: listOf(RegionSchema, 'regions') });
const hubs = defineRoute({ who: 'anyone' }, { method: 'get', path: '/hubs', tags: ['catalog'], summary: 'National compute hubs (east/west)', responses: listOf(HubSchema, 'hubs') });

export const catalogRoutes = newRouter()
  .openapi(accelerators, (c) => c.json({ items: listAccelerators().map((a) => ({ ...a, smiNames: [...a.smiNames] })) }, 200))
  .openapi(regions, (c) => c.json({ items: [...listRegions()] }, 200))
  .openapi(hubs, (c) => c.json({ items: [...listHubs()] }, 200));
