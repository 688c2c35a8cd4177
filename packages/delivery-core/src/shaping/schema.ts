/**
 * The shaping file as one zod schema, strict at every level (unknown keys are errors with a
 * suggestion). Sections: defaults, providers, sites, domains, sources, pools, pool_selection, tenants,
 * automation (the sending-identity sections are in sources-schema.ts). Every
 * limit key is optional everywhere; built-in values live in effective.ts (BUILTIN_LIMITS).
 * Durations parse to milliseconds, rates to { count, periodMs }; names of domains, sites and
 * providers are lower-cased. Pure; no I/O.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import {
  DANE_MODES,
  duration,
  integer,
  MS_PER_HOUR,
  oneOf,
  section,
  timerDuration,
} from '../config/index.js';
import {
  NAME,
  type PoolSelectionRule,
  poolSchema as poolSchema_,
  poolSelectionSchema,
  rate,
  sourceSchema as sourceSchema_,
  type TenantShaping,
  tenantSchema,
} from './sources-schema.js';

export const SHAPING_TLS_MODES = ['opportunistic', 'require', 'verify', 'none'] as const;
export type ShapingTlsMode = (typeof SHAPING_TLS_MODES)[number];
/** A destination's DANE mode (delivery.dane.mode's values): `off`, `opportunistic`, `require`. */
export const SHAPING_DANE_MODES = DANE_MODES;
/** How long `slow_to` lasts when the rule names no `for` (ms). */
export const DEFAULT_SLOW_FOR_MS = MS_PER_HOUR;
/** Highest SMTP reply code an automation rule may match. */
const MAX_REPLY_CODE = 599;
const MIN_REPLY_CODE = 200;
const ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3}$/;
/** An MX suffix: ".google.com" (subdomains) or "mx.example.net" (that host and its subdomains). */
const MX_SUFFIX = /^\.?[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$/i;

/** The limit keys, each optional: a layer sets only what it means to change. */
export const limitsShape = {
  /** Concurrent connections at most. */
  max_connections: integer(1).optional(),
  /** Concurrent connections a site starts at; grows toward max_connections as deliveries succeed. */
  initial_connections: integer(1).optional(),
  /** Messages delivered over one connection before it is closed. */
  max_messages_per_connection: integer(1).optional(),
  /** Messages sent, e.g. "300/min". */
  max_message_rate: rate().optional(),
  /** New connections opened, e.g. "60/min". */
  max_connection_rate: rate().optional(),
  connect_timeout: timerDuration().optional(),
  greeting_timeout: timerDuration().optional(),
  command_timeout: timerDuration().optional(),
  data_timeout: timerDuration().optional(),
  tls: oneOf(SHAPING_TLS_MODES).optional(),
  /** Delay before attempt 2, 3, ...; the last entry repeats. */
  retry_schedule: z
    .array(duration(), { error: 'expected a list of durations like 5m, 1h20m' })
    .min(1, { error: 'expected at least one delay' })
    .optional(),
  max_queue_lifetime: duration().optional(),
  /**
   * DANE for this destination over delivery.dane.mode (Postfix's per-destination `dane`,
   * `dane-only`, `may`). Destination layers only: DANE is decided before a source IP is picked.
   */
  dane: oneOf(SHAPING_DANE_MODES).optional(),
};

export const LIMIT_KEYS = Object.keys(limitsShape) as (keyof typeof limitsShape)[];

const limitsSchema = section(limitsShape);

/** Pools and sources: the limit keys but `dane`, which names where it belongs instead. */
const laneLimitsShape = {
  ...limitsShape,
  dane: z
    .never({ error: 'dane is set per provider, site or domain (it is decided before the source IP)' })
    .optional(),
};

const mxSuffix = z
  .string({ error: 'expected an MX host suffix like .google.com' })
  .regex(MX_SUFFIX, { error: 'expected an MX host suffix like .google.com' })
  .transform((s) => s.toLowerCase());

const providerSchema = section({
  ...limitsShape,
  /** MX hosts ending in one of these belong to the provider (all of a domain's MX must match). */
  mx_suffixes: z.array(mxSuffix, { error: 'expected a list of MX host suffixes' }).optional(),
});

const sourceSchema = sourceSchema_(laneLimitsShape);
const poolSchema = poolSchema_(laneLimitsShape);

function regexText() {
  return z.string({ error: 'expected a regular expression' }).superRefine((value, ctx) => {
    try {
      new RegExp(value, 'i');
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      ctx.addIssue({
        code: 'custom',
        message: `expected a valid regular expression; ${reason}`,
        input: undefined,
      });
    }
  });
}

const automationRuleSchema = section({
  /** All given fields must match the reply: code, enhanced status, text (regex, case-insensitive). */
  match: section({
    code: integer(MIN_REPLY_CODE, MAX_REPLY_CODE).optional(),
    enhanced: z
      .string({ error: 'expected an enhanced status code like 4.7.28' })
      .regex(ENHANCED_CODE, { error: 'expected an enhanced status code like 4.7.28' })
      .optional(),
    text: regexText().optional(),
  }).refine((m) => m.code !== undefined || m.enhanced !== undefined || m.text !== undefined, {
    error: 'expected at least one of code, enhanced, text',
  }),
  /** Act once `count` matching replies arrive within `within` (default: the first one). */
  threshold: section({ count: integer(1), within: duration() }).optional(),
  action: section({
    /** Stop delivering to the site for this long. */
    suspend: duration().optional(),
    /** Lower the site's message rate to this ... */
    slow_to: rate().optional(),
    /** ... for this long (default DEFAULT_SLOW_FOR_MS). */
    for: duration().optional(),
    /** Stop using the source IP that got the reply, for this long. */
    suspend_source: duration().optional(),
  })
    .refine((a) => [a.suspend, a.slow_to, a.suspend_source].filter((v) => v !== undefined).length === 1, {
      error: 'expected exactly one of suspend, slow_to, suspend_source',
    })
    .refine((a) => a.for === undefined || a.slow_to !== undefined, {
      error: '"for" goes with slow_to only',
    }),
});

/** A mapping whose keys are checked by `keyOk` (reported at the key's path) and lower-cased. */
function namedMap<T extends z.ZodType>(
  what: string,
  value: T,
  keyOk: (key: string) => boolean,
  hint: string,
) {
  return z
    .record(z.string(), value, { error: `expected a mapping of ${what}` })
    .superRefine((map, ctx) => {
      for (const key of Object.keys(map))
        if (!keyOk(key)) ctx.addIssue({ code: 'custom', path: [key], message: hint, input: undefined });
    })
    .transform((map) => {
      const out: Record<string, z.output<T>> = {};
      for (const [key, item] of Object.entries(map)) out[key.toLowerCase()] = item;
      return out;
    });
}

const anyName = (key: string) => key.trim() !== '';

export const shapingSchema = section({
  defaults: limitsSchema.optional(),
  providers: namedMap(
    'provider names to limits',
    providerSchema,
    (k) => NAME.test(k),
    'expected a provider name like gmail',
  ).optional(),
  sites: namedMap('site names to limits', limitsSchema, anyName, 'expected a site name').optional(),
  domains: namedMap('domains to limits', limitsSchema, anyName, 'expected a domain name').optional(),
  sources: namedMap(
    'source IP addresses to limits',
    sourceSchema,
    (k) => isIP(k) !== 0,
    'expected a source IP address as the key',
  ).optional(),
  pools: namedMap(
    'pool names to pools',
    poolSchema,
    (k) => NAME.test(k),
    'expected a pool name like bulk',
  ).optional(),
  pool_selection: poolSelectionSchema.optional(),
  tenants: namedMap(
    'tenant names to rate limits',
    tenantSchema,
    (k) => NAME.test(k),
    'expected a tenant name like acme',
  ).optional(),
  automation: z.array(automationRuleSchema, { error: 'expected a list of automation rules' }).optional(),
}).superRefine((file, ctx) => {
  for (const [i, rule] of (file.pool_selection ?? []).entries())
    if (!file.pools || !Object.hasOwn(file.pools, rule.pool))
      ctx.addIssue({
        code: 'custom',
        path: ['pool_selection', i, 'pool'],
        message: `no pool named ${rule.pool} under pools`,
      });
});

export type ShapingInput = z.input<typeof shapingSchema>;
type ParsedShaping = z.output<typeof shapingSchema>;
/** A parsed shaping file: every section present (possibly empty), durations in ms. */
export interface Shaping {
  defaults: ShapingLimits;
  providers: Record<string, ProviderShaping>;
  sites: Record<string, ShapingLimits>;
  domains: Record<string, ShapingLimits>;
  sources: Record<string, SourceShaping>;
  pools: Record<string, PoolShaping>;
  pool_selection: PoolSelectionRule[];
  tenants: Record<string, TenantShaping>;
  automation: AutomationRule[];
}
export type { PoolSelectionRule, TenantShaping };
export type ShapingLimits = z.output<typeof limitsSchema>;
export type ProviderShaping = z.output<typeof providerSchema>;
export type SourceShaping = z.output<typeof sourceSchema>;
export type PoolShaping = z.output<typeof poolSchema>;
export type AutomationRule = z.output<typeof automationRuleSchema>;
export type LimitKey = keyof ShapingLimits;

/** Fills absent sections with empty ones. */
export function completeShaping(parsed: ParsedShaping): Shaping {
  return {
    defaults: parsed.defaults ?? {},
    providers: parsed.providers ?? {},
    sites: parsed.sites ?? {},
    domains: parsed.domains ?? {},
    sources: parsed.sources ?? {},
    pools: parsed.pools ?? {},
    pool_selection: parsed.pool_selection ?? [],
    tenants: parsed.tenants ?? {},
    automation: parsed.automation ?? [],
  };
}
