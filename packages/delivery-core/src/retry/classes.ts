/**
 * Retry classes: why a recipient was deferred, as far as backoff cares, and the schedule each
 * class retries on (CLASS_SCHEDULES, a data table). Which class a reply is in comes from the
 * bounce classifier's reason through one table (reason-classes.ts). Pure.
 *
 * The site's `retry_schedule` (`RetryPolicy.scheduleMs`) stays in charge: no class waits longer
 * than its longest delay, the way Postfix's maximal_backoff_time caps every deferred message.
 */
import type { SmtpReply } from '../errors/index.js';
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

/** Reply → retry class; `retryClassOf` is Herald's (the bounce classifier's reason through one table). */
export type RetryClassifier = (reply: SmtpReply) => RetryClass;

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
