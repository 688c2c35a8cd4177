/**
 * The live shaping state of one delivery path, read from Redis without changing it (for
 * `herald.explain` and `herald shaping explain`): the site's suspension and rate cut, the source
 * IP's suspension at the site, connections in use on the lane (site, or site@source IP) across
 * every relay against its concurrency window, the lane's and the tenant's next free rate slot,
 * and a warming source IP's count against today's cap. Plain data; times are epoch ms.
 * Needs injected: the command connection, the key prefix, the shaping file in force, the site
 * state (its condition is cached for CONDITION_CACHE_MS), the runtime's throttle primitives (only
 * their read-only calls), a clock.
 */

import {
  connectionLeaseKey,
  laneOf,
  laneRateKey,
  laneWindowKey,
  tenantRateKey,
  warmupCapKey,
} from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import type { DailyCap, LeasedSemaphore, Rate, RateLimiter } from '../throttle/index.js';
import { clampWindow } from './concurrency.js';
import type { EffectiveLimits } from './effective.js';
import { warmupCap } from './pools.js';
import type { Shaping } from './schema.js';
import type { SiteState } from './site-state.js';

/** The delivery path whose live state is read. */
export interface LivePath {
  site: string;
  /** The path's effective limits: the connection window's bounds and the lane's message rate. */
  limits: Pick<EffectiveLimits, 'initial_connections' | 'max_connections' | 'max_message_rate'>;
  tenant: string;
  /** The pool the source IP belongs to (its warm-up schedule). */
  pool?: string;
  /** The source IP the mail leaves from: the lane becomes `<site>@<ip>`. */
  ip?: string;
}

export interface LiveShapingState {
  /** The lane the path's connections and rate are counted on: the site, or `<site>@<source IP>`. */
  lane: string;
  /** When the site's suspension ends; absent when the site is not suspended. */
  suspendedUntil?: number;
  /** The site's temporary rate cut and when it ends; absent without one. */
  slow?: { rate: Rate; until: number };
  /** When the source IP's suspension at this site ends; absent when it is not suspended there. */
  sourceSuspendedUntil?: number;
  connections: {
    /** Connection leases held on the lane now, by every relay. */
    held: number;
    /** Connections allowed now: the window's whole part within [1, max]. */
    allowed: number;
    /** The concurrency window as adjusted by feedback; absent while it is at its initial value. */
    window?: number;
    initial: number;
    max: number;
  };
  /** The lane's message rate and the wait for its next free slot (0: now); absent without a rate. */
  laneRate?: { rate: Rate; nextFreeInMs: number };
  /** The tenant's message rate (shaping file `tenants`) and its next free slot; absent without one. */
  tenantRate?: { tenant: string; rate: Rate; nextFreeInMs: number };
  /**
   * The pool source IP's warm-up: `cap` and `sentToday` (to this site, this UTC day) while it
   * warms up; neither once it is seasoned. Absent when the source IP is in no pool.
   */
  warmup?: { ip: string; cap?: number; sentToday?: number };
}

export interface LiveStateParts {
  redis: RedisClient;
  prefix: string;
  shaping: Shaping;
  siteState: SiteState;
  semaphore: LeasedSemaphore;
  limiter: RateLimiter;
  dailyCap: DailyCap;
  now?: () => number;
}

/** A reader of live shaping state; it changes nothing. */
export function liveStateReader(parts: LiveStateParts): (path: LivePath) => Promise<LiveShapingState> {
  const { redis, prefix, shaping, semaphore, limiter, dailyCap } = parts;
  const now = parts.now ?? Date.now;

  return async (path) => {
    const { site, limits, ip } = path;
    const lane = laneOf(site, ip);
    const at = now();
    const condition = await parts.siteState.condition(site);
    const state: LiveShapingState = {
      lane,
      connections: { held: 0, allowed: 0, initial: limits.initial_connections, max: limits.max_connections },
    };
    if (condition.suspendedUntil) state.suspendedUntil = condition.suspendedUntil;
    if (condition.slow) state.slow = condition.slow;
    const sourceUntil = ip ? condition.suspendedSources?.get(ip) : undefined;
    if (sourceUntil) state.sourceSuspendedUntil = sourceUntil;

    const held = await semaphore.held(connectionLeaseKey(lane));
    const stored = await redis.get(laneWindowKey(prefix, lane));
    const window = stored === null ? undefined : Number(stored);
    state.connections.held = held;
    state.connections.allowed = clampWindow(window ?? limits.initial_connections, limits.max_connections);
    if (window !== undefined) state.connections.window = window;

    const rate = limits.max_message_rate;
    if (rate) state.laneRate = { rate, nextFreeInMs: await limiter.nextFreeInMs(laneRateKey(lane), rate) };
    const tenant = path.tenant.toLowerCase();
    const tenantRate = Object.hasOwn(shaping.tenants, tenant)
      ? shaping.tenants[tenant]?.max_message_rate
      : undefined;
    if (tenantRate) {
      const nextFreeInMs = await limiter.nextFreeInMs(tenantRateKey(tenant), tenantRate);
      state.tenantRate = { tenant, rate: tenantRate, nextFreeInMs };
    }

    const pool = path.pool && Object.hasOwn(shaping.pools, path.pool) ? shaping.pools[path.pool] : undefined;
    const source = pool?.sources.find((s) => s.ip === ip);
    if (pool && source) {
      const cap = warmupCap(pool, source, at);
      if (cap === undefined) state.warmup = { ip: source.ip };
      else {
        const [sentToday = 0] = await dailyCap.counts([warmupCapKey(source.ip, site, at)]);
        state.warmup = { ip: source.ip, cap, sentToday };
      }
    }
    return state;
  };
}
