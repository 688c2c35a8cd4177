/**
 * Field builders for the config schema: each one validates one kind of value and carries the
 * message an operator sees when it is wrong ("expected integer >= 1", "expected a duration like
 * 30s, 5m, 4h"). Durations become milliseconds and sizes become bytes here, via zod transforms.
 */
import { z } from 'zod';
import { parseHostPort, parseListen } from './addresses.js';
import { parseCidr } from './networks.js';
import { DURATION_HINT, HOLD_HINT, MAX_HOLD_MS, parseDuration, parseSize, SIZE_HINT } from './units.js';

/** A mapping whose unknown keys are errors (the ConfigError formatter names them and suggests). */
export function section<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'invalid_type' ? 'expected a mapping' : undefined),
  });
}

export function integer(min: number, max?: number) {
  const message =
    max === undefined ? `expected integer >= ${min}` : `expected integer between ${min} and ${max}`;
  const base = z.number({ error: message }).int({ error: message }).min(min, { error: message });
  return max === undefined ? base : base.max(max, { error: message });
}

export function fraction(min: number, max: number) {
  const message = `expected a number between ${min} and ${max}`;
  return z.number({ error: message }).min(min, { error: message }).max(max, { error: message });
}

export function text(what = 'a non-empty string') {
  const message = `expected ${what}`;
  return z.string({ error: message }).min(1, { error: message });
}

export function bool() {
  return z.boolean({ error: 'expected true or false' });
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.join(', ')}` });
}

/** A duration string with a unit ("30s", "1h20m") or a number of milliseconds → milliseconds (> 0). */
export function duration() {
  return z.union([z.string(), z.number()], { error: DURATION_HINT }).transform((value, ctx) => {
    try {
      const ms = parseDuration(value);
      // Longer ones are added to now (a retry's time, an expiry) past what a Date holds, so each
      // reader that prints them would fail ("Invalid time value").
      if (ms > MAX_HOLD_MS) {
        ctx.addIssue({ code: 'custom', message: HOLD_HINT, input: value });
        return z.NEVER;
      }
      if (ms > 0) return ms;
      ctx.addIssue({ code: 'custom', message: 'expected a duration greater than 0', input: value });
    } catch {
      ctx.addIssue({ code: 'custom', message: DURATION_HINT, input: value });
    }
    return z.NEVER;
  });
}

/** The longest delay a Node timer takes (2^31 - 1 ms, about 24.8 days); longer fires at once. */
export const TIMER_MAX_MS = 2_147_483_647;

/** A duration that runs as a timer (a deadline, a wait, an interval): at most TIMER_MAX_MS. */
export function timerDuration() {
  return duration().refine((ms) => ms <= TIMER_MAX_MS, {
    message: 'expected a duration of at most 24d (the longest a timer can wait)',
  });
}

/** A size: bytes as a number, or "512KB", "25MB", "10MiB" → bytes (>= 1). */
export function byteSize() {
  return z.union([z.string(), z.number()], { error: SIZE_HINT }).transform((value, ctx) => {
    try {
      const bytes = parseSize(value);
      if (bytes >= 1) return bytes;
    } catch {
      // reported below
    }
    ctx.addIssue({ code: 'custom', message: SIZE_HINT, input: value });
    return z.NEVER;
  });
}

/** A string checked by `parse` (which throws RangeError with the reason); kept as written. */
function parsedString(what: string, parse: (s: string) => unknown) {
  return z.string({ error: `expected ${what}` }).superRefine((value, ctx) => {
    try {
      parse(value);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      // The reason quotes the value already, so the formatter need not repeat it.
      ctx.addIssue({ code: 'custom', message: `expected ${what}; ${reason}`, input: undefined });
    }
  });
}

export function listenAddress() {
  return parsedString('a listen address like 127.0.0.1:2525', parseListen);
}

export function hostPort(defaultPort: number) {
  return parsedString(`host or host:port (port default ${defaultPort})`, (s) =>
    parseHostPort(s, defaultPort),
  );
}

export function cidr() {
  return parsedString('a CIDR like 10.0.0.0/8 or an IP address', parseCidr);
}

/** A host name for EHLO / greeting: letters, digits, dots and hyphens, or an address literal. */
export function hostName() {
  return z
    .string({ error: 'expected a host name' })
    .regex(
      /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*$|^\[.+\]$/,
      {
        error: 'expected a host name like mail.example.com or an address literal like [192.0.2.1]',
      },
    );
}
