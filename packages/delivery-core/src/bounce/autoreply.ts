/**
 * Auto-replies (RFC 3834 and the de-facto headers of common responders). An auto-reply is not a
 * bounce: its reason is 'vacation', unless the reply itself says the mailbox is gone or inactive
 * (e.g. "this inbox is no longer in use"), which the phrase table decides.
 */
import { header, type MimeHeaders } from './mime.js';
import { hasPhrase, normaliseText } from './phrases.js';
import type { Reason } from './vocabulary.js';

const AUTO_SUBJECT_RE =
  /^(?:auto(?:matic)?[ -]?(?:reply|response|respons|antwort)|out of (?:the )?office|away from|on vacation|abwesenheit|absence|r[ée]ponse automatique|自動応答|自动回复)|\b(?:out of (?:the )?office|auto-?reply|autoreply|vacation)\b/i;
const DAEMON_FROM_RE = /mailer-daemon|postmaster|mail delivery|mail administrator/i;
/** Reasons an auto-reply can give instead of vacation. */
const AUTO_REPLY_FAILURES: readonly Reason[] = ['suspend', 'userunknown', 'hasmoved'];

export function isAutoReply(headers: MimeHeaders, notice: string): boolean {
  if (DAEMON_FROM_RE.test(header(headers, 'from') ?? '')) return false;
  const auto = (header(headers, 'auto-submitted') ?? '').toLowerCase();
  if (auto.startsWith('auto-replied')) return true;
  if (header(headers, 'x-autoreply') || header(headers, 'x-autorespond')) return true;
  if ((header(headers, 'precedence') ?? '').toLowerCase() === 'auto_reply') return true;
  if (AUTO_SUBJECT_RE.test(header(headers, 'subject') ?? '')) return true;
  return hasPhrase('vacation', normaliseText(notice));
}

export function autoReplyReason(notice: string): Reason {
  const text = normaliseText(notice);
  return AUTO_REPLY_FAILURES.find((reason) => hasPhrase(reason, text)) ?? 'vacation';
}
