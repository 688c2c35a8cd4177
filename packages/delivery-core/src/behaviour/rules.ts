/**
 * The behaviour rules as data: each entry reads an account's counts (counters.ts RawFigures) and
 * says whether its rule trips, with the figures and a reason an operator reads. Judged in table
 * order; the first that trips flags the account. Pure.
 * A window of W minutes reads W + 1 minute buckets (counters.ts bucketsOf: the W whole minutes
 * before the current one, and the current one), so it spans between W and W + 1 minutes.
 * - volume_spike: R = recipients in the window's buckets. Trips when R ≥ `max_count` (the cap,
 *   baseline or not), or when the baseline — recipients over `baseline` outside those buckets, H —
 *   holds at least `min_count`, R ≥ `min_count` and R > `factor` × H × S / (baseline − S), S the
 *   span read (W + 1 minutes; the account's own rate per span). A new account (H < min_count)
 *   trips only on the cap.
 * - domain_spread: distinct recipient domains in `window` > `max_domains`.
 * - bounce_spike / complaint_spike: hard bounces (complaints) in `window` / recipients accepted in
 *   it > `rate`, once it holds `min_recipients` and at least `min_events` hard bounces (complaints).
 */
import type { BehaviourRules } from '../config/index.js';
import { bucketsOf, hoursOf, MINUTE_BUCKET_MS, newest, type RawFigures } from './counters.js';

export const BEHAVIOUR_RULES = ['volume_spike', 'domain_spread', 'bounce_spike', 'complaint_spike'] as const;
export type BehaviourRule = (typeof BEHAVIOUR_RULES)[number];

export interface Trip {
  rule: BehaviourRule;
  reason: string;
  figures: Record<string, number>;
}

type Judge = (rules: BehaviourRules, raw: RawFigures) => Trip | undefined;

const percent = (rate: number) => `${(rate * 100).toFixed(2)} %`;
const minutes = (ms: number) => `${Math.round(ms / 60_000)}m`;

const rateSpike =
  (rule: 'bounce_spike' | 'complaint_spike', counts: (raw: RawFigures) => number[], what: string): Judge =>
  (rules, raw) => {
    const r = rules[rule];
    if (!r) return undefined;
    const n = bucketsOf(r.window);
    const recipients = newest(raw.recipients, n);
    const failures = newest(counts(raw), n);
    if (recipients < r.min_recipients || failures < r.min_events) return undefined;
    const rate = failures / recipients;
    if (rate <= r.rate) return undefined;
    return {
      rule,
      reason: `${what} rate ${percent(rate)} over ${percent(r.rate)} (${failures} of ${recipients} recipients in ${minutes(r.window)})`,
      figures: { [what === 'hard bounce' ? 'hard' : 'complaints']: failures, recipients, rate },
    };
  };

/** The rules, in the order they are judged. */
export const RULE_TABLE: Readonly<Record<BehaviourRule, Judge>> = {
  volume_spike(rules, raw) {
    const r = rules.volume_spike;
    if (!r) return undefined;
    // R is read over bucketsOf(window) minute buckets (up to window + 1 minute): the baseline is the
    // rest of its hours, and the usual rate is scaled to that span, so a steady account stays under.
    const read = bucketsOf(r.window);
    const span = read * MINUTE_BUCKET_MS;
    const recipients = newest(raw.recipients, read);
    const total = newest(raw.hourly, hoursOf(r.baseline));
    const history = Math.max(0, total - recipients);
    const expected = (history * span) / Math.max(1, r.baseline - span);
    const figures = { recipients, baseline: history, expected: Math.round(expected * 100) / 100 };
    if (recipients >= r.max_count)
      return {
        rule: 'volume_spike',
        reason: `${recipients} recipients in ${minutes(r.window)}: at or over the cap of ${r.max_count}`,
        figures,
      };
    if (history < r.min_count || recipients < r.min_count || recipients <= r.factor * expected)
      return undefined;
    return {
      rule: 'volume_spike',
      reason: `${recipients} recipients in ${minutes(r.window)}: over ${r.factor} × the usual ${figures.expected}`,
      figures,
    };
  },
  domain_spread(rules, raw) {
    const r = rules.domain_spread;
    if (!r || raw.domains <= r.max_domains) return undefined;
    return {
      rule: 'domain_spread',
      reason: `${raw.domains} recipient domains in ${minutes(r.window)}: over ${r.max_domains}`,
      figures: { domains: raw.domains },
    };
  },
  bounce_spike: rateSpike('bounce_spike', (raw) => raw.hard, 'hard bounce'),
  complaint_spike: rateSpike('complaint_spike', (raw) => raw.complaints, 'complaint'),
};

/** The first rule that trips, or undefined. */
export function judge(rules: BehaviourRules, raw: RawFigures): Trip | undefined {
  for (const rule of BEHAVIOUR_RULES) {
    const trip = RULE_TABLE[rule](rules, raw);
    if (trip) return trip;
  }
  return undefined;
}

/** How many buckets of each kind the rules read (counters.ts readFigures). */
export function bucketsNeeded(rules: BehaviourRules): {
  minutes: number;
  hours: number;
  spreadMinutes: number;
} {
  const windows = [
    rules.volume_spike?.window,
    rules.bounce_spike?.window,
    rules.complaint_spike?.window,
  ].filter((w): w is number => w !== undefined);
  return {
    minutes: Math.max(1, ...windows.map(bucketsOf)),
    hours: rules.volume_spike ? hoursOf(rules.volume_spike.baseline) : 0,
    spreadMinutes: rules.domain_spread ? bucketsOf(rules.domain_spread.window) : 0,
  };
}

/** Whether any rule is configured. */
export function judgesAnything(rules: BehaviourRules): boolean {
  return BEHAVIOUR_RULES.some((rule) => rules[rule] !== undefined);
}
