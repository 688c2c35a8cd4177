/**
 * Turns what nodemailer's SMTP connection reports (a response string, an error with `code`,
 * `responseCode`, `response`, `command`) into Herald's SmtpReply and the closed error set.
 */
import {
  type DeliveryError,
  PermanentError,
  type SmtpReply,
  type SmtpStage,
  TransientError,
} from '../errors/index.js';

const ENHANCED_RE = /^([245])\.(\d{1,3})\.(\d{1,3})\b/;

/** "550-5.1.1 first\n550 5.1.1 second" → { code: 550, enhanced: "5.1.1", text: "first second" }. */
export function parseReply(response: string, stage: SmtpStage, host?: string): SmtpReply {
  const lines = response.split(/\r?\n/).filter((line) => line.trim() !== '');
  let code = 0;
  let enhanced: string | undefined;
  const texts: string[] = [];
  for (const line of lines) {
    const match = /^(\d{3})[ -]?(.*)$/.exec(line.trim());
    let rest = line.trim();
    if (match) {
      code ||= Number(match[1]);
      rest = match[2] ?? '';
    }
    const enh = ENHANCED_RE.exec(rest);
    if (enh) {
      enhanced ??= enh[0];
      rest = rest.slice(enh[0].length).trim();
    }
    if (rest) texts.push(rest);
  }
  const reply: SmtpReply = { code, text: texts.join(' '), stage };
  if (enhanced) reply.enhanced = enhanced;
  if (host) reply.host = host;
  return reply;
}

/** nodemailer's `command` field → our stage. */
export function stageOfCommand(command: string | undefined, fallback: SmtpStage): SmtpStage {
  switch ((command ?? '').toUpperCase().split(' ')[0]) {
    case 'CONN':
      return 'connect';
    case 'GREETING':
      return 'greeting';
    case 'EHLO':
    case 'HELO':
      return 'ehlo';
    case 'STARTTLS':
      return 'starttls';
    case 'AUTH':
      return 'auth';
    case 'MAIL':
    case 'MAIL FROM':
      return 'mail';
    case 'RCPT':
    case 'RCPT TO':
      return 'rcpt';
    case 'DATA':
    case 'DATA STREAM':
      return 'data';
    default:
      return fallback;
  }
}

interface NodemailerError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  command?: string;
}

/**
 * A nodemailer error → TransientError or PermanentError. A 5xx reply is permanent; everything
 * else (4xx, timeouts, resets, TLS failures, protocol errors) is transient.
 */
export function errorFromSmtp(err: unknown, stage: SmtpStage, host?: string): DeliveryError {
  const e = err as NodemailerError;
  let actualStage = stageOfCommand(e.command, stage);
  if (typeof e.response === 'string' && e.responseCode) {
    // nodemailer labels a refused greeting (e.g. "421 4.7.0 try later") with command CONN.
    if (actualStage === 'connect') actualStage = 'greeting';
    const reply = parseReply(e.response, actualStage, host);
    return reply.code >= 500
      ? new PermanentError(reply, 'remote', { cause: err })
      : new TransientError(reply, 'remote', { cause: err });
  }
  const text = `${e.code ?? 'ERROR'}: ${e.message ?? String(err)}`;
  const reply: SmtpReply = { code: 451, enhanced: networkEnhanced(e.code), text, stage: actualStage };
  if (host) reply.host = host;
  return new TransientError(reply, 'network', { cause: err });
}

function networkEnhanced(code: string | undefined): string {
  switch (code) {
    case 'ETIMEDOUT':
      return '4.4.2';
    case 'ECONNREFUSED':
    case 'ECONNECTION':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return '4.4.1';
    case 'ETLS':
      return '4.7.5';
    default:
      return '4.4.2';
  }
}
