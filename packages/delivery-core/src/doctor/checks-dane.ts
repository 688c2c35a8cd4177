/**
 * The `dane` check (RFC 7672): the domain's MX hosts' TLSA records at `_25._tcp.<mx>`, as a
 * DANE-sending MTA sees them through the doctor's resolver, and — when probes are given
 * (dane-probe.ts: a STARTTLS connection to each host with validated usable records) — whether
 * the certificate each presents matches them, judged by delivery's own matcher (dane/ matchDane:
 * DANE-EE cert/SPKI full/SHA2-256/SHA2-512, DANE-TA through the chain to the anchor).
 * DANE needs the MX answer and each host's TLSA answer validated (AD): without AD the zone is
 * unsigned or the resolver does not validate (give `--dns` a validating resolver, or the config's
 * delivery.dane.resolver). Usable records are DANE-TA(2) / DANE-EE(3). A TLSA lookup that fails,
 * a certificate that matches no record, or a host without working STARTTLS makes DANE senders
 * defer mail to the domain: the check fails. A host the probe could not reach is a warning (the
 * certificate unchecked). Pure over a DnsView and the probes' results.
 */
import { formatTlsa, matchDane, type TlsaRecord, tlsaName, usableTlsa } from '../dane/index.js';
import { DANE_PROBE_MAX_HOSTS, type DaneProbeResult, type DaneProbeTarget } from './dane-probe.js';
import { addressesOf } from './snapshot.js';
import type { CheckResult, DnsView } from './types.js';
import { verdict } from './verdict.js';

/** What the probe found for one host: its certificate matched, did not, or was not seen. */
type CertificateFinding =
  | { address: string; port: number; matches: 'DANE-EE' | 'DANE-TA' }
  | { address: string; port: number; mismatch: string }
  | { address: string; port: number; unchecked: string; noTls: boolean };

interface HostFinding {
  host: string;
  state: 'usable' | 'unusable' | 'insecure' | 'none' | 'error';
  records: string[];
  error?: string;
  certificate?: CertificateFinding;
}

/** The probes' results by host, and the clock the certificates' dates are read at. */
export interface DaneProbes {
  results: ReadonlyMap<string, DaneProbeResult>;
  now: number;
}

function tlsaOf(view: DnsView, host: string) {
  const answer = view.get(tlsaName(host), 'TLSA');
  const records: TlsaRecord[] =
    answer.kind === 'answer' ? answer.records.flatMap((r) => (r.type === 'TLSA' ? [{ ...r }] : [])) : [];
  return { answer, records };
}

function certificateFinding(result: DaneProbeResult, records: TlsaRecord[], now: number): CertificateFinding {
  const at = { address: result.address, port: result.port };
  if ('error' in result) return { ...at, unchecked: result.error, noTls: result.stage === 'starttls' };
  const match = matchDane(result.chain, records, [result.host], now);
  return match.ok ? { ...at, matches: match.usage } : { ...at, mismatch: match.why };
}

function hostFinding(view: DnsView, host: string, probes?: DaneProbes): HostFinding {
  const { answer, records } = tlsaOf(view, host);
  if (answer.kind === 'error') return { host, state: 'error', records: [], error: answer.message };
  const shown = records.map((r) => formatTlsa(r));
  if (records.length === 0) return { host, state: 'none', records: shown };
  if (!answer.authenticated) return { host, state: 'insecure', records: shown };
  if (usableTlsa(records).length === 0) return { host, state: 'unusable', records: shown };
  const probed = probes?.results.get(host);
  if (!probes || !probed) return { host, state: 'usable', records: shown };
  return {
    host,
    state: 'usable',
    records: shown,
    certificate: certificateFinding(probed, records, probes.now),
  };
}

/** The domain's MX host names (the domain itself for an implicit MX); undefined without an answer. */
function mxHosts(view: DnsView, domain: string) {
  const mx = view.get(domain, 'MX');
  if (mx.kind === 'error' || mx.rcode === 'NXDOMAIN') return undefined;
  // Best preference first (stable), as delivery orders them: the probe takes the first
  // DANE_PROBE_MAX_HOSTS, which must be the hosts delivery would use, not the answer's rotation.
  const named = mx.records
    .flatMap((r) => (r.type === 'MX' && r.exchange !== '' ? [r] : []))
    .sort((a, b) => a.preference - b.preference)
    .map((r) => r.exchange);
  return { hosts: named.length > 0 ? named : [domain], authenticated: mx.authenticated === true };
}

/**
 * The hosts a probe should connect to: those with validated usable TLSA records, each at its first
 * address (A, else AAAA). Asks the view for those addresses, so gathering fetches them.
 */
