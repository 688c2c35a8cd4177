/**
 * The `dane` check (RFC 7672): the domain's MX hosts' TLSA records at `_25._tcp.<mx>`, as a
 * DANE-sending MTA sees them through the doctor's resolver. DANE needs the MX answer and each
 * host's TLSA answer validated (AD): without AD the zone is unsigned or the resolver does not
 * validate (give `--dns` a validating resolver, or the config's delivery.dane.resolver). Usable
 * records are DANE-TA(2) / DANE-EE(3) (the parser delivery uses). A TLSA lookup that fails makes
 * DANE senders defer mail to the domain: that fails the check. The live certificate is not
 * fetched: the records are judged, not matched. Pure over a DnsView.
 */
import { formatTlsa, type TlsaRecord, tlsaName, usableTlsa } from '../dane/index.js';
import type { CheckResult, DnsView } from './types.js';
import { verdict } from './verdict.js';

interface HostFinding {
  host: string;
  state: 'usable' | 'unusable' | 'insecure' | 'none' | 'error';
  records: string[];
  error?: string;
}

function hostFinding(view: DnsView, host: string): HostFinding {
  const answer = view.get(tlsaName(host), 'TLSA');
  if (answer.kind === 'error') return { host, state: 'error', records: [], error: answer.message };
  const records: TlsaRecord[] = answer.records.flatMap((r) => (r.type === 'TLSA' ? [{ ...r }] : []));
  const shown = records.map((r) => formatTlsa(r));
  if (records.length === 0) return { host, state: 'none', records: shown };
  if (!answer.authenticated) return { host, state: 'insecure', records: shown };
  return { host, state: usableTlsa(records).length > 0 ? 'usable' : 'unusable', records: shown };
}

export function daneCheck(view: DnsView, domain: string): CheckResult {
  const id = 'dane';
  const mx = view.get(domain, 'MX');
  if (mx.kind === 'error' || mx.rcode === 'NXDOMAIN')
    return verdict(id, 'info', 'no MX answer to check TLSA for', '');
  const named = mx.records.flatMap((r) => (r.type === 'MX' && r.exchange !== '' ? [r.exchange] : []));
  const hosts = named.length > 0 ? named : [domain];
  if (!mx.authenticated)
    return verdict(
      id,
      'info',
      `the MX answer of ${domain} is not DNSSEC-validated (an unsigned zone, or a resolver that does not validate), so DANE does not apply`,
      'To receive with DANE: sign the zone and publish TLSA records at _25._tcp.<mx>; check with --dns <validating resolver>.',
    );
  const findings = hosts.map((h) => hostFinding(view, h));
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
  const usable = findings.filter((f) => f.state === 'usable');
  const problems = findings.filter((f) => f.state === 'unusable' || f.state === 'insecure');
  if (problems.length > 0)
    return verdict(
      id,
      'warn',
      problems
        .map((f) =>
          f.state === 'unusable'
            ? `${f.host}: TLSA records but none usable for SMTP (only DANE-TA(2) / DANE-EE(3))`
            : `${f.host}: TLSA records in a zone that is not validated`,
        )
        .join('; '),
      'Publish DANE-EE "3 1 1 <sha256 of the SPKI>" (or DANE-TA) records in a signed zone.',
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
  return verdict(id, 'pass', `validated, usable TLSA records for ${hosts.join(', ')}`, '', details);
}
