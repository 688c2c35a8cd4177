/**
 * DANE for SMTP (RFC 7672) — the public contract of `@herald/delivery-core/dane`.
 *
 * Owns: TLSA usability and certificate matching (`tlsa.ts`, pure), the per-domain decision of
 * which MX hosts need TLSA-checked TLS (`policy.ts`, over a validating resolver whose AD bit is
 * trusted), and delivery's combined TLS policy (`config.ts`: DANE, then MTA-STS).
 * Guarantees: a host with validated usable TLSA records is reached over TLS whose certificate
 * matches them, or not at all (451 4.7.5, deferred; never plaintext); insecure zones fall back.
 * Needs: the config and Herald's resolver (or its own for delivery.dane.resolver).
 */
export { type DaneTlsPolicy, daneResolver, daneResult, daneTlsPolicy, requireDane } from './config.js';
export { DANE_BY, type DaneDecision, type DaneOptions, DanePolicies, SMTP_PORT, tlsaName } from './policy.js';
export {
  certificateMatches,
  DANE_EE,
  DANE_TA,
  type DaneMatch,
  formatTlsa,
  matchDane,
  REPORTED_TLSA_DATA_MAX_CHARS,
  REPORTED_TLSA_MAX_RECORDS,
  reportedTlsa,
  type TlsaRecord,
  usableTlsa,
} from './tlsa.js';
