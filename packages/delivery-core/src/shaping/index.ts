/**
 * Traffic shaping: its configuration and its runtime.
 *
 * Configuration: the operator's shaping file (zod-validated, unknown keys are
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
 * Pure apart from loadShapingFile / loadProviderDefaults, which read files.
 *
 * Runtime: the ShapingGate implements delivery's port (`DeliveryGate`; `ParkedJobs` its
 * `JobParking`) — site suspensions and rate cuts (SiteState), tenant / campaign / lane rates
 * (rate-stages.ts on the throttle's GCRA), the source IP (SourcePicker: pools, warm-up caps), the
 * lane's concurrency window (ConcurrencyWindows) and in-flight cap (LaneSlots), and the SMTP
 * pool's connection leases across relays (SiteConnectionLeases, implementing smtp's
 * `ConnectionLeases`); live-state.ts reads a delivery path's live state for operators (plain
 * data). Its Redis key names come from the keys registry. Shaping imports delivery's
 * port types and the park bound, never delivery's implementation; delivery does not import
 * shaping; the site of a destination is injected (`siteOf`), so shaping does not import sites.
 */

export { type ReplyLike, ruleMatches } from './automation.js';
// The runtime: the gate delivery's port (DeliveryGate, JobParking) is implemented by, and the
// Redis-backed state behind it.
export { ConcurrencyWindows, clampWindow, NEGATIVE_FEEDBACK, WINDOW_TTL_MS } from './concurrency.js';
export { PARK_SAFETY_MS, ParkedJobs, reclaimNodeLeases, SiteConnectionLeases } from './connection-leases.js';
export type { SiteLimits, SiteOf } from './destination-limits.js';
export {
  diffShaping,
  isEmptyDiff,
  type LimitChange,
  type ShapingDiff,
  type TargetDiff,
} from './diff.js';
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
export { describeEffectiveLimits, describeTenantRates, formatDuration, formatLimitValue } from './format.js';
export { FAST_LANE_ATTEMPT_MS, LaneSlots, LOCAL_WAIT_MS } from './lane-slots.js';
export { type LivePath, type LiveShapingState, liveStateReader } from './live-state.js';
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
  FURTHER_MESSAGE_MAX_WAIT_MS,
  messageSlot,
  passRates,
  type RateStage,
  SLOT_TOLERANCE_MS,
} from './rate-stages.js';
export { createShapingRuntime, type ShapingRuntime, type ShapingRuntimeParts } from './runtime.js';
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
export { ShapingGate, type ShapingGateOptions } from './shaping-gate.js';
export { CONDITION_CACHE_MS, type SiteCondition, SiteState } from './site-state.js';
export { type PickedSource, type SourcePick, SourcePicker, type WarmupTake } from './source-picker.js';
export type { PoolSource } from './sources-schema.js';
