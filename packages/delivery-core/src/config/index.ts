/**
 * Herald's configuration: the schema (strict at every level, defaults with units), loading from
 * YAML/JSON files, operator-facing errors, and the small parsers and matchers other modules use
 * on config values (durations, sizes, listen addresses, routes, trusted networks), and what
 * counts as a secret (never in an error message; masked when a config is printed).
 */
export { parseHostPort, parseListen } from './addresses.js';
export {
  ConfigError,
  type ConfigIssue,
  formatIssue,
  inConfigFile,
  suggestKey,
  toConfigIssues,
} from './config-error.js';
export { deepFreeze, readDocument, withoutNulls } from './document.js';
export { duration, hostName, integer, oneOf, section, TIMER_MAX_MS, timerDuration } from './fields.js';
export {
  MAX_DOCUMENT_BYTES,
  MAX_DOCUMENT_DEPTH,
  MAX_DOCUMENT_VALUES,
  MAX_YAML_ALIASES,
} from './limits.js';
export {
  defaultConfig,
  type Env,
  loadConfigFile,
  type ParseConfigOptions,
  parseConfig,
  REDIS_URL_ENV,
  resolveFilePaths,
} from './load.js';
export { compileTrustedNetworks, inCidr, ipv6Words, isTrusted, normalizeIp, parseCidr } from './networks.js';
export {
  DEFAULT_ROUTE_PORT,
  matchRoute,
  type Route,
  routeMatches,
  TLS_MODES,
  type TlsMode,
} from './routes.js';
export {
  DANE_MODES,
  type DaneMode,
  DEFAULT_DNS_PORT,
  type DeepReadonly,
  type HeraldConfig,
  type HeraldConfigInput,
  heraldConfigSchema,
  isLoopbackListen,
  LOG_LEVELS,
  ROLES,
  type Role,
} from './schema.js';
export {
  ACCOUNTING_FORMATS,
  ACCOUNTING_RECORD_TYPES,
  type AccountingRecordType,
} from './schema-accounting.js';
export { MIN_ADMIN_KEY_CHARS } from './schema-api.js';
export { DKIM_SELECTOR } from './schema-auth.js';
export {
  BEHAVIOUR_MAX_BASELINE_MS,
  BEHAVIOUR_MAX_WINDOW_MS,
  BEHAVIOUR_MIN_WINDOW_MS,
  type BehaviourConfig,
  type BehaviourRules,
  behaviourRulesFor,
} from './schema-behaviour.js';
export {
  DEFAULT_TENANT,
  GENERATED_SECRET_PLACEHOLDER,
  isTenantName,
  MIN_VERP_SECRET_CHARS,
  SUPPRESSION_MODES,
  type TenantPolicy,
  tenantPolicy,
} from './schema-bounce.js';
export {
  DEFAULT_SCAN_ACTIONS,
  QUARANTINE_NOTIFY_MODES,
  SCAN_FAIL_MODES,
  type ScanActions,
  type ScanningConfig,
  scanActionsFor,
} from './schema-scanning.js';
export type { SmtpUser } from './schema-smtp.js';
export {
  DEFAULT_OTLP_ENDPOINT,
  DEFAULT_SERVICE_NAME,
  type TelemetryConfig,
} from './schema-telemetry.js';
export {
  MAX_WEBHOOK_BATCH_SIZE,
  MIN_WEBHOOK_SECRET_BYTES,
  WEBHOOK_SECRET_PREFIX,
  type WebhookEndpointConfig,
  type WebhookEndpointInput,
  webhookEndpointSchema,
  webhookSecretKey,
} from './schema-webhooks.js';
export { isSecretKey, isUrlKey, MASK, maskUrl, secretsIn } from './secrets.js';
export {
  HOLD_HINT,
  isDateTime,
  MAX_HOLD_MS,
  MS_PER_DAY,
  MS_PER_HOUR,
  MS_PER_MINUTE,
  MS_PER_SECOND,
  parseDuration,
  parseHoldDuration,
  parseSize,
} from './units.js';
