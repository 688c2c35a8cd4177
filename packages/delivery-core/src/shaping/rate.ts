/**
 * Rates in the shaping file: "300/min", "5/s", "10000/h", "2000/d" → { count, per_ms }. Pure
 * parsing; throws RangeError with RATE_HINT so the schema can report the offending key path.
 */
import { MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, MS_PER_SECOND } from '../config/units.js';

/** At most `count` events in any window of `per_ms` milliseconds. */
export interface Rate {
  count: number;
  per_ms: number;
}

const RATE_UNIT_MS: Record<string, number> = {
  s: MS_PER_SECOND,
  min: MS_PER_MINUTE,
  h: MS_PER_HOUR,
  d: MS_PER_DAY,
};

const RATE_PATTERN = /^(\d+)\s*\/\s*(s|min|h|d)$/;

/** What an error says when a rate cannot be read. */
export const RATE_HINT = 'expected a rate like 300/min (a whole number per s, min, h or d)';

/** Parses "N/s", "N/min", "N/h" or "N/d" (N a whole number >= 1); throws RangeError otherwise. */
export function parseRate(s: string): Rate {
  const m = typeof s === 'string' ? RATE_PATTERN.exec(s.trim()) : null;
  if (!m) throw new RangeError(`${RATE_HINT}, got ${JSON.stringify(s)}`);
  const count = Number(m[1]);
  if (!Number.isSafeInteger(count) || count < 1)
    throw new RangeError(`${RATE_HINT}; the count must be at least 1, got ${JSON.stringify(s)}`);
  return { count, per_ms: RATE_UNIT_MS[m[2]!]! };
}

/** The rate written back in the unit it most likely came in ("5/s", "300/min"). */
export function formatRate(rate: Rate): string {
  for (const [unit, ms] of Object.entries(RATE_UNIT_MS))
    if (ms === rate.per_ms) return `${rate.count}/${unit}`;
  return `${rate.count}/${rate.per_ms}ms`;
}
