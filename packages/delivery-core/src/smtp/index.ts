/**
 * Outbound SMTP: Herald's own client (sessions over sockets with Nagle off, a deadline on every
 * step, pipelined transactions, capped reply parsing), a per-host connection pool, and one
 * delivery attempt across ordered candidate hosts with per-recipient outcomes. Errors leaving this
 * module are the closed DeliveryError set.
 */

export type { AttemptHost, AttemptReport, AttemptRequest, CandidateHost, HostTls } from './attempt-types.js';
export { encodeData, encodeDataChunks, encodeDataParts, ZERO_COPY_MIN_BYTES } from './data-encoding.js';
export { deliverAttempt } from './deliver.js';
export { mailParameters, rcptParameters, type WireForm, wireForm, xtext } from './params.js';
export type { ConnectionLeases, PoolOptions } from './pool.js';
export { SmtpPool } from './pool.js';
export { noMessageSlotReply } from './recipient-limit.js';
export { connectError, networkError, parseReply, toSmtpReply, wireError } from './reply.js';
export { MAX_REPLY_LINE_OCTETS, MAX_REPLY_LINES, type RawReply, ReplyReader } from './reply-reader.js';
export { SmtpSession } from './session.js';
export type {
  ConnectionLease,
  PeerCheck,
  RecipientOutcome,
  SessionLimits,
  SessionTarget,
  SessionTimeouts,
  TlsDetails,
  TlsMode,
  TransactionOptions,
  TransactionResult,
} from './session-types.js';
export type { ConnectOptions } from './socket.js';
export { connectNoDelay } from './socket.js';
export { presentedChain } from './wire.js';
