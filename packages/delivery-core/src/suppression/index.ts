/**
 * The suppression list: per tenant, the addresses Herald must not send to (hard bounces,
 * complaints, an operator's entries, imports), each with its reason, source, time and, for soft
 * reasons (SOFT_REASON_TTL_MS: mailboxfull 7 d, ...), an expiry. Consulted at intake: the relay
 * at RCPT and `herald.send()` through the intake pipeline's suppression stage; fed by the delivery follow-up and the
 * bounce-processor (`addMany`); managed by `herald suppression`.
 *
 * Redis layout (keys/tenant.ts; the tenant is the hash tag, one Redis Cluster slot per tenant):
 * - `<prefix>:suppress:{<tenant>}` hash: lower-cased address → JSON `{reason, source, at, expiresAt?}`
 *   (epoch ms).
 * - `<prefix>:suppress-expiry:{<tenant>}` zset: address → expiresAt, soft entries only.
 *
 * Guarantees: `check` is one HMGET for any number of addresses and ignores expired entries;
 * writes are one Lua script per 500 entries, atomic across relays, purge up to 100 expired
 * entries of the tenant each, and never shorten a longer-lasting entry unless `replace` is asked.
 * CSV import/export stream in bounded memory and report bad lines by number.
 * Needs injected: an ioredis client (a script `heraldSuppressAdd` is defined on it) and a clock.
 */

export { CsvParser, type CsvRecord, formatCsvField, formatCsvRow, MAX_RECORD_CHARS } from './csv.js';
export {
  DEFAULT_MANUAL_REASON,
  defaultExpiry,
  isSource,
  normalizeAddress,
  SOFT_REASON_TTL_MS,
  SUPPRESSION_SOURCES,
  type SuppressionEntry,
  type SuppressionInput,
  type SuppressionSource,
} from './entries.js';
export {
  SUPPRESSED_REPLY,
  type SuppressedRecipient,
  type SuppressionMode,
  suppressedEvent,
  suppressionReply,
} from './intake.js';
export {
  type AddManyResult,
  type AddOptions,
  SUPPRESS_ADD_LUA,
  type SuppressionKeys,
  SuppressionList,
  type SuppressionPage,
  suppressionKeys,
} from './list.js';
export {
  CSV_COLUMNS,
  type CsvOutput,
  entryToCsv,
  exportCsv,
  type ImportResult,
  importCsv,
} from './transfer.js';
