/**
 * Provider rules: which mailbox providers Herald recognises from a domain's MX hosts, so that
 * every domain a provider hosts shares that provider's traffic-shaping limits.
 *
 * Owns: the one MX-suffix matching rule in Herald (`hostMatchesSuffix`, `matchProvider`) and the
 * translation of shaping providers into rules (`providerRules`). It owns NO provider data: the
 * suffixes live once, in the shaping providers (packages/delivery-core/shaping/providers.yaml,
 * merged under the operator's shaping file), and `defaultProviderRules()` reads the shipped file.
 *
 * Guarantees: suffixes match on label boundaries ("x.google.com" and "google.com" match
 * ".google.com", "evilgoogle.com" does not); a provider is chosen only when EVERY MX host matches
 * that one provider's suffixes (the KumoMTA-style conservative rule: a domain whose backup MX is
 * elsewhere is not lumped in with the provider); the first rule in file order wins. Pure apart
 * from `defaultProviderRules`, which reads the shipped file once (via the shaping module).
 */
import { loadProviderDefaults, type Shaping } from '../shaping/index.js';

/** A provider's name: its key under `providers:` in the shaping file (e.g. "gmail"). */
export type ProviderName = string;

export interface ProviderRule {
  provider: ProviderName;
  /** MX host suffixes as written in the shaping file (lower-case); matched on label boundaries. */
  mxSuffixes: readonly string[];
}

/**
 * One rule per shaping provider that has mx_suffixes, in file order (for a merged file: the
 * shipped providers first, then the operator's new ones). Providers without suffixes only carry
 * limits and match no MX host.
 */
export function providerRules(shaping: Pick<Shaping, 'providers'>): ProviderRule[] {
  const rules: ProviderRule[] = [];
  for (const [provider, entry] of Object.entries(shaping.providers)) {
    const mxSuffixes = entry.mx_suffixes ?? [];
    if (mxSuffixes.length > 0) rules.push({ provider, mxSuffixes: [...mxSuffixes] });
  }
  return rules;
}

let shippedRules: readonly ProviderRule[] | undefined;

/** The rules of the shipped provider defaults (shaping/providers.yaml), built once. */
export function defaultProviderRules(): readonly ProviderRule[] {
  shippedRules ??= Object.freeze(providerRules(loadProviderDefaults()));
  return shippedRules;
}

/** Lower-cases and strips a trailing dot. */
export function normaliseHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '');
}

/** True when `host` is the suffix's own name or a name under it (label boundary). */
export function hostMatchesSuffix(host: string, suffix: string): boolean {
  const name = normaliseHost(host);
  const bare = normaliseHost(suffix).replace(/^\.+/, '');
  if (bare === '') return false;
  return name === bare || name.endsWith(`.${bare}`);
}

function ruleCovers(rule: ProviderRule, host: string): boolean {
  return rule.mxSuffixes.some((suffix) => hostMatchesSuffix(host, suffix));
}

/**
 * The first rule (in order) that covers EVERY host of `mxHosts`; undefined when the list is
 * empty or no single rule covers them all (e.g. Google primary with an on-premises backup MX).
 */
export function matchProvider(
  mxHosts: readonly string[],
  rules: readonly ProviderRule[] = defaultProviderRules(),
): ProviderRule | undefined {
  const hosts = mxHosts.map(normaliseHost).filter((h) => h !== '');
  if (hosts.length === 0) return undefined;
  return rules.find((rule) => hosts.every((host) => ruleCovers(rule, host)));
}
