/**
 * The retry class of a deferred reply: the retry module's reply rules first (greylisting, provider
 * throttling codes, our own network and DNS failures); a reply they leave at `default` is given
 * to the bounce classifier, whose reason picks the class by the table below (a full mailbox worded
 * without 4.2.2, "too many connections" without a 4.7.x code, ...). Pure.
 */
import { classifyReply, type Reason } from '../bounce/index.js';
import type { SmtpReply } from '../errors/index.js';
import { type RetryClass, retryClassFor } from '../retry/index.js';

/** Bounce reasons that mean a specific backoff; every other reason keeps `default`. */
export const RETRY_CLASS_BY_REASON: Readonly<Partial<Record<Reason, RetryClass>>> = Object.freeze({
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
  hostunknown: 'dns',
});

export function retryClassOf(reply: SmtpReply): RetryClass {
  const byRule = retryClassFor(reply);
  if (byRule !== 'default') return byRule;
  return RETRY_CLASS_BY_REASON[classifyReply(reply).reason] ?? 'default';
}
