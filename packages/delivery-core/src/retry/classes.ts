/**
 * Retry classes: why a recipient was deferred, as far as backoff cares, and the schedule each
 * class retries on. Both are data tables: RETRY_RULES (ordered, first match wins) and
 * CLASS_SCHEDULES. Pure and allocation-light, so classing every deferred reply is cheap.
 *
 * RETRY_RULES class what the bounce classifier's vocabulary has no reason for (greylisting, Herald's
 * own DNS / connect / TLS failures, provider throttling codes); by-reason.ts's `retryClassOf` runs
 * them first and gives every reply they leave at `default` to the classifier's reason table.
 * The site's `retry_schedule` (`RetryPolicy.scheduleMs`) stays in charge: no class waits longer
 * than its longest delay, the way Postfix's maximal_backoff_time caps every deferred message.
 */
import type { SmtpReply, SmtpStage } from '../errors/index.js';
import type { RetryPolicy } from './index.js';

export const RETRY_CLASSES = [
  'greylisted',
  'throttled',
  'mailbox_full',
  'network',
  'dns',
  'policy',
  'default',
] as const;

/** Why a recipient was deferred, as far as backoff cares. */
export type RetryClass = (typeof RETRY_CLASSES)[number];

/** Reply → retry class: `retryClassOf` (rules, then the bounce reason), or `retryClassFor` (rules only). */
export type RetryClassifier = (reply: SmtpReply) => RetryClass;

