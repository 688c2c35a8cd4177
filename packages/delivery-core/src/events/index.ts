/**
 * Events: one typed record per accepted message, per attempt and per recipient outcome, written
 * as a pino log line and to a Redis stream, and those naming a message also to its trace. See
 * types.ts for the vocabulary, tail.ts for reading the stream from a cursor, trace.ts for traces,
 * activity.ts for the per-minute counters and per-site replies written with them.
 */

export {
  ACTIVITY_MINUTE_MS,
  ACTIVITY_OUTCOMES,
  ACTIVITY_RETENTION_MS,
  type ActivityMinute,
  type ActivityOutcome,
  ActivityTally,
  minuteOf,
  readActivityMinutes,
  readBouncesByDomain,
  readSiteOutcomes,
  readSiteReplies,
  SITE_OUTCOMES,
  SITE_REPLIES_KEPT,
  type SiteOutcome,
  type SiteReply,
} from './activity.js';
export {
  CURSOR_SEPARATOR,
  compareStreamIds,
  joinCursor,
  type StreamCursor,
  splitCursor,
  streamCursor,
  trimmedAfter,
} from './cursor.js';
export {
  compareCursors,
  cursorEntriesKept,
  cursorProblem,
  idBefore,
  isStreamCursor,
  newestCursor,
  oldestCursor,
  type TailStop,
} from './merged.js';
export type { RedisEventSinkOptions } from './redis-sink.js';
export { RedisEventSink, readEvents } from './redis-sink.js';
export type { EventType, StreamEvent, TailOptions } from './tail.js';
export { DEFAULT_TAIL_LIMIT, EVENT_TYPES, isEventType, isStreamId, tailEvents } from './tail.js';
export {
  DEFAULT_TRACE_MAX_ENTRIES,
  DEFAULT_TRACE_RETENTION_MS,
  type MessageTrace,
  queueTraceWrite,
  readAcceptedEvent,
  readTrace,
  TRACE_TRUNCATED,
  type TraceOptions,
  traceMessageId,
  trimTrace,
} from './trace.js';
export type {
  AcceptedEvent,
  AccountEvent,
  AttemptEvent,
  ClientEvent,
  ClientLimitReason,
  EventSink,
  FeedbackEvent,
  HeraldEvent,
  OperatorAction,
  QuarantineEvent,
  RecipientEvent,
  RecipientEventType,
  SiteEvent,
  TenantEvent,
  TerminalState,
} from './types.js';
export { eventSubject } from './types.js';
