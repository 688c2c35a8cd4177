/**
 * Text for people: the effective limits of one path as aligned lines
 * ("max_message_rate      5/s      domain:slow.test"), for `herald shaping check` and logs.
 * Durations print in whole units ("1h20m"); rates as N/unit. Pure.
 */
import { MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, MS_PER_SECOND } from '../config/index.js';
import type { EffectiveLimitsResult, LimitOrigin } from './effective.js';
import { formatRate, type Rate } from './rate.js';

const DURATION_UNITS: [string, number][] = [
  ['d', MS_PER_DAY],
  ['h', MS_PER_HOUR],
  ['m', MS_PER_MINUTE],
  ['s', MS_PER_SECOND],
];
const DURATION_KEYS = new Set([
  'connect_timeout',
  'greeting_timeout',
  'command_timeout',
  'data_timeout',
  'max_queue_lifetime',
]);

/** "1h20m", "5d", "250ms": whole units, largest first. */
export function formatDuration(ms: number): string {
  let rest = ms;
  let out = '';
  for (const [unit, size] of DURATION_UNITS) {
    if (rest < size) continue;
    out += `${Math.floor(rest / size)}${unit}`;
    rest %= size;
  }
  return rest > 0 || out === '' ? `${out}${rest}ms` : out;
}

export function formatLimitValue(origin: Pick<LimitOrigin, 'key' | 'value'>): string {
  const { key, value } = origin;
  if (value === undefined) return 'unlimited';
  if (key === 'retry_schedule') return (value as readonly number[]).map(formatDuration).join(', ');
  if (DURATION_KEYS.has(key)) return formatDuration(value as number);
  if (typeof value === 'object') return formatRate(value as Rate);
  return String(value);
}

/** One line per limit key: name, value, the layer it came from. */
export function describeEffectiveLimits(result: EffectiveLimitsResult): string[] {
  const rows = result.explain.map((o) => [o.key, formatLimitValue(o), o.from] as const);
  const keyWidth = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.max(...rows.map((r) => r[1].length));
  return rows.map(([key, value, from]) => `${key.padEnd(keyWidth)}  ${value.padEnd(valueWidth)}  ${from}`);
}

/** A tenant's rates from the shaping file as one line ("max_message_rate 10/s, …" or "(no limits)"). */
export function describeTenantRates(tenant: {
  max_message_rate?: Rate | undefined;
  campaign_max_message_rate?: Rate | undefined;
}): string {
  const parts = [
    tenant.max_message_rate ? `max_message_rate ${formatRate(tenant.max_message_rate)}` : '',
    tenant.campaign_max_message_rate
      ? `campaign_max_message_rate ${formatRate(tenant.campaign_max_message_rate)}`
      : '',
  ].filter(Boolean);
  return parts.join(', ') || '(no limits)';
}
