/**
 * Story: one message's story as plain data — envelope, each recipient's state (queued, deferred,
 * delivered, bounced, expired, suppressed) with its last reply, every attempt (MX host, IP, TLS,
 * replies), feedback received later, and why a recipient not finished waits (retry backoff, a
 * site suspension, a tenant pause, a connection slot, a rate, in flight, ready). Built from the
 * message's trace (events/trace.ts), so it stays readable after the spool deleted the message,
 * and from its jobs while they exist. `herald.messageStory` is its verb; `derive.ts` is pure.
 */
export { storyFromEvents, waitingFor } from './derive.js';
export { createStoryReader, type StoryParts, type StoryReader } from './read.js';
export {
  type AttemptStory,
  type FeedbackStory,
  type JobView,
  type MessageStory,
  RECIPIENT_STATES,
  type RecipientStory,
  type RecipientStoryState,
  type Waiting,
} from './types.js';
