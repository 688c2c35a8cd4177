/**
 * SMTP TLS Reporting (RFC 8460) — the public contract of `@herald/delivery-core/tlsrpt`.
 *
 * Owns: what an attempt event says for TLS reporting (`outcome.ts`: policy type tlsa / sts /
 * no-policy-found, success or result type), the per-day Redis counters fed by attempt events
 * (`counter.ts`), the aggregate report JSON and its gzip and the `_smtp._tls` TXT record's `rua`
 * (`report.ts`), delivery by HTTPS POST (`post.ts`) and as a multipart/report message
 * (`mail.ts`), one day's sending with its once-per-domain markers (`send-day.ts`) and the wiring
 * from the config with the daily job (`reporting.ts`: `createTlsReporting`).
 */
export { COUNTER_TTL_MS, countedDomains, readDay, TlsReportCounter, utcDay } from './counter.js';
export { type ReportMail, reportFileName, reportMessage } from './mail.js';
export {
  REASON_MAX_CHARS,
  type TlsOutcome,
  type TlsPolicyType,
  type TlsResultType,
  tlsOutcomeOf,
} from './outcome.js';
export { type PostOptions, postReport, REPORT_POST_TIMEOUT_MS } from './post.js';
export {
  buildTlsReport,
  gzipReport,
  type PolicyTally,
  parseTlsRptRecord,
  type ReportInput,
  TLSRPT_MEDIA_TYPE,
} from './report.js';
export {
  CHECK_INTERVAL_MS,
  createTlsReporting,
  RUN_LEASE_MS,
  type TlsReporting,
  type TlsReportingParts,
} from './reporting.js';
export {
  type DomainReport,
  type DomainReportStatus,
  dayStartOf,
  MAX_RUA_PER_DOMAIN,
  previousDay,
  SENDING_CLAIM_TTL_MS,
  SENT_MARKER_TTL_MS,
  sendTlsReports,
  type TlsReportDeps,
  type TlsReportSettings,
} from './send-day.js';
