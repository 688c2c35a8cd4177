/**
 * `GET /v1/messages/{id}`: one message's story (`herald.messageStory`, the same data as
 * `herald message show --json`): envelope, each recipient's state and last reply, every attempt
 * (MX host, IP, TLS, replies), feedback, and why a recipient not finished waits. A tenant key
 * reading another tenant's message is answered exactly as for an unknown id (404).
 */
import { RECIPIENT_STATES } from '@herald/delivery-core/story';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { defineRoute } from '../route.js';
import { canRead } from '../scope.js';
import { within } from '../within.js';

const MAX_ID_CHARS = 128;
const epochMs = z.number().describe('epoch milliseconds');

export const smtpReplySchema = z.object({
  code: z.number().int(),
  enhanced: z.string().optional(),
  text: z.string(),
  stage: z.string(),
  host: z.string().optional(),
});

const recipientStory = z.object({
  address: z.string(),
  domain: z.string(),
  state: z.enum(RECIPIENT_STATES),
  attempts: z.number().int().describe('delivery attempts that included this recipient'),
  reply: smtpReplySchema.optional().describe('the last reply about it'),
  at: epochMs.optional().describe('when it reached its state (absent while queued)'),
  nextAttemptAt: epochMs.optional(),
  retryClass: z.string().optional(),
  waiting: z
    .object({ reason: z.string(), until: epochMs.optional() })
    .optional()
    .describe('not finished: why it waits (retry backoff, site suspended, tenant paused, a slot, a rate, …)'),
});

const attemptStory = z.object({
  time: epochMs,
  domain: z.string(),
  attempt: z.number().int(),
  host: z
    .object({
      hostname: z.string(),
      address: z.string(),
      port: z.number().int(),
      tls: z.boolean(),
      tlsVersion: z.string().optional(),
      tlsCipher: z.string().optional(),
      tlsVerified: z.boolean().optional(),
      tlsVerifiedBy: z.string().optional().describe('"DANE" when TLSA records verified the certificate'),
      mtaSts: z.enum(['enforce', 'testing']).optional(),
    })
    .optional(),
  results: z.array(z.object({ address: z.string(), accepted: z.boolean(), reply: smtpReplySchema })),
  hostErrors: z.array(z.object({ hostname: z.string(), address: z.string(), reply: smtpReplySchema })),
  durationMs: z.number(),
  mtaStsProblems: z.array(z.string()).optional(),
  dane: z.string().optional().describe('with DANE on: verified, failed:<why> or none'),
});

export const messageStorySchema = z.object({
  id: z.string(),
  tenant: z.string(),
  from: z.string().describe('envelope sender ("" for the null sender)'),
  acceptedAt: epochMs,
  size: z.number().int(),
  stream: z.string().optional(),
  campaign: z.string().optional(),
  source: z.enum(['smtp', 'api', 'dsn']),
  client: z.string().optional(),
  recipients: z.array(recipientStory),
  attempts: z.array(attemptStory),
  feedback: z.array(z.record(z.string(), z.unknown())).describe('bounces and complaints received later'),
  truncated: z.boolean().describe('the trace dropped older events: counts are lower bounds'),
});

export const messageStoryRoutes = [
  defineRoute({
    method: 'GET',
    url: '/v1/messages/:id',
    auth: 'tenant',
    tag: 'messages',
    summary: "a message's story",
    description:
      "Each recipient's state (queued, deferred, delivered, bounced, expired, suppressed), every attempt and why a recipient waits; readable for events.trace_retention after the message's last event.",
    params: z.strictObject({ id: z.string().min(1).max(MAX_ID_CHARS).describe("Herald's message id") }),
    responses: {
      200: { description: 'the story', schema: messageStorySchema },
      404: { description: 'no such message, or one of another tenant (HERALD_MESSAGE_NOT_FOUND)' },
    },
    handler: async ({ params, caller, deps }) => {
      const story = await within(deps, deps.herald.messageStory(params.id));
      if (!story || !canRead(caller, story.tenant))
        throw new ApiError(404, 'HERALD_MESSAGE_NOT_FOUND', 'no such message');
      return { status: 200, body: story };
    },
  }),
];
