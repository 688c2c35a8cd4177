/**
 * @herald/delivery-core — Herald's delivery engine as a library.
 *
 *   const herald = await createHerald({ redis: { url }, routes: [...] });
 *   const { messageId, accepted } = await herald.send({ from, to, subject, text });
 *   herald.startWorkers();   // deliver from this process
 *
 * Every capability is also importable on its own: `@herald/delivery-core/<module>` (config, dns,
 * queue, smtp, retry, events, metrics, delivery, message, errors, passwords, sites, shaping,
 * throttle, bounce, dsn, reputation, verp, suppression, intake, feedback, explain, story).
 */

export { checkAddress } from './address/index.js';
export {
  ConfigError,
  defaultConfig,
  type HeraldConfig,
  type HeraldConfigInput,
  loadConfigFile,
  parseConfig,
  parseDuration,
  parseHoldDuration,
  type TenantPolicy,
  tenantPolicy,
} from './config/index.js';
export { DeliveryWorker } from './delivery/index.js';
export * from './errors/index.js';
export type { EventSink, HeraldEvent, SiteEvent, TerminalState } from './events/index.js';
export { readEvents } from './events/index.js';
export type {
  CreateHeraldOptions,
  DeliveryExplanation,
  ExplainedSource,
  ExplainOptions,
  FeedbackReport,
  FeedbackResult,
  Herald,
  ListOptions,
  LiveShapingState,
  MessageStory,
  PauseState,
  QueuedJob,
  QueueFilter,
  QueuePage,
  QueueStats,
  QueueTarget,
  ReloadResult,
  RemoveResult,
  ReputationRates,
  SendInput,
  SendResult,
  SiteQueueStats,
  TenantStatus,
  WakeResult,
} from './herald.js';
export { createHerald } from './herald.js';
export { IntakeRefusedError, REFUSALS, type Refusal, type RefusalKind } from './intake/index.js';
export { HeraldMetrics } from './metrics/index.js';
export { hashPassword, verifyPassword } from './passwords/index.js';
export { loadShaping, preflight } from './preflight.js';
export { isCluster, masters, type RedisClient, scanKeys } from './redis/index.js';
export {
  type ConnectRedisOptions,
  clusterSeeds,
  connectRedis,
  createRedisClient,
  describeRedisTarget,
  type RedisTarget,
  redisTarget,
} from './redis-connect.js';
export {
  defaultProviderRules,
  type ProviderName,
  type ProviderRule,
  providerRules,
  resolveSite,
  SITE_CACHE_MAX_ENTRIES,
  SITE_CACHE_TTL_MS,
  type SiteInfo,
  SiteResolver,
  siteForRoute,
} from './sites/index.js';
