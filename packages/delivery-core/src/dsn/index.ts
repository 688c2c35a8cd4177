/**
 * Delivery status notifications to senders (RFC 3464 / RFC 6522): `composeDsn` builds the
 * multipart/report for recipients that bounced or expired. Sending it (from the null sender, only
 * for messages that did not come from the null sender, only when the tenant wants DSNs) is the
 * delivery module's follow-up. Pure.
 */
export { composeDsn, DSN_MAX_HEADER_BYTES, type DsnInput, type DsnRecipient } from './compose.js';
