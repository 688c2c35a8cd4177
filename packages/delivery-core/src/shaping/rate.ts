/**
 * Rates in the shaping file ("300/min", "5/s", "10000/h", "2000/d", "100/10s"): the throttle
 * module's Rate and parser, so the shaping file and the Redis limiter read rates one way. Throws
 * RangeError with RATE_HINT so the schema can report the offending key path.
 */
import { parseRate as parseThrottleRate, type Rate } from '../throttle/index.js';

export type { Rate };

const UNIT_NAMES: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['min', 60_000],
  ['s', 1_000],
];

/** What an error says when a rate cannot be read. */
export const RATE_HINT = 'expected a rate like 300/min (a whole number per s, min, h or d)';

export function parseRate(s: string): Rate {
  try {
    return parseThrottleRate(s);
  } catch (err) {
    const reason = (err as Error).message
      .replace(/^invalid rate "[^"]*": /, '')
      .replace(/; expected .*$/, '');
    throw new RangeError(`${RATE_HINT}, got ${JSON.stringify(s)} (${reason})`);
  }
}

/** The rate written back in the largest unit its period is ("5/s", "300/min", "100/10s"). */
export function formatRate(rate: Rate): string {
  for (const [unit, ms] of UNIT_NAMES) {
    if (rate.periodMs === ms) return `${rate.count}/${unit}`;
  }
  for (const [unit, ms] of UNIT_NAMES) {
    if (rate.periodMs % ms === 0) return `${rate.count}/${rate.periodMs / ms}${unit}`;
  }
  return `${rate.count}/${rate.periodMs}ms`;
}
