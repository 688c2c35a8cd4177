/**
 * What one attempt event says for SMTP TLS Reporting (RFC 8460 §4): the policy type that governed
 * the session (`tlsa` when DANE applied, `sts` under an MTA-STS policy — enforce or testing —, else
 * `no-policy-found`), the policy's strings and mx patterns when known (`sts`: the policy's lines
 * and mx patterns; `tlsa`: the MX host's TLSA records and its name), success or the failure's
 * result type (§4.3) with the receiving MX and IP, our sending IP and the reply as the failure
 * reason. Pure; events
 * without a TLS verdict (no host reached for reasons TLS did not cause) give undefined, and so do
 * attempts over a static route (`routed`: a smarthost is not the recipient domain's MX, §3).
 * An MTA-STS refusal before any connection (no MX matches the policy) is a `validation-failure`:
 * RFC 8460 has no narrower type for it (§4.3.1: "a general failure for a reason not matching a
 * category above"). A testing-mode policy counts what enforcing would have failed (§4.3.2).
 */
import type { AttemptEvent } from '../events/index.js';

export type TlsPolicyType = 'tlsa' | 'sts' | 'no-policy-found';

/** RFC 8460 §4.3 result types Herald can tell apart. */
export type TlsResultType =
  | 'starttls-not-supported'
  | 'certificate-not-trusted'
  | 'validation-failure'
  | 'tlsa-invalid'
  | 'dnssec-invalid';

export interface TlsOutcome {
  policyType: TlsPolicyType;
  /** `sts`: the policy's lines; `tlsa`: the MX host's TLSA records (the report's `policy-string`). */
  policyString?: string[];
  /** `sts`: the policy's mx patterns; `tlsa`: the MX host the records belong to (`mx-host`). */
  mxHosts?: string[];
  success: boolean;
  resultType?: TlsResultType;
  receivingMx?: string;
  receivingIp?: string;
  /** Our end of the failed session (`sending-mta-ip`), when a connection was made. */
  sendingIp?: string;
  /** A failure's reply or problem text (the report's `failure-reason-code`), at most REASON_MAX_CHARS. */
  reason?: string;
}

/** Failure reasons are cut to this length (they become counter fields and report text). */
export const REASON_MAX_CHARS = 200;
const MX_LINE = /^mx:\s*(\S+)$/;
const MODE_LINE = /^mode:\s*(enforce|testing)$/;

function failureType(text: string): TlsResultType {
  if (/does not offer STARTTLS|STARTTLS not offered|without TLS/i.test(text)) return 'starttls-not-supported';
  if (/TLSA lookup|MX lookup/.test(text)) return 'dnssec-invalid';
  if (/no TLSA record matches|no usable TLSA/.test(text)) return 'tlsa-invalid';
  if (/certificate|self[- ]signed|unable to verify|altnames/i.test(text)) return 'certificate-not-trusted';
  return 'validation-failure';
}

const cut = (text: string) => text.slice(0, REASON_MAX_CHARS);

/** The policy part of an outcome: type, and for MTA-STS its lines and mx patterns. */
function policyOf(event: AttemptEvent): Pick<TlsOutcome, 'policyType' | 'policyString' | 'mxHosts'> {
  const dane = event.dane;
  if (dane?.startsWith('verified') || dane?.startsWith('failed:')) {
    const tlsa = event.daneTlsa;
    if (!tlsa) return { policyType: 'tlsa' };
    return { policyType: 'tlsa', policyString: [...tlsa.records], mxHosts: [tlsa.mxHost] };
  }
  const lines = event.mtaStsPolicy;
  const sts = event.host?.mtaSts ?? lines?.map((l) => MODE_LINE.exec(l)?.[1]).find(Boolean);
  if (!sts) return { policyType: 'no-policy-found' };
  if (!lines) return { policyType: 'sts' };
  const mxHosts = lines.flatMap((l) => MX_LINE.exec(l)?.[1] ?? []);
  return { policyType: 'sts', policyString: [...lines], ...(mxHosts.length > 0 ? { mxHosts } : {}) };
}

/** The TLS outcome of an attempt for reporting, or undefined when TLS played no part. */
export function tlsOutcomeOf(event: AttemptEvent): TlsOutcome | undefined {
  // RFC 8460 reports concern the recipient domain's MX delivery: a static route is none.
  if (event.routed) return undefined;
  const policy = policyOf(event);
  if (event.host) {
    const { hostname, address, tls, localAddress } = event.host;
    const at = { receivingMx: hostname, receivingIp: address };
    const problem = event.host.mtaSts === 'testing' ? event.mtaStsProblems?.[0] : undefined;
    // Testing mode: delivered as usual, reported as what enforcing would have failed.
    if (problem) {
      const from = localAddress ? { sendingIp: localAddress } : {};
      return {
        ...policy,
        success: false,
        resultType: failureType(problem),
        ...at,
        ...from,
        reason: cut(problem),
      };
    }
    // Under a policy a session without TLS could not have happened; without one it is no failure.
    if (tls || policy.policyType === 'no-policy-found') return { ...policy, success: true, ...at };
  }
  const tlsError = event.hostErrors.find((e) => e.reply.enhanced === '4.7.5');
  if (!tlsError) return undefined;
  const viaSts = policy.policyType === 'no-policy-found' && /^MTA-STS/.test(tlsError.reply.text);
  return {
    ...policy,
    ...(viaSts ? { policyType: 'sts' as const } : {}),
    success: false,
    resultType: failureType(tlsError.reply.text),
    receivingMx: tlsError.hostname,
    ...(tlsError.address ? { receivingIp: tlsError.address } : {}),
    ...(tlsError.localAddress ? { sendingIp: tlsError.localAddress } : {}),
    reason: cut(tlsError.reply.text),
  };
}
