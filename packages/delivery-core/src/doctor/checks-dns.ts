/**
 * The domain's other records and the source IPs' reverse DNS: `mx` (MX hosts with addresses; a
 * null MX or no MX and no address warns: replies and bounces to the domain cannot arrive),
 * `ptr.<ip>` (a PTR whose name resolves back to the IP — forward-confirmed reverse DNS — and does
 * not look like a generic access-network name), `mta-sts` (RFC 8461 TXT record and a policy host
 * with an address, the record read by the parser delivery uses; the policy itself is not fetched)
 * and `tls-rpt` (RFC 8460). Pure over a DnsView.
 */
import { isIP } from 'node:net';
import { isStsRecord, parseStsRecord } from '../auth/index.js';
import { parseTagList } from './checks-dkim.js';
import { reverseName } from './names.js';
import { addressesOf, ptrNamesOf } from './snapshot.js';
import { validatedNames } from './spf-eval.js';
import type { CheckResult, DnsView } from './types.js';
import { txtRecords, verdict } from './verdict.js';

/** Names that look assigned by an access or cloud network rather than chosen for mail. */
export const GENERIC_PTR_PATTERNS: readonly RegExp[] = [
  /(^|[.-])(dyn|dynamic|dhcp|pool|dsl|adsl|vdsl|cable|ppp|pppoe|dialup|dial|client|customer|cust|broadband|residential|unassigned)(\d|[.-]|$)/,
  /\.compute(-1)?\.amazonaws\.com$/,
  /\.googleusercontent\.com$/,
];

/** True when the name carries the IP's digits (1-2-3-4, 4.3.2.1, 001002003004) or a GENERIC_PTR_PATTERNS match. */
export function looksGeneric(name: string, ip: string): boolean {
  if (GENERIC_PTR_PATTERNS.some((p) => p.test(name))) return true;
  if (isIP(ip) !== 4) return false;
  const octets = ip.split('.');
  const forms = [octets, [...octets].reverse()].flatMap((o) => [
    o.join('-'),
    o.join('.'),
    o.join('_'),
    o.map((x) => x.padStart(3, '0')).join(''),
  ]);
  return forms.some((f) => name.includes(f));
}

export function mxCheck(view: DnsView, domain: string): CheckResult {
  const id = 'mx';
  const mx = view.get(domain, 'MX');
  if (mx.kind === 'error')
    return verdict(
      id,
      'fail',
      `MX lookup of ${domain} failed: ${mx.message}`,
      'Make the zone answer MX queries.',
    );
  if (mx.rcode === 'NXDOMAIN')
    return verdict(id, 'fail', `${domain} does not exist in DNS`, `Create the zone for ${domain}.`);
  const records = mx.records.flatMap((r) => (r.type === 'MX' ? [r] : []));
  const hosts = records.filter((r) => r.exchange !== '');
  if (records.length > 0 && hosts.length === 0)
    return verdict(
      id,
      'warn',
      `null MX (RFC 7505): ${domain} accepts no mail, so replies and bounces to it cannot arrive`,
      `Publish a real MX for ${domain} if anyone may reply to its mail, or send From a domain that receives mail.`,
    );
  if (hosts.length === 0) {
    const addresses = [...addressesOf(view.get(domain, 'A')), ...addressesOf(view.get(domain, 'AAAA'))];
    if (addresses.length === 0)
      return verdict(
        id,
        'warn',
        `${domain} has no MX and no address, so replies to its mail cannot be delivered`,
        `Publish an MX record for ${domain}.`,
      );
    return verdict(
      id,
      'pass',
      `no MX; mail for ${domain} goes to its own address (implicit MX, RFC 5321 §5.1)`,
      '',
      { addresses },
    );
  }
  const unreachable = hosts.filter(
    (h) =>
      addressesOf(view.get(h.exchange, 'A')).length + addressesOf(view.get(h.exchange, 'AAAA')).length === 0,
  );
  const list = hosts.map((h) => `${h.exchange} (${h.preference})`).join(', ');
  if (unreachable.length === hosts.length)
    return verdict(
      id,
      'warn',
      `no MX host of ${domain} has an address: ${list}`,
      'Give the MX hosts A/AAAA records.',
    );
  if (unreachable.length > 0)
    return verdict(
      id,
      'warn',
      `MX hosts without an address: ${unreachable.map((h) => h.exchange).join(', ')}`,
      'Give them A/AAAA records or remove them.',
    );
  return verdict(id, 'pass', `MX: ${list}`);
}

