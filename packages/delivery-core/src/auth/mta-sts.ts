/**
 * MTA-STS (RFC 8461) for outbound delivery: discovers a receiving domain's policy (`_mta-sts`
 * TXT id, then the HTTPS policy file), caches it, and turns it into the TLS decision of one MX
 * delivery (DeliveryDeps.tlsPolicy).
 *
 * Guarantees:
 * - One policy fetch per domain per max_age, or when the TXT id changes; concurrent lookups of a
 *   domain share one discovery. A cached unexpired policy answers at once (no I/O on the message
 *   path); its TXT id is re-checked in the background at most every TXT_RECHECK_MS.
 * - A failed refresh (DNS trouble, no record, fetch or parse failure) keeps a cached unexpired
 *   policy (§5.1); without one the domain has no policy, remembered for NO_POLICY_RECHECK_MS
 *   (FETCH_RETRY_MS after a failed fetch), so a broken domain costs no latency per message.
 * - enforce: only MX hosts the policy names, STARTTLS required, certificate verified for the MX
 *   name against Node's roots plus `extraCa`; no matching MX → 451 4.7.5 and no connection, after
 *   one check for a newer policy (§4.2: never fail on a stale policy). testing: delivery as usual,
 *   with what enforcing would refuse reported. none: nothing applies.
 * The cache is an LRU of `cacheSize` domains. Needs: Herald's resolver, a clock; the policy
 * port and the fetch are injectable for tests (production: 443, fetchPolicyText).
 */

import type { TlsPolicyDecision } from '../delivery/index.js';
import type { Resolver } from '../dns/index.js';
import type { SmtpReply } from '../errors/index.js';
import type { CandidateHost } from '../smtp/index.js';
import { fetchPolicyText, trustedCas } from './mta-sts-fetch.js';
import {
  hostAllowed,
  type MtaStsPolicy,
  parsePolicy,
  parseStsRecord,
  policyLines,
} from './mta-sts-policy.js';

/** How often a cached policy's TXT id is compared with DNS (in the background). */
export const TXT_RECHECK_MS = 5 * 60_000;
/** A domain without a (valid) `_mta-sts` record, or whose record could not be read, is asked again after this. */
export const NO_POLICY_RECHECK_MS = 5 * 60_000;
/** After a failed policy fetch (and no cached policy), the next fetch waits this long. */
export const FETCH_RETRY_MS = 15 * 60_000;
const S_TO_MS = 1_000;

export interface MtaStsOptions {
  resolver: Resolver;
  /** PEM certificates trusted beside Node's bundled roots (config delivery.mta_sts.ca_file). */
  extraCa?: string | undefined;
  /** Domains cached at most (config delivery.mta_sts.cache_size). */
  cacheSize: number;
  now?: () => number;
  /** The HTTPS port of mta-sts.<domain>: 443; tests only set another. */
  policyPort?: number;
  /** Replaces the HTTPS fetch (unit tests). */
  fetchPolicy?: (domain: string) => Promise<string>;
}

/** A cached discovery: a policy until `expiresAt`, or (no policy) "none known" until then. */
interface Entry {
  id?: string;
  policy?: MtaStsPolicy;
  expiresAt: number;
  checkedAt: number;
}

export interface MtaStsStats {
  /** Lookups answered from the cache without waiting. */
  hits: number;
  /** Discoveries that went to DNS (and maybe HTTPS) while a delivery waited. */
  misses: number;
  fetches: number;
  fetchFailures: number;
}

export class MtaStsPolicies {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry | undefined>>();
  private readonly now: () => number;
  private readonly ca: readonly string[] | undefined;
  private readonly fetch: (domain: string) => Promise<string>;
  readonly stats: MtaStsStats = { hits: 0, misses: 0, fetches: 0, fetchFailures: 0 };

  constructor(private readonly options: MtaStsOptions) {
    this.now = options.now ?? Date.now;
    this.ca = trustedCas(options.extraCa);
    this.fetch =
      options.fetchPolicy ??
      ((domain) =>
        fetchPolicyText(domain, {
          resolver: options.resolver,
          ca: this.ca,
          ...(options.policyPort ? { port: options.policyPort } : {}),
        }));
  }

  /** The policy in force for `domain` (mode none included), or undefined when it has none. */
  async policyFor(domain: string): Promise<MtaStsPolicy | undefined> {
    return (await this.lookup(domain.toLowerCase())).policy;
  }

