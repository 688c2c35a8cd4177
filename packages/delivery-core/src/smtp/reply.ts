/**
 * Replies and failures of the outbound client as Herald records them: a server's reply (basic
 * code, RFC 3463 enhanced code, one line of text of bounded length) and the closed error set
 * (5xx → PermanentError, 4xx → TransientError; a connection that failed, timed out or broke the
 * protocol → TransientError with fault `network` and a synthesised 451 4.4.x reply). Pure.
 */
import {
  type DeliveryError,
  PermanentError,
  type SmtpReply,
  type SmtpStage,
  TransientError,
} from '../errors/index.js';
import { splitLines } from '../util/index.js';
import type { RawReply } from './reply-reader.js';
import type { WireFailure } from './wire.js';

const ENHANCED_RE = /^([245])\.(\d{1,3})\.(\d{1,3})\b/;
/** Text kept of one reply (events, logs, DSNs); a server may send up to 200 lines of 4 KiB. */
export const MAX_REPLY_TEXT_CHARS = 1_000;

/** A reply from its lines: the code, the first enhanced code seen, the texts joined by spaces. */
export function toSmtpReply(raw: RawReply, stage: SmtpStage, host?: string): SmtpReply {
  let enhanced: string | undefined;
  const texts: string[] = [];
  let length = 0;
  for (const line of raw.lines) {
    let rest = line.trim();
    const enh = ENHANCED_RE.exec(rest);
    if (enh) {
      enhanced ??= enh[0];
      rest = rest.slice(enh[0].length).trim();
    }
    if (!rest) continue;
    texts.push(rest);
    length += rest.length + 1;
    if (length > MAX_REPLY_TEXT_CHARS) break;
  }
  const reply: SmtpReply = { code: raw.code, text: texts.join(' ').slice(0, MAX_REPLY_TEXT_CHARS), stage };
  if (enhanced) reply.enhanced = enhanced;
  if (host) reply.host = host;
  return reply;
}

/** "550-5.1.1 first\n550 5.1.1 second" → { code: 550, enhanced: "5.1.1", text: "first second" }. */
export function parseReply(response: string, stage: SmtpStage, host?: string): SmtpReply {
  let code = 0;
  const lines: string[] = [];
  for (const line of splitLines(response)) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    const match = /^(\d{3})[ -]?(.*)$/.exec(trimmed);
    if (match) code ||= Number(match[1]);
    lines.push(match ? (match[2] ?? '') : trimmed);
  }
  return toSmtpReply({ code, lines }, stage, host);
}

/** A reply that refuses (4xx/5xx) → the error that carries it. */
export function replyError(reply: SmtpReply): DeliveryError {
  return reply.code >= 500 ? new PermanentError(reply, 'remote') : new TransientError(reply, 'remote');
}

/**
 * A connection-level failure → a transient, network-fault error with a synthesised reply:
 * 4.4.1 when the host could not be reached, 4.7.5 for a TLS failure, 4.4.2 for a connection that
 * timed out, closed, reset or broke the protocol once established.
 */
export function networkError(
  text: string,
  stage: SmtpStage,
  host: string | undefined,
  enhanced: string,
  cause?: unknown,
): TransientError {
  const reply: SmtpReply = { code: 451, enhanced, text, stage };
  if (host) reply.host = host;
  return new TransientError(reply, 'network', { cause });
}

export function wireError(failure: WireFailure, stage: SmtpStage, host?: string): TransientError {
  const enhanced = failure.kind === 'tls' ? '4.7.5' : '4.4.2';
  const code = failure.code ? `${failure.code}: ` : '';
  return networkError(`${code}${failure.message}`, stage, host, enhanced, failure);
}

/** Connecting failed (refused, unreachable, timed out, bad source address). */
export function connectError(message: string, host: string | undefined, cause?: unknown): TransientError {
  return networkError(message, 'connect', host, '4.4.1', cause);
}
