/**
 * SiteResolver: `resolveSite` behind a per-domain cache, for the hot path of traffic shaping.
 *
 * Owns: the site cache and the in-flight table. Guarantees: a domain's site is served from the
 * cache until the MX answer's TTL runs out on the injected clock (SITE_CACHE_TTL_MS when the TTL
 * is unavailable); at most `maxEntries` domains are kept, evicting the least recently used;
 * concurrent lookups of one domain share one resolution; failures are not cached here (the
 * resolver caches negative DNS answers itself) and reach every waiting caller unchanged;
 * `clear()` empties the cache and stops in-flight lookups from filling it.
 * Needs injected: a `Resolver`, a clock `now` (default Date.now) and optionally the provider
 * rules (`providerRules(shaping)` of the loaded shaping file; default the shipped providers).
 */
import type { Resolver } from '../dns/index.js';
import type { ProviderRule } from './providers.js';
import { normaliseDomain, resolveSite, type SiteInfo } from './site.js';

/** LRU bound of the site cache, in domains. */
export const SITE_CACHE_MAX_ENTRIES = 10_000;

export interface SiteResolverOptions {
  resolver: Resolver;
  /** Epoch-ms clock for expiry; default Date.now. */
  now?: () => number;
  /** LRU bound; default SITE_CACHE_MAX_ENTRIES. 0 disables caching (single-flight remains). */
  maxEntries?: number;
  /** Provider rules (`providerRules(shaping)`); default `defaultProviderRules()`. */
  rules?: readonly ProviderRule[];
}

export interface SiteResolverStats {
  /** Resolutions that went to the resolver. */
  lookups: number;
  /** Answers served from the site cache. */
  cacheHits: number;
  /** Callers that joined a resolution already in flight. */
  inflightJoins: number;
}

export class SiteResolver {
  /** Map iteration order is insertion order: re-inserting on read keeps the LRU entry first. */
  private readonly entries = new Map<string, SiteInfo>();
  private readonly inflight = new Map<string, Promise<SiteInfo>>();
  private readonly counters: SiteResolverStats = { lookups: 0, cacheHits: 0, inflightJoins: 0 };
  private readonly resolver: Resolver;
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly rules: readonly ProviderRule[] | undefined;
  /** Bumped by clear(): results of lookups started before it are not cached. */
  private generation = 0;

  constructor(options: SiteResolverOptions) {
    this.resolver = options.resolver;
    this.now = options.now ?? Date.now;
    this.maxEntries = Math.max(0, Math.floor(options.maxEntries ?? SITE_CACHE_MAX_ENTRIES));
    this.rules = options.rules;
  }

  /** The site of `domain`; throws the resolver's DeliveryError when the domain has none. */
  resolve(domain: string): Promise<SiteInfo> {
    const key = normaliseDomain(domain);
    const cached = this.cached(key);
    if (cached) {
      this.counters.cacheHits++;
      return Promise.resolve(cached);
    }
    const running = this.inflight.get(key);
    if (running) {
      this.counters.inflightJoins++;
      return running;
    }
    this.counters.lookups++;
    const generation = this.generation;
    const promise = resolveSite(key, { resolver: this.resolver, now: this.now, rules: this.rules })
      .then((info) => {
        if (generation === this.generation) this.store(key, info);
        return info;
      })
      .finally(() => {
        if (this.inflight.get(key) === promise) this.inflight.delete(key);
      });
    this.inflight.set(key, promise);
    return promise;
  }

  stats(): SiteResolverStats {
    return { ...this.counters };
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
    this.inflight.clear();
  }

  /** A fresh copy with the remaining TTL, or undefined when absent or expired. */
  private cached(key: string): SiteInfo | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    const remainingMs = entry.expiresAt - this.now();
    if (remainingMs <= 0) return undefined;
    this.entries.set(key, entry);
    return { ...entry, mxHosts: [...entry.mxHosts], ttlMs: remainingMs };
  }

  private store(key: string, info: SiteInfo): void {
    if (this.maxEntries === 0 || info.ttlMs <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { ...info, mxHosts: [...info.mxHosts] });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}
