/**
 * Events: one typed record per accepted message, per attempt and per recipient outcome, written
 * as a pino log line and to a Redis stream. See types.ts for the vocabulary.
 */

export type { RedisEventSinkOptions } from './redis-sink.js';
export { RedisEventSink, readEvents } from './redis-sink.js';
export type {
  AcceptedEvent,
  AttemptEvent,
  ClientEvent,
  ClientLimitReason,
  EventSink,
  FeedbackEvent,
  HeraldEvent,
  RecipientEvent,
  RecipientEventType,
  SiteEvent,
  TenantEvent,
  TerminalState,
} from './types.js';
export { eventSubject } from './types.js';
