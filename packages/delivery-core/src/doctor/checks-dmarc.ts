/**
 * DMARC checks (RFC 7489): `dmarc.record` — one v=DMARC1 record at _dmarc.<domain> (or at the
 * organizational domain's, whose sp= then applies), a valid policy (none warns: monitoring only),
 * aggregate reports (rua) requested; `dmarc.alignment` — the return-path domain (SPF) and the
 * DKIM d= domains of the config align with the domain under adkim/aspf. Pure over a DnsView.
 */

import { aligned, organizationalDomain } from '../sender/index.js';
import { parseTagList } from './checks-dkim.js';
import { txtOf } from './snapshot.js';
import type { CheckResult, DnsView, SenderSetup } from './types.js';
import { combine, type Finding, verdict } from './verdict.js';

const DMARC_VERSION = /^v\s*=\s*DMARC1\s*(;|$)/i;
export const DMARC_POLICIES = ['none', 'quarantine', 'reject'] as const;
const FULL_PERCENT = 100;

export type DmarcLookup =
  | { found: true; at: string; text: string; tags: Map<string, string>; policy: string; inherited: boolean }
  | { found: false; at: string; why: string; multiple?: boolean };

/** The DMARC record that governs `domain` (RFC 7489 §6.6.3, with names.ts's organizational domain). */
export function findDmarc(view: DnsView, domain: string): DmarcLookup {
  const org = organizationalDomain(domain);
  const names = org === domain ? [domain] : [domain, org];
  for (const name of names) {
    const at = `_dmarc.${name}`;
    const lookup = view.get(at, 'TXT');
    if (lookup.kind === 'error')
      return { found: false, at, why: `TXT lookup of ${at} failed: ${lookup.message}` };
    const records = txtOf(lookup).filter((t) => DMARC_VERSION.test(t.trim()));
    if (records.length > 1)
      return {
        found: false,
        at,
        why: `${records.length} DMARC records at ${at} (receivers ignore them all)`,
        multiple: true,
      };
    if (records.length === 0) continue;
    const tags = parseTagList(records[0]!);
    const inherited = name !== domain;
    const policy = ((inherited ? tags.get('sp') : undefined) ?? tags.get('p') ?? '').toLowerCase();
    return { found: true, at, text: records[0]!, tags, policy, inherited };
  }
  return {
    found: false,
    at: `_dmarc.${domain}`,
    why: `no DMARC record at ${names.map((n) => `_dmarc.${n}`).join(' or ')}`,
  };
}

export function dmarcRecordCheck(view: DnsView, domain: string): CheckResult {
  const id = 'dmarc.record';
  const dmarc = findDmarc(view, domain);
  if (!dmarc.found)
    return verdict(
      id,
      'fail',
      dmarc.why,
      dmarc.multiple
        ? `Keep one v=DMARC1 record at ${dmarc.at}.`
        : `Publish a TXT record at _dmarc.${organizationalDomain(domain)}: "v=DMARC1; p=none; rua=mailto:dmarc-reports@${organizationalDomain(domain)}", then tighten p= once reports show your mail aligned.`,
    );
  const findings: Finding[] = [];
  const where = dmarc.inherited ? ` (inherited from ${dmarc.at})` : '';
  if (!(DMARC_POLICIES as readonly string[]).includes(dmarc.policy))
    findings.push({
      status: 'fail',
      reason: `policy "${dmarc.policy || '(missing)'}" is not none, quarantine or reject${where}`,
      fix: `Set p=none, quarantine or reject in ${dmarc.at}.`,
    });
  else if (dmarc.policy === 'none')
    findings.push({
      status: 'warn',
      reason: `p=none${where}: monitoring only (enough for the Gmail/Yahoo bulk rules, but forged mail is delivered)`,
      fix: 'Move to p=quarantine, then p=reject, once aggregate reports show all your mail aligned.',
    });
  if (!dmarc.tags.get('rua'))
    findings.push({
      status: 'warn',
      reason: 'no rua= (no aggregate reports: you will not see who sends as your domain)',
      fix: `Add rua=mailto:dmarc-reports@${organizationalDomain(domain)} to ${dmarc.at}.`,
    });
  const pct = dmarc.tags.get('pct');
  if (pct !== undefined && Number(pct) < FULL_PERCENT)
    findings.push({
      status: 'warn',
      reason: `pct=${pct}: the policy applies to part of the mail only`,
      fix: 'Remove pct= (100 %).',
    });
  return combine(id, `p=${dmarc.policy}${where}, reports to ${dmarc.tags.get('rua')}`, findings, {
    record: dmarc.text,
    at: dmarc.at,
  });
}

function modeOf(tags: Map<string, string> | undefined, tag: 'adkim' | 'aspf'): 'r' | 's' {
  return tags?.get(tag)?.toLowerCase() === 's' ? 's' : 'r';
}

export function dmarcAlignmentCheck(
  view: DnsView,
  domain: string,
  setup: SenderSetup | undefined,
  dkimDomains: string[],
): CheckResult {
  const id = 'dmarc.alignment';
  const dmarc = findDmarc(view, domain);
  const tags = dmarc.found ? dmarc.tags : undefined;
  const aspf = modeOf(tags, 'aspf');
  const adkim = modeOf(tags, 'adkim');
  const returnPath = setup?.bounceDomain ?? domain;
  const spfAligned = aligned(returnPath, domain, aspf);
  const dkimAligned = dkimDomains.filter((d) => aligned(d, domain, adkim));
  const details = { returnPath, aspf, adkim, spfAligned, dkimDomains, dkimAligned };
  const spfText = `return path ${returnPath} ${spfAligned ? 'aligns' : 'does not align'} (aspf=${aspf})`;
  if (!setup)
    return verdict(
      id,
      'info',
      `${spfText}, assuming MAIL FROM at ${domain}; DKIM domains unknown without --config`,
      'Run with --config FILE to check the VERP return path and the DKIM domains.',
      details,
    );
  const dkimText =
    dkimAligned.length > 0
      ? `DKIM d=${dkimAligned.join(', ')} aligns (adkim=${adkim})`
      : dkimDomains.length > 0
        ? `no DKIM d= aligns (${dkimDomains.join(', ')}, adkim=${adkim})`
        : 'no DKIM key signs for it';
  const findings: Finding[] = [];
  if (!spfAligned && dkimAligned.length === 0)
    findings.push({
      status: 'fail',
      reason: `${spfText} and ${dkimText}: DMARC fails for all mail from ${domain}`,
      fix: `Sign with a dkim: key for ${domain} (d=${domain}), or use a bounce domain under ${organizationalDomain(domain)}.`,
    });
  else if (!spfAligned)
    findings.push({
      status: 'warn',
      reason: `${spfText}; DMARC can pass through DKIM alone: ${dkimText}`,
      fix: `Use a bounce.domain under ${organizationalDomain(domain)} (e.g. bounces.${organizationalDomain(domain)}) so SPF aligns too.`,
    });
  else if (dkimAligned.length === 0)
    findings.push({
      status: 'warn',
      reason: `${dkimText}; DMARC passes through SPF alone, which forwarding breaks`,
      fix: `Add a dkim: key with domain ${domain}.`,
    });
  return combine(id, `${spfText}; ${dkimText}`, findings, details);
}
