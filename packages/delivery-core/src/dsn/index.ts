/**
 * Delivery status notifications to senders (RFC 3464 / RFC 6522): `composeDsn` builds the
 * multipart/report for recipients that bounced, expired, are delayed or were relayed; params.ts
 * holds the sender's RFC 3461 request (NOTIFY, ORCPT, RET, ENVID) and who gets which report. Sending it (from the null sender, only
 * for messages that did not come from the null sender, only when the tenant wants DSNs) is the
 * delivery module's follow-up. Pure.
 */

export {
  composeDsn,
  DSN_MAX_HEADER_BYTES,
  DSN_MAX_RETURNED_BYTES,
  type DsnInput,
  type DsnRecipient,
} from './compose.js';
export {
  type DsnNotify,
  type DsnReportKind,
  type DsnRet,
  dsnParamProblem,
  ENVID_MAX_CHARS,
  envidProblem,
  hasDsn,
  type MessageDsn,
  ORCPT_MAX_CHARS,
  parseNotify,
  parseOrcpt,
  parseRet,
  pathParamSyntaxProblem,
  type RecipientDsn,
  unknownPathParam,
  wantsReport,
} from './params.js';
