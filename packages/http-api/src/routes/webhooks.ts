/**
 * Webhook endpoints and dead letters over HTTP (`herald.webhooks`, as `herald webhook` uses it).
 * Admin keys list, add and remove endpoints (those of the config file are listed, never
 * removed: 409) and list and replay dead-lettered batches; a tenant key may list its own tenant's
 * endpoints. No answer ever holds a secret, except the one Herald generates for an endpoint added
 * without one: it is in the creation answer only. A password in an endpoint's URL (or in a dead
 * batch's last error) is masked (`user:***@`), as `herald webhook list` prints it.
 */
import { randomBytes } from 'node:crypto';
import { maskUrl } from '@herald/delivery-core/config';
import { EVENT_TYPES } from '@herald/delivery-core/events';
import type { WebhookBatch, WebhookEndpoint } from '@herald/delivery-core/webhooks';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { defineRoute } from '../route.js';
import { tenantName } from '../schemas.js';
import { canRead, tenantFilter } from '../scope.js';
import { BULK_TIMEOUT_MS, within } from '../within.js';

/** Random bytes of a secret Herald generates (Standard Webhooks: 24 to 64). */
const GENERATED_SECRET_BYTES = 32;
const SECRET_PREFIX = 'whsec_';
const MAX_DEAD_PAGE = 1_000;
const endpointId = z.string().min(1).max(64).describe('the endpoint id');
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

const endpointSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  url: z.string().describe('a password in it masked: user:***@'),
  events: z.array(z.string()),
  batch_size: z.number().int(),
  batch_wait_ms: z.number().int(),
  timeout_ms: z.number().int(),
  retry_for_ms: z.number().int(),
  source: z.enum(['config', 'runtime']),
  since: z
    .string()
    .nullable()
    .describe('run-time endpoints: events written from then on are sent (ISO 8601)'),
});

/** An endpoint as answered: every field but the secret, a URL password masked. */
const asJson = (e: WebhookEndpoint) => ({
  id: e.id,
  tenant: e.tenant,
  url: maskUrl(e.url),
  events: [...e.events],
  batch_size: e.batchSize,
  batch_wait_ms: e.batchWaitMs,
  timeout_ms: e.timeoutMs,
  retry_for_ms: e.retryForMs,
  source: e.source,
  since: e.since ? new Date(e.since).toISOString() : null,
});

const deadSchema = z.object({
  id: z.string().describe('the batch id (its webhook-id)'),
  endpoint: z.string(),
  tenant: z.string(),
  events: z.number().int(),
  attempts: z.number().int(),
  created_at: z.string(),
  first_attempt_at: z.string().optional(),
  last_attempt_at: z.string().optional(),
  dead_at: z.string().optional(),
  last_error: z.string().optional(),
});

/** A dead batch as answered: its bookkeeping, not its body. */
const deadJson = (b: WebhookBatch) =>
  JSON.parse(
    JSON.stringify({
      id: b.id,
      endpoint: b.endpoint,
      tenant: b.tenant,
      events: b.events,
      attempts: b.attempts,
      created_at: iso(b.createdAt),
      first_attempt_at: iso(b.firstAttemptAt),
      last_attempt_at: iso(b.lastAttemptAt),
      dead_at: iso(b.deadAt),
      last_error: b.lastError === undefined ? undefined : maskUrl(b.lastError),
    }),
  );

