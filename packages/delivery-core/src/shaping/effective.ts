/**
 * The limits that apply to one delivery path, merged from the layers of a parsed shaping file.
 * Precedence, lowest first (a later layer wins key by key):
 *   built-in < defaults < provider:<name> < site:<site> < domain:<domain> < pool:<name> < source:<ip>
 * (`dane` is never set by a pool or source layer: the schema refuses it there.)
 * Each returned value says which layer it came from, for `herald shaping check` and logs.
 * Pure; no I/O.
 */
import type { DaneMode, HeraldConfig } from '../config/index.js';
import { MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, MS_PER_SECOND } from '../config/index.js';
import type { Rate } from './rate.js';
import {
  LIMIT_KEYS,
  type LimitKey,
  type Shaping,
  type ShapingLimits,
  type ShapingTlsMode,
} from './schema.js';

/** The limits with every key decided; rates stay undefined when no layer sets them (no limit). */
export interface EffectiveLimits {
  max_connections: number;
  initial_connections: number;
  max_messages_per_connection: number;
  max_message_rate: Rate | undefined;
  max_connection_rate: Rate | undefined;
  connect_timeout: number;
  greeting_timeout: number;
  command_timeout: number;
  data_timeout: number;
  tls: ShapingTlsMode;
  retry_schedule: readonly number[];
  max_queue_lifetime: number;
  /** DANE for MX deliveries to this destination (delivery.dane.mode unless a layer sets it). */
  dane: DaneMode;
}

/**
 * Values used when no layer sets a key; they match herald.yaml's delivery/retry defaults.
 * Timeouts follow RFC 5321 section 4.5.3.2; the retry schedule is Postfix-like (5m doubling to 4h).
 */
export const BUILTIN_LIMITS: Readonly<EffectiveLimits> = Object.freeze({
  /** Concurrent connections at most. */
  max_connections: 20,
  /** Concurrent connections a site starts at (Postfix's initial_destination_concurrency). */
  initial_connections: 5,
  /** Messages per connection. */
  max_messages_per_connection: 100,
  /** Unset: no message rate limit. */
  max_message_rate: undefined,
  /** Unset: no connection rate limit. */
  max_connection_rate: undefined,
  connect_timeout: 30 * MS_PER_SECOND,
  greeting_timeout: 5 * MS_PER_MINUTE,
  command_timeout: 5 * MS_PER_MINUTE,
  data_timeout: 10 * MS_PER_MINUTE,
  tls: 'opportunistic',
  retry_schedule: Object.freeze([
    5 * MS_PER_MINUTE,
    10 * MS_PER_MINUTE,
    20 * MS_PER_MINUTE,
    40 * MS_PER_MINUTE,
    80 * MS_PER_MINUTE,
    2 * MS_PER_HOUR,
    4 * MS_PER_HOUR,
  ]),
  max_queue_lifetime: 5 * MS_PER_DAY,
  dane: 'off',
});

/** 'built-in', 'defaults', 'provider:gmail', 'site:…', 'domain:slow.test', 'pool:bulk', 'source:127.0.0.2'. */
export type LayerName = string;

export interface LimitOrigin {
  key: LimitKey;
  value: EffectiveLimits[LimitKey];
  from: LayerName;
}

export interface EffectiveLimitsResult {
  limits: EffectiveLimits;
  /** One entry per limit key, in LIMIT_KEYS order: the final value and the layer that set it. */
  explain: LimitOrigin[];
  /** The layers that exist in the file for this path, lowest precedence first. */
  layers: LayerName[];
}

export interface ShapingTarget {
  /** Recipient domain. */
  domain: string;
  /** Site name from the sites module (provider:<name>, mx:<sorted hosts>, route:<host>:<port>). */
  site?: string;
  provider?: string;
  /** Pool the source IP was picked from. */
  pool?: string;
  sourceIp?: string;
}

function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/** The layers that apply to `target`, lowest precedence first, each with its limits. */
export function shapingLayers(shaping: Shaping, target: ShapingTarget): [LayerName, ShapingLimits][] {
  const layers: [LayerName, ShapingLimits][] = [['defaults', shaping.defaults]];
  const add = (kind: string, name: string | undefined, table: Record<string, ShapingLimits>) => {
    if (name === undefined) return;
    const key = kind === 'source' ? name.trim().toLowerCase() : normalizeName(name);
    const limits = Object.hasOwn(table, key) ? table[key] : undefined;
    if (limits) layers.push([`${kind}:${key}`, limits]);
  };
  add('provider', target.provider, shaping.providers);
  add('site', target.site, shaping.sites);
  add('domain', target.domain, shaping.domains);
  add('pool', target.pool, shaping.pools);
  add('source', target.sourceIp, shaping.sources);
  return layers;
}

/**
 * Merges the layers that apply to `target` over `base` (see the precedence above). `base` is the
 * built-in layer: BUILTIN_LIMITS, or the relay's own herald.yaml delivery/retry settings.
 */
export function effectiveLimits(
  shaping: Shaping,
  target: ShapingTarget,
  base: Readonly<EffectiveLimits> = BUILTIN_LIMITS,
): EffectiveLimitsResult {
  const limits: Record<string, unknown> = { ...base };
  const from: Record<string, LayerName> = {};
  for (const key of LIMIT_KEYS) from[key] = 'built-in';
  const layers = shapingLayers(shaping, target);
  for (const [name, layer] of layers) {
    for (const key of LIMIT_KEYS) {
      const value = layer[key];
      if (value === undefined) continue;
      limits[key] = value;
      from[key] = name;
    }
  }
  const result = limits as unknown as EffectiveLimits;
  return {
    limits: result,
    explain: LIMIT_KEYS.map((key) => ({ key, value: result[key], from: from[key]! })),
    layers: layers.map(([name]) => name),
  };
}

/**
 * The built-in layer for a relay: its herald.yaml `delivery` and `retry` settings as limits, so a
 * shaping file refines them per provider, site and domain instead of silently replacing them.
 */
export function baseLimitsFromConfig(config: HeraldConfig): EffectiveLimits {
  const d = config.delivery;
  return {
    ...BUILTIN_LIMITS,
    max_connections: d.max_connections_per_host,
    initial_connections: d.initial_connections,
    max_messages_per_connection: d.max_messages_per_connection,
    connect_timeout: d.connect_timeout,
    greeting_timeout: d.greeting_timeout,
    command_timeout: d.command_timeout,
    data_timeout: d.data_timeout,
    tls: d.tls_verify && d.tls !== 'none' ? 'verify' : d.tls,
    retry_schedule: config.retry.schedule,
    max_queue_lifetime: config.retry.max_queue_lifetime,
    dane: d.dane.mode,
  };
}
