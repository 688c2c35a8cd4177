/**
 * daneTlsPolicy: delivery's `tlsPolicy` with DANE — DANE first (RFC 7672; RFC 8461 §2: where
 * validated TLSA records exist they win over MTA-STS), then `next` (MTA-STS) for domains DANE does
 * not cover; with `require` (dane-only) those domains, and hosts without usable TLSA, are refused
 * 451 4.7.5 instead (`requireDane`). Every DANE decision carries `daneResult` for the attempt
 * event, and DANE's own `daneTlsa`: the TLSA records of the host that result speaks of (the TLS
 * report's policy-string).
 * The mode is per destination: the one shaping gives its provider, site or domain (`dane:` in the
 * shaping file, passed per call), else `delivery.dane.mode`; `off` hands the domain to `next`
 * untouched (no `dane` in the event). So the policy exists whatever the global mode — a reloaded
 * shaping file may turn DANE on for a site — and its resolver is made when a destination first
 * needs DANE: its own for `delivery.dane.resolver` (closed by `close`), else the given resolver
 * (dns.servers), trusted to validate.
 */
import type { DaneMode, HeraldConfig } from '../config/index.js';
import type { TlsPolicyDecision } from '../delivery/index.js';
import { createResolver, type Resolver } from '../dns/index.js';
import type { SmtpReply } from '../errors/index.js';
import type { AttemptHost, CandidateHost } from '../smtp/index.js';
import { DANE_BY, type DaneDecision, DanePolicies } from './policy.js';

type TlsPolicy = (
  domain: string,
  hosts: CandidateHost[],
  destination?: { dane?: DaneMode },
) => Promise<TlsPolicyDecision | undefined>;

export interface DaneTlsPolicy {
  tlsPolicy: TlsPolicy;
  /** The resolver DANE trusts (its own, made on first use, or the one given). */
  resolver(): Resolver;
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

export function daneTlsPolicy(config: HeraldConfig, resolver: Resolver, next?: TlsPolicy): DaneTlsPolicy {
  let trusted: { resolver: Resolver; own: boolean; dane: DanePolicies } | undefined;
  let closed = false;
  const policies = () => {
    if (!trusted) {
      const made = daneResolver(config, resolver);
      trusted = { ...made, dane: new DanePolicies({ resolver: made.resolver }) };
    }
    return trusted;
  };
  return {
    resolver: () => policies().resolver,
    close: async () => {
      if (closed) return;
      closed = true;
      if (trusted?.own) await trusted.resolver.close();
    },
    tlsPolicy: async (domain, hosts, destination) => {
      const mode = destination?.dane ?? config.delivery.dane.mode;
      if (mode === 'off') return next?.(domain, hosts);
      const decided = await policies().dane.decide(domain, hosts);
      const decision = mode === 'require' ? requireDane(domain, decided, hosts) : decided;
      if (decision.applies) {
        const daneHosts = new Set(decision.hosts.filter((h) => h.tls).map((h) => h.hostname));
        const tlsa = decision.tlsa;
        return {
          mode: 'dane',
          hosts: decision.hosts,
          daneResult: (host, hostErrors) => daneResult(daneHosts, host, hostErrors),
          daneTlsa: (host, hostErrors) => {
            const mxHost = daneHostOf(daneHosts, host, hostErrors);
            const records = mxHost ? tlsa?.get(mxHost) : undefined;
            return mxHost && records ? { mxHost, records } : undefined;
          },
        };
      }
      const sts = await next?.(domain, hosts);
      const none = () => 'none';
      return sts ? { ...sts, daneResult: none } : { mode: 'none', hosts, daneResult: none };
    },
  };
}

/** Why DANE does not cover a domain, as `require`'s refusal says it. */
const NOT_COVERED: Record<Extract<DaneDecision, { applies: false }>['why'], (domain: string) => string> = {
  'insecure-mx': (domain) => `the MX records of ${domain} are not DNSSEC-validated (insecure zone)`,
  'no-tlsa': (domain) => `no MX host of ${domain} has DNSSEC-validated TLSA records`,
};

/**
 * `delivery.dane.mode: require` (Postfix's dane-only): every host DANE does not cover with
 * usable TLSA records is refused with 451 4.7.5 naming why (an insecure zone, no TLSA, unusable
 * TLSA), so the mail is deferred, never sent without DANE. Hosts DANE covers keep their policy.
 */
export function requireDane(domain: string, decision: DaneDecision, hosts: CandidateHost[]): DaneDecision {
  const refuse = (host: CandidateHost, why: string): CandidateHost => ({
    ...host,
    tls: {
      tls: 'require',
      requiredBy: DANE_BY,
      refuse: {
        code: 451,
        enhanced: '4.7.5',
        text: `${DANE_BY}: required, but ${why}`,
        stage: 'connect',
        host: host.hostname,
      },
    },
  });
  if (!decision.applies)
    return { applies: true, hosts: hosts.map((h) => refuse(h, NOT_COVERED[decision.why](domain))) };
  return {
    applies: true,
    ...(decision.tlsa ? { tlsa: decision.tlsa } : {}),
    hosts: decision.hosts.map((h) => {
      if (h.tls?.refuse || h.tls?.peerCheck) return h;
      return refuse(
        h,
        h.tls
          ? `the TLSA records of ${h.hostname} are all unusable`
          : `${h.hostname} has no DNSSEC-validated TLSA records`,
      );
    }),
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

/** The MX host `daneResult` speaks of: the one DANE verified, else the first DANE host that failed. */
function daneHostOf(
  daneHosts: ReadonlySet<string>,
  host: AttemptHost | undefined,
  hostErrors: { hostname: string }[],
): string | undefined {
  if (host) return host.tlsVerifiedBy === DANE_BY ? host.hostname : undefined;
  return hostErrors.find((e) => daneHosts.has(e.hostname))?.hostname;
}

/** The gist of `require`'s refusals (requireDane), for the attempt event's `dane`. */
const REQUIRED_GISTS: readonly (readonly [RegExp, string])[] = [
  [/not DNSSEC-validated \(insecure zone\)/, 'insecure MX'],
  [/has no DNSSEC-validated TLSA|has DNSSEC-validated TLSA records$/, 'no TLSA'],
  [/are all unusable$/, 'unusable TLSA'],
];

/** The gist of a DANE host's failure reply. */
function shortReason(text: string): string {
  const check = /certificate check failed: (.*?)(?: while waiting|$)/.exec(text);
  if (check) return check[1]!;
  if (/does not offer STARTTLS/.test(text)) return 'STARTTLS not offered';
  if (/TLSA lookup/.test(text)) return 'TLSA lookup failed';
  if (text.startsWith(`${DANE_BY}: required, but `))
    for (const [pattern, gist] of REQUIRED_GISTS) if (pattern.test(text)) return gist;
  return text.replace(/^DANE: /, '');
}
