/**
 * Site identity: which receiving infrastructure a recipient domain's mail lands on.
 *
 * Owns: the site naming scheme and one uncached lookup (`resolveSite`). Guarantees:
 * - `provider:<name>` when every MX host matches one provider's mx_suffixes (providers.ts; the
 *   rules come from the shaping providers, default the shipped shaping/providers.yaml);
 * - otherwise `mx:<hosts>` — the MX host names lower-cased, de-duplicated, sorted and joined with
 *   "," — so domains sharing an MX set share a site whatever the record order or case;
 *   a domain without MX records (implicit MX, RFC 5321 §5.1) is `mx:<domain>`;
 * - `route:<host>:<port>` for a static route (`siteForRoute`), IPv6 hosts in brackets;
 * - the MX host set is the MX RRset's names as the resolver's `resolveMxSet` gives them
 *   (MxSet.names: null MX "." excluded, by preference then name, at most MAX_MX_HOSTS), not the
 *   hosts an attempt picked to try nor only those that currently have addresses, so neither the
 *   random order of equal preferences nor a host's A lookup failing moves a domain to another
 *   site; delivery's shaping gate names sites from the same set;
 * - failures are the resolver's own DeliveryErrors, unchanged: 556 5.1.10 null MX, 550 5.1.2
 *   no such domain, 550 5.4.4 no MX host address, 451 4.4.3 DNS trouble.
 * Needs injected: a `Resolver` (dns module) and optionally a clock `now` (epoch ms).
 */
import { comparableDomain } from '../address/index.js';
import type { Resolver } from '../dns/index.js';
import {
  defaultProviderRules,
  matchProvider,
  normaliseHost,
  type ProviderName,
  type ProviderRule,
} from './providers.js';

/** How long a site is kept when the MX answer's TTL is not available. */
export const SITE_CACHE_TTL_MS = 300_000;

export interface SiteInfo {
  /** `provider:<name>`, `mx:<host>[,<host>...]` or `route:<host>:<port>`. */
  site: string;
  /** Set when a provider rule matched. */
  provider?: ProviderName;
  /** Sorted, de-duplicated, lower-case MX host names the site was derived from. */
  mxHosts: string[];
  /** How long this answer may be used: the MX answer's remaining TTL (or SITE_CACHE_TTL_MS). */
  ttlMs: number;
  /** `now() + ttlMs` on the injected clock. */
  expiresAt: number;
}

export interface SiteDeps {
  resolver: Resolver;
  /** Epoch-ms clock; default Date.now. */
  now?: () => number;
  /** Provider rules (`providerRules(shaping)`); default `defaultProviderRules()`. */
  rules?: readonly ProviderRule[];
}

/** Lower-case, trailing dot stripped, U-labels as A-labels (the same form the resolver queries). */
export function normaliseDomain(domain: string): string {
  return comparableDomain(normaliseHost(domain));
}

/** Sorted, de-duplicated, normalised host names; empty names (null MX ".") dropped. */
export function canonicalHostSet(hosts: readonly string[]): string[] {
  const names = hosts.map(normaliseHost).filter((h) => h !== '');
  return [...new Set(names)].sort();
}

/** The site of an MX host set (non-empty, as `canonicalHostSet` returns or not). Pure. */
export function siteForMxHosts(
  hosts: readonly string[],
  rules: readonly ProviderRule[] = defaultProviderRules(),
): { site: string; provider?: ProviderName } {
  const set = canonicalHostSet(hosts);
  const rule = matchProvider(set, rules);
  if (rule) return { site: `provider:${rule.provider}`, provider: rule.provider };
  return { site: `mx:${set.join(',')}` };
}

/** The site of a static route (smarthost): `route:<host>:<port>`. Pure. */
export function siteForRoute(via: { host: string; port: number }): string {
  const host = normaliseHost(via.host).replace(/^\[(.*)\]$/, '$1');
  const shown = host.includes(':') ? `[${host}]` : host;
  return `route:${shown}:${via.port}`;
}

/**
 * Resolves the site of `domain` through the resolver, without caching of its own (the resolver
 * caches the DNS answers). The MX RRset is asked with `query` alongside `resolveMxSet`: the two
 * share one network lookup (the resolver's single-flight), and `query` exposes the answer's TTL.
 */
export async function resolveSite(domain: string, deps: SiteDeps): Promise<SiteInfo> {
  const now = deps.now ?? Date.now;
  const name = normaliseDomain(domain);
  const [setResult, answerResult] = await Promise.allSettled([
    deps.resolver.resolveMxSet(name),
    deps.resolver.query(name, 'MX'),
  ]);
  if (setResult.status === 'rejected') throw setResult.reason;
  const { hosts, names } = setResult.value;
  const implicit = hosts.length > 0 && hosts.every((h) => h.implicit);

  let ttlMs = SITE_CACHE_TTL_MS;
  if (answerResult.status === 'fulfilled' && answerResult.value.ttlMs > 0) ttlMs = answerResult.value.ttlMs;

  const mxHosts = canonicalHostSet(names);
  const { site, provider } = implicit
    ? { site: `mx:${mxHosts.join(',')}`, provider: undefined }
    : siteForMxHosts(mxHosts, deps.rules);
  return { site, ...(provider ? { provider } : {}), mxHosts, ttlMs, expiresAt: now() + ttlMs };
}
