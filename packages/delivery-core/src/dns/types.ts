/**
 * Types of Herald's DNS resolver (re-exported by index.ts, which documents the contract).
 * Pure declarations: no behaviour.
 */

export interface ResolverOptions {
  /** "host" or "host:port" (IPv4, or IPv6 as "[::1]:53"); default: nameservers from /etc/resolv.conf. */
  servers?: string[];
  /** Per query attempt (UDP, and TCP after truncation, each get this long); default DNS_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Attempts per lookup, rotating across servers; default DNS_ATTEMPTS. */
  attempts?: number;
  /** LRU bound of the answer cache; default DNS_CACHE_MAX_ENTRIES. */
  cacheMaxEntries?: number;
  /** How long NXDOMAIN/NODATA is cached when the answer has no SOA; default DNS_NEGATIVE_TTL_MS. */
  negativeTtlMs?: number;
  /** Cap on any cached TTL; default DNS_MAX_TTL_MS. TTLs are floored at DNS_MIN_TTL_MS. */
  maxTtlMs?: number;
  /** Injected clock for the cache; default Date.now. */
  now?: () => number;
}

export type RecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CNAME' | 'TLSA';

export type DnsRecord =
  | { type: 'A' | 'AAAA'; address: string }
  | { type: 'MX'; preference: number; exchange: string }
  | { type: 'TXT'; text: string }
  | { type: 'PTR' | 'CNAME'; name: string }
  /** RFC 6698: certificate usage, selector, matching type and the association data (lower-case hex). */
  | { type: 'TLSA'; usage: number; selector: number; matchingType: number; data: string };

export interface DnsAnswer {
  rcode: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED' | string;
  /** Records of the asked type, after following any CNAME chain. */
  answers: DnsRecord[];
  /** How long this answer may still be used (positive: min TTL of the records; negative: SOA or default). */
  ttlMs: number;
  /**
   * The server set AD (RFC 4035 §3.2.3): it validated the answer with DNSSEC. Only meaningful from
   * a validating resolver Herald trusts (delivery.dane.resolver); false/absent = not validated.
   */
  authenticated?: boolean;
}

export interface MxHost {
  /** Lower-case host name without trailing dot (the domain itself for an implicit MX). */
  exchange: string;
  preference: number;
  /** IPv4 addresses first, then IPv6. Never empty. */
  addresses: string[];
  /** True when there was no MX record and the domain's own addresses are used (RFC 5321 §5.1). */
  implicit: boolean;
}

/** A domain's MX hosts to try, and the names its site is known by (`resolveMxSet`). */
export interface MxSet {
  /** What `resolveMx` returns: the hosts to try, ties in random order, only those with addresses. */
  hosts: MxHost[];
  /**
   * The MX RRset's host names (null MX excluded), lower-case, each once, ordered by preference
   * then name, the first MAX_MX_HOSTS of them; the domain itself for an implicit MX. A function of
   * the RRset alone: the same on every lookup while the RRset is the same, whichever equal
   * preferences `hosts` picked and whichever hosts' address lookups failed.
   */
  names: string[];
}

export interface ResolverStats {
  /** Lookups that went to the network (each may take several attempts). */
  queries: number;
  /** Lookups answered from the cache. */
  cacheHits: number;
  /** Lookups that joined an identical lookup already in flight. */
  inflightJoins: number;
}

export interface Resolver {
  query(name: string, type: RecordType): Promise<DnsAnswer>;
  resolveMx(domain: string): Promise<MxHost[]>;
  /** `resolveMx`'s hosts with the RRset's names (MxSet), from the same lookups. */
  resolveMxSet(domain: string): Promise<MxSet>;
  resolveAddresses(host: string): Promise<string[]>;
  stats(): ResolverStats;
  close(): Promise<void>;
}

/** A nameserver to send queries to. */
export interface NameServer {
  host: string;
  port: number;
}
