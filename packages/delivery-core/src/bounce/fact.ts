/**
 * The Fact of one recipient's failure, read from a bounce's texts: which text is its diagnostic
 * (the DSN's, extended by the notice's "(in reply to ... command)" or a transcript's multi-line
 * reply; else the recipient's own notice block when it says something), and the reply code,
 * status, failing command, remote host and MTA-stated reason found in it. Pure; used by
 * message.ts. Linear: what is read of the whole notice (its codes, reply code, command and
 * transcript) is computed once per notice, not once per recipient; the diagnostic is cut at
 * MAX_DIAGNOSTIC_CHARS.
 */

import { splitLines } from '../util/index.js';
import { findCommand, findReplyCode, findStatusInText, preferStatus } from './decide.js';
import type { DsnRecipient } from './dsn.js';
import { MAX_DIAGNOSTIC_CHARS, MAX_TEXT_LINES } from './limits.js';
import { findText, rememberLast, replaceText } from './linear.js';
import { type MtaWording, mtaStatement, VENDOR_CATEGORY_REASONS } from './mta-wordings.js';
import { normaliseText } from './phrases.js';
import type { Fact, SmtpCommand } from './probes.js';
import { reasonOfStatus } from './status-codes.js';
import type { Reason } from './vocabulary.js';

/** What buildFact reads of the parts of a bounce. */
export interface NoticeParts {
  notice: string;
  /** The MTA whose fixed wording the notice uses, when recognised. */
  mta?: MtaWording;
  /** The reason a header field of the bounce states for every recipient. */
  headerReason?: Reason;
}

const CODE_RE = /\b[45]\d\d\b|\b[45]\.\d{1,3}\.\d{1,3}\b/;
const CODES_RE = new RegExp(CODE_RE.source, 'g');
/** Lines of a multi-line reply read from a session transcript. */
const MAX_TRANSCRIPT_REPLY_LINES = 32;

/** How many reply or status codes a text holds. */
function codeCount(text: string): number {
  let count = 0;
  for (const _ of text.matchAll(CODES_RE)) count++;
  return count;
}
const noticeCodeCount = rememberLast(codeCount);

/**
 * A notice block is worth reading on its own when it carries a code, or a sentence while the
 * notice has no code elsewhere (a block of message details is not the error).
 */
export function informative(block: string, address: string, notice: string): boolean {
  const rest = replaceText(block, address, ' ')
    .replace(/[<>:\s]+/g, ' ')
    .trim();
  if (CODE_RE.test(rest)) return true;
  // Codes elsewhere in the notice: more than the block itself holds (the block is a piece of it).
  return rest.length > 40 && block !== '' && noticeCodeCount(notice) <= codeCount(block);
}

export function remoteHostIn(text: string): string | undefined {
  return /\b(?:host|remote host|server)\s+([a-z0-9.-]+\.[a-z]{2,}|\[?\d{1,3}(?:\.\d{1,3}){3}\]?)/i.exec(
    text,
  )?.[1];
}

/** The command of the last ">>> CMD" line of a session transcript (Sendmail and its kin). */
const transcriptCommand = rememberLast((notice: string): SmtpCommand | undefined => {
  // Leading white space, but no line break: `\s*` would rescan a run of blank lines from each line.
  const sent = notice.match(/^[^\S\r\n\u2028\u2029]*>>> .*$/gm);
  return sent ? findCommand(sent[sent.length - 1] ?? '') : undefined;
});

const contextReplyCode = rememberLast(findReplyCode);
const contextCommand = rememberLast(findCommand);

/**
 * The DSN's diagnostic as the human-readable notice continues it: Postfix folds "(in reply to
 * RCPT TO command)" into the notice only. Falls back to the DSN's own text.
 */
export function extendedDiagnostic(diagnostic: string, block: string, notice: string): string {
  const short = diagnostic.replace(/\s+/g, ' ').trim();
  const long = block.replace(/\s+/g, ' ').trim();
  const at = short.length > 8 ? findText(long, short) : -1;
  const tail =
    at < 0 ? undefined : /^\s*\(in reply to [a-z ]+ command\)/i.exec(long.slice(at + short.length))?.[0];
  if (tail) return `${short}${tail}`;
  return transcriptReply(short, notice) ?? diagnostic;
}

/** The notice's lines, and where the text of each "<<< " line (a reply) first appears. */
const transcriptOf = rememberLast((notice: string) => {
  const lines = splitLines(notice, MAX_TEXT_LINES);
  const first = new Map<string, number>();
  lines.forEach((line, index) => {
    if (!line.startsWith('<<< ')) return;
    const text = line.slice(4).replace(/\s+/g, ' ').trim();
    if (!first.has(text)) first.set(text, index);
  });
  return { lines, first };
});

/**
 * The whole multi-line reply ("550-5.7.1 ...", "550 5.7.1 ...") of a session transcript whose
 * first line is the DSN's (one-line) diagnostic; Sendmail keeps only the first line in the DSN.
 */
function transcriptReply(short: string, notice: string): string | undefined {
  if (short.length < 8 || !notice.includes('<<< ')) return undefined;
  const { lines, first } = transcriptOf(notice);
  const start = first.get(short);
  if (start === undefined || !/^<<< \d{3}-/.test(lines[start] ?? '')) return undefined;
  const parts: string[] = [];
  const end = Math.min(lines.length, start + MAX_TRANSCRIPT_REPLY_LINES);
  for (let i = start; i < end; i++) {
    const line = lines[i] ?? '';
    if (!/^<<< \d{3}[- ]/.test(line)) break;
    parts.push(line.slice(4).trim());
    if (/^<<< \d{3} /.test(line)) break;
  }
  return parts.join(' ');
}

export function buildFact(
  fullDiagnostic: string,
  context: string,
  dsn?: DsnRecipient,
  parts?: NoticeParts,
): Fact {
  const diagnostic = fullDiagnostic.slice(0, MAX_DIAGNOSTIC_CHARS);
  const notice = parts?.notice ?? '';
  const replyCode = findReplyCode(diagnostic) ?? contextReplyCode(context);
  const replyClass = replyCode ? String(replyCode)[0] : undefined;
  const inText = findStatusInText(diagnostic, replyClass) ?? findStatusInText(diagnostic);
  const status = preferStatus(dsn?.status, inText, replyCode);
  const fact: Fact = { diagnostic };
  if (status) fact.status = status;
  if (replyCode) fact.replyCode = replyCode;
  const command = findCommand(diagnostic) ?? contextCommand(context) ?? transcriptCommand(notice);
  if (command) fact.command = command;
  if (dsn?.action) fact.action = dsn.action;
  if (dsn?.diagnosticType) fact.diagnosticType = dsn.diagnosticType;
  const byCategory = dsn?.category ? VENDOR_CATEGORY_REASONS[dsn.category] : undefined;
  if (byCategory) fact.reason = byCategory;
  if (parts?.mta) {
    const stated = mtaStatement(parts.mta, normaliseText(diagnostic));
    if (stated.command) fact.command = stated.command;
    const byStatus =
      parts.mta.statusWins && status && !status.includes('.0') ? reasonOfStatus(status) : undefined;
    const reason = stated.reason ? (byStatus ?? stated.reason) : undefined;
    if (reason) fact.reason = reason;
  }
  if (parts?.headerReason) fact.reason = parts.headerReason;
  return fact;
}
