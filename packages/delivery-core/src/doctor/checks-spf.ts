/**
 * SPF checks (RFC 7208): `spf.record` (exactly one valid v=spf1 record with a sensible `all`),
 * `spf.lookups` (the whole tree within 10 DNS lookups, at most 2 void), `spf.ips` (every source
 * IP evaluates to pass), and `return-path` (the VERP bounce domain, when it differs, has SPF
 * authorising the IPs and an MX to receive the bounces). Pure over a DnsView.
 */
import { isIP } from 'node:net';
import { analyseSpf, checkHost, fetchSpfRecord } from './spf-eval.js';
import { MAX_SPF_LOOKUPS, MAX_SPF_VOID_LOOKUPS } from './spf-record.js';
import type { CheckResult, DnsView } from './types.js';
import { combine, type Finding, verdict } from './verdict.js';

/** The record we would suggest: the known source IPs, then -all. */
export function suggestedSpf(ips: string[]): string {
  const terms = ips.map((ip) => `${isIP(ip) === 6 ? 'ip6' : 'ip4'}:${ip}`);
  return ['v=spf1', ...(terms.length > 0 ? terms : ['ip4:<your sending IP>']), '-all'].join(' ');
}

const ALL_FINDINGS: Record<string, Finding> = {
  '+': {
    status: 'warn',
    reason: '+all authorises every host on the internet',
    fix: 'End the record with -all or ~all.',
  },
  '?': {
    status: 'warn',
    reason: '?all gives unlisted hosts a neutral result, so forgeries are not refused',
    fix: 'End the record with -all (or ~all while testing).',
  },
};

export function spfRecordCheck(view: DnsView, domain: string, ips: string[]): CheckResult {
  const id = 'spf.record';
  const fetched = fetchSpfRecord(view, domain);
  if (!('record' in fetched)) {
    if (fetched.result === 'temperror')
      return verdict(
        id,
        'fail',
        `TXT lookup of ${domain} failed: ${fetched.why}`,
        'Make the zone answer TXT queries.',
      );
    if (fetched.result === 'none')
      return verdict(id, 'fail', fetched.why, `Publish one TXT record at ${domain}: "${suggestedSpf(ips)}".`);
    return verdict(
      id,
      'fail',
      `${fetched.why} (permerror: receivers treat the domain as having a broken SPF policy)`,
      'Publish exactly one v=spf1 TXT record; merge the terms of the others into it.',
    );
  }
  const all = fetched.record.mechanisms.find((m) => m.kind === 'all');
  const findings: Finding[] = [];
  if (all) findings.push(ALL_FINDINGS[all.qualifier] ?? { status: 'pass', reason: '' });
  else if (fetched.record.redirect === undefined)
    findings.push({
      status: 'warn',
      reason: 'the record has no "all" term, so unlisted hosts get neutral',
      fix: 'End the record with -all or ~all.',
    });
  return combine(id, `one SPF record: "${fetched.text}"`, findings, { record: fetched.text });
}

