/**
 * DANE for SMTP (RFC 7672) the way Postfix's `dane` level does it: which MX hosts of a domain
 * must be reached over TLS with a certificate their TLSA records name.
 *
 * Guarantees (all DNS through the injected validating resolver, whose AD bit is trusted; Herald
 * never validates DNSSEC itself):
 * - The MX RRset (or, for an implicit MX, its denial) must be validated (AD), else DANE does not
 *   apply to the domain (§2.2.1); only hosts named in that validated RRset get DANE.
 * - Per host: its address records validated, then `_25._tcp.<host>` TLSA. Validated usable records
 *   → TLS required and the certificate must match them (PeerCheck "DANE", replacing PKIX);
 *   validated records none of which is usable → TLS required, unauthenticated (§3.1.3); no records
 *   or an insecure answer → that host as usual. A failed TLSA (or address) lookup in a validated
 *   zone refuses the host with 451 4.7.5 (bogus or SERVFAIL: never downgrade, §2.1.1); a failed
 *   MX lookup refuses every host.
 * - DANE applies to the domain when some host got a TLS policy; otherwise `applies: false` and the
 *   caller falls back to MTA-STS / the relay's TLS settings. The decision names each host's
 *   validated TLSA records (bounded, presentation format) for the attempt event and TLS reports.
 * Needs: the validating resolver (cached, single-flight) and a clock for the certificate dates.
 */
import { createHash } from 'node:crypto';
import type { DnsAnswer, Resolver } from '../dns/index.js';
import { isIpAddress } from '../dns/index.js';
import type { SmtpReply } from '../errors/index.js';
import type { CandidateHost, HostTls, PeerCheck } from '../smtp/index.js';
import { matchDane, reportedTlsa, type TlsaRecord, usableTlsa } from './tlsa.js';

/** Who requires TLS, in replies and in TlsDetails.verifiedBy. */
export const DANE_BY = 'DANE';
/** Port of the TLSA owner name: SMTP to MX hosts (RFC 7672 §2.2.3). */
export const SMTP_PORT = 25;
/** Hex characters of the records' digest kept in a PeerCheck key (pool key). */
const CHECK_KEY_CHARS = 16;

export type DaneDecision =
  | { applies: false; why: 'insecure-mx' | 'no-tlsa' }
  | {
      applies: true;
      hosts: CandidateHost[];
      /** Per MX host name: its validated TLSA RRset as reported (`reportedTlsa`), when it has one. */
      tlsa?: ReadonlyMap<string, string[]>;
    };

/** One host's DANE policy and the TLSA records it came from (presentation format, bounded). */
interface HostDane {
  tls: HostTls;
  tlsa?: string[];
}

export interface DaneOptions {
  /** The validating resolver (delivery.dane.resolver, else dns.servers). */
  resolver: Resolver;
  now?: () => number;
}

function refused(host: string, text: string): SmtpReply {
  return { code: 451, enhanced: '4.7.5', text: `${DANE_BY}: ${text}`, stage: 'connect', host };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function tlsaName(host: string): string {
  return `_${SMTP_PORT}._tcp.${host}`;
}

export class DanePolicies {
  private readonly now: () => number;

  constructor(private readonly options: DaneOptions) {
    this.now = options.now ?? Date.now;
  }

  async decide(domain: string, hosts: CandidateHost[]): Promise<DaneDecision> {
    const name = domain.toLowerCase();
    let mx: DnsAnswer;
    try {
      mx = await this.options.resolver.query(name, 'MX');
    } catch (err) {
      const reply = refused(name, `MX lookup of ${name} failed: ${errorText(err)}`);
      return {
        applies: true,
        hosts: hosts.map((h) => ({ ...h, tls: { tls: 'require', requiredBy: DANE_BY, refuse: reply } })),
      };
    }
    if (!mx.authenticated) return { applies: false, why: 'insecure-mx' };
    const secureNames = new Set(mx.answers.flatMap((r) => (r.type === 'MX' ? [r.exchange] : [])));
    if (secureNames.size === 0) secureNames.add(name); // implicit MX, its absence validated
    const tlsa = new Map<string, string[]>();
    const decided = await Promise.all(
      hosts.map(async (host) => {
        if (!secureNames.has(host.hostname) || isIpAddress(host.hostname)) return host;
        const dane = await this.hostTls(host.hostname);
        if (!dane) return host;
        if (dane.tlsa) tlsa.set(host.hostname, dane.tlsa);
        return { ...host, tls: dane.tls };
      }),
    );
    if (!decided.some((h) => h.tls)) return { applies: false, why: 'no-tlsa' };
    return { applies: true, hosts: decided, tlsa };
  }

  /** One host's DANE policy, or undefined when DANE does not apply to it. */
  private async hostTls(host: string): Promise<HostDane | undefined> {
    const { resolver } = this.options;
    try {
      let address = await resolver.query(host, 'A');
      if (address.answers.length === 0) address = await resolver.query(host, 'AAAA');
      if (!address.authenticated) return undefined; // §2.2.2: no TLSA lookup for an insecure host
    } catch (err) {
      const refuse = refused(host, `address lookup of ${host} failed: ${errorText(err)}`);
      return { tls: { tls: 'require', requiredBy: DANE_BY, refuse } };
    }
    let tlsa: DnsAnswer;
    try {
      tlsa = await resolver.query(tlsaName(host), 'TLSA');
    } catch (err) {
      const text = `TLSA lookup of ${tlsaName(host)} failed: ${errorText(err)}`;
      return { tls: { tls: 'require', requiredBy: DANE_BY, refuse: refused(host, text) } };
    }
    if (!tlsa.authenticated) return undefined;
    const records: TlsaRecord[] = tlsa.answers.flatMap((r) => (r.type === 'TLSA' ? [{ ...r }] : []));
    if (records.length === 0) return undefined;
    const tlsaStrings = reportedTlsa(records);
    const usable = usableTlsa(records);
    if (usable.length === 0) return { tls: { tls: 'require', requiredBy: DANE_BY }, tlsa: tlsaStrings };
    const tls: HostTls = { tls: 'require', requiredBy: DANE_BY, peerCheck: this.peerCheck(host, usable) };
    return { tls, tlsa: tlsaStrings };
  }

  private peerCheck(host: string, records: TlsaRecord[]): PeerCheck {
    const names = [host];
    const identity = records.map((r) => `${r.usage} ${r.selector} ${r.matchingType} ${r.data}`).sort();
    const key = createHash('sha256')
      .update(`${names.join(',')}|${identity.join('|')}`)
      .digest('hex');
    return {
      by: DANE_BY,
      key: key.slice(0, CHECK_KEY_CHARS),
      check: (chain) => {
        const match = matchDane(chain, records, names, this.now());
        return match.ok ? undefined : match.why;
      },
    };
  }
}