  /** DeliveryDeps.tlsPolicy: what the domain's policy makes of a delivery to `hosts`. */
  async decide(domain: string, hosts: CandidateHost[]): Promise<TlsPolicyDecision | undefined> {
    const key = domain.toLowerCase();
    const found = await this.lookup(key);
    let policy = found.policy;
    if (policy?.mode === 'enforce' && !hosts.some((h) => hostAllowed(policy!, h.hostname)) && found.cached) {
      // §4.2: never refuse on a possibly stale policy; a changed TXT id is fetched now.
      policy = (await this.refresh(key))?.policy;
    }
    if (!policy || policy.mode === 'none') return undefined;
    if (policy.mode === 'testing') return this.testing(policy, hosts);
    const allowed = hosts.filter((h) => hostAllowed(policy!, h.hostname));
    const policyString = policyLines(policy);
    if (allowed.length === 0)
      return { mode: 'enforce', hosts: [], refuse: noMatchReply(domain, hosts), policyString };
    return { mode: 'enforce', hosts: allowed, tls: 'require', tlsVerify: true, tlsCa: this.ca, policyString };
  }

  /** The policy from the cache (re-checked in the background when due), else discovered now. */
  private async lookup(key: string): Promise<{ policy?: MtaStsPolicy | undefined; cached: boolean }> {
    const entry = this.fresh(key);
    if (entry) {
      this.stats.hits++;
      if (entry.policy && this.now() - entry.checkedAt >= TXT_RECHECK_MS) void this.refresh(key);
      return { policy: entry.policy, cached: true };
    }
    this.stats.misses++;
    return { policy: (await this.refresh(key))?.policy, cached: false };
  }

  /** Waits for every discovery in flight (background re-checks included). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight.values()]);
  }

  private testing(policy: MtaStsPolicy, hosts: CandidateHost[]): TlsPolicyDecision {
    const outside = hosts.filter((h) => !hostAllowed(policy, h.hostname)).map((h) => h.hostname);
    return {
      mode: 'testing',
      hosts,
      policyString: policyLines(policy),
      // The certificate check runs against the same trust set, so the event can tell.
      tlsCa: this.ca,
      review(host) {
        const problems = outside.length > 0 ? [`MX ${outside.join(', ')} not in the policy`] : [];
        if (!host) return problems;
        if (!hostAllowed(policy, host.hostname))
          problems.push(`delivered to ${host.hostname}, not in the policy`);
        if (!host.tls) problems.push(`${host.hostname} without TLS`);
        else if (!host.tlsVerified) problems.push(`${host.hostname} certificate not verified`);
        return problems;
      },
    };
  }

  /** The cached entry if it is still valid (LRU: a read makes it the most recent). */
  private fresh(key: string): Entry | undefined {
    const entry = this.cache.get(key);
    if (!entry) return undefined;
    this.cache.delete(key);
    if (this.now() >= entry.expiresAt) return undefined;
    this.cache.set(key, entry);
    return entry;
  }

  private store(key: string, entry: Entry): Entry {
    this.cache.delete(key);
    if (entry.expiresAt > this.now()) this.cache.set(key, entry);
    while (this.cache.size > Math.max(1, this.options.cacheSize)) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.cache.delete(oldest.value);
    }
    return entry;
  }

  /** Re-discovers `key` (single-flight per domain); resolves to the entry in force afterwards. */
  private refresh(key: string): Promise<Entry | undefined> {
    let running = this.inflight.get(key);
    if (!running) {
      running = this.discover(key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, running);
    }
    return running;
  }

  private async discover(key: string): Promise<Entry | undefined> {
    const cached = this.fresh(key);
    const kept = cached?.policy ? cached : undefined;
    const keep = () => {
      kept!.checkedAt = this.now();
      return kept;
    };
    const id = await this.recordId(key);
    if (id === undefined) {
      if (kept) return keep();
      return this.store(key, { expiresAt: this.now() + NO_POLICY_RECHECK_MS, checkedAt: this.now() });
    }
    if (kept && kept.id === id) return keep();
    this.stats.fetches++;
    let policy: MtaStsPolicy;
    try {
      const parsed = parsePolicy(await this.fetch(key));
      if (!parsed.ok) throw new Error(parsed.problem);
      policy = parsed.value;
    } catch {
      this.stats.fetchFailures++;
      if (kept) return keep();
      return this.store(key, { id, expiresAt: this.now() + FETCH_RETRY_MS, checkedAt: this.now() });
    }
    const now = this.now();
    return this.store(key, { id, policy, expiresAt: now + policy.maxAgeS * S_TO_MS, checkedAt: now });
  }

  /** The policy id of `_mta-sts.<domain>`, or undefined (no valid record, or DNS trouble). */
  private async recordId(domain: string): Promise<string | undefined> {
    try {
      const answer = await this.options.resolver.query(`_mta-sts.${domain}`, 'TXT');
      const texts = answer.answers.flatMap((r) => (r.type === 'TXT' ? [r.text] : []));
      const parsed = parseStsRecord(texts);
      return parsed.ok ? parsed.value : undefined;
    } catch {
      return undefined;
    }
  }
}

function noMatchReply(domain: string, hosts: CandidateHost[]): SmtpReply {
  const names = hosts.map((h) => h.hostname).join(', ');
  return {
    code: 451,
    enhanced: '4.7.5',
    text: `MTA-STS: no MX host matches the policy of ${domain} (MX: ${names})`,
    stage: 'connect',
  };
}
