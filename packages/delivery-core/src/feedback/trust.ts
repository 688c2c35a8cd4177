/**
 * Whom a report may act on, and what it does. A report only speaks for the recipient its VERP
 * token names: the token carries a keyed hash of that recipient (`matchesRecipient`), so only a
 * reported address that matches it is `confirmed`. Every other address the report lists is left
 * in `others` and never suppressed, counted or named in an event as acted upon; a forged or
 * careless report cannot touch another address. What a confirmed recipient's report does
 * (suppress, count as a hard bounce or a complaint) is the table in `actionFor`. Pure.
 */
import type { Classification } from '../bounce/index.js';
import type { VerpDecoded } from '../verp/index.js';

export interface ScreenedRecipients {
  /** The reported recipient the token names (its first mention), if the report names it. */
  confirmed?: Classification;
  /** Every other reported address (with an `@`), once each: not acted upon. */
  others: Classification[];
}

export function screenRecipients(
  token: Pick<VerpDecoded, 'matchesRecipient'>,
  recipients: readonly Classification[],
): ScreenedRecipients {
  const screened: ScreenedRecipients = { others: [] };
  const seen = new Set<string>();
  for (const recipient of recipients) {
    const address = recipient.address.trim().toLowerCase();
    if (!address.includes('@') || seen.has(address)) continue;
    seen.add(address);
    const r = { ...recipient, address };
    if (!screened.confirmed && token.matchesRecipient(address)) screened.confirmed = r;
    else screened.others.push(r);
  }
  return screened;
}

/** Reasons that never put an address on the suppression list, whatever the action says. */
const NEVER_SUPPRESS: ReadonlySet<string> = new Set(['vacation', 'delivered', 'undefined']);

export interface FeedbackAction {
  /** `complaint_received` (an ARF feedback report) or `bounce_received`. */
  kind: 'complaint' | 'bounce';
  suppress: boolean;
  /** The reputation counter it adds one to, if any. */
  count?: 'hard' | 'complaint';
}

/** What a confirmed recipient's report does; `complaint`: it is a feedback report or came to the complaint address. */
export function actionFor(r: Classification, complaint: boolean): FeedbackAction {
  if (complaint && r.reason === 'feedback') return { kind: 'complaint', suppress: true, count: 'complaint' };
  const suppress = r.action === 'suppress' && !NEVER_SUPPRESS.has(r.reason);
  return { kind: 'bounce', suppress, ...(suppress && r.hard ? { count: 'hard' as const } : {}) };
}