export function spfLookupsCheck(view: DnsView, domain: string): CheckResult {
  const id = 'spf.lookups';
  if (!('record' in fetchSpfRecord(view, domain)))
    return verdict(id, 'info', 'no usable SPF record to count lookups in (see spf.record)');
  const a = analyseSpf(view, domain);
  const details = { lookups: a.lookups, voids: a.voids, problems: a.problems, unfollowed: a.unfollowed };
  const findings: Finding[] = a.problems.map((p) => ({
    status: 'fail',
    reason: p,
    fix: 'Fix or remove the include/redirect that points at a missing or broken record.',
  }));
  if (a.lookups > MAX_SPF_LOOKUPS)
    findings.push({
      status: 'fail',
      reason: `${a.lookups} DNS lookups (limit ${MAX_SPF_LOOKUPS}): receivers answer permerror once evaluation needs the ${MAX_SPF_LOOKUPS + 1}th`,
      fix: 'Remove includes you do not send through, or replace them with the ip4:/ip6: ranges they list.',
    });
  if (a.voids.length > MAX_SPF_VOID_LOOKUPS)
    findings.push({
      status: 'warn',
      reason: `${a.voids.length} terms find nothing in DNS (${a.voids.join(', ')}); over ${MAX_SPF_VOID_LOOKUPS} is a permerror`,
      fix: 'Remove the a/mx/include terms whose names have no records.',
    });
  if (a.ptrTerms.length > 0)
    findings.push({
      status: 'warn',
      reason: `ptr is slow and discouraged (RFC 7208 §5.5): ${a.ptrTerms.join(', ')}`,
      fix: 'Replace ptr with ip4:/ip6: terms.',
    });
  const macros = a.unfollowed.length > 0 ? `; ${a.unfollowed.length} macro terms counted, not followed` : '';
  return combine(id, `${a.lookups} of ${MAX_SPF_LOOKUPS} DNS lookups${macros}`, findings, details);
}

/** Each IP through check_host; fix names the terms to add. */
function ipResults(view: DnsView, domain: string, ips: string[]) {
  return ips.map((ip) => ({ ip, ...checkHost(view, ip, domain) }));
}

export function spfIpsCheck(view: DnsView, domain: string, ips: string[]): CheckResult {
  const id = 'spf.ips';
  if (ips.length === 0)
    return verdict(
      id,
      'info',
      'no source IPs known, so SPF was not evaluated for them',
      'Give --ip ADDR, or --config with a shaping file that lists the sending IPs.',
    );
  const results = ipResults(view, domain, ips);
  const failing = results.filter((r) => r.result !== 'pass');
  const details = { results };
  if (failing.length === 0) return verdict(id, 'pass', `SPF passes for ${ips.join(', ')}`, '', details);
  return verdict(
    id,
    'fail',
    failing.map((r) => `${r.ip}: ${r.result} (${r.why})`).join('; '),
    `Authorise them in the SPF record of ${domain}, e.g. ${failing.map((r) => `${isIP(r.ip) === 6 ? 'ip6' : 'ip4'}:${r.ip}`).join(' ')}.`,
    details,
  );
}

/** The VERP return-path domain: SPF is checked against MAIL FROM, and bounces go to its MX. */
export function returnPathCheck(view: DnsView, bounceDomain: string, ips: string[]): CheckResult {
  const id = 'return-path';
  const findings: Finding[] = [];
  const fetched = fetchSpfRecord(view, bounceDomain);
  if (!('record' in fetched))
    findings.push({
      status: 'fail',
      reason: `return path ${bounceDomain}: ${fetched.why}`,
      fix: `Publish one TXT record at ${bounceDomain}: "${suggestedSpf(ips)}".`,
    });
  else
    for (const r of ipResults(view, bounceDomain, ips))
      if (r.result !== 'pass')
        findings.push({
          status: 'fail',
          reason: `SPF of ${bounceDomain} gives ${r.ip} ${r.result} (${r.why})`,
          fix: `Add ${isIP(r.ip) === 6 ? 'ip6' : 'ip4'}:${r.ip} to the SPF record of ${bounceDomain}.`,
        });
  const mx = view.get(bounceDomain, 'MX');
  const hosts = mx.kind === 'answer' ? mx.records.filter((r) => r.type === 'MX' && r.exchange !== '') : [];
  if (hosts.length === 0)
    findings.push({
      status: 'fail',
      reason: `${bounceDomain} has no usable MX, so bounces to the VERP return path are lost`,
      fix: `Point the MX of ${bounceDomain} at the host running herald bounce-processor.`,
    });
  const ipsNote = ips.length === 0 ? ' (no source IPs known to evaluate)' : '';
  return combine(id, `return path ${bounceDomain} has SPF and an MX${ipsNote}`, findings);
}
