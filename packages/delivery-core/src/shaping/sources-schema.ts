/**
 * The shaping file's sending-identity sections: `sources` (per source IP: EHLO name and limits),
 * `pools` (weighted source IPs with an optional warm-up schedule), `pool_selection` (which pool a
 * tenant's or stream's mail leaves from, first match wins) and `tenants` (rate limits applied to
 * a tenant's and each of its campaigns' mail before any site's). Zod schemas only; the logic that
 * uses them lives in pools.ts and warmup.ts. Pure; no I/O.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { hostName, integer, section } from '../config/index.js';
import { parseRate, type Rate } from './rate.js';

/** A name for a provider, pool, tenant or stream: letters, digits, "-", "_" and ".". */
export const NAME = /^[a-z0-9][a-z0-9_.-]*$/i;
/** A calendar day, UTC: 2026-11-26. */
const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

export function rate() {
  return z.string({ error: 'expected a rate like 300/min' }).transform((value, ctx): Rate => {
    try {
      return parseRate(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message, input: undefined });
      return z.NEVER;
    }
  });
}

export function ipAddress() {
  return z
    .string({ error: 'expected an IP address' })
    .refine((s) => isIP(s) !== 0, { error: 'expected an IP address like 192.0.2.10 or 2001:db8::10' });
}

function name(what: string) {
  const message = `expected a ${what} name (letters, digits, "-", "_", ".")`;
  return z
    .string({ error: message })
    .regex(NAME, { error: message })
    .transform((s) => s.toLowerCase());
}

/** A UTC day "YYYY-MM-DD" (a YAML date value is accepted too) → epoch ms of its midnight UTC. */
function isoDay() {
  const message = 'expected a day like 2026-11-26';
  return z.union([z.string(), z.date()], { error: message }).transform((value, ctx) => {
    if (value instanceof Date) {
      if (!Number.isNaN(value.getTime()))
        return Date.UTC(value.getUTCFullYear(), value.getUTCMonth(), value.getUTCDate());
    } else {
      const m = ISO_DAY.exec(value.trim());
      if (m) {
        const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
        if (new Date(ms).toISOString().startsWith(value.trim())) return ms;
      }
    }
    ctx.addIssue({ code: 'custom', message, input: undefined });
    return z.NEVER;
  });
}

export function sourceSchema<T extends z.core.$ZodLooseShape>(limitsShape: T) {
  return section({
    ...limitsShape,
    /** EHLO name to announce from this address. */
    ehlo_name: hostName().optional(),
  });
}

const warmupSchema = section({
  /** Daily cap per source IP and site from each day on (day 1 = the source's warmup_from day). */
  schedule: z
    .array(section({ day: integer(1), daily_cap: integer(1) }), {
      error: 'expected a list of { day, daily_cap }',
    })
    .min(1, { error: 'expected at least one step' })
    .superRefine((steps, ctx) => {
      for (let i = 1; i < steps.length; i++)
        if (steps[i]!.day <= steps[i - 1]!.day)
          ctx.addIssue({ code: 'custom', path: [i, 'day'], message: 'days must increase from step to step' });
    }),
});

const poolSourceSchema = section({
  ip: ipAddress(),
  weight: integer(1).default(1),
  /** First day (UTC) of this IP's warm-up; absent = seasoned (no daily cap). */
  warmup_from: isoDay().optional(),
});

export function poolSchema<T extends z.core.$ZodLooseShape>(limitsShape: T) {
  return section({
    ...limitsShape,
    sources: z
      .array(poolSourceSchema, { error: 'expected a list of { ip, weight, warmup_from }' })
      .min(1, { error: 'expected at least one source' })
      .superRefine((sources, ctx) => {
        const seen = new Set<string>();
        for (const [i, s] of sources.entries()) {
          if (seen.has(s.ip))
            ctx.addIssue({ code: 'custom', path: [i, 'ip'], message: `${s.ip} is listed twice` });
          seen.add(s.ip);
        }
      }),
    warmup: warmupSchema.optional(),
  }).superRefine((parsed, ctx) => {
    const pool = parsed as { sources: PoolSource[]; warmup?: unknown };
    if (pool.warmup) return;
    for (const [i, s] of pool.sources.entries())
      if (s.warmup_from !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['sources', i, 'warmup_from'],
          message: 'warmup_from needs a warmup schedule in this pool',
        });
  });
}

export const poolSelectionSchema = z.array(
  section({
    /** Matches mail of this tenant (absent: any tenant). */
    tenant: name('tenant').optional(),
    /** Matches mail of this stream, e.g. bulk (absent: any stream; unmarked mail is transactional). */
    stream: name('stream').optional(),
    pool: name('pool'),
  }),
  { error: 'expected a list of { tenant, stream, pool }' },
);

export const tenantSchema = section({
  /** All of the tenant's mail, counted per destination domain job, before any site limit. */
  max_message_rate: rate().optional(),
  /** Each campaign of the tenant, the same way. */
  campaign_max_message_rate: rate().optional(),
});

export type PoolSource = z.output<typeof poolSourceSchema>;
export type PoolSelectionRule = z.output<typeof poolSelectionSchema>[number];
export type TenantShaping = z.output<typeof tenantSchema>;
