/**
 * Queue operations (admin), the same verbs as `herald queue …`: list a site's queued jobs (paged),
 * retry now (one message, a site, or all), delete (one message, or every job matching a filter;
 * a delete without either is refused), bounce (one message or a site: the sender gets a DSN) and
 * flush a site (its waiting jobs ready now, within its limits). Answers are the library's plain
 * data, as `herald queue … --json` prints them. A message with no queued job is 404
 * HERALD_QUEUE_NOT_FOUND; bad input 400 HERALD_INPUT_INVALID.
 */
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '@herald/delivery-core/queue-ops';
import { z } from 'zod';
import { defineRoute } from '../route.js';
import { headerText } from '../schemas.js';
import { BULK_TIMEOUT_MS, within } from '../within.js';

const MAX_ID_CHARS = 128;
const MAX_SITE_CHARS = 1_000;

export const siteName = z
  .string()
  .min(1)
  .max(MAX_SITE_CHARS)
  .describe(
    'a site (provider:gmail, mx:<sorted MX hosts>, route:<host>:<port>) or domain:<name>; URL-encoded',
  );
const messageId = z.string().min(1).max(MAX_ID_CHARS).describe("Herald's message id (or one job's id)");
const reason = headerText(200).min(1).describe('one line, for the reply and the DSN');

const wakeSchema = z.object({
  woken: z.number().int().describe('jobs that waited and are ready now'),
  ready: z.number().int().describe('jobs that were ready already'),
  inFlight: z.number().int().describe('jobs in flight (their attempt goes on)'),
  held: z.number().int().describe('jobs a site suspension or tenant pause holds (flush leaves them)'),
});

const counts = z.object({ jobs: z.number().int(), recipients: z.number().int() });
const removeSchema = z.object({
  action: z.enum(['delete', 'bounce']),
  removed: counts.describe('removed now: each pending recipient ended bounced (operator), with an event'),
  marked: counts.describe('in flight: their pending recipients end so after the attempt'),
});

const jobSchema = z.object({
  messageId: z.string(),
  jobId: z.string(),
  tenant: z.string(),
  from: z.string(),
  domain: z.string(),
  site: z.string().optional(),
  pending: z.array(z.string()),
  attempts: z.number().int(),
  acceptedAt: z.number(),
  state: z.enum(['ready', 'scheduled', 'in-flight', 'parked']),
  nextAttemptAt: z.number().optional(),
  waitingFor: z.enum(['retry', 'shaping']).optional(),
  parked: z.string().optional(),
  reason: z.string().optional(),
  lastError: z.string().optional(),
  stream: z.string().optional(),
  campaign: z.string().optional(),
});

/** Exactly one of the keys is given. */
const oneOf =
  (keys: readonly string[]) =>
  (body: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    const given = keys.filter((k) => body[k] !== undefined);
    if (given.length !== 1)
      ctx.addIssue({ code: 'custom', path: [], message: `give exactly one of ${keys.join(', ')}` });
  };

const notFound = { description: 'no queued job of that message (HERALD_QUEUE_NOT_FOUND)' };

