/**
 * The one table from the bounce classifier's reasons to retry classes (RETRY_CLASS_BY_REASON), and
 * `retryClassOf`: a deferred reply's class is the class of `deferralReason(reply)` (bounce/), or
 * `default` for a reason the table does not name. No reply text is read here: what a reply means is
 * the bounce classifier's to say. Pure.
 */
import { type DeferralReason, deferralReason } from '../bounce/index.js';
import type { SmtpReply } from '../errors/index.js';
import type { RetryClass, RetryClassifier } from './classes.js';

/** Reasons that mean a specific backoff; every other reason is `default`. */
export const RETRY_CLASS_BY_REASON: Readonly<Partial<Record<DeferralReason, RetryClass>>> = Object.freeze({
  greylisted: 'greylisted',
  dnsfailure: 'dns',
  hostunknown: 'dns',
  mailboxfull: 'mailbox_full',
  toomanyconn: 'throttled',
  speeding: 'throttled',
  badreputation: 'throttled',
  blocked: 'policy',
  rejected: 'policy',
  policyviolation: 'policy',
  spamdetected: 'policy',
  securityerror: 'policy',
  requireptr: 'policy',
  authfailure: 'policy',
  networkerror: 'network',
  failedstarttls: 'network',
});

export const retryClassOf: RetryClassifier = (reply: SmtpReply): RetryClass =>
  RETRY_CLASS_BY_REASON[deferralReason(reply)] ?? 'default';
