/**
 * The sites an operator looks at (`GET /v1/sites`), cheaply: those with queued jobs
 * (`herald.queueStats`, a bounded scan), those with traffic in the last RECENT_MINUTES (at most
 * ACTIVE_SITES_MAX, the busiest), every provider and site the shaping file in force names,
 * and any asked for by name; for each, its queue depth, its live state (suspended or slowed, and
 * until when: one MGET per site through shaping's SiteState, uncached here), its limits with the
 * layer that set each (the shaping layers over herald.yaml's delivery settings, as `herald shaping
 * explain` merges them, without a domain or source IP layer), its recipients delivered / deferred /
 * bounced over the last RECENT_MINUTES and its latest distinct 4xx/5xx replies (delivery-core's
 * activity counters and reply lists: every relay's, a few reads per shard). Plain data in, plain
 * data out, typed by the response schema (responses.ts).
 */

import type { RedisClient } from '@herald/delivery-core';
import { type Herald, type HeraldConfig, loadShaping } from '@herald/delivery-core';
import { readSiteOutcomes, readSiteReplies } from '@herald/delivery-core/events';
import { activityKeysOfShards } from '@herald/delivery-core/queue';
import {
  baseLimitsFromConfig,
  effectiveLimits,
  formatRate,
  type Shaping,
  SiteState,
} from '@herald/delivery-core/shaping';
import { SITE_LIMIT_KEYS, type Site, type Sites } from './responses.js';

/** Jobs the per-site queue split reads at most. */
export const SITES_MAX_JOBS = 10_000;
const PROVIDER = 'provider:';
const DOMAIN = 'domain:';

/** How far back a site's recent outcomes reach (its delivered-per-minute rate). */
export const RECENT_MINUTES = 5;
/** Distinct replies listed per site. */
export const LAST_REPLIES = 5;
/** Sites listed for their recent traffic alone (queue empty, not named by shaping), the busiest first. */
export const ACTIVE_SITES_MAX = 200;
const MS_PER_MINUTE = 60_000;

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

function limitsOf(config: HeraldConfig, site: string): Site['limits'] {
  const file = shaping(config);
  const target = site.startsWith(DOMAIN)
    ? { domain: site.slice(DOMAIN.length) }
    : { domain: '', site, ...(site.startsWith(PROVIDER) ? { provider: site.slice(PROVIDER.length) } : {}) };
  const { limits, layers, explain } = effectiveLimits(file, target, baseLimitsFromConfig(config));
  const origin = new Map(explain.map((e) => [e.key as string, e.from]));
  return {
    max_connections: limits.max_connections,
    initial_connections: limits.initial_connections,
    max_messages_per_connection: limits.max_messages_per_connection,
    max_message_rate: limits.max_message_rate ? formatRate(limits.max_message_rate) : null,
    max_connection_rate: limits.max_connection_rate ? formatRate(limits.max_connection_rate) : null,
    layers: ['built-in', ...layers],
    from: Object.fromEntries(
      SITE_LIMIT_KEYS.map((key) => [key, origin.get(key) ?? 'built-in']),
    ) as Site['limits']['from'],
  };
}

export async function sitesOverview(
  parts: { herald: Herald; config: HeraldConfig; redis: RedisClient },
  extra: readonly string[] = [],
): Promise<Sites> {
  const { herald, redis } = parts;
  // The config in force (a live reload swaps its shaping file), not the one the API started with.
  const config = herald.config;
  const stats = await herald.queueStats({ maxJobs: SITES_MAX_JOBS });
  const file = shaping(config);
  const shards = activityKeysOfShards(config.redis.prefix, herald.shards.layout);
  const now = Date.now();
  const outcomes = await readSiteOutcomes(redis, shards, now - (RECENT_MINUTES - 1) * MS_PER_MINUTE, now);
  // Sites with recent traffic are listed even with an empty queue, the busiest first, capped.
  const active = [...outcomes]
    .map(([site, o]) => ({ site, n: o.delivered + o.deferred + o.bounced }))
    .sort((a, b) => b.n - a.n)
    .slice(0, ACTIVE_SITES_MAX)
    .map((a) => a.site);
  const names = new Set<string>([
    ...stats.sites.map((s) => s.site),
    ...active,
    ...Object.keys(file.providers).map((p) => `${PROVIDER}${p}`),
    ...Object.keys(file.sites),
    ...extra,
  ]);
  const state = new SiteState(redis, config.redis.prefix, herald.events);
  const depth = new Map(stats.sites.map((s) => [s.site, s]));
  const listed = [...names];
  const replies = await readSiteReplies(redis, shards, listed, LAST_REPLIES);
  // The minutes counted: RECENT_MINUTES - 1 whole ones and the current one so far.
  const elapsedMinutes = RECENT_MINUTES - 1 + (now % MS_PER_MINUTE) / MS_PER_MINUTE;
  const sites = await Promise.all(
    listed.map(async (site): Promise<Site> => {
      const recent = outcomes.get(site) ?? { delivered: 0, deferred: 0, bounced: 0 };
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
        recent: {
          minutes: RECENT_MINUTES,
          ...recent,
          delivered_per_minute: Math.round((recent.delivered / elapsedMinutes) * 10) / 10,
        },
        last_replies: replies.get(site) ?? [],
      };
    }),
  );
  const total = (s: Site) => s.queue.ready + s.queue.scheduled + s.queue.in_flight;
  sites.sort((a, b) => total(b) - total(a) || a.site.localeCompare(b.site));
  const { ready, scheduled, inFlight } = stats.totals;
  return {
    sites,
    totals: { ready, scheduled, in_flight: inFlight },
    scanned: stats.scanned,
    truncated: stats.truncated,
  };
}
