/**
 * Rates as configured ("300/min", "5/s", "10/h", "1000/d") and their GCRA emission interval.
 * Pure; owns no state. Junk fails with HeraldError HERALD_CONFIG_INVALID naming the accepted forms.
 */
import { HeraldError } from '../errors/index.js';

const MS_PER_SECOND = 1_000;
const MS_PER_MINUTE = 60 * MS_PER_SECOND;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;
const MS_PER_DAY = 24 * MS_PER_HOUR;

/** Default burst: 1 cell, i.e. smooth pacing (one send per emission interval, no bunching). */
export const DEFAULT_BURST = 1;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: MS_PER_SECOND,
  sec: MS_PER_SECOND,
  second: MS_PER_SECOND,
  seconds: MS_PER_SECOND,
  m: MS_PER_MINUTE,
  min: MS_PER_MINUTE,
  minute: MS_PER_MINUTE,
  minutes: MS_PER_MINUTE,
  h: MS_PER_HOUR,
  hr: MS_PER_HOUR,
  hour: MS_PER_HOUR,
  hours: MS_PER_HOUR,
  d: MS_PER_DAY,
  day: MS_PER_DAY,
  days: MS_PER_DAY,
};

/**
 * `count` cells per `periodMs`. `burst` (default 1) is how many cells may go at once after an idle
 * spell: 1 paces evenly (300/min = one every 200 ms); 10 lets ten go back to back, then paces.
 */
export interface Rate {
  count: number;
  periodMs: number;
  burst?: number;
}

const RATE_PATTERN = /^(\d+)\s*\/\s*(\d*)\s*([a-z]+)$/i;

/**
 * Parses "<count>/<unit>" or "<count>/<n><unit>" ("300/min", "5/s", "10/h", "1000/d", "100/10s").
 * Units: ms, s|sec|second(s), m|min|minute(s), h|hr|hour(s), d|day(s).
 */
export function parseRate(spec: string, opts: { burst?: number } = {}): Rate {
  const fail = (why: string): never => {
    throw new HeraldError(
      'HERALD_CONFIG_INVALID',
      `invalid rate ${JSON.stringify(spec)}: ${why}; expected <count>/<unit> such as "300/min", "5/s", "10/h", "1000/d"`,
    );
  };
  const match = RATE_PATTERN.exec(String(spec).trim());
  if (!match) return fail('not of the form <count>/<unit>');
  const [, countText, multiplierText, unitText] = match;
  const count = Number(countText);
  const multiplier = multiplierText ? Number(multiplierText) : 1;
  const unitMs = UNIT_MS[unitText!.toLowerCase()];
  if (unitMs === undefined) return fail(`unknown unit "${unitText}"`);
  if (!Number.isSafeInteger(count) || count < 1) return fail('the count must be a positive integer');
  if (!Number.isSafeInteger(multiplier) || multiplier < 1) return fail('the period must be positive');
  const rate: Rate = { count, periodMs: multiplier * unitMs };
  if (opts.burst !== undefined) {
    if (!Number.isSafeInteger(opts.burst) || opts.burst < 1) return fail('burst must be an integer >= 1');
    rate.burst = opts.burst;
  }
  return rate;
}

/** Milliseconds between cells (period / count); may be fractional (7/s = 142.857… ms). */
export function emissionIntervalMs(rate: Rate): number {
  if (!(rate.count > 0) || !(rate.periodMs > 0) || !Number.isFinite(rate.count + rate.periodMs)) {
    throw new RangeError(`a rate needs a positive count and period, got ${JSON.stringify(rate)}`);
  }
  return rate.periodMs / rate.count;
}

export function burstOf(rate: Rate): number {
  const burst = rate.burst ?? DEFAULT_BURST;
  if (!Number.isSafeInteger(burst) || burst < 1)
    throw new RangeError(`burst must be an integer >= 1, got ${burst}`);
  return burst;
}