export const queueRoutes = [
  defineRoute({
    method: 'GET',
    url: '/v1/queue/:site',
    auth: 'admin',
    tag: 'queue',
    summary: "a site's queued jobs, a page at a time in acceptance order",
    params: z.strictObject({ site: siteName }),
    query: z.strictObject({
      limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
      after: z.string().min(1).max(MAX_ID_CHARS).optional().describe('the `next` of the previous page'),
    }),
    responses: {
      200: {
        description: 'a page',
        schema: z.object({
          site: z.string(),
          jobs: z.array(jobSchema),
          next: z.string().optional(),
          scanned: z.number().int(),
          truncated: z.boolean(),
        }),
      },
    },
    handler: async ({ params, query, deps }) => {
      const opts = { limit: query.limit, ...(query.after ? { after: query.after } : {}) };
      return {
        status: 200,
        body: await within(deps, deps.herald.listQueue(params.site, opts), BULK_TIMEOUT_MS),
      };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/queue/retry',
    auth: 'admin',
    tag: 'queue',
    summary: 'retry now: one message, a site, or every queued job (still through the shaping gate)',
    body: z
      .strictObject({
        message_id: messageId.optional(),
        site: siteName.optional(),
        all: z.literal(true).optional(),
      })
      .superRefine(oneOf(['message_id', 'site', 'all'])),
    responses: { 200: { description: 'what was woken', schema: wakeSchema }, 404: notFound },
    handler: async ({ body, deps }) => {
      const target =
        body.message_id !== undefined
          ? { messageId: body.message_id }
          : body.site !== undefined
            ? { site: body.site }
            : { all: true as const };
      return { status: 200, body: await within(deps, deps.herald.retryQueued(target), BULK_TIMEOUT_MS) };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/queue/:site/flush',
    auth: 'admin',
    tag: 'queue',
    summary: "ignore a site's backoff once: its waiting jobs are ready now, within its limits",
    params: z.strictObject({ site: siteName }),
    responses: { 200: { description: 'what was woken (held jobs stay held)', schema: wakeSchema } },
    handler: async ({ params, deps }) => ({
      status: 200,
      body: await within(deps, deps.herald.flushSite(params.site), BULK_TIMEOUT_MS),
    }),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/queue/delete',
    auth: 'admin',
    tag: 'queue',
    summary: 'delete one message, or every job matching a filter (no DSN)',
    description:
      'Each pending recipient ends bounced with operator "delete" and an event; nobody is told. A filter needs at least one criterion; every given one must match.',
    body: z
      .strictObject({
        message_id: messageId.optional(),
        site: siteName.optional(),
        tenant: z.string().min(1).max(128).optional(),
        from: z.string().max(998).optional().describe('envelope sender ("" the null sender)'),
        to_domains: z.array(z.string().min(1).max(255)).min(1).max(1000).optional(),
      })
      .superRefine((body, ctx) => {
        const filter = ['site', 'tenant', 'from', 'to_domains'] as const;
        if (body.message_id !== undefined && filter.some((k) => body[k] !== undefined))
          ctx.addIssue({
            code: 'custom',
            path: ['message_id'],
            message: 'a message id or a filter, not both',
          });
      }),
    responses: {
      200: { description: 'what was removed now or marked', schema: removeSchema },
      404: notFound,
    },
    handler: async ({ body, deps }) => {
      const target =
        body.message_id !== undefined
          ? { messageId: body.message_id }
          : {
              ...(body.site !== undefined ? { site: body.site } : {}),
              ...(body.tenant !== undefined ? { tenant: body.tenant } : {}),
              ...(body.from !== undefined ? { from: body.from } : {}),
              ...(body.to_domains !== undefined ? { toDomains: body.to_domains } : {}),
            };
      return { status: 200, body: await within(deps, deps.herald.deleteQueued(target), BULK_TIMEOUT_MS) };
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/queue/bounce',
    auth: 'admin',
    tag: 'queue',
    summary: 'bounce one message or a site: the sender gets a DSN (an operator bounce)',
    body: z
      .strictObject({
        message_id: messageId.optional(),
        site: siteName.optional(),
        reason: reason.optional(),
      })
      .superRefine(oneOf(['message_id', 'site'])),
    responses: {
      200: { description: 'what was removed now or marked', schema: removeSchema },
      404: notFound,
    },
    handler: async ({ body, deps }) => {
      const target =
        body.message_id !== undefined ? { messageId: body.message_id } : { site: body.site ?? '' };
      const opts = body.reason !== undefined ? { reason: body.reason } : {};
      return {
        status: 200,
        body: await within(deps, deps.herald.bounceQueued(target, opts), BULK_TIMEOUT_MS),
      };
    },
  }),
];
