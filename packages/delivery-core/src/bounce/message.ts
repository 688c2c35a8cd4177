/**
 * classifyMessage: a whole bounce, complaint or auto-reply (raw bytes) -> one Classification per
 * recipient. Reads, in this order: an ARF feedback report (RFC 5965), RFC 3464 delivery-status
 * fields (in their own part or inline in the text), the human-readable notice of MTAs that write
 * no DSN, and auto-replies (RFC 3834). Never throws: unreadable input gives one recipient with
 * reason 'undefined'.
 */

import { autoReplyReason, isAutoReply } from './autoreply.js';
import { type Classification, type ClassifyOptions, classifyFact, type FactContext } from './classify.js';
import { type DsnRecipient, type DsnReport, parseDeliveryStatus } from './dsn.js';
import { buildFact, extendedDiagnostic, informative, type NoticeParts, remoteHostIn } from './fact.js';
import { type FeedbackReport, nonArfFeedback, parseFeedbackReport } from './feedback.js';
import { hostsInText, receivedHosts } from './hosts.js';
import { MAX_MESSAGE_BYTES, MAX_REPORT_RECIPIENTS } from './limits.js';
import { header, leaves, type MimeHeaders, type MimePart, parseMessage, splitHeaders } from './mime.js';
import { headerReason, mtaOf } from './mta-wordings.js';
import { addressesIn, mentionedAddresses, noticeBody, noticeRecipients } from './notice.js';
import type { Fact } from './probes.js';
import { parseSesNotification } from './ses.js';

export type BounceKind = 'dsn' | 'notice' | 'feedback' | 'autoreply' | 'unknown';

export interface BounceReport {
  kind: BounceKind;
  recipients: Classification[];
  /** ARF Feedback-Type of a complaint report. */
  feedbackType?: string;
  reportingMta?: string;
}

const ORIGINAL_TYPES = new Set([
  'message/rfc822',
  'message/global',
  'text/rfc822-headers',
  'message/rfc822-headers',
]);
const DSN_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status']);

interface Parts extends NoticeParts {
  root: MimePart;
  dsn?: string;
  feedback?: string;
  original?: MimeHeaders;
  /** Hosts of the bounce's own Received fields, oldest first. */
  hops: string[];
  /** The returned message, parsed: a bounce forwarded as an attachment is read from it. */
  inner?: MimePart;
  /** The bounce's Subject (Sendmail's "Returned mail: User unknown" names the reason). */
  subject: string;
  options: ClassifyOptions;
}

