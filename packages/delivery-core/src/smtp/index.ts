/**
 * Outbound SMTP: sessions on nodemailer's SMTPConnection with Nagle off, a per-host connection
 * pool, and one delivery attempt across ordered candidate hosts with per-recipient outcomes.
 * Errors leaving this module are the closed DeliveryError set.
 */

export type { AttemptHost, AttemptReport, AttemptRequest, CandidateHost } from './deliver.js';
export { deliverAttempt } from './deliver.js';
export type { ConnectionLeases, PoolOptions } from './pool.js';
export { SmtpPool } from './pool.js';
export { errorFromSmtp, parseReply } from './reply.js';
export type {
  ConnectionLease,
  RecipientOutcome,
  SessionLimits,
  SessionTarget,
  SessionTimeouts,
  TlsDetails,
  TlsMode,
  TransactionResult,
} from './session.js';
export { SmtpSession } from './session.js';
export type { ConnectOptions } from './socket.js';
export { connectNoDelay } from './socket.js';
