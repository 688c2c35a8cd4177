/**
 * Units in configuration values: durations ("250ms", "30s", "1h20m", "5d" → milliseconds) and byte
 * sizes ("512KB", "25MB", "10MiB" → bytes). Pure parsing; throws RangeError on anything else so the
 * schema can turn it into a config issue with the offending path.
 */

export const MS_PER_SECOND = 1000;
export const MS_PER_MINUTE = 60 * MS_PER_SECOND;
export const MS_PER_HOUR = 60 * MS_PER_MINUTE;
export const MS_PER_DAY = 24 * MS_PER_HOUR;

const DURATION_UNIT_MS: Record<string, number> = {
  ms: 1,
  s: MS_PER_SECOND,
  m: MS_PER_MINUTE,
  h: MS_PER_HOUR,
  d: MS_PER_DAY,
};

/** One "<number><unit>" component; "ms" is listed before "m" so it wins. */
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** What a config error says when a duration cannot be read. */
export const DURATION_HINT = 'expected a duration like 30s, 5m, 4h';

/**
 * Parses "250ms", "30s", "5m", "4h", "5d" and compounds like "1h20m" or "1d12h" into milliseconds.
 * Numbers are taken as milliseconds already. Throws RangeError on anything else (negative, bare
 * strings without a unit, unknown units, trailing junk).
 */
export function parseDuration(s: string | number): number {
  if (typeof s === 'number') {
    if (!Number.isFinite(s) || s < 0) throw new RangeError(`${DURATION_HINT}, got ${s}`);
    return Math.round(s);
  }
  if (typeof s !== 'string') throw new RangeError(`${DURATION_HINT}, got ${typeof s}`);
  const text = s.trim().toLowerCase();
  if (text === '') throw new RangeError(`${DURATION_HINT}, got an empty string`);
  let total = 0;
  let pos = 0;
  const seen = new Set<string>();
  DURATION_PART.lastIndex = 0;
  while (pos < text.length) {
    DURATION_PART.lastIndex = pos;
    const m = DURATION_PART.exec(text);
    if (!m) throw new RangeError(`${DURATION_HINT}, got ${JSON.stringify(s)}`);
    const unit = m[2]!;
    if (seen.has(unit))
      throw new RangeError(`${DURATION_HINT}, got ${JSON.stringify(s)} (unit "${unit}" twice)`);
    seen.add(unit);
    total += Number(m[1]) * DURATION_UNIT_MS[unit]!;
    pos = DURATION_PART.lastIndex;
  }
  return Math.round(total);
}

/**
 * The longest an operator's hold may last: a site suspension or rate cut, a suppression's expiry
 * (36500d, about 100 years; a suppression that should never lift says "never"). Its end must stay a
 * time a JavaScript Date can hold (at most 8.64e15 ms): a later one is stored, then breaks every
 * reader that prints it ("Invalid time value").
 */
export const MAX_HOLD_MS = 36_500 * MS_PER_DAY;

/** What an error says when a hold's duration is over {@link MAX_HOLD_MS}. */
export const HOLD_HINT = 'expected a duration of at most 36500d';

/** parseDuration for a hold (suspension, rate cut, expiry): also throws RangeError over {@link MAX_HOLD_MS}. */
export function parseHoldDuration(s: string): number {
  const ms = parseDuration(s);
  if (ms > MAX_HOLD_MS) throw new RangeError(`${HOLD_HINT}, got ${JSON.stringify(s)}`);
  return ms;
}

/** True for a time in ms a Date can hold (ECMA-262: |t| <= 8.64e15), so toISOString() works. */
export function isDateTime(ms: number): boolean {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15;
}

const SIZE_UNIT_BYTES: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?$/;

/** What a config error says when a size cannot be read. */
export const SIZE_HINT = 'expected a size in bytes or like 512KB, 25MB, 10MiB';

/**
 * Parses a byte size: a number of bytes, or a string with an SI unit (KB = 1000, MB = 1000²,
 * GB = 1000³) or a binary unit (KiB = 1024, MiB = 1024², GiB = 1024³), case-insensitive.
 * A string without a unit is bytes. Throws RangeError otherwise.
 */
export function parseSize(s: string | number): number {
  if (typeof s === 'number') {
    if (!Number.isFinite(s) || s < 0) throw new RangeError(`${SIZE_HINT}, got ${s}`);
    return Math.floor(s);
  }
  if (typeof s !== 'string') throw new RangeError(`${SIZE_HINT}, got ${typeof s}`);
  const m = SIZE_PATTERN.exec(s.trim().toLowerCase());
  if (!m) throw new RangeError(`${SIZE_HINT}, got ${JSON.stringify(s)}`);
  return Math.floor(Number(m[1]) * SIZE_UNIT_BYTES[m[2] ?? 'b']!);
}
