/**
 * `GET /v1/messages/{id}`: one message's story (`herald.messageStory`, the same data as
 * `herald message show --json`): envelope, each recipient's state and last reply, every attempt
 * (MX host, IP, TLS, replies), feedback, and why a recipient not finished waits. A tenant key
 * reading another tenant's message is answered exactly as for an unknown id (404).
 */
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { messageStorySchema } from '../responses.js';
import { defineRoute } from '../route.js';
import { canRead } from '../scope.js';
import { within } from '../within.js';

const MAX_ID_CHARS = 128;

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
