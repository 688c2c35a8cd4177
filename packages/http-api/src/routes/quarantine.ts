/**
 * The quarantine (`herald.quarantine`, the same data as `herald quarantine`): messages the content
 * scan held. `GET /v1/quarantine` lists them (a tenant key: its own tenant's; an admin key: all,
 * or one tenant's), `GET /v1/quarantine/{id}` shows one with its header block; releasing
 * (`POST …/release`: queued as if just accepted) and deleting (`DELETE`: each recipient bounced,
 * operator delete) are admin only — a tenant whose account sends spam must not let it out itself.
 * Releasing and deleting run within the bulk deadline (a write that may wait on the body, DKIM and
 * a durability barrier); two at once for one message: one answers, the other 404.
 * A tenant key naming another tenant's message is answered as for an unknown id (404).
 */
import { DEFAULT_QUARANTINE_LIST, MAX_QUARANTINE_LIST } from '@herald/delivery-core/quarantine';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { actorOf, defineRoute } from '../route.js';
import { tenantName } from '../schemas.js';
import { canRead, tenantFilter } from '../scope.js';
import { BULK_TIMEOUT_MS, within } from '../within.js';

const MAX_ID_CHARS = 128;
const epochMs = z.number().describe('epoch milliseconds');
const idParams = z.strictObject({ id: z.string().min(1).max(MAX_ID_CHARS).describe("Herald's message id") });

export const heldSummarySchema = z.object({
  id: z.string(),
  tenant: z.string(),
  from: z.string().describe('envelope sender ("" for the null sender)'),
  recipients: z.array(z.string()),
  reason: z
    .string()
    .describe('why it is held: spam (the content scan) or behaviour:<rule> (a flagged account)'),
  score: z.number().optional().describe("the scan's score"),
  symbols: z.array(z.string()).optional().describe('the rspamd rules that fired, highest first'),
  account: z.string().optional().describe('the flagged account, when a behaviour rule held it'),
  heldAt: epochMs,
  source: z.enum(['smtp', 'api']),
  client: z.string().optional(),
  stream: z.string().optional(),
  campaign: z.string().optional(),
  size: z.number().int().describe('bytes'),
});

const notFound = () =>
  new ApiError(
    404,
    'HERALD_QUARANTINE_NOT_FOUND',
    'no such message in quarantine (unknown, released or deleted)',
  );

export const quarantineRoutes = [
  defineRoute({
    method: 'GET',
    url: '/v1/quarantine',
    auth: 'tenant',
    tag: 'quarantine',
    summary: 'list held messages, oldest first',
    query: z.strictObject({
      tenant: tenantName.optional().describe('admin keys: only this tenant (default: every tenant)'),
      offset: z.coerce.number().int().min(0).default(0),
      limit: z.coerce.number().int().min(1).max(MAX_QUARANTINE_LIST).default(DEFAULT_QUARANTINE_LIST),
    }),
    responses: {
      200: {
        description: 'the page and how many are held in all',
        schema: z.object({ total: z.number().int(), messages: z.array(heldSummarySchema) }),
      },
    },
    handler: async ({ query, caller, deps }) => {
      const tenant = tenantFilter(caller, query.tenant);
      const page = await within(
        deps,
        deps.herald.quarantine.list({ tenant, offset: query.offset, limit: query.limit }),
      );
      return { status: 200, body: page };
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/quarantine/:id',
    auth: 'tenant',
    tag: 'quarantine',
    summary: 'one held message, with its header block',
    params: idParams,
    responses: {
      200: {
        description: 'the held message',
        schema: heldSummarySchema.extend({
          headers: z.string().describe('the header block (at most 16 KiB)'),
        }),
      },
      404: { description: "not held, or another tenant's (HERALD_QUARANTINE_NOT_FOUND)" },
    },
    handler: async ({ params, caller, deps }) => {
      const held = await within(deps, deps.herald.quarantine.show(params.id));
      if (!held || !canRead(caller, held.tenant)) throw notFound();
      return { status: 200, body: held };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/quarantine/:id/release',
    auth: 'admin',
    tag: 'quarantine',
    summary: 'release a held message: queued as if just accepted',
    params: idParams,
    responses: {
      200: { description: 'released', schema: heldSummarySchema },
      404: { description: 'not held (HERALD_QUARANTINE_NOT_FOUND)' },
    },
    handler: async ({ params, caller, deps }) => {
      // A write that runs to its end (a body read, DKIM, the enqueue, a barrier): the bulk deadline,
      // so a release under load is not answered 503 while it completes.
      const released = await within(
        deps,
        deps.herald.quarantine.release(params.id, actorOf(caller)),
        BULK_TIMEOUT_MS,
      );
      if (!released) throw notFound();
      return { status: 200, body: released };
    },
  }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/quarantine/:id',
    auth: 'admin',
    tag: 'quarantine',
    summary: 'delete a held message: each recipient ends bounced (operator delete)',
    params: idParams,
    responses: {
      200: { description: 'deleted', schema: heldSummarySchema },
      404: { description: 'not held (HERALD_QUARANTINE_NOT_FOUND)' },
    },
    handler: async ({ params, deps }) => {
      const removed = await within(
        deps,
        deps.herald.quarantine.remove(params.id, 'operator'),
        BULK_TIMEOUT_MS,
      );
      if (!removed) throw notFound();
      return { status: 200, body: removed };
    },
  }),
];
