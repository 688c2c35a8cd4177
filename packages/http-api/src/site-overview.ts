/**
 * The sites an operator looks at (`GET /v1/sites`), cheaply: those with queued jobs
 * (`herald.queueStats`, a bounded scan), every provider and site the shaping file in force names,
 * and any asked for by name; for each, its queue depth, its live state (suspended or slowed, and
 * until when: one MGET per site through shaping's SiteState, uncached here) and its limits (the
 * shaping layers over herald.yaml's delivery settings, as `herald shaping explain` merges them,
 * without a domain or source IP layer). Plain data in, plain data out.
 */

import type { RedisClient } from '@herald/delivery-core';
import { type Herald, type HeraldConfig, loadShaping } from '@herald/delivery-core';
import {
  baseLimitsFromConfig,
  effectiveLimits,
  formatRate,
  type Shaping,
  SiteState,
} from '@herald/delivery-core/shaping';

/** Jobs the per-site queue split reads at most. */
export const SITES_MAX_JOBS = 10_000;
const PROVIDER = 'provider:';
const DOMAIN = 'domain:';

export interface SiteOverview {
  site: string;
  queue: { ready: number; scheduled: number; in_flight: number; oldest_age_ms: number };
  state: 'active' | 'suspended' | 'slowed';
  suspended_until: string | null;
  slowed: { rate: string; until: string } | null;
  limits: {
    max_connections: number;
    initial_connections: number;
    max_messages_per_connection: number;
    max_message_rate: string | null;
    max_connection_rate: string | null;
    layers: string[];
  };
}

export interface SitesOverview {
  sites: SiteOverview[];
  totals: { ready: number; scheduled: number; in_flight: number };
  /** Jobs read for the per-site split; `truncated` when the queue held more. */
  scanned: number;
  truncated: boolean;
}

const shapingOf = new WeakMap<HeraldConfig, Shaping>();

function shaping(config: HeraldConfig): Shaping {
  let loaded = shapingOf.get(config);
  if (!loaded) {
    loaded = loadShaping(config);
    shapingOf.set(config, loaded);
  }
  return loaded;
}

/** The providers the shaping file in force knows (for site name checks). */
export function knownProviders(config: HeraldConfig): string[] {
  return Object.keys(shaping(config).providers);
}

const iso = (ms: number) => new Date(ms).toISOString();

function limitsOf(config: HeraldConfig, site: string): SiteOverview['limits'] {
  const file = shaping(config);
  const target = site.startsWith(DOMAIN)
    ? { domain: site.slice(DOMAIN.length) }
    : { domain: '', site, ...(site.startsWith(PROVIDER) ? { provider: site.slice(PROVIDER.length) } : {}) };
  const { limits, layers } = effectiveLimits(file, target, baseLimitsFromConfig(config));
  return {
    max_connections: limits.max_connections,
    initial_connections: limits.initial_connections,
    max_messages_per_connection: limits.max_messages_per_connection,
    max_message_rate: limits.max_message_rate ? formatRate(limits.max_message_rate) : null,
    max_connection_rate: limits.max_connection_rate ? formatRate(limits.max_connection_rate) : null,
    layers: ['built-in', ...layers],
  };
}

export async function sitesOverview(
  parts: { herald: Herald; config: HeraldConfig; redis: RedisClient },
  extra: readonly string[] = [],
): Promise<SitesOverview> {
  const { herald, redis } = parts;
  // The config in force (a live reload swaps its shaping file), not the one the API started with.
  const config = herald.config;
  const stats = await herald.queueStats({ maxJobs: SITES_MAX_JOBS });
  const file = shaping(config);
  const names = new Set<string>([
    ...stats.sites.map((s) => s.site),
    ...Object.keys(file.providers).map((p) => `${PROVIDER}${p}`),
    ...Object.keys(file.sites),
    ...extra,
  ]);
  const state = new SiteState(redis, config.redis.prefix, herald.events);
  const depth = new Map(stats.sites.map((s) => [s.site, s]));
  const sites = await Promise.all(
    [...names].map(async (site): Promise<SiteOverview> => {
      const condition = await state.condition(site);
      const queued = depth.get(site);
      return {
        site,
        queue: {
          ready: queued?.ready ?? 0,
          scheduled: queued?.scheduled ?? 0,
          in_flight: queued?.inFlight ?? 0,
          oldest_age_ms: queued?.oldestAgeMs ?? 0,
        },
        state: condition.suspendedUntil ? 'suspended' : condition.slow ? 'slowed' : 'active',
        suspended_until: condition.suspendedUntil ? iso(condition.suspendedUntil) : null,
        slowed: condition.slow
          ? { rate: formatRate(condition.slow.rate), until: iso(condition.slow.until) }
          : null,
        limits: limitsOf(config, site),
      };
    }),
  );
  const total = (s: SiteOverview) => s.queue.ready + s.queue.scheduled + s.queue.in_flight;
  sites.sort((a, b) => total(b) - total(a) || a.site.localeCompare(b.site));
  const { ready, scheduled, inFlight } = stats.totals;
  return {
    sites,
    totals: { ready, scheduled, in_flight: inFlight },
    scanned: stats.scanned,
    truncated: stats.truncated,
  };
}