/** One row of the rule table. Every given field must match; list fields match any entry. */
export interface RetryRule {
  class: RetryClass;
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

/** Ordered: the first matching rule wins; no match is 'default'. */
export const RETRY_RULES: readonly RetryRule[] = Object.freeze([
  { class: 'dns', enhanced: ['4.4.3'], source: 'RFC 3463 directory server failure; ours: dns/failures.ts' },
  { class: 'dns', stage: ['dns'], source: 'ours: any failure while resolving MX/addresses' },
  { class: 'greylisted', text: /gr[ae]y-?list/i, source: 'Postgrey, milter-greylist, greylistd wording' },
  { class: 'mailbox_full', enhanced: ['4.2.2'], source: 'RFC 3463 mailbox full; Gmail OverQuotaTemp' },
  { class: 'mailbox_full', text: QUOTA_WORDING, source: 'Dovecot, Exchange, AOL quota wording' },
  { class: 'throttled', enhanced: ['4.7.28'], source: 'Gmail UnsolicitedRateLimitError' },
  { class: 'throttled', enhanced: ['4.7.650'], source: 'Microsoft: rate limited due to IP reputation' },
  { class: 'throttled', text: /\[TSS?\d\d\]/, source: 'Yahoo/AOL TS01–TS03, TSS04 deferrals' },
  {
    class: 'throttled',
    enhanced: ['4.7.0'],
    text: /temporarily deferred/i,
    source: 'Yahoo-style 4.7.0 deferral',
  },
  {
    class: 'throttled',
    code: [421],
    enhanced: ['4.7.0'],
    text: TRY_LATER_WORDING,
    source: 'Gmail "421-4.7.0 Try again later, closing connection"',
  },
  {
    class: 'throttled',
    code: [421, 450, 451, 452],
    text: RATE_WORDING,
    source: 'rate / too many connections wording (Gmail 4.2.1 ReceivingRate, Orange, Microsoft)',
  },
  {
    class: 'greylisted',
    code: [450, 451],
    enhanced: ['4.7.1', '4.2.0'],
    text: TRY_LATER_WORDING,
    source: 'greylisting without the word (rspamd "451 4.7.1 Try again later")',
  },
  { class: 'network', enhanced: ['4.4.'], source: 'RFC 3463 network and routing; ours: timeouts, refused' },
  { class: 'network', stage: ['connect', 'starttls'], source: 'ours: connect and TLS failures' },
  { class: 'policy', enhanced: ['4.7.'], source: 'RFC 3463 security or policy status, other' },
  { class: 'network', stage: ['greeting'], source: 'remote refused the session at the greeting' },
] satisfies RetryRule[]);

function enhancedMatches(patterns: readonly string[], enhanced: string | undefined): boolean {
  if (enhanced === undefined) return false;
  return patterns.some((p) => (p.endsWith('.') ? enhanced.startsWith(p) : enhanced === p));
}

export function retryRuleMatches(rule: RetryRule, reply: SmtpReply): boolean {
  if (rule.code && !rule.code.includes(reply.code)) return false;
  if (rule.stage && !rule.stage.includes(reply.stage)) return false;
  if (rule.enhanced && !enhancedMatches(rule.enhanced, reply.enhanced)) return false;
  if (rule.text && !rule.text.test(reply.text)) return false;
  return true;
}

/** The class of a transient reply by RETRY_RULES: the first matching rule's, else 'default'. */
export const retryClassFor: RetryClassifier = (reply) => {
  for (const rule of RETRY_RULES) if (retryRuleMatches(rule, reply)) return rule.class;
  return 'default';
};

/**
 * How a class spaces its attempts, relative to the site's schedule (`RetryPolicy.scheduleMs`):
 * - `site`: the site's schedule as it is.
 * - `lead-in`: these delays first, then the site's entries longer than the last of them.
 * - `own`: these delays; the last repeats.
 * In every case each delay is capped at the site's longest delay.
 */
export type ClassSchedule =
  | { kind: 'site' }
  | { kind: 'lead-in'; delaysMs: readonly number[] }
  | { kind: 'own'; delaysMs: readonly number[] };

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/**
 * Figures and where they come from:
 * - greylisted: Postgrey holds a new triplet for 300 s (`--delay`, default 300). A 1 min probe
 *   catches short greylisters; the third attempt comes ≥ 5.6 min after the first even at −20 %
 *   jitter, past Postgrey's window; 10 and 20 min cover slower greylisters, then the site's
 *   schedule (5 m doubling to 4 h by default, i.e. Postfix-like) takes over.
 * - throttled: the receiver asked us to slow down, so a retry within minutes only earns another
 *   deferral. KumoMTA starts at retry_interval 20 min and doubles; PowerMTA configurations put a
 *   throttled (backoff-mode) queue on backoff-retry-after 20–30 min; RFC 5321 §4.5.4.1 advises at
 *   least 30 min between retries. 15 min doubling to 4 h sits between these.
 * - mailbox_full: the recipient must delete mail first, which takes hours, not minutes. Start at
 *   about Postfix's maximal_backoff_time (4000 s, the longest Postfix ever waits), doubling to
 *   8 h, capped by the site's longest delay: with the default schedule (4 h) that is 33 tries
 *   over 5 days instead of 36, half as many in the first 7 h; with an 8 h tail, 19.
 * - policy (4.7.x: blocklists, reputation, missing PTR): delisting takes hours; RFC 5321's 30 min
 *   floor, doubling to 4 h.
 * - network, dns, default: the site's schedule, which is what an operator tunes per site.
 */
export const CLASS_SCHEDULES: Readonly<Record<RetryClass, ClassSchedule>> = Object.freeze({
  greylisted: { kind: 'lead-in', delaysMs: [1 * MINUTE_MS, 6 * MINUTE_MS, 10 * MINUTE_MS, 20 * MINUTE_MS] },
  throttled: {
    kind: 'own',
    delaysMs: [15 * MINUTE_MS, 30 * MINUTE_MS, 1 * HOUR_MS, 2 * HOUR_MS, 4 * HOUR_MS],
  },
  mailbox_full: { kind: 'own', delaysMs: [1 * HOUR_MS, 2 * HOUR_MS, 4 * HOUR_MS, 8 * HOUR_MS] },
  policy: { kind: 'own', delaysMs: [30 * MINUTE_MS, 1 * HOUR_MS, 2 * HOUR_MS, 4 * HOUR_MS] },
  network: { kind: 'site' },
  dns: { kind: 'site' },
  default: { kind: 'site' },
});

/** The delays (before attempt 2, 3, …; the last repeats) that `cls` uses under `policy`. */
export function scheduleFor(policy: RetryPolicy, cls: RetryClass): readonly number[] {
  const site = policy.scheduleMs;
  if (site.length === 0) throw new RangeError('retry schedule is empty');
  const spec = CLASS_SCHEDULES[cls];
  if (spec.kind === 'site') return site;
  const longest = Math.max(...site);
  const own = spec.delaysMs.map((ms) => Math.min(ms, longest));
  if (spec.kind === 'own') return own;
  const last = own[own.length - 1]!;
  return [...own, ...site.filter((ms) => ms > last)];
}
