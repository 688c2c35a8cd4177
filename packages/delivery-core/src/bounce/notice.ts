/**
 * Reads the human-readable part of a bounce — the only part many MTAs write (qmail, Exim,
 * Yahoo, mail.ru, Exchange, Domino, ...) — for the failed recipients and the error text that
 * goes with each. Generic by layout, not by vendor: the notice ends where the returned message
 * begins; a recipient is an address that starts a line (bare, in angle brackets, or quoted);
 * its error text is what follows it up to the next recipient or paragraph break. Linear in the
 * notice: each pattern is anchored at a line start or at the first character of a run, and at most
 * MAX_REPORT_RECIPIENTS recipients are returned.
 */

import { splitLines } from '../util/index.js';
import { cleanAddress } from './dsn.js';
import { MAX_DIAGNOSTIC_CHARS, MAX_REPORT_RECIPIENTS, MAX_TEXT_LINES } from './limits.js';

export interface NoticeRecipient {
  address: string;
  /** The text that explains this recipient's failure (may be the whole notice). */
  text: string;
}

/** Lines that start the returned original message inside a text notice. */
const ORIGINAL_MESSAGE_RE =
  /^\s*(?:[-=_*#]+\s*)?(?:this is a copy of (?:the|your) message|below this line is a copy of the message|(?:original|unsent|returned|undelivered) message(?: headers?)?(?: (?:follows|below|text))?\b|your message(?: headers?)? (?:follows|below)\b|original message headers|the original message (?:was (?:attached|included|enclosed)|follows|headers)|message headers? follows?|original message details|original mail as follows|below is a copy of the original message|the header of the original message|content-type: message\/rfc822)/i;
/** A header block of the returned message: a header line right after a blank line. */
const HEADER_START_RE =
  /^(?:return-path|received|message-id|x-original-to|delivered-to|dkim-signature|authentication-results|mime-version|x-mailer|x-google-smtp-source):/i;

/**
 * An address is a run of local-part characters, then `@` and a domain. Runs are found once each
 * and the domain is tried only where a run meets an `@`, so no text is scanned twice.
 */
const LOCAL_RUN_RE = /[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+/g;
const AT_DOMAIN_RE = /@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}/y;
/** A line that starts with an address (after an optional label and opening bracket). */
const RECIPIENT_LINE_RE =
  /^\s*(?:(?:recipient|address|original-recipient|rcpt to)\s*(?::\s*)?)?[<"'(]?([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})/i;
/** Characters `.` does not match: an address line must not go on past one (as `(.*)$` would not). */
const LINE_BREAK_RE = /[\r\u2028\u2029]/;
const DAEMON_RE = /^(?:mailer-daemon|postmaster|noreply|no-reply|double-bounce|bounce|root|abuse)@/i;

/** The notice text with the returned message cut off. */
export function noticeBody(text: string): string {
  const lines = splitLines(text, MAX_TEXT_LINES);
  let blank = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (i > 0 && ORIGINAL_MESSAGE_RE.test(line)) return lines.slice(0, i).join('\n');
    if (blank && i > 2 && HEADER_START_RE.test(line)) return lines.slice(0, i).join('\n');
    blank = line.trim() === '';
  }
  return text;
}

/** Every address in `text`, in order, cleaned (lower-cased). */
export function addressesIn(text: string): string[] {
  const found: string[] = [];
  const runs = new RegExp(LOCAL_RUN_RE);
  const domain = new RegExp(AT_DOMAIN_RE);
  for (let run = runs.exec(text); run; run = runs.exec(text)) {
    domain.lastIndex = runs.lastIndex;
    const at = domain.exec(text);
    if (!at) continue;
    const address = cleanAddress(run[0] + at[0]);
    if (address) found.push(address);
    runs.lastIndex = domain.lastIndex;
  }
  return found;
}

/**
 * Failed recipients with their error text. `exclude` holds addresses that are not recipients
 * (the bounce's own To/From, the original sender).
 */
export function noticeRecipients(notice: string, exclude: ReadonlySet<string>): NoticeRecipient[] {
  const lines = splitLines(notice, MAX_TEXT_LINES);
  const starts: { index: number; address: string }[] = [];
  lines.forEach((line, index) => {
    const match = RECIPIENT_LINE_RE.exec(line);
    if (!match?.[1] || LINE_BREAK_RE.test(line.slice(match[0].length))) return;
    const address = cleanAddress(match[1]);
    if (!address || exclude.has(address) || DAEMON_RE.test(address)) return;
    starts.push({ index, address });
  });
  const found = new Map<string, string[]>();
  for (const [n, start] of starts.entries()) {
    const end = Math.min(starts[n + 1]?.index ?? lines.length, blockEnd(lines, start.index));
    const text = lines.slice(start.index, end).join('\n').trim();
    const texts = found.get(start.address);
    if (texts) texts.push(text);
    else if (found.size < MAX_REPORT_RECIPIENTS) found.set(start.address, [text]);
  }
  return [...found].map(([address, texts]) => ({
    address,
    text: texts.join('\n').slice(0, MAX_DIAGNOSTIC_CHARS),
  }));
}

/** A recipient's block ends at a blank line followed by an unindented line, or after 12 lines. */
function blockEnd(lines: readonly string[], from: number): number {
  const MAX_BLOCK_LINES = 12;
  for (let i = from + 1; i < Math.min(lines.length, from + MAX_BLOCK_LINES); i++) {
    const line = lines[i] ?? '';
    if (line.trim() !== '') continue;
    const next = lines[i + 1] ?? '';
    if (next.trim() === '' || !/^\s/.test(next)) return i;
  }
  return Math.min(lines.length, from + MAX_BLOCK_LINES);
}

/** Every address in the notice that is not excluded, in order, once. */
export function mentionedAddresses(notice: string, exclude: ReadonlySet<string>): string[] {
  const seen = new Set<string>();
  for (const address of addressesIn(notice)) {
    if (exclude.has(address) || DAEMON_RE.test(address) || seen.has(address)) continue;
    seen.add(address);
  }
  return [...seen];
}
