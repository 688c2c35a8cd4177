/**
 * `GET /v1/events?after=&type=&tenant=&limit=`: the event stream from a resumable cursor
 * (delivery-core's `tailEvents`, without following). Without `after`: the last `limit` matching
 * events; with it, up to `limit` matching events after that stream id. `next` is the cursor to
 * pass as `after` for what comes next: paging with it returns every matching entry exactly once.
 * A tenant key reads only its own tenant's events (naming another tenant is 403). On a sharded
 * queue (`queue.shards`) the shards' streams are read as one and cursors are merged cursors (one
 * stream id per shard, joined by ','; delivery-core events/merged.ts). A cursor Redis could not
 * read after (an id part over 2^64-1, more ids than shards) is a 400 naming `query.after`. One
 * request examines at most EVENTS_SCAN_BUDGET entries: a filter that matches rarely answers what
 * it found with `partial: true` and a `next` just after the last entry examined, so a client
 * pages forward without one request costing an unbounded scan; past api.redis_timeout the scan
 * is aborted at its next page (the answer was already a 503).
 */

import {
  compareCursors,
  cursorProblem,
  EVENT_TYPES,
  isEventType,
  isStreamCursor,
  joinCursor,
  newestCursor,
  splitCursor,
  tailEvents,
} from '@herald/delivery-core/events';
import { eventStreamKeys } from '@herald/delivery-core/queue';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { defineRoute } from '../route.js';
import { tenantName } from '../schemas.js';
import { tenantFilter } from '../scope.js';
import { within } from '../within.js';

export const MAX_EVENTS_LIMIT = 1_000;
const DEFAULT_EVENTS_LIMIT = 100;
/** Stream entries one request examines at most (matching or not): 10 × the largest page. */
export const EVENTS_SCAN_BUDGET = 10 * MAX_EVENTS_LIMIT;
/** Longest `after` taken at all (a merged cursor of the most shards fits). */
const MAX_CURSOR_CHARS = 16 * 1024;

const typeList = z
  .string()
  .transform((text) => text.split(',').map((t) => t.trim()))
  .refine((types) => types.every(isEventType), {
    error: `expected event types separated by commas (${EVENT_TYPES.join(', ')})`,
  })
  .describe(`comma-separated event types (${EVENT_TYPES.join(', ')}); default all`);

/** Each stream's later position of two cursors (a short page read every stream up to `newest`). */
function laterEach(a: string, b: string, streams: number): string {
  const x = splitCursor(a, streams);
  const y = splitCursor(b, streams);
  return joinCursor(x.map((id, i) => (compareCursors(id, y[i]!) >= 0 ? id : y[i]!)));
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
        .max(MAX_CURSOR_CHARS)
        .refine(isStreamCursor, {
          error:
            'expected a stream id (ms or ms-seq; several joined by "," on a sharded queue) as given in `next`',
        })
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
              id: z
                .string()
                .describe('the stream entry id (on a sharded queue: the merged cursor just after it)'),
              event: z.record(z.string(), z.unknown()).describe('the event as in the Redis stream'),
            }),
          ),
          next: z.string().describe('pass as `after` for the events that come next'),
          partial: z
            .boolean()
            .describe(
              `true when the scan budget (${EVENTS_SCAN_BUDGET} entries) ended the read before \`limit\` events matched: more entries follow \`next\`, read on at once`,
            ),
        }),
      },
      403: { description: 'a tenant key naming another tenant (HERALD_API_FORBIDDEN)' },
    },
    handler: async ({ query, caller, deps }) => {
      const tenant = tenantFilter(caller, query.tenant);
      const keys = eventStreamKeys(deps.config.redis.prefix, deps.herald.shards.layout);
      const problem = query.after === undefined ? undefined : cursorProblem(query.after, keys.length);
      if (problem)
        throw new ApiError(400, 'HERALD_API_BAD_REQUEST', `query.after: ${problem}`, {
          issues: [{ path: 'query.after', message: problem }],
        });
      // Aborted once the request is answered (the deadline's 503 included): the scan stops.
      const scan = new AbortController();
      const read = async () => {
        // Read before the entries: anything newer than it that matches is among them.
        const newest = await newestCursor(deps.redis, keys);
        const events = [];
        const tail = tailEvents(deps.redis, keys, {
          ...(query.after !== undefined ? { after: query.after } : {}),
          ...(query.type ? { types: query.type } : {}),
          ...(tenant !== undefined ? { tenant } : {}),
          limit: query.limit,
          maxScanned: EVENTS_SCAN_BUDGET,
          signal: scan.signal,
        });
        let step = await tail.next();
        for (; !step.done; step = await tail.next())
          events.push({ id: step.value.id, event: step.value.event });
        const stop = step.value;
        // Out of budget reading forward: read on just after the last entry examined.
        if (stop && query.after !== undefined) return { events, next: stop.cursor, partial: true };
        const last = events.at(-1)?.id;
        // A full page ends at its last entry; a short one read to the end, at least to `newest`.
        let next = last ?? query.after ?? newest;
        if (events.length < query.limit) next = laterEach(next, newest, keys.length);
        return { events, next, partial: false };
      };
      try {
        return { status: 200, body: await within(deps, read()) };
      } finally {
        scan.abort();
      }
    },
  }),
];