/** Tags end at the next `<` as well as at `>`, so an unclosed tag is not rescanned from every `<`. */
function stripHtml(html: string): string {
  return html
    .replace(/<(?:br|p|div|tr|li)\b[^<>]*>/gi, '\n')
    .replace(/<[^<>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function collectParts(root: MimePart, options: ClassifyOptions): Parts {
  const texts: string[] = [];
  const htmls: string[] = [];
  const subject = header(root.headers, 'subject') ?? '';
  const parts: Parts = { root, notice: '', hops: receivedHosts(root.headers), subject, options };
  for (const { part, path } of leaves(root)) {
    const insideOriginal = path.some((type) => ORIGINAL_TYPES.has(type));
    if (insideOriginal) continue;
    if (ORIGINAL_TYPES.has(part.type)) {
      parts.original ??= part.parts[0]?.headers ?? splitHeaders(part.text).headers;
      parts.inner ??= part.parts[0];
    } else if (DSN_TYPES.has(part.type)) parts.dsn = `${parts.dsn ?? ''}${part.text}\n`;
    else if (part.type === 'message/feedback-report') parts.feedback = part.text;
    else if (part.type === 'text/html') htmls.push(stripHtml(part.text));
    else if (part.type.startsWith('text/') || part === root) texts.push(part.text);
  }
  const notice = texts.length > 0 ? texts.join('\n') : htmls.join('\n');
  parts.notice = noticeBody(notice);
  const mta = options.generic ? undefined : mtaOf(root.headers, parts.notice);
  if (mta) parts.mta = mta;
  const stated = mta ? headerReason(mta, root.headers) : undefined;
  if (stated) parts.headerReason = stated;
  if (!parts.original) {
    const rest = notice.slice(parts.notice.length);
    const headerStart = rest.search(/^(?:return-path|received|from|to|subject|message-id|date):/im);
    if (headerStart >= 0) parts.original = splitHeaders(rest.slice(headerStart)).headers;
  }
  return parts;
}

function addressOf(headers: MimeHeaders | undefined, name: string): string | undefined {
  const value = headers ? header(headers, name) : undefined;
  return value ? addressesIn(value)[0] : undefined;
}

/** Addresses that are never a failed recipient: the bounce's own sender and addressee. */
function excludedAddresses(parts: Parts): Set<string> {
  const exclude = new Set<string>();
  for (const address of [
    addressOf(parts.root.headers, 'to'),
    addressOf(parts.root.headers, 'from'),
    addressOf(parts.root.headers, 'return-path'),
    addressOf(parts.original, 'from'),
    addressOf(parts.original, 'return-path'),
    addressOf(parts.original, 'sender'),
  ]) {
    if (address) exclude.add(address);
  }
  return exclude;
}

function fromDsn(report: DsnReport, parts: Parts): Classification[] {
  const blocks = new Map(noticeRecipients(parts.notice, new Set()).map((b) => [b.address, b.text]));
  return report.recipients.slice(0, MAX_REPORT_RECIPIENTS).map((recipient) => {
    const block = blocks.get(recipient.address) ?? '';
    const given = recipient.diagnostic
      ? extendedDiagnostic(recipient.diagnostic, block, parts.notice)
      : informative(block, recipient.address, parts.notice)
        ? block
        : parts.notice;
    const comment = recipient.statusComment;
    const diagnostic =
      comment && !given.toLowerCase().includes(comment.toLowerCase()) ? `${given} (${comment})` : given;
    const fact = buildFact(diagnostic, block || parts.notice, recipient, parts);
    const remoteHost = recipient.remoteMta || remoteHostIn(block);
    const hosts = [...hostsInText(fact.diagnostic), report.reportingMta ?? '', ...parts.hops];
    const context = { address: recipient.address, hosts, ...(remoteHost ? { remoteHost } : {}) };
    return widened(classifyFact(fact, context, parts.options), parts, context, recipient);
  });
}

/** The rule prefix of a reading from the whole notice and Subject. */
const WIDENED = 'notice+subject/';
/** Reasons that say the recipient's own text was not understood. */
const UNREAD: ReadonlySet<string> = new Set(['onhold', 'undefined']);

/**
 * A recipient whose own text said nothing readable is read again from everything the bounce says
 * about it: its text, the whole notice and the Subject (sendmail's "Returned mail: User unknown").
 */
function widened(
  first: Classification,
  parts: Parts,
  context: FactContext,
  dsn?: DsnRecipient,
): Classification {
  if (!UNREAD.has(first.reason)) return first;
  const wider = [first.diagnostic, parts.notice, parts.subject].join('\n');
  const again = classifyFact(buildFact(wider, parts.notice, dsn, parts), context, parts.options);
  if (UNREAD.has(again.reason)) return first;
  return { ...again, diagnostic: first.diagnostic, rule: `${WIDENED}${again.rule}` };
}

function fromNotice(parts: Parts): Classification[] {
  const exclude = excludedAddresses(parts);
  let found = noticeRecipients(parts.notice, exclude).map((r) => ({
    address: r.address,
    text: informative(r.text, r.address, parts.notice) ? r.text : parts.notice,
  }));
  if (found.length === 0) {
    const failed = header(parts.root.headers, 'x-failed-recipients');
    const candidates = failed
      ? addressesIn(failed)
      : mentionedAddresses(parts.notice, exclude)
          .slice(0, 1)
          .concat(addressOf(parts.original, 'to') ?? []);
    const address = candidates[0];
    // No recipient and no SMTP code or status anywhere: this is not a bounce we can read.
    if (!address && !/\b[245]\d\d\b|\b[245]\.\d{1,3}\.\d{1,3}\b/.test(parts.notice)) return [];
    found = [{ address: address ?? '', text: parts.notice }];
  }
  return found.map(({ address, text }) => {
    const fact = buildFact(text, parts.notice, undefined, parts);
    const remoteHost = remoteHostIn(text);
    const hosts = [...hostsInText(fact.diagnostic), ...parts.hops];
    const context = { address, hosts, ...(remoteHost ? { remoteHost } : {}) };
    return widened(classifyFact(fact, context, parts.options), parts, context);
  });
}

function fromFeedback(feedback: FeedbackReport, parts: Parts): Classification[] {
  const addresses =
    feedback.recipients.length > 0
      ? feedback.recipients.slice(0, MAX_REPORT_RECIPIENTS)
      : [addressOf(parts.original, 'to') ?? ''];
  return addresses.map((address) =>
    classifyFact(
      { diagnostic: feedback.text, reason: 'feedback' },
      { address, ...(feedback.type ? { feedbackType: feedback.type } : {}) },
      parts.options,
    ),
  );
}

/** The first MAX_MESSAGE_BYTES bytes as latin1 text (one char per byte); a string is read as UTF-8. */
function toLatin1(raw: Buffer | string): string {
  if (typeof raw !== 'string') return raw.subarray(0, MAX_MESSAGE_BYTES).toString('latin1');
  const head = raw.slice(0, MAX_MESSAGE_BYTES);
  if (!/[^\x00-\xff]/.test(head)) return head;
  return Buffer.from(head, 'utf8').subarray(0, MAX_MESSAGE_BYTES).toString('latin1');
}

function undefinedReport(): BounceReport {
  const fact: Fact = { diagnostic: '', reason: 'undefined' };
  return { kind: 'unknown', recipients: [classifyFact(fact, { address: '' })] };
}

function classifyParts(parts: Parts): BounceReport {
  const ses = parseSesNotification(parts.notice);
  if (ses && ses.kind !== 'complaint' && ses.recipients.length > 0) {
    const report: BounceReport = { kind: 'dsn', recipients: fromDsn(ses, parts) };
    if (ses.kind === 'bounce' && ses.reportingMta) report.reportingMta = ses.reportingMta;
    return report;
  }
  const feedbackText = parts.feedback ?? (/^feedback-type:/im.test(parts.notice) ? parts.notice : undefined);
  const feedback =
    ses?.kind === 'complaint'
      ? ses.feedback
      : feedbackText
        ? parseFeedbackReport(feedbackText)
        : nonArfFeedback(parts.root.headers, parts.original);
  if (feedback) {
    const report: BounceReport = { kind: 'feedback', recipients: fromFeedback(feedback, parts) };
    if (feedback.type) report.feedbackType = feedback.type;
    return report;
  }
  const dsnText = parts.dsn ?? (/^final-recipient:/im.test(parts.notice) ? parts.notice : undefined);
  if (dsnText) {
    const dsn = parseDeliveryStatus(dsnText);
    if (dsn.recipients.length > 0) {
      const report: BounceReport = { kind: 'dsn', recipients: fromDsn(dsn, parts) };
      if (dsn.reportingMta) report.reportingMta = dsn.reportingMta;
      return report;
    }
  }
  if (isAutoReply(parts.root.headers, parts.notice)) {
    const address = addressOf(parts.root.headers, 'reply-to') ?? addressOf(parts.root.headers, 'from') ?? '';
    const reason = autoReplyReason(parts.notice);
    return {
      kind: 'autoreply',
      recipients: [classifyFact({ diagnostic: parts.notice, reason }, { address }, parts.options)],
    };
  }
  const recipients = fromNotice(parts);
  return recipients.length > 0 ? { kind: 'notice', recipients } : undefinedReport();
}

/** Nested bounces read: a bounce forwarded inside another (a relay's copy of a DSN) is read once more. */
const MAX_NESTED_BOUNCES = 1;

/** The outer bounce's reading, or the returned message's when only that one is readable. */
function classifyNested(parts: Parts, depth: number): BounceReport {
  const outer = classifyParts(parts);
  const unread = outer.recipients.every(
    (r) => UNREAD.has(r.reason) || r.address === '' || r.rule.startsWith(WIDENED),
  );
  if (!unread || !parts.inner || depth >= MAX_NESTED_BOUNCES) return outer;
  const inner = classifyNested(collectParts(parts.inner, parts.options), depth + 1);
  const readable = inner.kind !== 'unknown' && inner.recipients.some((r) => !UNREAD.has(r.reason));
  if (!readable) return outer;
  return { ...inner, recipients: inner.recipients.map((r) => ({ ...r, rule: `returned-bounce/${r.rule}` })) };
}

/** Classifies a whole message. Never throws; garbage yields one recipient with reason 'undefined'. */
export function classifyMessage(raw: Buffer | string, options: ClassifyOptions = {}): BounceReport {
  try {
    const text = toLatin1(raw);
    if (text.trim() === '') return undefinedReport();
    return classifyNested(collectParts(parseMessage(text), options), 0);
  } catch {
    return undefinedReport();
  }
}
