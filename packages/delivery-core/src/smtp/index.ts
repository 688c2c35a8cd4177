/**
 * Outbound SMTP: sessions on nodemailer's SMTPConnection with Nagle off, a per-host connection
 * pool, and one delivery attempt across ordered candidate hosts with per-recipient outcomes.
 * Errors leaving this module are the closed DeliveryError set.
 */
export { SmtpSession } from './session.js';
export type { SessionTarget, SessionTimeouts, RecipientOutcome, TransactionResult, TlsMode } from './session.js';
export { SmtpPool } from './pool.js';
export type { PoolOptions } from './pool.js';
export { deliverAttempt } from './deliver.js';
export type { AttemptReport, AttemptRequest, CandidateHost } from './deliver.js';
export { parseReply, errorFromSmtp } from './reply.js';
