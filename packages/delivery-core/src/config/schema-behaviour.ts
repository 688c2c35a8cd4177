/**
 * The `behaviour` section (compromised-account detection, behaviour/): the rules an account's
 * recent traffic is judged by, as data. Absent = off: nothing is counted, nothing is held. Each
 * rule is optional (absent = not judged); `accounts.<name>` replaces the rules whole for that
 * account (a rule left out there is not judged for it). Short windows are counted in one-minute
 * buckets (at most BEHAVIOUR_MAX_WINDOW_MS), the volume baseline in hourly ones (at most 7 days).
 * `max_held_messages` / `max_held_bytes` bound what one flag episode of an account may hold in
 * quarantine (global only: `accounts.<name>` is a rules mapping).
 */
import { z } from 'zod';
import { byteSize, fraction, integer, section, timerDuration } from './fields.js';
import type { DeepReadonly } from './readonly.js';
import { MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, MS_PER_SECOND } from './units.js';

/** The longest short window a rule may use (its one-minute buckets expire after it). */
export const BEHAVIOUR_MAX_WINDOW_MS = MS_PER_HOUR;
/** The longest volume baseline (hourly buckets). */
export const BEHAVIOUR_MAX_BASELINE_MS = 7 * MS_PER_DAY;
/** The shortest window: one bucket. */
export const BEHAVIOUR_MIN_WINDOW_MS = MS_PER_MINUTE;
const ACCOUNT_NAME = /^[^\s]{1,256}$/;

function window(defaultValue: string) {
  return timerDuration()
    .refine((ms) => ms >= BEHAVIOUR_MIN_WINDOW_MS && ms <= BEHAVIOUR_MAX_WINDOW_MS, {
      message: 'expected a duration between 1m and 1h',
    })
    .prefault(defaultValue);
}

/** Recipients in `window` against the account's own rate over `baseline` (see behaviour/rules.ts). */
const volumeSpikeSchema = section({
  window: window('5m'),
  baseline: timerDuration()
    .refine((ms) => ms >= MS_PER_HOUR && ms <= BEHAVIOUR_MAX_BASELINE_MS, {
      message: 'expected a duration between 1h and 7d',
    })
    .prefault('24h'),
  /** Trips when the window holds more than `factor` times the baseline's rate per window… */
  factor: fraction(1, 1_000_000).default(10),
  /** …and at least this many recipients (and the baseline at least this many: a new account has none). */
  min_count: integer(1).default(100),
  /** Trips on this many recipients in the window whatever the baseline (a new account's burst). */
  max_count: integer(1).default(5_000),
});

/** Distinct recipient domains in `window` (a HyperLogLog: about 1 % error). */
const domainSpreadSchema = section({
  window: window('10m'),
  max_domains: integer(1).default(200),
});

/**
 * Hard bounces (or complaints) / accepted recipients in `window`, once it holds `min_recipients`
 * and at least `min_events` of them: a rate is only judged over a volume ESPs would judge it on,
 * so a handful of events (one complaint any recipient can send) never freezes an account.
 */
const rateSpikeSchema = (defaults: { rate: number; minRecipients: number; minEvents: number }) =>
  section({
    window: window('1h'),
    rate: fraction(0, 1).default(defaults.rate),
    min_recipients: integer(1).default(defaults.minRecipients),
    min_events: integer(1).default(defaults.minEvents),
  });

/** Default hard-bounce rule: over 10 % of at least 200 recipients, and at least 10 hard bounces. */
const BOUNCE_SPIKE_DEFAULTS = { rate: 0.1, minRecipients: 200, minEvents: 10 };
/** Default complaint rule: over 1 % of at least 500 recipients, and at least 5 complaints. */
const COMPLAINT_SPIKE_DEFAULTS = { rate: 0.01, minRecipients: 500, minEvents: 5 };

export const behaviourRulesSchema = section({
  volume_spike: volumeSpikeSchema.optional(),
  domain_spread: domainSpreadSchema.optional(),
  bounce_spike: rateSpikeSchema(BOUNCE_SPIKE_DEFAULTS).optional(),
  complaint_spike: rateSpikeSchema(COMPLAINT_SPIKE_DEFAULTS).optional(),
});

export const behaviourSchema = section({
  /** How often a relay judges the accounts it saw since its last pass. */
  evaluate_interval: timerDuration()
    .refine((ms) => ms >= MS_PER_SECOND, { message: 'expected a duration of at least 1s' })
    .prefault('2s'),
  rules: behaviourRulesSchema.prefault({}),
  /** Most messages held for one flagged account (per flag episode); then its mail is refused 451 4.7.1. */
  max_held_messages: integer(1).default(1_000),
  /** Most bytes (held bodies) for one flagged account (per flag episode); then refused alike. */
  max_held_bytes: byteSize().prefault('100MB'),
  /** Per-account rules (names compare case-insensitively), each replacing `rules` whole. */
  accounts: z
    .record(z.string(), behaviourRulesSchema, { error: 'expected a mapping of account names to rules' })
    .superRefine((map, ctx) => {
      for (const key of Object.keys(map))
        if (!ACCOUNT_NAME.test(key))
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'expected an account name',
            input: undefined,
          });
    })
    .default({}),
});

export type BehaviourConfig = DeepReadonly<z.output<typeof behaviourSchema>>;
export type BehaviourRules = DeepReadonly<z.output<typeof behaviourRulesSchema>>;

/** The rules in force for an account: its entry (case-insensitive), else `rules`. */
export function behaviourRulesFor(behaviour: BehaviourConfig, account: string): BehaviourRules {
  const lower = account.toLowerCase();
  for (const [name, rules] of Object.entries(behaviour.accounts))
    if (name.toLowerCase() === lower) return rules;
  return behaviour.rules;
}
