/**
 * Sites — the public contract of `@herald/delivery-core/sites`.
 *
 * A "site" is the receiving infrastructure a recipient domain's mail lands on. Traffic shaping
 * (connection, rate and backoff limits) is applied per site, not per domain: every domain hosted
 * by Google shares Gmail's limits, and domains sharing one MX set share that set's limits.
 *
 * Owns: the MX-suffix matching rule (providers.ts), the site naming scheme and the site cache.
 * Provider data is NOT here: rules are built from the shaping providers (`providerRules(shaping)`,
 * the YAML `providers.<name>.mx_suffixes`); the default is the shipped shaping/providers.yaml.
 *
 * Guarantees:
 * - `provider:<name>` when EVERY MX host of the domain matches one provider's suffixes (label
 *   boundaries; a domain with a backup MX elsewhere is not attributed to the provider);
 * - `mx:<h1>,<h2>,...` otherwise: the MX RRset's names lower-cased, de-duplicated and sorted, so
 *   the same hosts in any order or case give the same site; `mx:<domain>` for an implicit MX;
 *   an RRset of more than MAX_MX_HOSTS names is named after its first MAX_MX_HOSTS by preference
 *   then name (the resolver's MxSet.names), so the name does not depend on which equal-preference
 *   hosts an attempt tried, nor on their address lookups;
 * - `route:<host>:<port>` for a domain sent through a static route (`siteForRoute`);
 * - `siteNameProblem` (site-name.ts) refuses a name an operator typed that delivery never
 *   produces: an unknown provider, MX hosts not in canonical form, a malformed route;
 * - null MX (556 5.1.10), no such domain (550 5.1.2), no MX address (550 5.4.4) and DNS trouble
 *   (451 4.4.3) are the resolver's DeliveryErrors, propagated unchanged;
 * - `SiteResolver` caches per domain for the MX answer's TTL (the resolver's `query` exposes it;
 *   SITE_CACHE_TTL_MS if unavailable), LRU-bounded by SITE_CACHE_MAX_ENTRIES, with single-flight
 *   for concurrent lookups of one domain; failures are not cached.
 *
 * Needs injected: a `Resolver` from `@herald/delivery-core/dns`, a clock `now` (epoch ms) and
 * optionally `rules` (default `defaultProviderRules()`).
 *
 * Depends on the shaping module's data loading and config's `suggestKey`; shaping does not import
 * sites.
 */

export {
  defaultProviderRules,
  hostMatchesSuffix,
  matchProvider,
  type ProviderName,
  type ProviderRule,
  providerRules,
} from './providers.js';
export {
  canonicalHostSet,
  normaliseDomain,
  resolveSite,
  SITE_CACHE_TTL_MS,
  type SiteDeps,
  type SiteInfo,
  siteForMxHosts,
  siteForRoute,
} from './site.js';
export { routeSites, siteNameProblem } from './site-name.js';
export {
  SITE_CACHE_MAX_ENTRIES,
  SiteResolver,
  type SiteResolverOptions,
  type SiteResolverStats,
} from './site-resolver.js';
