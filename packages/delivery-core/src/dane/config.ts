/**
 * daneTlsPolicy: delivery's `tlsPolicy` when `delivery.dane.mode` is on — DANE first (RFC 7672;
 * RFC 8461 §2: where validated TLSA records exist they win over MTA-STS), then `next` (MTA-STS)
 * for domains DANE does not cover. Every decision carries `daneResult` for the attempt event.
 * A `delivery.dane.resolver` gets its own resolver (closed by `close`); without one the given
 * resolver (dns.servers) is trusted to validate. Undefined when DANE is off.
 */
import type { HeraldConfig } from '../config/index.js';
import type { TlsPolicyDecision } from '../delivery/index.js';
import { createResolver, type Resolver } from '../dns/index.js';
import type { SmtpReply } from '../errors/index.js';
import type { AttemptHost, CandidateHost } from '../smtp/index.js';
import { DANE_BY, DanePolicies } from './policy.js';

type TlsPolicy = (domain: string, hosts: CandidateHost[]) => Promise<TlsPolicyDecision | undefined>;

export interface DaneTlsPolicy {
  tlsPolicy: TlsPolicy;
  /** The resolver DANE trusts (its own, or the one given). */
  resolver: Resolver;
  close(): Promise<void>;
}

/** The DANE resolver of the config: its own for delivery.dane.resolver, else `fallback`. */
export function daneResolver(config: HeraldConfig, fallback: Resolver): { resolver: Resolver; own: boolean } {
  const server = config.delivery.dane.resolver;
  if (!server) return { resolver: fallback, own: false };
  const resolver = createResolver({
    servers: [server],
    timeoutMs: config.dns.timeout,
    attempts: config.dns.attempts,
    cacheMaxEntries: config.dns.cache_size,
  });
  return { resolver, own: true };
}

export function daneTlsPolicy(
  config: HeraldConfig,
  resolver: Resolver,
  next?: TlsPolicy,
): DaneTlsPolicy | undefined {
  if (config.delivery.dane.mode === 'off') return undefined;
  const trusted = daneResolver(config, resolver);
  const dane = new DanePolicies({ resolver: trusted.resolver });
  return {
    resolver: trusted.resolver,
    close: () => (trusted.own ? trusted.resolver.close() : Promise.resolve()),
    tlsPolicy: async (domain, hosts) => {
      const decision = await dane.decide(domain, hosts);
      if (decision.applies) {
        const daneHosts = new Set(decision.hosts.filter((h) => h.tls).map((h) => h.hostname));
        return {
          mode: 'dane',
          hosts: decision.hosts,
          daneResult: (host, hostErrors) => daneResult(daneHosts, host, hostErrors),
        };
      }
      const sts = await next?.(domain, hosts);
      const none = () => 'none';
      return sts ? { ...sts, daneResult: none } : { mode: 'none', hosts, daneResult: none };
    },
  };
}

/** `verified`, `failed:<why>` or `none` for the attempt event. */
export function daneResult(
  daneHosts: ReadonlySet<string>,
  host: AttemptHost | undefined,
  hostErrors: { hostname: string; reply: SmtpReply }[],
): string {
  if (host) return host.tlsVerifiedBy === DANE_BY ? 'verified' : 'none';
  const failure = hostErrors.find((e) => daneHosts.has(e.hostname));
  return failure ? `failed:${shortReason(failure.reply.text)}` : 'none';
}

/** The gist of a DANE host's failure reply. */
function shortReason(text: string): string {
  const check = /certificate check failed: (.*?)(?: while waiting|$)/.exec(text);
  if (check) return check[1]!;
  if (/does not offer STARTTLS/.test(text)) return 'STARTTLS not offered';
  if (/TLSA lookup/.test(text)) return 'TLSA lookup failed';
  if (/MX lookup/.test(text)) return 'MX lookup failed';
  return text.replace(/^DANE: /, '');
}
