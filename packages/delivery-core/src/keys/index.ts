/**
 * Every Redis key Herald writes, in one registry: each key's name, the hash tag that decides its
 * Redis Cluster slot, and (`operations.ts`) every Lua script and MULTI that touches more than one
 * key, with the slot they share. ARCHITECTURE "Redis key layout" is the table of it.
 *
 * Groups: the queue slot (`{queue}`: BullMQ's delivery queue, spool, event stream, reputation
 * counters, feedback markers — queue.ts), one slot per site for its condition (`{<site>}` —
 * shaping.ts), one per tenant for its suppression list (`{<tenant>}` — tenant.ts); every other
 * key (throttle primitives, windows, parked lists, the pause flag) is used alone and is hashed
 * whole. SMTP TLS Reporting's keys share one tag per UTC day (tlsrpt.ts). Every key starts with `<prefix>:` (config `redis.prefix`), so ACL patterns and SCANs
 * by prefix keep working. The webhook dispatcher's keys share `{webhooks}` (webhooks.ts).
 * Imports nothing; pure.
 */

export {
  API_KEYS_TAG,
  type ApiKeyKeys,
  apiAuthBlockKey,
  apiAuthFailuresKey,
  apiKeyKeys,
  apiRateName,
  idempotencyKeys,
} from './api.js';
export {
  type BehaviourKind,
  behaviourClearedKey,
  behaviourCounterKey,
  behaviourFlagsKey,
  behaviourHeldFields,
  behaviourHeldKey,
  behaviourMessageKey,
  behaviourSpreadScratchKey,
} from './behaviour.js';
export { streamCursorKey } from './consumers.js';
export { clusterMarkIn, clusterMarkKey, durabilityMarkKey, MARK_SEARCH_LIMIT } from './durability.js';
export { MULTI_KEY_OPERATIONS, type MultiKeyOperation } from './operations.js';
export { type QuarantineKeys, quarantineKeys } from './quarantine.js';
export {
  type ActivityKeys,
  activityKeys,
  DELIVERY_QUEUE,
  type FeedbackMarkerKind,
  feedbackMarkerKey,
  MAX_QUEUE_SHARDS,
  QUEUE_TAG,
  type QueueKeys,
  queueKeys,
  queueSlot,
  type ReputationKind,
  reputationKey,
  shardRegistryKey,
  shardTag,
} from './queue.js';
export * from './shaping.js';
export { CLUSTER_SLOTS, crc16, hashedPart, hashSlot } from './slots.js';
export { type SuppressionKeys, suppressionKeys, tenantPausedKey } from './tenant.js';
export { capKey, gcraKey, semaphoreKey } from './throttle.js';
export { type TlsRptDayKeys, tlsRptDayKeys, tlsRptLeaseKey, tlsRptTag } from './tlsrpt.js';
export { WEBHOOKS_CONSUMER, WEBHOOKS_TAG, type WebhookKeys, webhookKeys } from './webhooks.js';