export function ptrCheck(view: DnsView, ip: string): CheckResult {
  const id = `ptr.${ip}`;
  const name = reverseName(ip);
  if (!name)
    return verdict(id, 'fail', `${ip} is not an IP address`, 'Give source IPs as IPv4 or IPv6 addresses.');
  const askProvider = `Ask the provider of ${ip} to set its PTR to a name like mail.<your domain>, and give that name an ${isIP(ip) === 6 ? 'AAAA' : 'A'} record of ${ip}.`;
  const lookup = view.get(name, 'PTR');
  if (lookup.kind === 'error')
    return verdict(id, 'fail', `PTR lookup of ${name} failed: ${lookup.message}`, askProvider);
  const names = ptrNamesOf(lookup);
  if (names.length === 0) return verdict(id, 'fail', `${ip} has no PTR record (${name})`, askProvider);
  const confirmed = validatedNames(view, ip);
  const details = { ptr: names, confirmed };
  if (confirmed.length === 0)
    return verdict(
      id,
      'fail',
      `PTR ${names.join(', ')} does not resolve back to ${ip} (no forward-confirmed reverse DNS)`,
      askProvider,
      details,
    );
  const generic = confirmed.filter((n) => looksGeneric(n, ip));
  if (generic.length === confirmed.length)
    return verdict(
      id,
      'warn',
      `PTR ${generic.join(', ')} looks like a generic access-network name`,
      askProvider,
      details,
    );
  return verdict(id, 'pass', `${ip} ⇄ ${confirmed.join(', ')}`, '', details);
}

export function mtaStsCheck(view: DnsView, domain: string): CheckResult {
  const id = 'mta-sts';
  const at = `_mta-sts.${domain}`;
  const host = `mta-sts.${domain}`;
  const publish = `Publish TXT at ${at}: "v=STSv1; id=<date or counter>" and the policy at https://${host}/.well-known/mta-sts.txt.`;
  const records = txtRecords(view, id, at, isStsRecord);
  if (!Array.isArray(records)) return records;
  if (records.length === 0)
    return verdict(
      id,
      'warn',
      `no MTA-STS record at ${at} (advisory: mail to ${domain} may travel without verified TLS)`,
      publish,
    );
  // The same parser Herald's own delivery uses, so the doctor passes only what senders accept.
  const parsed = parseStsRecord(records);
  if (!parsed.ok)
    return verdict(
      id,
      'fail',
      `senders ignore the MTA-STS record at ${at}: ${parsed.problem}`,
      records.length > 1 ? 'Keep one.' : publish,
      { records },
    );
  const stsId = parsed.value;
  const addresses = [...addressesOf(view.get(host, 'A')), ...addressesOf(view.get(host, 'AAAA'))];
  if (addresses.length === 0)
    return verdict(
      id,
      'fail',
      `record present (id=${stsId}) but ${host} has no address, so the policy cannot be fetched`,
      `Point ${host} at the HTTPS server that serves the policy.`,
    );
  return verdict(
    id,
    'pass',
    `record present (id=${stsId}); policy host ${host} resolves; policy not fetched`,
    '',
    { record: records[0], host, addresses },
  );
}

const TLSRPT_VERSION = /^v=TLSRPTv1\s*(;|$)/;
const TLSRPT_URI = /^(mailto:[^@\s]+@[^@\s]+|https:\/\/\S+)$/i;

export function tlsRptCheck(view: DnsView, domain: string): CheckResult {
  const id = 'tls-rpt';
  const at = `_smtp._tls.${domain}`;
  const publish = `Publish TXT at ${at}: "v=TLSRPTv1; rua=mailto:tls-reports@${domain}".`;
  const records = txtRecords(view, id, at, (t) => TLSRPT_VERSION.test(t.trim()));
  if (!Array.isArray(records)) return records;
  if (records.length === 0)
    return verdict(
      id,
      'warn',
      `no TLS-RPT record at ${at} (no reports of TLS failures delivering to ${domain})`,
      publish,
    );
  if (records.length > 1)
    return verdict(id, 'fail', `${records.length} TLS-RPT records at ${at}`, 'Keep one.');
  const uris = (parseTagList(records[0]!).get('rua') ?? '').split(',').filter((u) => u !== '');
  if (uris.length === 0 || !uris.every((u) => TLSRPT_URI.test(u)))
    return verdict(id, 'fail', `"${records[0]}": rua= must list mailto: or https: URIs`, publish);
  return verdict(id, 'pass', `reports to ${uris.join(', ')}`, '', { record: records[0] });
}
