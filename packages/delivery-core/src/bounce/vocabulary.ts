/**
 * The words a classification is made of: the bounce reasons (sisimai's vocabulary, v5 names
 * included), which of them are hard bounces, what Herald does about each (`action`), and the
 * PowerMTA-style category each reason belongs to. All of it is data.
 */

export const REASONS = [
  'authfailure',
  'badreputation',
  'blocked',
  'contenterror',
  'delivered',
  'exceedlimit',
  'expired',
  'failedstarttls',
  'feedback',
  'filtered',
  'hasmoved',
  'hostunknown',
  'mailboxfull',
  'mailererror',
  'mesgtoobig',
  'networkerror',
  'norelaying',
  'notaccept',
  'notcompliantrfc',
  'onhold',
  'policyviolation',
  'rejected',
  'requireptr',
  'securityerror',
  'spamdetected',
  'speeding',
  'suppressed',
  'suspend',
  'syntaxerror',
  'systemerror',
  'systemfull',
  'toomanyconn',
  'undefined',
  'userunknown',
  'vacation',
  'virusdetected',
] as const;

export type Reason = (typeof REASONS)[number];

/** PowerMTA's bounce categories (acct-file `bounceCat`). */
export type BounceCategory =
  | 'bad-mailbox'
  | 'quota-issues'
  | 'policy-related'
  | 'spam-related'
  | 'bad-domain'
  | 'message-expired'
  | 'inactive-mailbox'
  | 'no-answer-from-host'
  | 'relaying-issues'
  | 'routing-errors'
  | 'content-related'
  | 'protocol-errors'
  | 'bad-configuration'
  | 'bad-connection'
  | 'invalid-sender'
  | 'other';

/**
 * What to do with the recipient: `retry` later, `bounce` the message now, `suppress` the address
 * for future mail (hard bounces and complaints), or `none` for reports that are not failures
 * (delivered, vacation auto-replies).
 */
export type BounceAction = 'retry' | 'bounce' | 'suppress' | 'none';

export const CATEGORY_BY_REASON: Readonly<Record<Reason, BounceCategory>> = Object.freeze({
  authfailure: 'policy-related',
  badreputation: 'spam-related',
  blocked: 'spam-related',
  contenterror: 'content-related',
  delivered: 'other',
  exceedlimit: 'content-related',
  expired: 'message-expired',
  failedstarttls: 'bad-connection',
  feedback: 'spam-related',
  filtered: 'policy-related',
  hasmoved: 'bad-mailbox',
  hostunknown: 'bad-domain',
  mailboxfull: 'quota-issues',
  mailererror: 'bad-configuration',
  mesgtoobig: 'content-related',
  networkerror: 'bad-connection',
  norelaying: 'relaying-issues',
  notaccept: 'bad-domain',
  notcompliantrfc: 'content-related',
  onhold: 'other',
  policyviolation: 'policy-related',
  rejected: 'invalid-sender',
  requireptr: 'bad-configuration',
  securityerror: 'policy-related',
  spamdetected: 'spam-related',
  speeding: 'policy-related',
  suppressed: 'bad-mailbox',
  suspend: 'inactive-mailbox',
  syntaxerror: 'protocol-errors',
  systemerror: 'routing-errors',
  systemfull: 'quota-issues',
  toomanyconn: 'no-answer-from-host',
  undefined: 'other',
  userunknown: 'bad-mailbox',
  vacation: 'other',
  virusdetected: 'content-related',
});

/** The address is gone for good whatever the reply class (sisimai's hard bounces). */
const ALWAYS_HARD: ReadonlySet<Reason> = new Set(['userunknown', 'hostunknown', 'hasmoved']);
/** Hard only when the failure was permanent (a 5.x.x status or a 5xx reply). */
const HARD_WHEN_PERMANENT: ReadonlySet<Reason> = new Set(['notaccept']);
/** Reports that are not delivery failures. */
const NOT_A_FAILURE: ReadonlySet<Reason> = new Set(['delivered', 'vacation', 'feedback']);

const REASON_SET: ReadonlySet<string> = new Set(REASONS);

export function isReason(value: string): value is Reason {
  return REASON_SET.has(value);
}

/** sisimai's `hardbounce`: true when mail to this address will never be accepted. */
export function isHard(reason: Reason, permanent: boolean): boolean {
  if (ALWAYS_HARD.has(reason)) return true;
  return HARD_WHEN_PERMANENT.has(reason) && permanent;
}

/**
 * What Herald does: complaints and hard bounces suppress the address; a temporary failure is
 * retried; any other permanent failure bounces the message; delivered and vacation need nothing.
 */
export function actionFor(reason: Reason, hard: boolean, permanent: boolean): BounceAction {
  if (reason === 'feedback' || hard) return 'suppress';
  if (NOT_A_FAILURE.has(reason)) return 'none';
  return permanent ? 'bounce' : 'retry';
}
