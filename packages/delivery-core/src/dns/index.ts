/**
 * Herald's DNS resolver — the public contract of `@herald/delivery-core/dns`.
 *
 * Owns: every DNS lookup Herald makes (MX selection, host addresses, TXT/PTR for later modules),
 * spoken directly on the wire with dns-packet rather than through the OS resolver, so that
 * timeouts, retries, caching and error classification are Herald's own and testable.
 *
 * Guarantees:
 * - UDP first (EDNS0, 1232 bytes); a truncated answer (TC=1) is asked again over TCP.
 * - Random 16-bit id and a fresh socket per exchange; answers must match id and question.
 * - Each attempt waits at most `timeoutMs` (DNS_TIMEOUT_MS); up to `attempts` (DNS_ATTEMPTS)
 *   attempts per lookup via p-retry, rotating through `servers` in order.
 * - Answers are cached (LRU, `cacheMaxEntries`) by name+type for the smallest TTL of the records
 *   used, clamped to [DNS_MIN_TTL_MS, maxTtlMs]; NXDOMAIN/NODATA are cached for the SOA's
 *   negative TTL or `negativeTtlMs`. Identical concurrent lookups share one network lookup.
 * - CNAMEs in answers are followed (up to MAX_CNAME_HOPS); `answers` holds the asked type only.
 * - Queries set AD (RFC 6840 §5.7); `authenticated` is the response's AD bit (a chain of CNAMEs:
 *   every link's). Herald never validates DNSSEC itself: AD means something only from a
 *   validating resolver the operator configured (DANE uses delivery.dane.resolver).
 * - Names are lower-cased and lose the trailing dot; A-labels pass as given, U-labels are
 *   converted to A-labels.
 * - `query` returns NOERROR/NXDOMAIN answers; timeouts, network errors, SERVFAIL, REFUSED and
 *   other rcodes raise TransientError 451 4.4.3 (stage 'dns', fault 'dns') after all attempts.
 * - `resolveMx` follows RFC 5321 §5.1 and RFC 7505 — see mx.ts: 556 5.1.10 null MX, 550 5.1.2
 *   no such domain (or implicit MX without address), 550 5.4.4 no MX host has an address,
 *   451 4.4.3 DNS trouble. `resolveMxSet` adds the RRset's names (MxSet.names: by preference
 *   then name, at most MAX_MX_HOSTS, independent of the tie shuffle and of address lookups).
 *   `resolveAddresses` returns A then AAAA ([] when there are none).
 *
 * Needs injected: `servers` (default: /etc/resolv.conf nameservers) and `now` (cache clock).
 * `stats()` counts network lookups, cache hits and in-flight joins; `close()` aborts in-flight
 * lookups and empties the cache.
 */
import { TtlLruCache } from './cache.js';
import { DnsLookup } from './lookup.js';
import { resolveAddresses, resolveMx, resolveMxSet } from './mx.js';
import { parseServer, readSystemNameservers } from './servers.js';
import type { DnsAnswer, Resolver, ResolverOptions } from './types.js';

export { DNS_MIN_TTL_MS, MAX_CNAME_HOPS } from './answer.js';
export { orderByPreference } from './mx.js';
export { DNS_PORT, formatServer, isIpAddress, parseServer, readSystemNameservers } from './servers.js';
export type {
  DnsAnswer,
  DnsRecord,
  MxHost,
  MxSet,
  NameServer,
  RecordType,
  Resolver,
  ResolverOptions,
  ResolverStats,
} from './types.js';

export const DNS_TIMEOUT_MS = 2_000;
export const DNS_ATTEMPTS = 3;
export const DNS_CACHE_MAX_ENTRIES = 10_000;
export const DNS_NEGATIVE_TTL_MS = 60_000;
export const DNS_MAX_TTL_MS = 60 * 60 * 1_000;

export function createResolver(options: ResolverOptions = {}): Resolver {
  const servers = (options.servers ?? readSystemNameservers()).map(parseServer);
  const now = options.now ?? Date.now;
  const lookup = new DnsLookup({
    servers,
    timeoutMs: options.timeoutMs ?? DNS_TIMEOUT_MS,
    attempts: Math.max(1, options.attempts ?? DNS_ATTEMPTS),
    policy: {
      negativeTtlMs: options.negativeTtlMs ?? DNS_NEGATIVE_TTL_MS,
      maxTtlMs: options.maxTtlMs ?? DNS_MAX_TTL_MS,
    },
    cache: new TtlLruCache<DnsAnswer>(options.cacheMaxEntries ?? DNS_CACHE_MAX_ENTRIES, now),
  });
  const query = lookup.query.bind(lookup);
  return {
    query,
    resolveMx: (domain) => resolveMx(query, domain),
    resolveMxSet: (domain) => resolveMxSet(query, domain),
    resolveAddresses: (host) => resolveAddresses(query, host),
    stats: () => lookup.stats(),
    close: () => lookup.close(),
  };
}
