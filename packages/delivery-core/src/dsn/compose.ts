/**
 * Delivery status notifications (RFC 3464) Herald sends to a message's envelope sender when
 * recipients bounce or expire, are still queued past the delay warning, or were relayed to a
 * next hop without DSN while the sender asked for success notices: a multipart/report (RFC 6522)
 * with a human-readable part, the machine-readable message/delivery-status part (per-message
 * fields with the sender's ENVID as Original-Envelope-Id; per-recipient fields with its ORCPT as
 * Original-Recipient), and the original: the whole message (message/rfc822) in a failure report
 * when the sender asked RET=FULL and it is at most DSN_MAX_RETURNED_BYTES, else its header
 * section (text/rfc822-headers). Sent from the null sender with `Auto-Submitted: auto-replied`
 * (RFC 3834), so a DSN is never answered by another DSN. Pure: the caller passes the clock and ids.
 */
import { isIP } from 'node:net';
import { headerEnd, rfc5322Date } from '../message/index.js';

/** The original headers are cut after this many bytes. */
export const DSN_MAX_HEADER_BYTES = 64 * 1024;
/** RET=FULL returns a message up to this size whole; a larger one gets its headers only (as Postfix's bounce_size_limit). */
export const DSN_MAX_RETURNED_BYTES = 256 * 1024;
const CRLF = '\r\n';

export interface DsnRecipient {
  address: string;
  /**
   * RFC 3464 action: failed (bounced, expired), delayed (a warning), relayed (accepted by a next
   * hop that could not be given the DSN request), delivered.
   */
  action: 'failed' | 'delayed' | 'relayed' | 'delivered';
  /** The sender's ORCPT ("rfc822;addr"), echoed as Original-Recipient. */
  orcpt?: string | undefined;
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
  /** The original message (its header section, or all of it with RET=FULL in a failure report). */
  original?: Buffer | undefined;
  /** The sender's RET and ENVID (RFC 3461), when given. */
  ret?: 'FULL' | 'HDRS' | undefined;
  envid?: string | undefined;
  /** Message-ID for the DSN itself (without <>), and the time it is made. */
  messageId: string;
  now: number;
}

/** A header field value safe to put on one line: no CR/LF (a hostile reply must not add headers). */
function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').trim();
}

const DEFAULT_STATUS = { failed: '5.0.0', delayed: '4.0.0', relayed: '2.0.0', delivered: '2.0.0' } as const;

function statusOf(r: DsnRecipient): string {
  if (r.status && /^[245]\.\d{1,3}\.\d{1,3}$/.test(r.status)) return r.status;
  return DEFAULT_STATUS[r.action];
}

/** What the report is mostly about: a failure beats a delay, a delay beats a success. */
function kindOf(input: DsnInput): 'failed' | 'delayed' | 'success' {
  if (input.recipients.some((r) => r.action === 'failed')) return 'failed';
  return input.recipients.some((r) => r.action === 'delayed') ? 'delayed' : 'success';
}

const SUBJECTS = {
  failed: 'Undelivered Mail Returned to Sender',
  delayed: 'Delayed Mail (still being retried)',
  success: 'Successful Mail Delivery Report',
} as const;

const OPENINGS = {
  failed:
    "I'm sorry to have to inform you that your message could not be delivered to one or more recipients.",
  delayed: 'Your message has not been delivered yet to one or more recipients; delivery will be retried.',
  success:
    'Your message was successfully relayed to the destinations listed below. They did not accept a request for delivery notices, so you will receive no further notice of delivery from them (though you may still receive notices of errors).',
} as const;

function humanPart(input: DsnInput): string {
  const lines = [`This is the mail system at host ${input.reportingMta}.`, '', OPENINGS[kindOf(input)], ''];
  for (const r of input.recipients) {
    lines.push(`<${oneLine(r.address)}>: ${oneLine(r.diagnostic ?? statusOf(r))}`);
  }
  return lines.join(CRLF);
}

