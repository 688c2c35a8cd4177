/**
 * Activity (admin), for the dashboard and any operator tool: `GET /v1/activity?minutes=` (per
 * minute: recipients accepted, delivered, deferred, bounced, expired; bounce reasons per minute;
 * top bounce reasons per destination domain) and `GET /v1/activity/messages?recipient=` (the
 * messages accepted for a recipient, with its last outcome). Both are derived from the event
 * stream (activity.ts), a window of events.stream_max_len entries read at most
 * ACTIVITY_MAX_EVENTS a shard: `since` and `truncated` say how far back the answer reaches.
 */
import { eventStreamKeys } from '@herald/delivery-core/queue';
import { z } from 'zod';
import {
  ACTIVITY_MAX_EVENTS,
  COUNTED,
  MS_PER_MINUTE,
  messagesOfRecipient,
  readRecentEvents,
  summarizeActivity,
} from '../activity.js';
import { defineRoute } from '../route.js';
import { address } from '../schemas.js';
import { within } from '../within.js';

const DEFAULT_MINUTES = 60;
const MAX_MINUTES = 24 * 60;
const MAX_MESSAGES_LISTED = 100;

const epochMs = z.number().describe('epoch milliseconds');
const minuteSchema = z.object({
  minute: epochMs.describe('start of the minute'),
  ...Object.fromEntries(COUNTED.map((name) => [name, z.number().int()])),
});

const minutesQuery = z.coerce.number().int().min(1).max(MAX_MINUTES).default(DEFAULT_MINUTES);
const windowNote = `Derived from the event stream (a window of events.stream_max_len entries; at most ${ACTIVITY_MAX_EVENTS} read per queue shard, newest first): \`since\` is the oldest event read, \`truncated\` says the window held more.`;

export const activityRoutes = [
  defineRoute({
    method: 'GET',
    url: '/v1/activity',
    auth: 'admin',
    tag: 'activity',
    summary: 'per-minute accepted / delivered / deferred / bounced / expired, and bounce reasons',
    description: `Recipients per minute for the last \`minutes\` (accepted counts the recipients of each accepted message). Bounce reasons are the bounce classifier's reason of each bounced recipient's reply (\`operator_delete\` / \`operator_bounce\` for \`herald queue delete|bounce\`). ${windowNote}`,
    query: z.strictObject({
      minutes: minutesQuery.describe(`1–${MAX_MINUTES} (default ${DEFAULT_MINUTES})`),
    }),
    responses: {
      200: {
        description: 'the minutes, oldest first (every minute present)',
        schema: z.object({
          from: epochMs,
          since: epochMs.nullable(),
          minutes: z.array(minuteSchema),
          bounce_reasons: z.array(z.object({ minute: epochMs, reasons: z.record(z.string(), z.number()) })),
          top_reasons_by_domain: z.array(
            z.object({
              domain: z.string(),
              bounced: z.number().int(),
              reasons: z.array(z.object({ reason: z.string(), count: z.number().int() })),
            }),
          ),
          scanned: z.number().int(),
          truncated: z.boolean(),
        }),
      },
    },
    handler: async ({ query, deps }) => {
      const now = Date.now();
      const from = now - (query.minutes - 1) * MS_PER_MINUTE;
      const keys = eventStreamKeys(deps.config.redis.prefix, deps.herald.shards.layout);
      const minuteStart = Math.floor(from / MS_PER_MINUTE) * MS_PER_MINUTE;
      const { events, truncated } = await within(deps, readRecentEvents(deps.redis, keys, minuteStart));
      return { status: 200, body: summarizeActivity(events, from, now, truncated) };
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/activity/messages',
    auth: 'admin',
    tag: 'activity',
    summary: 'the messages accepted for a recipient in the last minutes',
    description: `Newest first, at most ${MAX_MESSAGES_LISTED}; \`state\` is the recipient's last outcome in the window (null: none yet). Read a message's story with \`GET /v1/messages/{id}\`. ${windowNote}`,
    query: z.strictObject({
      recipient: address.describe('the recipient address (case-insensitive)'),
      minutes: minutesQuery.describe(`how far back, 1–${MAX_MINUTES} (default ${DEFAULT_MINUTES})`),
    }),
    responses: {
      200: {
        description: 'the messages',
        schema: z.object({
          messages: z.array(
            z.object({
              id: z.string(),
              tenant: z.string(),
              from: z.string(),
              accepted_at: epochMs,
              state: z.string().nullable(),
            }),
          ),
          since: epochMs.nullable(),
          truncated: z.boolean(),
        }),
      },
    },
    handler: async ({ query, deps }) => {
      const from = Date.now() - query.minutes * MS_PER_MINUTE;
      const keys = eventStreamKeys(deps.config.redis.prefix, deps.herald.shards.layout);
      const { events, truncated } = await within(deps, readRecentEvents(deps.redis, keys, from));
      const since = events.reduce<number | null>(
        (min, e) => (min === null ? e.time : Math.min(min, e.time)),
        null,
      );
      const messages = messagesOfRecipient(events, query.recipient).slice(0, MAX_MESSAGES_LISTED);
      return { status: 200, body: { messages, since, truncated } };
    },
  }),
];
