/**
 * Which site a destination belongs to: a provider when every MX host ends in one of that
 * provider's mx_suffixes (first provider in file order wins), otherwise the sorted, de-duplicated
 * set of MX host names joined by "," (domains sharing MX hosts share a site). A domain without MX
 * hosts is its own site. Names compare lower-cased without a trailing dot. Pure; no DNS.
 */
import type { Shaping } from './schema.js';

export interface SiteRef {
  /** The provider name, or the MX set "mx1.example.net,mx2.example.net", or the domain. */
  site: string;
  provider?: string;
}

function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '');
}

/** True when `host` is the suffix's host or below it (".google.com" matches below only). */
export function hostMatchesSuffix(host: string, suffix: string): boolean {
  if (suffix.startsWith('.')) return host.endsWith(suffix);
  return host === suffix || host.endsWith(`.${suffix}`);
}

export function providerForMx(
  shaping: Pick<Shaping, 'providers'>,
  mxHosts: readonly string[],
): string | undefined {
  const hosts = mxHosts.map(normalizeHost).filter((h) => h !== '');
  if (hosts.length === 0) return undefined;
  for (const [name, provider] of Object.entries(shaping.providers)) {
    const suffixes = provider.mx_suffixes ?? [];
    if (suffixes.length === 0) continue;
    if (hosts.every((host) => suffixes.some((suffix) => hostMatchesSuffix(host, suffix)))) return name;
  }
  return undefined;
}

export function siteFor(
  shaping: Pick<Shaping, 'providers'>,
  domain: string,
  mxHosts: readonly string[],
): SiteRef {
  const provider = providerForMx(shaping, mxHosts);
  if (provider !== undefined) return { site: provider, provider };
  const hosts = [...new Set(mxHosts.map(normalizeHost).filter((h) => h !== ''))].sort();
  return { site: hosts.length > 0 ? hosts.join(',') : normalizeHost(domain) };
}
