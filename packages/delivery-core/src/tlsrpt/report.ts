/**
 * The RFC 8460 aggregate report (§4.4): one JSON document per reporting period (a UTC day) per
 * policy domain, gzip-compressed for delivery (§5.3, `application/tlsrpt+gzip`), and the
 * `_smtp._tls` TXT record that says where it goes (§3: `v=TLSRPTv1; rua=mailto:…,https://…`).
 * Pure apart from gzip; no I/O.
 */
import { gzipSync } from 'node:zlib';
import type { TlsPolicyType, TlsResultType } from './outcome.js';

export const TLSRPT_MEDIA_TYPE = 'application/tlsrpt+gzip';
const MS_PER_DAY = 86_400_000;

/** Counts for one (policy type) of one domain in the period. */
export interface PolicyTally {
  policyType: TlsPolicyType;
  /** The policy's text lines (`sts`: the policy file; `tlsa`: the records), when known. */
  policyString?: string[];
  mxHosts?: string[];
  successes: number;
  failures: {
    resultType: TlsResultType;
    /** Our end of the failed sessions (`sending-mta-ip`). */
    sendingIp?: string;
    receivingMx?: string;
    receivingIp?: string;
    /** The reply or problem text (`failure-reason-code`). */
    reason?: string;
    count: number;
  }[];
}

export interface ReportInput {
  organization: string;
  contact: string;
  reportId: string;
  /** Start of the UTC day reported, ms. */
  dayStart: number;
  domain: string;
  tallies: PolicyTally[];
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function buildTlsReport(input: ReportInput): Record<string, unknown> {
  return {
    'organization-name': input.organization,
    'date-range': {
      'start-datetime': iso(input.dayStart),
      'end-datetime': iso(input.dayStart + MS_PER_DAY - 1_000),
    },
    'contact-info': input.contact,
    'report-id': input.reportId,
    policies: input.tallies.map((t) => ({
      policy: {
        'policy-type': t.policyType,
        ...(t.policyString ? { 'policy-string': t.policyString } : {}),
        'policy-domain': input.domain,
        ...(t.mxHosts ? { 'mx-host': t.mxHosts } : {}),
      },
      summary: {
        'total-successful-session-count': t.successes,
        'total-failure-session-count': t.failures.reduce((n, f) => n + f.count, 0),
      },
      ...(t.failures.length > 0
        ? {
            'failure-details': t.failures.map((f) => ({
              'result-type': f.resultType,
              ...(f.sendingIp ? { 'sending-mta-ip': f.sendingIp } : {}),
              ...(f.receivingMx ? { 'receiving-mx-hostname': f.receivingMx } : {}),
              ...(f.receivingIp ? { 'receiving-ip': f.receivingIp } : {}),
              'failed-session-count': f.count,
              ...(f.reason ? { 'failure-reason-code': f.reason } : {}),
            })),
          }
        : {}),
    })),
  };
}

export function gzipReport(report: Record<string, unknown>): Buffer {
  return gzipSync(Buffer.from(JSON.stringify(report), 'utf8'));
}

/** The reporting URIs of a domain's `_smtp._tls` TXT strings, or why there are none (§3). */
export function parseTlsRptRecord(
  texts: readonly string[],
): { ok: true; rua: string[] } | { ok: false; problem: string } {
  const records = texts.filter((t) => /^v=TLSRPTv1\s*(;|$)/.test(t.trim()));
  if (records.length !== 1)
    return { ok: false, problem: `${records.length} TLSRPTv1 records (exactly one is needed)` };
  const rua = /(?:^|;)\s*rua=([^;]*)/.exec(records[0]!)?.[1];
  const uris = (rua ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  const usable = uris.filter((u) => /^mailto:[^@\s]+@[^@\s]+$/i.test(u) || /^https:\/\/\S+$/i.test(u));
  if (usable.length === 0) return { ok: false, problem: 'rua= names no mailto: or https: URI' };
  return { ok: true, rua: usable };
}
