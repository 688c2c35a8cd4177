/** `GET /openapi.json`: the API's OpenAPI 3.1 document (public), generated from the route list. */
import { z } from 'zod';
import { defineRoute } from '../route.js';

export const metaRoutes = [
  defineRoute({
    method: 'GET',
    url: '/openapi.json',
    auth: 'public',
    tag: 'meta',
    summary: 'this OpenAPI document',
    responses: { 200: { description: 'OpenAPI 3.1', schema: z.record(z.string(), z.unknown()) } },
    handler: async ({ deps }) => ({ status: 200, body: deps.openapi() }),
  }),
];
