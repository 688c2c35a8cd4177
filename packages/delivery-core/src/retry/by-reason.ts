/**
 * The retry class of a deferred reply, the one classifier delivery uses (`retryClassOf`): the
 * reply rules of classes.ts first (what the bounce vocabulary has no reason for: greylisting,
 * Herald's own DNS / connect / TLS stages, provider throttling codes the classifier reads as
 * reputation or security), then the bounce classifier's reason through RETRY_CLASS_BY_REASON, the
 * one table from bounce reasons to retry classes (a full mailbox worded without 4.2.2, "too many
 * connections" without a 4.7.x code, ...). Pure.
 */
import { classifyReply, type Reason } from '../bounce/index.js';
import type { SmtpReply } from '../errors/index.js';
import { type RetryClass, type RetryClassifier, retryClassFor } from './classes.js';

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

export const retryClassOf: RetryClassifier = (reply: SmtpReply): RetryClass => {
  const byRule = retryClassFor(reply);
  if (byRule !== 'default') return byRule;
  return RETRY_CLASS_BY_REASON[classifyReply(reply).reason] ?? 'default';
};
