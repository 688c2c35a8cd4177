/**
 * The doctor's run: `judgeDomain` lists every check over a DnsView (pure), `diagnoseDomain`
 * gathers the DNS data the checks ask for through Herald's resolver and, with a `daneProbe`,
 * connects to the MX hosts with validated usable TLSA records (dane-probe.ts) and judges the checks
 * again with what they presented; it returns the report.
 */
import type { Resolver } from '../dns/index.js';
import { bulkSenderChecks } from './checks-bulk.js';
import { type DaneProbes, daneCheck, daneProbeTargets } from './checks-dane.js';
import { dkimChecks, keysForDomain } from './checks-dkim.js';
import { dmarcAlignmentCheck, dmarcRecordCheck } from './checks-dmarc.js';
import { mtaStsCheck, mxCheck, ptrCheck, tlsRptCheck } from './checks-dns.js';
import { returnPathCheck, spfIpsCheck, spfLookupsCheck, spfRecordCheck } from './checks-spf.js';
import type { DaneProber } from './dane-probe.js';
import { gatherDns } from './snapshot.js';
import type { CheckResult, DnsView, DoctorInput, DoctorReport } from './types.js';
import { verdict } from './verdict.js';

function setupRow(input: DoctorInput): CheckResult {
  const { setup, ips, domain, now } = input;
  const fromFlags = setup ? ips.filter((ip) => !setup.sourceIps.includes(ip)).length : ips.length;
  const details = {
    sourceIps: ips,
    organizationalDomain: 'last two labels (three under co.uk-like suffixes)',
  };
  if (!setup)
    return verdict(
      'setup',
      'info',
      `no --config: checked what DNS alone shows${ips.length > 0 ? ` and ${ips.length} IP(s) from --ip` : ''}; DKIM keys, the VERP return path, tenants' unsubscribe settings and the shaping file's source IPs were not checked`,
      'Run with --config FILE for the full check.',
      details,
    );
  const keys = keysForDomain(setup, domain, now).length;
  return verdict(
    'setup',
    'info',
    `${setup.source}: ${keys} DKIM key(s) for ${domain}, return path ${setup.bounceDomain ?? domain}, ${setup.sourceIps.length} source IP(s) from the shaping file${fromFlags > 0 ? ` + ${fromFlags} from --ip` : ''}`,
    '',
    details,
  );
}

/**
 * Every check for the domain, in report order, over DNS data already looked up (and what the MX
 * hosts presented, when probed).
 */
export function judgeDomain(view: DnsView, input: DoctorInput, probes?: DaneProbes): CheckResult[] {
  const { domain, ips, setup, now } = input;
  const bounceDomain = setup?.bounceDomain;
  const signingDomains = setup
    ? [
        ...new Set(
          setup.dkimKeys
            .filter((k) => k.always || keysForDomain(setup, domain, now).includes(k))
            .map((k) => k.domain),
        ),
      ]
    : [];
  const checks: CheckResult[] = [
    setupRow(input),
    spfRecordCheck(view, domain, ips),
    spfLookupsCheck(view, domain),
    spfIpsCheck(view, domain, ips),
    ...(bounceDomain !== undefined && bounceDomain !== domain
      ? [returnPathCheck(view, bounceDomain, ips)]
      : []),
    ...dkimChecks(view, domain, setup, now),
    dmarcRecordCheck(view, domain),
    dmarcAlignmentCheck(view, domain, setup, signingDomains),
    mxCheck(view, domain),
    ...(ips.length > 0
      ? ips.map((ip) => ptrCheck(view, ip))
      : [
          verdict(
            'ptr',
            'info',
            'no source IPs known, so reverse DNS was not checked',
            'Give --ip ADDR or --config with a shaping file.',
          ),
        ]),
    mtaStsCheck(view, domain),
    tlsRptCheck(view, domain),
    daneCheck(view, domain, probes),
  ];
  return [...checks, ...bulkSenderChecks(checks, setup, ips)];
}

export interface DiagnoseOptions {
  /** Connects to the MX hosts with validated usable TLSA records; absent: records judged only. */
  daneProbe?: DaneProber;
}

/** Looks up what the checks need (through `resolver`) and judges the domain. */
export async function diagnoseDomain(
  resolver: Resolver,
  input: DoctorInput,
  options: DiagnoseOptions = {},
): Promise<DoctorReport> {
  let view: DnsView | undefined;
  const checks = await gatherDns(resolver, (gathered) => {
    view = gathered;
    // Asked each round, so the addresses of the hosts to probe are gathered too.
    if (options.daneProbe) daneProbeTargets(gathered, input.domain);
    return judgeDomain(gathered, input);
  });
  const targets = view && options.daneProbe ? daneProbeTargets(view, input.domain) : [];
  if (!view || !options.daneProbe || targets.length === 0) return { domain: input.domain, checks };
  const results = await options.daneProbe(targets);
  const probes: DaneProbes = { results: new Map(results.map((r) => [r.host, r])), now: input.now };
  return { domain: input.domain, checks: judgeDomain(view, input, probes) };
}
