/**
 * What the relay adds to a submitted message before it is spooled: a Received header (RFC 5321
 * §4.4) on top, and Message-ID / Date when the client sent none (RFC 5322 §3.6). The rest of the
 * message is kept byte for byte (and not copied when it has room in front: util's `prepend`).
 */
import { prepend } from '../util/index.js';

export interface TraceInfo {
  /** The client's EHLO name, its address, and whether TLS / AUTH were used. */
  helo: string;
  clientAddress: string;
  /** Our host name. */
  by: string;
  /** "ESMTP", "ESMTPS", "ESMTPSA"… (RFC 3848). */
  protocol: string;
  /** Herald's message id, for the `id` clause. */
  id: string;
  /** Single recipient for the `for` clause; omitted for several (privacy). */
  for?: string;
}

export interface PreparedMessage {
  body: Buffer;
  messageIdHeader: string;
  addedHeaders: string[];
}

/** Offset where the header section ends (index of the blank line), or the whole length. */
export function headerEnd(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n');
  // A bare-LF blank line counts only before the CRLF one: look no further (not the whole body).
  const lf = (crlf >= 0 ? raw.subarray(0, crlf) : raw).indexOf('\n\n');
  if (lf >= 0) return lf + 1;
  if (crlf >= 0) return crlf + 2;
  return raw.length;
}

export function hasHeader(raw: Buffer, name: string): boolean {
  const head = raw.subarray(0, headerEnd(raw)).toString('latin1');
  return new RegExp(`^${name}[ \\t]*:`, 'im').test(head);
}

export function findHeader(raw: Buffer, name: string): string | undefined {
  const head = raw.subarray(0, headerEnd(raw)).toString('utf8');
  const match = new RegExp(`^${name}[ \\t]*:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head);
  return match?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim();
}

/** The unfolded values of every `name` field in the header section, in order. */
export function findHeaders(raw: Buffer, name: string): string[] {
  const head = raw.subarray(0, headerEnd(raw)).toString('utf8');
  const field = new RegExp(`^${name}[ \\t]*:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'gim');
  return [...head.matchAll(field)].map((m) => (m[1] ?? '').replace(/\r?\n[ \t]+/g, ' ').trim());
}

/** RFC 5322 date-time, e.g. "Wed, 25 Nov 2026 22:49:26 +0000". */
export function rfc5322Date(date: Date): string {
  const second = Math.floor(date.getTime() / MS_PER_S);
  if (second !== lastDate.second) lastDate = { second, text: date.toUTCString().replace(/GMT$/, '+0000') };
  return lastDate.text;
}

const MS_PER_S = 1000;
/** The last second formatted: every message of that second has the same date (one per message before). */
let lastDate = { second: Number.NaN, text: '' };

export function prepareMessage(raw: Buffer, trace: TraceInfo, now: Date): PreparedMessage {
  const eol = raw.indexOf('\r\n') >= 0 || raw.length === 0 ? '\r\n' : '\n';
  const added: string[] = [];
  const received =
    `Received: from ${trace.helo} (${trace.clientAddress})${eol}\tby ${trace.by} (Herald) with ${trace.protocol} id ${trace.id}` +
    `${trace.for ? `${eol}\tfor <${trace.for}>` : ''};${eol}\t${rfc5322Date(now)}`;
  added.push(received);
  let messageIdHeader = findHeader(raw, 'message-id');
  if (!messageIdHeader) {
    messageIdHeader = `<${trace.id}@${trace.by}>`;
    added.push(`Message-ID: ${messageIdHeader}`);
  }
  if (!hasHeader(raw, 'date')) added.push(`Date: ${rfc5322Date(now)}`);
  const prefix = Buffer.from(added.map((h) => h + eol).join(''), 'utf8');
  return { body: prepend(prefix, raw), messageIdHeader, addedHeaders: added };
}
