/**
 * SMTP TLS Reporting (RFC 8460) — the public contract of `@herald/delivery-core/tlsrpt`.
 *
 * Owns (so far, pure parts only): what an attempt event says for TLS reporting (`outcome.ts`:
 * policy type tlsa / sts / no-policy-found, success or result type), the aggregate report JSON
 * and its gzip (`report.ts`), and parsing the `_smtp._tls` TXT record's `rua`. Not yet: the
 * per-day Redis counters, the daily send job and the `herald tlsrpt send` command.
 */
export {
  type TlsOutcome,
  type TlsPolicyType,
  type TlsResultType,
  tlsOutcomeOf,
} from './outcome.js';
export {
  buildTlsReport,
  gzipReport,
  type PolicyTally,
  parseTlsRptRecord,
  type ReportInput,
  TLSRPT_MEDIA_TYPE,
} from './report.js';
