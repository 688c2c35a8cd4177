/**
 * What one attempt event says for SMTP TLS Reporting (RFC 8460 §4): the policy type that governed
 * the session (`tlsa` when DANE applied, `sts` under an MTA-STS policy, else `no-policy-found`),
 * success or the failure's result type (§4.3), and the receiving MX. Pure; events without a TLS
 * verdict (no host reached for reasons TLS did not cause) give undefined.
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
  success: boolean;
  resultType?: TlsResultType;
  receivingMx?: string;
  receivingIp?: string;
}

function failureType(text: string): TlsResultType {
  if (/does not offer STARTTLS|STARTTLS not offered/i.test(text)) return 'starttls-not-supported';
  if (/TLSA lookup|MX lookup/.test(text)) return 'dnssec-invalid';
  if (/no TLSA record matches|no usable TLSA/.test(text)) return 'tlsa-invalid';
  if (/certificate|self[- ]signed|unable to verify|altnames/i.test(text)) return 'certificate-not-trusted';
  return 'validation-failure';
}

/** The TLS outcome of an attempt for reporting, or undefined when TLS played no part. */
export function tlsOutcomeOf(event: AttemptEvent): TlsOutcome | undefined {
  const dane = event.dane;
  const policyType: TlsPolicyType =
    dane?.startsWith('verified') || dane?.startsWith('failed:')
      ? 'tlsa'
      : event.host?.mtaSts === 'enforce'
        ? 'sts'
        : 'no-policy-found';
  if (event.host) {
    const { hostname, address, tls } = event.host;
    // Under a policy a session without TLS could not have happened; without one it is no failure.
    if (tls || policyType === 'no-policy-found')
      return { policyType, success: true, receivingMx: hostname, receivingIp: address };
  }
  const tlsError = event.hostErrors.find((e) => e.reply.enhanced === '4.7.5');
  if (!tlsError) return undefined;
  const type = policyType === 'no-policy-found' && /^MTA-STS/.test(tlsError.reply.text) ? 'sts' : policyType;
  return {
    policyType: type,
    success: false,
    resultType: failureType(tlsError.reply.text),
    receivingMx: tlsError.hostname,
    ...(tlsError.address ? { receivingIp: tlsError.address } : {}),
  };
}
