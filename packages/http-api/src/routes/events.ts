/**
 * `GET /v1/events?after=&type=&tenant=&limit=`: the event stream from a resumable cursor
 * (delivery-core's `tailEvents`, without following). Without `after`: the last `limit` matching
 * events; with it, up to `limit` matching events after that stream id. `next` is the cursor to
 * pass as `after` for what comes next: paging with it returns every matching entry exactly once.
 * A tenant key reads only its own tenant's events (naming another tenant is 403).
 */

import type { RedisClient } from '@herald/delivery-core';
import {
  compareStreamIds,
  EVENT_TYPES,
  isEventType,
  isStreamId,
  tailEvents,
} from '@herald/delivery-core/events';
import { queueKeys } from '@herald/delivery-core/keys';
import { z } from 'zod';
import { defineRoute } from '../route.js';
import { tenantName } from '../schemas.js';
import { tenantFilter } from '../scope.js';
import { within } from '../within.js';

export const MAX_EVENTS_LIMIT = 1_000;
const DEFAULT_EVENTS_LIMIT = 100;
/** The cursor of an empty stream: "everything from the first entry on". */
const STREAM_START = '0';

const typeList = z
  .string()
  .transform((text) => text.split(',').map((t) => t.trim()))
  .refine((types) => types.every(isEventType), {
    error: `expected event types separated by commas (${EVENT_TYPES.join(', ')})`,
  })
  .describe(`comma-separated event types (${EVENT_TYPES.join(', ')}); default all`);

async function newestId(redis: RedisClient, key: string): Promise<string> {
  const [last] = (await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][];
  return last ? last[0] : STREAM_START;
}

export const eventRoutes = [
  defineRoute({
    method: 'GET',
    url: '/v1/events',
    auth: 'tenant',
    tag: 'events',
    summary: 'read the event stream from a cursor',
    description:
      'Events as written to the Redis stream (accepted, attempt, delivered, deferred, bounced, …), oldest first. Pass `next` as `after` to read on; the stream is trimmed (events.stream_max_len), so a cursor older than its first entry resumes at the oldest one kept.',
    query: z.strictObject({
      after: z
        .string()
        .refine(isStreamId, { error: 'expected a stream id (ms or ms-seq) as given in `next`' })
        .optional()
        .describe('the `next` of the previous answer; absent: the last `limit` events'),
      type: typeList.optional(),
      tenant: tenantName.optional().describe("only this tenant's events (a tenant key: its own, always)"),
      limit: z.coerce.number().int().min(1).max(MAX_EVENTS_LIMIT).default(DEFAULT_EVENTS_LIMIT),
    }),
    responses: {
      200: {
        description: 'the events and the cursor to read on from',
        schema: z.object({
          events: z.array(
            z.object({
              id: z.string().describe('the stream entry id'),
              event: z.record(z.string(), z.unknown()).describe('the event as in the Redis stream'),
            }),
          ),
          next: z.string().describe('pass as `after` for the events that come next'),
        }),
      },
      403: { description: 'a tenant key naming another tenant (HERALD_API_FORBIDDEN)' },
    },
    handler: async ({ query, caller, deps }) => {
      const tenant = tenantFilter(caller, query.tenant);
      const key = queueKeys(deps.config.redis.prefix).events;
      const read = async () => {
        // Read before the entries: anything newer than it that matches is among them.
        const newest = await newestId(deps.redis, key);
        const events = [];
        for await (const entry of tailEvents(deps.redis, key, {
          ...(query.after !== undefined ? { after: query.after } : {}),
          ...(query.type ? { types: query.type } : {}),
          ...(tenant !== undefined ? { tenant } : {}),
          limit: query.limit,
        }))
          events.push(entry);
        const last = events.at(-1)?.id;
        // A full page ends at its last entry; a short one read to the end, at least to `newest`.
        let next = last ?? query.after ?? newest;
        if (events.length < query.limit && compareStreamIds(newest, next) > 0) next = newest;
        return { events, next };
      };
      return { status: 200, body: await within(deps, read()) };
    },
  }),
];
