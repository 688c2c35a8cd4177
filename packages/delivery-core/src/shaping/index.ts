/**
 * Traffic shaping configuration: the operator's shaping file (zod-validated, unknown keys are
 * errors naming the exact key path), the provider defaults shipped in
 * packages/delivery-core/shaping/providers.yaml (merged under the operator's file) — including
 * each provider's mx_suffixes, the one source of provider policy, which the sites module turns
 * into site rules (`providerRules(shaping)`; this module does not import sites) — and the
 * effective limits of a delivery path with the layer each value came from.
 *
 * Precedence, lowest first; a later layer wins key by key:
 *   built-in (BUILTIN_LIMITS) < defaults < provider < site < domain < pool < source IP
 *
 * Units: durations in milliseconds, rates as { count, periodMs } (the throttle module's Rate), an unset rate means no limit.
 * This module only describes limits; enforcing them (connection pools, rate limiters,
 * automation on replies) belongs to the delivery code that reads them. Pure apart from
 * loadShapingFile / loadProviderDefaults, which read files.
 */

export { type ReplyLike, ruleMatches } from './automation.js';
export {
  BUILTIN_LIMITS,
  baseLimitsFromConfig,
  type EffectiveLimits,
  type EffectiveLimitsResult,
  effectiveLimits,
  type LayerName,
  type LimitOrigin,
  type ShapingTarget,
  shapingLayers,
} from './effective.js';
export { describeEffectiveLimits, formatDuration, formatLimitValue } from './format.js';
export {
  type LoadShapingOptions,
  loadProviderDefaults,
  loadShapingFile,
  mergeShaping,
  PROVIDER_DEFAULTS_FILE,
  parseShaping,
} from './load.js';
export {
  DEFAULT_STREAM,
  nextUtcDay,
  pickSource,
  selectPool,
  utcDayName,
  utcDayStart,
  warmupCap,
} from './pools.js';
export { formatRate, parseRate, RATE_HINT, type Rate } from './rate.js';
export {
  type AutomationRule,
  DEFAULT_SLOW_FOR_MS,
  LIMIT_KEYS,
  type LimitKey,
  type PoolSelectionRule,
  type PoolShaping,
  type ProviderShaping,
  SHAPING_TLS_MODES,
  type Shaping,
  type ShapingInput,
  type ShapingLimits,
  type ShapingTlsMode,
  type SourceShaping,
  shapingSchema,
  type TenantShaping,
} from './schema.js';
export type { PoolSource } from './sources-schema.js';