function deliveryStatus(input: DsnInput): string {
  const blocks = [
    [
      ...(input.envid ? [`Original-Envelope-Id: ${oneLine(input.envid)}`] : []),
      `Reporting-MTA: dns; ${input.reportingMta}`,
      `X-Herald-Queue-ID: ${input.originalId}`,
      `Arrival-Date: ${rfc5322Date(new Date(input.arrivalAt))}`,
    ].join(CRLF),
  ];
  for (const r of input.recipients) {
    const fields = [
      ...(r.orcpt ? [`Original-Recipient: ${originalRecipient(r.orcpt)}`] : []),
      `Final-Recipient: ${finalRecipient(oneLine(r.address))}`,
      `Action: ${r.action}`,
      `Status: ${statusOf(r)}`,
    ];
    if (r.remoteMta) fields.push(`Remote-MTA: dns; ${remoteMtaName(oneLine(r.remoteMta))}`);
    if (r.diagnostic) fields.push(`Diagnostic-Code: smtp; ${oneLine(r.diagnostic)}`);
    if (r.lastAttemptAt) fields.push(`Last-Attempt-Date: ${rfc5322Date(new Date(r.lastAttemptAt))}`);
    blocks.push(fields.join(CRLF));
  }
  return blocks.join(CRLF + CRLF);
}

/**
 * The Final-Recipient value: `rfc822; addr` for an ASCII address; an internationalised one as
 * RFC 6533 §3 writes it in a report that is 7-bit ASCII (`utf-8; ` and utf-8-addr-xtext: every
 * character outside QCHAR — beyond ASCII, controls, "+", "=", "\\" — as `\x{HEX}`).
 */
export function finalRecipient(address: string): string {
  if (/^[\x21-\x7e]*$/.test(address)) return `rfc822; ${address}`;
  let out = '';
  for (const ch of address) {
    const code = ch.codePointAt(0)!;
    const qchar = code >= 0x21 && code <= 0x7e && ch !== '+' && ch !== '=' && ch !== '\\';
    out += qchar ? ch : `\\x{${code.toString(16).toUpperCase().padStart(2, '0')}}`;
  }
  return `utf-8; ${out}`;
}

/** "rfc822;addr" as RFC 3464 writes it ("rfc822; addr"). */
function originalRecipient(orcpt: string): string {
  const at = orcpt.indexOf(';');
  return oneLine(`${orcpt.slice(0, at)}; ${orcpt.slice(at + 1)}`);
}

/** The whole message as a message/rfc822 part's content (CRLF line ends), or undefined when not returned. */
function fullMessage(input: DsnInput): Buffer | undefined {
  const { original } = input;
  if (input.ret !== 'FULL' || kindOf(input) !== 'failed' || !original) return undefined;
  if (original.length > DSN_MAX_RETURNED_BYTES) return undefined;
  // latin1 maps each byte to one character and back: an 8-bit body keeps its exact bytes.
  return Buffer.from(
    original
      .toString('latin1')
      .replace(/\r?\n/g, CRLF)
      .replace(/(\r\n)+$/, ''),
    'latin1',
  );
}

/** Where the returned message goes in the report's text (a boundary-like token no text contains). */
const FULL_MESSAGE_SLOT = '\u0000herald-returned-message\u0000';

function originalHeaders(original: Buffer | undefined): string {
  if (!original) return '';
  const head = original.subarray(0, Math.min(headerEnd(original), DSN_MAX_HEADER_BYTES)).toString('utf8');
  return head.replace(/\r?\n/g, CRLF).replace(/(\r\n)+$/, '');
}

/** The DSN as a complete message (CRLF line ends), to be spooled from the null sender. */
export function composeDsn(input: DsnInput): Buffer {
  const boundary = `herald-dsn-${input.messageId.replace(/[^A-Za-z0-9]/g, '')}`;
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${oneLine(input.to)}>`,
    `Subject: ${SUBJECTS[kindOf(input)]}`,
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
  const full = fullMessage(input);
  const headers = full === undefined ? originalHeaders(input.original) : '';
  if (full !== undefined) parts.push(['Content-Type: message/rfc822', '', FULL_MESSAGE_SLOT]);
  else if (headers) parts.push(['Content-Type: text/rfc822-headers', '', headers]);
  const body = [
    'This is a MIME-encapsulated message.',
    '',
    ...parts.flatMap((part) => [`--${boundary}`, ...part, '']),
    `--${boundary}--`,
    '',
  ];
  const [before, after] = [...head, '', ...body].join(CRLF).split(FULL_MESSAGE_SLOT);
  if (full === undefined || after === undefined) return Buffer.from(before!, 'utf8');
  return Buffer.concat([Buffer.from(before!, 'utf8'), full, Buffer.from(after, 'utf8')]);
}

/**
 * A Remote-MTA `dns` value: the host name, or an address as a domain literal (`[192.0.2.1]`,
 * `[IPv6:2001:db8::1]`, RFC 5321 §4.1.3) when the next hop was given by address (a static route).
 */
function remoteMtaName(host: string): string {
  const version = isIP(host);
  return version === 4 ? `[${host}]` : version === 6 ? `[IPv6:${host}]` : host;
}
