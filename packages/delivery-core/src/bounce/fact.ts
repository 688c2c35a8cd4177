/**
 * The Fact of one recipient's failure, read from a bounce's texts: which text is its diagnostic
 * (the DSN's, extended by the notice's "(in reply to ... command)" or a transcript's multi-line
 * reply; else the recipient's own notice block when it says something), and the reply code,
 * status, failing command, remote host and MTA-stated reason found in it. Pure; used by
 * message.ts.
 */

import { findCommand, findReplyCode, findStatusInText, preferStatus } from './decide.js';
import type { DsnRecipient } from './dsn.js';
import { type MtaWording, mtaStatement } from './mta-wordings.js';
import { normaliseText } from './phrases.js';
import type { Fact, SmtpCommand } from './probes.js';
import { reasonOfStatus } from './status-codes.js';

/** What buildFact reads of the parts of a bounce. */
export interface NoticeParts {
  notice: string;
  /** The MTA whose fixed wording the notice uses, when recognised. */
  mta?: MtaWording;
}

const CODE_RE = /\b[45]\d\d\b|\b[45]\.\d{1,3}\.\d{1,3}\b/;

/**
 * A notice block is worth reading on its own when it carries a code, or a sentence while the
 * notice has no code elsewhere (a block of message details is not the error).
 */
export function informative(block: string, address: string, notice: string): boolean {
  const rest = block
    .split(address)
    .join(' ')
    .replace(/[<>:\s]+/g, ' ')
    .trim();
  if (CODE_RE.test(rest)) return true;
  return rest.length > 40 && !CODE_RE.test(notice.split(block).join(' '));
}

export function remoteHostIn(text: string): string | undefined {
  return /\b(?:host|remote host|server)\s+([a-z0-9.-]+\.[a-z]{2,}|\[?\d{1,3}(?:\.\d{1,3}){3}\]?)/i.exec(
    text,
  )?.[1];
}

/** The command of the last ">>> CMD" line of a session transcript (Sendmail and its kin). */
function transcriptCommand(notice: string): SmtpCommand | undefined {
  const sent = notice.match(/^\s*>>> .*$/gm);
  return sent ? findCommand(sent[sent.length - 1] ?? '') : undefined;
}

/**
 * The DSN's diagnostic as the human-readable notice continues it: Postfix folds "(in reply to
 * RCPT TO command)" into the notice only. Falls back to the DSN's own text.
 */
export function extendedDiagnostic(diagnostic: string, block: string, notice: string): string {
  const short = diagnostic.replace(/\s+/g, ' ').trim();
  const long = block.replace(/\s+/g, ' ').trim();
  const at = short.length > 8 ? long.indexOf(short) : -1;
  const tail =
    at < 0 ? undefined : /^\s*\(in reply to [a-z ]+ command\)/i.exec(long.slice(at + short.length))?.[0];
  if (tail) return `${short}${tail}`;
  return transcriptReply(short, notice) ?? diagnostic;
}

/**
 * The whole multi-line reply ("550-5.7.1 ...", "550 5.7.1 ...") of a session transcript whose
 * first line is the DSN's (one-line) diagnostic; Sendmail keeps only the first line in the DSN.
 */
function transcriptReply(short: string, notice: string): string | undefined {
  if (short.length < 8 || !notice.includes('<<< ')) return undefined;
  const lines = notice.split(/\r?\n/);
  const first = lines.findIndex(
    (line) => line.startsWith('<<< ') && line.slice(4).replace(/\s+/g, ' ').trim() === short,
  );
  if (first < 0 || !/^<<< \d{3}-/.test(lines[first] ?? '')) return undefined;
  const parts: string[] = [];
  for (let i = first; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (!/^<<< \d{3}[- ]/.test(line)) break;
    parts.push(line.slice(4).trim());
    if (/^<<< \d{3} /.test(line)) break;
  }
  return parts.join(' ');
}

export function buildFact(
  diagnostic: string,
  context: string,
  dsn?: DsnRecipient,
  parts?: NoticeParts,
): Fact {
  const notice = parts?.notice ?? '';
  const replyCode = findReplyCode(diagnostic) ?? findReplyCode(context);
  const replyClass = replyCode ? String(replyCode)[0] : undefined;
  const inText = findStatusInText(diagnostic, replyClass) ?? findStatusInText(diagnostic);
  const status = preferStatus(dsn?.status, inText, replyCode);
  const fact: Fact = { diagnostic };
  if (status) fact.status = status;
  if (replyCode) fact.replyCode = replyCode;
  const command = findCommand(diagnostic) ?? findCommand(context) ?? transcriptCommand(notice);
  if (command) fact.command = command;
  if (dsn?.action) fact.action = dsn.action;
  if (dsn?.diagnosticType) fact.diagnosticType = dsn.diagnosticType;
  if (parts?.mta) {
    const stated = mtaStatement(parts.mta, normaliseText(diagnostic));
    if (stated.command) fact.command = stated.command;
    const byStatus =
      parts.mta.statusWins && status && !status.includes('.0') ? reasonOfStatus(status) : undefined;
    const reason = stated.reason ? (byStatus ?? stated.reason) : undefined;
    if (reason) fact.reason = reason;
  }
  return fact;
}
