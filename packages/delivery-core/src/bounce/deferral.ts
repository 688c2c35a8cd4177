/**
 * Why a recipient was deferred, as far as a retry cares: `deferralReason(reply)`. DEFERRAL_RULES
 * (ordered, first match wins) read what sisimai's vocabulary cannot say or says in a way a retry
 * must not follow — greylisting, Herald's own DNS / connect / TLS failures, provider "slow down"
 * deferrals that `classifyReply` reads as a security or reputation matter — and name a reason for
 * it; every other reply gets `classifyReply`'s reason. Two reasons exist only here
 * (DEFERRAL_ONLY_REASONS): `greylisted` and `dnsfailure` (a lookup that failed, not a domain
 * that does not exist). The retry module maps these reasons to retry classes in one table
 * (retry/reason-classes.ts). Pure and allocation-light: the delivery path calls it per deferred
 * recipient.
 */
import type { SmtpReply, SmtpStage } from '../errors/index.js';
import { classifyReply } from './reply.js';
import type { Reason } from './vocabulary.js';

export const DEFERRAL_ONLY_REASONS = ['greylisted', 'dnsfailure'] as const;

/** A bounce reason, or one of the reasons only a deferral has. */
export type DeferralReason = Reason | (typeof DEFERRAL_ONLY_REASONS)[number];

/** One row of the rule table. Every given field must match; list fields match any entry. */
export interface DeferralRule {
  reason: DeferralReason;
  /** Basic reply codes, e.g. [450, 451]. */
  code?: readonly number[];
  /** Enhanced status codes: exact ("4.7.28"), or a prefix when it ends in a dot ("4.4."). */
  enhanced?: readonly string[];
  /** Tested against the reply text (without codes). */
  text?: RegExp;
  stage?: readonly SmtpStage[];
  /** Who sends this reply, or why the rule exists. */
  source: string;
}

const RATE_WORDING =
  /\brate\b|rate[- ]limit|too many (?:concurrent )?(?:connections|messages|sessions|smtp)|throttl|slow down|server busy/i;
const TRY_LATER_WORDING = /try again later|please retry|try later|come back later/i;
const QUOTA_WORDING =
  /over ?quota|quota exceeded|exceeded (?:the |its |storage )*quota|mailbox (?:is )?full/i;

/** Ordered: the first matching rule wins; no match leaves the reply to `classifyReply`. */
export const DEFERRAL_RULES: readonly DeferralRule[] = Object.freeze([
  {
    reason: 'dnsfailure',
    enhanced: ['4.4.3'],
    source: 'RFC 3463 directory server failure; ours: dns/failures.ts',
  },
  { reason: 'dnsfailure', stage: ['dns'], source: 'ours: any failure while resolving MX/addresses' },
  { reason: 'greylisted', text: /gr[ae]y-?list/i, source: 'Postgrey, milter-greylist, greylistd wording' },
  { reason: 'mailboxfull', enhanced: ['4.2.2'], source: 'RFC 3463 mailbox full; Gmail OverQuotaTemp' },
  { reason: 'mailboxfull', text: QUOTA_WORDING, source: 'Dovecot, Exchange, AOL quota wording' },
  { reason: 'speeding', enhanced: ['4.7.28'], source: 'Gmail UnsolicitedRateLimitError' },
  { reason: 'speeding', enhanced: ['4.7.650'], source: 'Microsoft: rate limited due to IP reputation' },
  { reason: 'speeding', text: /\[TSS?\d\d\]/, source: 'Yahoo/AOL TS01–TS03, TSS04 deferrals' },
  {
    reason: 'speeding',
    enhanced: ['4.7.0'],
    text: /temporarily deferred/i,
    source: 'Yahoo-style 4.7.0 deferral',
  },
  {
    reason: 'speeding',
    code: [421],
    enhanced: ['4.7.0'],
    text: TRY_LATER_WORDING,
    source: 'Gmail "421-4.7.0 Try again later, closing connection"',
  },
  {
    reason: 'speeding',
    code: [421, 450, 451, 452],
    text: RATE_WORDING,
    source: 'rate / too many connections wording (Gmail 4.2.1 ReceivingRate, Orange, Microsoft)',
  },
  {
    reason: 'greylisted',
    code: [450, 451],
    enhanced: ['4.7.1', '4.2.0'],
    text: TRY_LATER_WORDING,
    source: 'greylisting without the word (rspamd "451 4.7.1 Try again later")',
  },
  {
    reason: 'networkerror',
    enhanced: ['4.4.'],
    source: 'RFC 3463 network and routing; ours: timeouts, refused',
  },
  { reason: 'networkerror', stage: ['connect', 'starttls'], source: 'ours: connect and TLS failures' },
  { reason: 'blocked', enhanced: ['4.7.'], source: 'RFC 3463 security or policy status, other' },
  { reason: 'networkerror', stage: ['greeting'], source: 'remote refused the session at the greeting' },
] satisfies DeferralRule[]);

function enhancedMatches(patterns: readonly string[], enhanced: string | undefined): boolean {
  if (enhanced === undefined) return false;
  return patterns.some((p) => (p.endsWith('.') ? enhanced.startsWith(p) : enhanced === p));
}

export function deferralRuleMatches(rule: DeferralRule, reply: SmtpReply): boolean {
  if (rule.code && !rule.code.includes(reply.code)) return false;
  if (rule.stage && !rule.stage.includes(reply.stage)) return false;
  if (rule.enhanced && !enhancedMatches(rule.enhanced, reply.enhanced)) return false;
  if (rule.text && !rule.text.test(reply.text)) return false;
  return true;
}

/** The reason a deferred reply was deferred: the first matching rule's, else classifyReply's. */
export function deferralReason(reply: SmtpReply): DeferralReason {
  for (const rule of DEFERRAL_RULES) if (deferralRuleMatches(rule, reply)) return rule.reason;
  return classifyReply(reply).reason;
}
