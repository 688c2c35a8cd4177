/**
 * Complaint reports: ARF (RFC 5965) message/feedback-report fields, and the two common non-ARF
 * forms — Microsoft's JMRP (the complained-of message carries X-HmXmrOriginalRecipient) and
 * Apple Mail's unsubscribe request (X-Apple-Unsubscribe: true, an opt-out). One pass over the
 * report's lines; at most MAX_REPORT_RECIPIENTS recipients are read.
 */

import { splitLines } from '../util/index.js';
import { cleanAddress } from './dsn.js';
import { MAX_FIELD_CHARS, MAX_REPORT_RECIPIENTS, MAX_TEXT_LINES } from './limits.js';
import { header, type MimeHeaders } from './mime.js';

export interface FeedbackReport {
  /** Feedback-Type, lower-cased: abuse, fraud, virus, opt-out, not-spam, auth-failure, other. */
  type?: string;
  /** Original-Rcpt-To / Removal-Recipient addresses. */
  recipients: string[];
  text: string;
}

const RECIPIENT_FIELDS = new Set(['original-rcpt-to', 'removal-recipient']);
const FIELD_NAME_RE = /^([A-Za-z-]+):/;
/** A value that runs past one of these is not a field (the line was not split where it should be). */
const LINE_BREAK_RE = /[\r\u2028\u2029]/;

export function parseFeedbackReport(text: string): FeedbackReport {
  const report: FeedbackReport = { recipients: [], text };
  const seen = new Set<string>();
  for (const line of splitLines(text, MAX_TEXT_LINES)) {
    const field = FIELD_NAME_RE.exec(line);
    if (!field) continue;
    const name = (field[1] ?? '').toLowerCase();
    const value = line.slice(field[0].length).trim();
    if (LINE_BREAK_RE.test(value)) continue;
    if (name === 'feedback-type' && !report.type) report.type = value.slice(0, MAX_FIELD_CHARS).toLowerCase();
    if (RECIPIENT_FIELDS.has(name) && value.includes('@') && seen.size < MAX_REPORT_RECIPIENTS) {
      const address = cleanAddress(value);
      if (address && !seen.has(address)) report.recipients.push(address);
      seen.add(address);
    }
  }
  return report;
}

/** A complaint that is not ARF: JMRP or an Apple Mail unsubscribe; undefined otherwise. */
export function nonArfFeedback(
  root: MimeHeaders,
  original: MimeHeaders | undefined,
): FeedbackReport | undefined {
  const jmrp = original ? header(original, 'x-hmxmroriginalrecipient') : undefined;
  if (jmrp) return { type: 'abuse', recipients: [cleanAddress(jmrp)].filter(Boolean), text: '' };
  if ((header(root, 'x-apple-unsubscribe') ?? '').trim().toLowerCase() === 'true') {
    return { type: 'opt-out', recipients: [], text: '' };
  }
  return undefined;
}
