/**
 * The sending-domain doctor — the public contract of `@herald/delivery-core/doctor`.
 *
 * Owns: judging whether a domain is ready to send through Herald: SPF (one record, ≤ 10 lookups,
 * our source IPs pass), DKIM (each configured selector publishes the public half of our key, of
 * sufficient size), DMARC (record, policy, reports, alignment of the return path and DKIM
 * domains), MX / null MX, PTR and forward-confirmed reverse DNS of each source IP, MTA-STS and
 * TLS-RPT records, DANE (the MX hosts' TLSA records, whether the answers were validated and, with
 * a `daneProbe`, whether the certificate each host presents over STARTTLS matches them), and the
 * Gmail/Yahoo bulk-sender rules. Each check yields pass / warn / fail / info with the reason and
 * the fix.
 *
 * Guarantees: checks are pure functions over DNS data (and DANE probes) looked up beforehand
 * (`judgeDomain` over a DnsView; `diagnoseDomain` gathers through Herald's resolver until the checks ask for nothing
 * new, so the report never mixes partial answers); DNS failures become failing checks, never
 * exceptions. The organizational domain is simplified to the last two labels (three under a
 * common second-level suffix such as co.uk), not the Public Suffix List. MTA-STS policies are not
 * fetched (the record and the policy host's address are checked).
 *
 * Needs injected: a Resolver; a DaneProber (`createDaneProber`: the delivery port, EHLO name and
 * deadlines) to check MX certificates; the sender setup (`senderSetup(config, file)`, which reads
 * key files and the shaping file) when a config is given; a clock value for key activation windows.
 */

export { inCidr } from '../config/index.js';
export { aligned, organizationalDomain, SECOND_LEVEL_SUFFIXES } from '../sender/index.js';
export { BULK_SPAM_RATE_LIMIT, bulkSenderChecks } from './checks-bulk.js';
export { type DaneProbes, daneCheck, daneProbeTargets } from './checks-dane.js';
export {
  dkimChecks,
  dkimRecordFor,
  parseTagList,
} from './checks-dkim.js';
export { DMARC_POLICIES, dmarcAlignmentCheck, dmarcRecordCheck, findDmarc } from './checks-dmarc.js';
export {
  GENERIC_PTR_PATTERNS,
  looksGeneric,
  mtaStsCheck,
  mxCheck,
  ptrCheck,
  tlsRptCheck,
} from './checks-dns.js';
export { returnPathCheck, spfIpsCheck, spfLookupsCheck, spfRecordCheck, suggestedSpf } from './checks-spf.js';
export {
  createDaneProber,
  DANE_PROBE_COMMAND_TIMEOUT_MS,
  DANE_PROBE_CONNECT_TIMEOUT_MS,
  DANE_PROBE_GREETING_TIMEOUT_MS,
  DANE_PROBE_MAX_HOSTS,
  DANE_PROBE_TOTAL_TIMEOUT_MS,
  type DaneProbeOptions,
  type DaneProbeResult,
  type DaneProber,
  type DaneProbeTarget,
} from './dane-probe.js';
export { type DiagnoseOptions, diagnoseDomain, judgeDomain } from './diagnose.js';
export { normaliseDomain, reverseName } from './names.js';
export { renderJson, renderTable, TABLE_WIDTH, tally } from './render.js';
export { senderSetup } from './setup.js';
export { DnsSnapshot, gatherDns, MAX_GATHER_ROUNDS, viewOfZone, type ZoneRecords } from './snapshot.js';
export { analyseSpf, checkHost, type SpfAnalysis, type SpfResult, type SpfVerdict } from './spf-eval.js';
export { expandMacros, MAX_SPF_LOOKUPS, MAX_SPF_VOID_LOOKUPS, parseSpfRecord } from './spf-record.js';
export {
  CHECK_STATUSES,
  type CheckResult,
  type CheckStatus,
  type DkimKeyFacts,
  type DnsView,
  type DoctorInput,
  type DoctorReport,
  type Lookup,
  type SenderSetup,
  type UnsubscribeFacts,
} from './types.js';
