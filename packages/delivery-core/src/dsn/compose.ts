/**
 * Delivery status notifications (RFC 3464) Herald sends to a message's envelope sender when
 * recipients bounce or expire: a multipart/report (RFC 6522) with a human-readable part, the
 * machine-readable message/delivery-status part (per-message and per-recipient fields), and the
 * original message's header section (text/rfc822-headers). Sent from the null sender with
 * `Auto-Submitted: auto-replied` (RFC 3834), so a DSN is never answered by another DSN.
 * Pure: the caller passes the clock and ids.
 */
import { headerEnd, rfc5322Date } from '../message/index.js';

/** The original headers are cut after this many bytes (the body is never included). */
export const DSN_MAX_HEADER_BYTES = 64 * 1024;
const CRLF = '\r\n';

export interface DsnRecipient {
  address: string;
  /** RFC 3464 action: failed (bounced, expired) or delayed (a warning). */
  action: 'failed' | 'delayed';
  /** Enhanced status, e.g. 5.1.1; 5.0.0 / 4.0.0 when the reply had none. */
  status?: string | undefined;
  /** The remote reply as it came (code and text), for Diagnostic-Code. */
  diagnostic?: string | undefined;
  /** The host that gave it, for Remote-MTA. */
  remoteMta?: string | undefined;
  lastAttemptAt?: number | undefined;
}

export interface DsnInput {
  /** Our host name: Reporting-MTA and the From/Message-ID domain. */
  reportingMta: string;
  /** The original envelope sender: the DSN goes to this address. Never '' (the caller checks). */
  to: string;
  /** Herald's id of the original message and when it was accepted. */
  originalId: string;
  arrivalAt: number;
  recipients: DsnRecipient[];
  /** The original message (only its header section is used). */
  original?: Buffer | undefined;
  /** Message-ID for the DSN itself (without <>), and the time it is made. */
  messageId: string;
  now: number;
}

/** A header field value safe to put on one line: no CR/LF (a hostile reply must not add headers). */
function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').trim();
}

function statusOf(r: DsnRecipient): string {
  if (r.status && /^[245]\.\d{1,3}\.\d{1,3}$/.test(r.status)) return r.status;
  return r.action === 'failed' ? '5.0.0' : '4.0.0';
}

function humanPart(input: DsnInput): string {
  const failed = input.recipients.filter((r) => r.action === 'failed');
  const lines = [
    `This is the mail system at host ${input.reportingMta}.`,
    '',
    failed.length > 0
      ? "I'm sorry to have to inform you that your message could not be delivered to one or more recipients."
      : 'Your message has not been delivered yet to one or more recipients; delivery will be retried.',
    '',
  ];
  for (const r of input.recipients) {
    lines.push(`<${oneLine(r.address)}>: ${oneLine(r.diagnostic ?? statusOf(r))}`);
  }
  return lines.join(CRLF);
}

function deliveryStatus(input: DsnInput): string {
  const blocks = [
    [
      `Reporting-MTA: dns; ${input.reportingMta}`,
      `X-Herald-Queue-ID: ${input.originalId}`,
      `Arrival-Date: ${rfc5322Date(new Date(input.arrivalAt))}`,
    ].join(CRLF),
  ];
  for (const r of input.recipients) {
    const fields = [
      `Final-Recipient: rfc822; ${oneLine(r.address)}`,
      `Action: ${r.action}`,
      `Status: ${statusOf(r)}`,
    ];
    if (r.remoteMta) fields.push(`Remote-MTA: dns; ${oneLine(r.remoteMta)}`);
    if (r.diagnostic) fields.push(`Diagnostic-Code: smtp; ${oneLine(r.diagnostic)}`);
    if (r.lastAttemptAt) fields.push(`Last-Attempt-Date: ${rfc5322Date(new Date(r.lastAttemptAt))}`);
    blocks.push(fields.join(CRLF));
  }
  return blocks.join(CRLF + CRLF);
}

function originalHeaders(original: Buffer | undefined): string {
  if (!original) return '';
  const head = original.subarray(0, Math.min(headerEnd(original), DSN_MAX_HEADER_BYTES)).toString('utf8');
  return head.replace(/\r?\n/g, CRLF).replace(/(\r\n)+$/, '');
}

/** The DSN as a complete message (CRLF line ends), to be spooled from the null sender. */
export function composeDsn(input: DsnInput): Buffer {
  const boundary = `herald-dsn-${input.messageId.replace(/[^A-Za-z0-9]/g, '')}`;
  const anyFailed = input.recipients.some((r) => r.action === 'failed');
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${oneLine(input.to)}>`,
    `Subject: ${anyFailed ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)'}`,
    `Date: ${rfc5322Date(new Date(input.now))}`,
    `Message-ID: <${input.messageId}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
  ];
  const parts = [
    ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', humanPart(input)],
    ['Content-Type: message/delivery-status', '', deliveryStatus(input)],
  ];
  const headers = originalHeaders(input.original);
  if (headers) parts.push(['Content-Type: text/rfc822-headers', '', headers]);
  const body = [
    'This is a MIME-encapsulated message.',
    '',
    ...parts.flatMap((part) => [`--${boundary}`, ...part, '']),
    `--${boundary}--`,
    '',
  ];
  return Buffer.from([...head, '', ...body].join(CRLF), 'utf8');
}
