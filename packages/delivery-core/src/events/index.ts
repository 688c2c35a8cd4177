/**
 * Events: one typed record per accepted message, per attempt and per recipient outcome, written
 * as a pino log line and to a Redis stream. See types.ts for the vocabulary, tail.ts for reading
 * the stream from a cursor.
 */

export { compareStreamIds, type StreamCursor, streamCursor, trimmedAfter } from './cursor.js';
export type { RedisEventSinkOptions } from './redis-sink.js';
export { RedisEventSink, readEvents } from './redis-sink.js';
export type { EventType, StreamEvent, TailOptions } from './tail.js';
export { DEFAULT_TAIL_LIMIT, EVENT_TYPES, isEventType, isStreamId, tailEvents } from './tail.js';
export type {
  AcceptedEvent,
  AttemptEvent,
  ClientEvent,
  ClientLimitReason,
  EventSink,
  FeedbackEvent,
  HeraldEvent,
  OperatorAction,
  RecipientEvent,
  RecipientEventType,
  SiteEvent,
  TenantEvent,
  TerminalState,
} from './types.js';
export { eventSubject } from './types.js';