export const webhookRoutes = [
  defineRoute({
    method: 'GET',
    url: '/v1/webhooks',
    auth: 'tenant',
    tag: 'webhooks',
    summary: "list webhook endpoints (a tenant key: its own tenant's)",
    query: z.strictObject({ tenant: tenantName.optional().describe("only this tenant's endpoints") }),
    responses: {
      200: {
        description: 'the endpoints (never a secret)',
        schema: z.object({ endpoints: z.array(endpointSchema) }),
      },
      403: { description: 'a tenant key naming another tenant (HERALD_API_FORBIDDEN)' },
    },
    handler: async ({ query, caller, deps }) => {
      const tenant = tenantFilter(caller, query.tenant);
      const all = await within(deps, deps.herald.webhooks.listEndpoints());
      const endpoints = all.filter(
        (e) => canRead(caller, e.tenant) && (tenant === undefined || e.tenant === tenant),
      );
      return { status: 200, body: { endpoints: endpoints.map(asJson) } };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/webhooks',
    auth: 'admin',
    tag: 'webhooks',
    summary: 'add a webhook endpoint (it receives the events written from now on)',
    description:
      "Validated as the config's `webhooks` entries are. Without `secret`, Herald generates one and answers it here, once; a given secret is never echoed.",
    body: z.strictObject({
      id: z.string().optional().describe('letters, digits, _ and - (default: generated)'),
      tenant: tenantName,
      url: z.string().max(2048).describe('http:// or https://'),
      events: z
        .array(z.string())
        .min(1)
        .describe(`event types (${EVENT_TYPES.join(', ')})`),
      secret: z.string().max(200).optional().describe(`${SECRET_PREFIX} + base64 of 24 to 64 random bytes`),
      batch_size: z.number().int().optional(),
      batch_wait: z.string().optional().describe('a duration (default 1s)'),
      timeout: z.string().optional().describe('a duration (default 10s)'),
      retry_for: z.string().optional().describe('a duration (default 24h)'),
    }),
    responses: {
      201: {
        description: 'added',
        schema: endpointSchema.extend({
          secret: z.string().optional().describe('only when Herald generated it: shown here only'),
        }),
      },
    },
    handler: async ({ body, deps }) => {
      const generated =
        body.secret === undefined
          ? `${SECRET_PREFIX}${randomBytes(GENERATED_SECRET_BYTES).toString('base64')}`
          : undefined;
      const input = { ...body, secret: body.secret ?? generated };
      const endpoint = await within(
        deps,
        deps.herald.webhooks.addEndpoint(input as Parameters<typeof deps.herald.webhooks.addEndpoint>[0]),
      );
      return { status: 201, body: { ...asJson(endpoint), ...(generated ? { secret: generated } : {}) } };
    },
  }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/webhooks/:id',
    auth: 'admin',
    tag: 'webhooks',
    summary: 'remove a run-time webhook endpoint, with its outbox and dead letters',
    params: z.strictObject({ id: endpointId }),
    responses: {
      204: { description: 'removed' },
      404: { description: 'no such endpoint (HERALD_API_NOT_FOUND)' },
      409: { description: 'an endpoint of the config file: edit the file (HERALD_API_CONFLICT)' },
    },
    handler: async ({ params, deps }) => {
      const webhooks = deps.herald.webhooks;
      if (await within(deps, webhooks.removeEndpoint(params.id))) return { status: 204, body: undefined };
      const existing = (await within(deps, webhooks.listEndpoints())).find((e) => e.id === params.id);
      if (existing)
        throw new ApiError(
          409,
          'HERALD_API_CONFLICT',
          'this endpoint is defined in the config file: remove it there',
        );
      throw new ApiError(404, 'HERALD_API_NOT_FOUND', 'no such webhook endpoint');
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/webhooks/dead',
    auth: 'admin',
    tag: 'webhooks',
    summary: 'dead-lettered batches (oldest first per endpoint; bodies left out)',
    query: z.strictObject({
      endpoint: endpointId.optional(),
      tenant: tenantName.optional(),
      limit: z.coerce.number().int().min(1).max(MAX_DEAD_PAGE).default(MAX_DEAD_PAGE),
    }),
    responses: { 200: { description: 'the batches', schema: z.object({ batches: z.array(deadSchema) }) } },
    handler: async ({ query, deps }) => {
      const batches = await within(
        deps,
        deps.herald.webhooks.deadLetters({
          limit: query.limit,
          ...(query.endpoint !== undefined ? { endpoint: query.endpoint } : {}),
          ...(query.tenant !== undefined ? { tenant: query.tenant } : {}),
        }),
      );
      return { status: 200, body: { batches: batches.map(deadJson) } };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/webhooks/dead/replay',
    auth: 'admin',
    tag: 'webhooks',
    summary: 'move dead batches back to their outboxes with a fresh retry budget',
    body: z
      .strictObject({
        batch: z.string().min(1).max(128).optional(),
        all: z.literal(true).optional(),
        endpoint: endpointId.optional().describe("with all: only this endpoint's"),
      })
      .superRefine((body, ctx) => {
        if ((body.batch === undefined) === (body.all === undefined))
          ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of batch, all' });
        if (body.endpoint !== undefined && body.all === undefined)
          ctx.addIssue({ code: 'custom', path: ['endpoint'], message: 'only with all' });
      }),
    responses: {
      200: { description: 'how many moved', schema: z.object({ replayed: z.number().int() }) },
      404: { description: 'no dead batch by that id (HERALD_API_NOT_FOUND)' },
    },
    handler: async ({ body, deps }) => {
      const target =
        body.batch !== undefined
          ? { batch: body.batch }
          : { all: true as const, ...(body.endpoint !== undefined ? { endpoint: body.endpoint } : {}) };
      const replayed = await within(deps, deps.herald.webhooks.replay(target), BULK_TIMEOUT_MS);
      if (body.batch !== undefined && replayed === 0)
        throw new ApiError(404, 'HERALD_API_NOT_FOUND', 'no dead batch by that id');
      return { status: 200, body: { replayed } };
    },
  }),
];