export function daneProbeTargets(view: DnsView, domain: string): DaneProbeTarget[] {
  const mx = mxHosts(view, domain);
  if (!mx?.authenticated) return [];
  return mx.hosts.flatMap((host) => {
    if (hostFinding(view, host).state !== 'usable') return [];
    const address = addressesOf(view.get(host, 'A'))[0] ?? addressesOf(view.get(host, 'AAAA'))[0];
    return address === undefined ? [] : [{ host, address }];
  });
}

function certificateLine(f: HostFinding): string {
  const c = f.certificate;
  if (!c) return '';
  if ('matches' in c) return `${f.host}: certificate matches (${c.matches})`;
  if ('mismatch' in c)
    return `${f.host}: the certificate at ${c.address}:${c.port} matches no TLSA record (${c.mismatch})`;
  return c.noTls
    ? `${f.host}: no TLS at ${c.address}:${c.port} (${c.unchecked})`
    : `${f.host}: certificate not checked (${c.unchecked})`;
}

export function daneCheck(view: DnsView, domain: string, probes?: DaneProbes): CheckResult {
  const id = 'dane';
  const mx = mxHosts(view, domain);
  if (!mx) return verdict(id, 'info', 'no MX answer to check TLSA for', '');
  const { hosts } = mx;
  if (!mx.authenticated)
    return verdict(
      id,
      'info',
      `the MX answer of ${domain} is not DNSSEC-validated (an unsigned zone, or a resolver that does not validate), so DANE does not apply`,
      'To receive with DANE: sign the zone and publish TLSA records at _25._tcp.<mx>; check with --dns <validating resolver>.',
    );
  const findings = hosts.map((h) => hostFinding(view, h, probes));
  const details = { hosts: findings };
  const failed = findings.filter((f) => f.state === 'error');
  if (failed.length > 0)
    return verdict(
      id,
      'fail',
      `TLSA lookup failed for ${failed.map((f) => f.host).join(', ')}: DANE senders defer mail to ${domain} (${failed[0]!.error})`,
      'Fix the signed zone (bogus or failing TLSA answers); a validating resolver must answer _25._tcp.<mx> TLSA.',
      details,
    );
  const refused = findings.filter(
    (f) =>
      f.certificate && ('mismatch' in f.certificate || ('noTls' in f.certificate && f.certificate.noTls)),
  );
  if (refused.length > 0)
    return verdict(
      id,
      'fail',
      `${refused.map(certificateLine).join('; ')}: DANE senders defer mail to ${domain}`,
      'Publish a TLSA record for the certificate the MX presents (e.g. "3 1 1 <sha256 of its SPKI>") or present the one the records name; on a rollover publish the new record before the new certificate.',
      details,
    );
  const usable = findings.filter((f) => f.state === 'usable');
  const unchecked = usable.filter((f) => f.certificate && 'unchecked' in f.certificate);
  const problems = findings.filter((f) => f.state === 'unusable' || f.state === 'insecure');
  if (problems.length > 0 || unchecked.length > 0)
    return verdict(
      id,
      'warn',
      [
        ...problems.map((f) =>
          f.state === 'unusable'
            ? `${f.host}: TLSA records but none usable for SMTP (only DANE-TA(2) / DANE-EE(3))`
            : `${f.host}: TLSA records in a zone that is not validated`,
        ),
        ...unchecked.map(certificateLine),
      ].join('; '),
      problems.length > 0
        ? 'Publish DANE-EE "3 1 1 <sha256 of the SPKI>" (or DANE-TA) records in a signed zone.'
        : 'Run the doctor where port 25 of the MX hosts is reachable to check their certificates.',
      details,
    );
  if (usable.length === 0)
    return verdict(
      id,
      'info',
      `no TLSA records for the MX hosts of ${domain} (DNSSEC-validated zone)`,
      '',
      details,
    );
  if (usable.length < findings.length)
    return verdict(
      id,
      'warn',
      `only ${usable.map((f) => f.host).join(', ')} of the MX hosts have TLSA records`,
      'Publish TLSA records for every MX host.',
      details,
    );
  const matched = usable.filter((f) => f.certificate && 'matches' in f.certificate);
  const notProbed = probes ? usable.length - usable.filter((f) => f.certificate).length : 0;
  const suffix =
    (matched.length > 0 ? `; ${matched.map(certificateLine).join('; ')}` : '') +
    (notProbed > 0
      ? `; ${notProbed} MX host(s) not probed (no address, or past the ${DANE_PROBE_MAX_HOSTS} best, which delivery uses)`
      : '');
  return verdict(id, 'pass', `validated, usable TLSA records for ${hosts.join(', ')}${suffix}`, '', details);
}
