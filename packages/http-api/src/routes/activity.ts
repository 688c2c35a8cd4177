/**
 * Activity (admin), for the dashboard and any operator tool: `GET /v1/activity?minutes=` (per
 * minute: recipients accepted, delivered, deferred, bounced, expired; bounce reasons per minute;
 * top bounce reasons per destination domain), read from the per-minute counters every relay keeps
 * in Redis with its events (activity.ts; the last ACTIVITY_RETENTION_MS), and
 * `GET /v1/activity/messages?recipient=` (the messages accepted for a recipient, with its last
 * outcome), derived from the event stream, a window of events.stream_max_len entries read at most
 * ACTIVITY_MAX_EVENTS a shard: `since` and `truncated` say how far back that answer reaches.
 */
import { ACTIVITY_RETENTION_MS } from '@herald/delivery-core/events';
import { activityKeysOfShards, eventStreamKeys } from '@herald/delivery-core/queue';
import { z } from 'zod';
import {
  ACTIVITY_MAX_EVENTS,
  activitySummary,
  MS_PER_MINUTE,
  messagesOfRecipient,
  readRecentEvents,
} from '../activity.js';
import { activitySchema, recipientMessagesSchema } from '../responses.js';
import { defineRoute } from '../route.js';
import { address } from '../schemas.js';
import { within } from '../within.js';

const DEFAULT_MINUTES = 60;
/** The counters' reach. */
const MAX_ACTIVITY_MINUTES = ACTIVITY_RETENTION_MS / MS_PER_MINUTE;
/** How far back a recipient's messages are looked for in the event stream. */
const MAX_MINUTES = 24 * 60;
const MAX_MESSAGES_LISTED = 100;

const minutesQuery = (max: number) => z.coerce.number().int().min(1).max(max).default(DEFAULT_MINUTES);
const windowNote = `Derived from the event stream (a window of events.stream_max_len entries; at most ${ACTIVITY_MAX_EVENTS} read per queue shard, newest first): \`since\` is the oldest event read, \`truncated\` says the window held more.`;

export const activityRoutes = [
  defineRoute({
    method: 'GET',
    url: '/v1/activity',
    auth: 'admin',
    tag: 'activity',
    summary: 'per-minute accepted / delivered / deferred / bounced / expired, and bounce reasons',
    description: `Recipients per minute for the last \`minutes\` (accepted counts the recipients of each accepted message), from the per-minute counters every relay writes with its events (kept ${MAX_ACTIVITY_MINUTES} minutes: \`kept_since\`). Bounce reasons are the bounce classifier's reason of each bounced recipient's reply (\`operator_delete\` / \`operator_bounce\` for \`herald queue delete|bounce\`).`,
    query: z.strictObject({
      minutes: minutesQuery(MAX_ACTIVITY_MINUTES).describe(
        `1–${MAX_ACTIVITY_MINUTES} (default ${DEFAULT_MINUTES})`,
      ),
    }),
    responses: {
      200: {
        description: 'the minutes, oldest first (every minute present)',
        schema: activitySchema,
      },
    },
    handler: async ({ query, deps }) => {
      const now = Date.now();
      const from = now - (query.minutes - 1) * MS_PER_MINUTE;
      const shards = activityKeysOfShards(deps.config.redis.prefix, deps.herald.shards.layout);
      return { status: 200, body: await within(deps, activitySummary(deps.redis, shards, from, now)) };
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
      minutes: minutesQuery(MAX_MINUTES).describe(
        `how far back, 1–${MAX_MINUTES} (default ${DEFAULT_MINUTES})`,
      ),
    }),
    responses: {
      200: {
        description: 'the messages',
        schema: recipientMessagesSchema,
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
