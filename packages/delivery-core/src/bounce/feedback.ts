/**
 * Complaint reports: ARF (RFC 5965) message/feedback-report fields, and the two common non-ARF
 * forms — Microsoft's JMRP (the complained-of message carries X-HmXmrOriginalRecipient) and
 * Apple Mail's unsubscribe request (X-Apple-Unsubscribe: true, an opt-out).
 */
import { cleanAddress } from './dsn.js';
import { header, type MimeHeaders } from './mime.js';

export interface FeedbackReport {
  /** Feedback-Type, lower-cased: abuse, fraud, virus, opt-out, not-spam, auth-failure, other. */
  type?: string;
  /** Original-Rcpt-To / Removal-Recipient addresses. */
  recipients: string[];
  text: string;
}

const RECIPIENT_FIELDS = new Set(['original-rcpt-to', 'removal-recipient']);

export function parseFeedbackReport(text: string): FeedbackReport {
  const report: FeedbackReport = { recipients: [], text };
  for (const line of text.split(/\r?\n/)) {
    const field = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
    if (!field) continue;
    const name = (field[1] ?? '').toLowerCase();
    const value = (field[2] ?? '').trim();
    if (name === 'feedback-type' && !report.type) report.type = value.toLowerCase();
    if (RECIPIENT_FIELDS.has(name) && value.includes('@')) {
      const address = cleanAddress(value);
      if (!report.recipients.includes(address)) report.recipients.push(address);
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
  if (jmrp) return { type: 'abuse', recipients: [cleanAddress(jmrp)], text: '' };
  if ((header(root, 'x-apple-unsubscribe') ?? '').trim().toLowerCase() === 'true') {
    return { type: 'opt-out', recipients: [], text: '' };
  }
  return undefined;
}
