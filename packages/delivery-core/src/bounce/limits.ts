/**
 * How much of a foreign message the bounce classifier reads. Every parser in bounce/ is linear in
 * its input (no pattern rescans what it has read, nothing is rebuilt per line or per recipient);
 * these caps bound the input and what is kept of it, so a hostile bounce costs a bounded amount of
 * work however it is built. Reading stops quietly at a cap: the rest is ignored, nothing throws.
 * The dev corpus is far inside every cap (largest message 72 KiB, header field 1.7 KiB,
 * diagnostic 2.4 KiB, 7 recipients, 82 header fields, 7 parts).
 */

/** Bytes of a message read at most; bounces are small, and the returned message is not needed. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/**
 * Lines read of one text (a header block, a part's body, a notice); later lines are ignored. Real
 * notices have tens of lines; it also keeps line arrays out of V8's large-object space (past about
 * 16,000 elements), where allocating them costs many times more.
 */
export const MAX_TEXT_LINES = 10_000;
/** Header fields read per header block; later fields are ignored. */
export const MAX_HEADER_FIELDS = 1_000;
/** Characters kept of one unfolded header field value. */
export const MAX_HEADER_VALUE_CHARS = 16 * 1024;
/** MIME entities parsed per message (the root included); later parts are ignored. */
export const MAX_MIME_PARTS = 64;
/** Levels of MIME nesting parsed; a deeper entity is read as one text part. */
export const MAX_MIME_DEPTH = 6;
/** Recipients classified per message (a report Herald acts on names one). */
export const MAX_REPORT_RECIPIENTS = 100;
/** Characters of a diagnostic (an SMTP reply, a DSN's Diagnostic-Code, a notice) the reason is read from. */
export const MAX_DIAGNOSTIC_CHARS = 16 * 1024;
/** Characters kept of a report field other than a diagnostic (Reporting-MTA, Remote-MTA, Feedback-Type, ...). */
export const MAX_FIELD_CHARS = 1024;
/** Characters of an address (RFC 5321 §4.5.3.1.3: a path is 256 octets with its brackets); longer is not one. */
export const MAX_ADDRESS_CHARS = 254;
/** Host names per recipient matched against the provider tables. */
export const MAX_HOSTS = 64;
