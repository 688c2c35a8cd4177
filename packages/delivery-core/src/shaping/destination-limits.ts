/**
 * The effective limits of a destination (its domain and MX set or static route → its site and
 * provider → the shaping file's layers over the built-in one) and of that destination through one
 * source IP (its pool's and its own layers on top), each kept computed — at most
 * LIMITS_CACHE_MAX_ENTRIES, oldest dropped first — until a reloaded shaping file builds a new one.
 * Needs injected: the shaping file, the built-in layer and how a destination maps to its site.
 */
import { type EffectiveLimits, effectiveLimits } from './effective.js';
import type { Shaping } from './schema.js';
import type { PickedSource } from './source-picker.js';

/** Destinations whose limits are kept computed (oldest dropped first). */
export const LIMITS_CACHE_MAX_ENTRIES = 10_000;

/** A destination's site (`provider:<name>`, `mx:<hosts>`, `route:<host>:<port>`) and provider. */
export interface SiteOf {
  site: string;
  provider?: string | undefined;
}

export interface SiteLimits {
  site: string;
  provider?: string | undefined;
  limits: EffectiveLimits;
}

export interface DestinationLimitsOptions {
  shaping: Shaping;
  /** The built-in layer: the relay's herald.yaml delivery/retry settings as limits. */
  base?: Readonly<EffectiveLimits> | undefined;
  /** The site of a destination: its MX host names, or the static route it is sent through. */
  siteOf(hostnames: readonly string[], route?: { host: string; port: number }): SiteOf;
}

export class DestinationLimits {
  /** Limits per (domain, MX set or route). */
  private readonly sites = new Map<string, SiteLimits>();
  /** Limits per (destination, pool, source IP). */
  private readonly sources = new Map<string, EffectiveLimits>();

  constructor(private readonly options: DestinationLimitsOptions) {}

  /** The site and effective limits for one destination. */
  of(domain: string, hostnames: readonly string[], route?: { host: string; port: number }): SiteLimits {
    const cacheKey = `${domain}|${route ? `${route.host}:${route.port}` : hostnames.join(',')}`;
    const cached = this.sites.get(cacheKey);
    if (cached) return cached;
    const { site, provider } = this.options.siteOf(hostnames, route);
    const target = { domain, site, ...(provider ? { provider } : {}) };
    const limits = effectiveLimits(this.options.shaping, target, this.options.base).limits;
    const result: SiteLimits = { site, provider, limits };
    remember(this.sites, cacheKey, result);
    return result;
  }

  /** Limits for a site through one source IP: its pool's and its own layers on top. */
  through(domain: string, siteLimits: SiteLimits, source: PickedSource): EffectiveLimits {
    const cacheKey = `${domain}|${siteLimits.site}|${source.pool}|${source.ip}`;
    const cached = this.sources.get(cacheKey);
    if (cached) return cached;
    const target = {
      domain,
      site: siteLimits.site,
      ...(siteLimits.provider ? { provider: siteLimits.provider } : {}),
      pool: source.pool,
      sourceIp: source.ip,
    };
    const limits = effectiveLimits(this.options.shaping, target, this.options.base).limits;
    remember(this.sources, cacheKey, limits);
    return limits;
  }
}

function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= LIMITS_CACHE_MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
}
