/**
 * Queue and spool: bodies stored once in Redis, one BullMQ job per (message, destination domain)
 * with per-recipient state, atomic enqueue, idempotent completion. See spool.ts. Jobs of the
 * default stream (transactional) go before prioritized ones of other streams: see priority.ts.
 * What Herald relies on beyond BullMQ's documented API is in bullmq-internals.ts. Operators'
 * decisions about jobs in flight are kept per message (operator-marks.ts). Strict durability's
 * barrier and its plan per server: durability.ts (one server), durability-cluster.ts (one round
 * per master that took writes), durability-rounds.ts, durability-plan.ts.
 */

// The queue's key names live in the key registry (keys/queue.ts); re-exported for the queue's users.
export { DELIVERY_QUEUE, type QueueKeys, queueKeys } from '../keys/index.js';
export { BODY_PIECE_BYTES, BODY_STAGING_TTL_MS } from './body-io.js';
export {
  ADD_JOB_COMMANDS,
  abandonWorker,
  addJobInMulti,
  BullmqContractError,
  type BullmqTouchpoint,
  checkWorkerInternals,
  queueTransaction,
  stopStalledChecksAfter,
} from './bullmq-internals.js';
export {
  type Durability,
  type DurabilityBarrier,
  type OpenDurabilityOptions,
  openDurabilityBarrier,
} from './durability.js';
export {
  DURABILITY_RULES,
  type DurabilityMode,
  type DurabilityPlan,
  hasWaitaof,
  parseServerFacts,
  planDurability,
  type ServerFacts,
} from './durability-plan.js';
export { inOneStretch, REPLY_GRACE_MS, sharedRounds } from './durability-rounds.js';
export {
  FAST_LANE_MAX_BODY_BYTES,
  type FastJob,
  type FastLane,
  type FastLaneBinding,
} from './fast-lane.js';
export { domainOf, groupByDomain, newMessageId } from './ids.js';
export { addDeliveryJob, jobOptions } from './job-add.js';
export { JobLeases, type LeaseRecord, REAP_BATCH } from './leases.js';
export {
  OPERATOR_MARK_TTL_MS,
  OPERATOR_REASON_MAX_CHARS,
  type OperatorMark,
  OperatorMarks,
} from './operator-marks.js';
export { DEFAULT_STREAM, OTHER_STREAM_PRIORITY, storedStream, streamPriority } from './priority.js';
export { ShardQueues } from './shard-queues.js';
export {
  activityKeysOfShards,
  eventStreamKeys,
  readEventStreamKeys,
  readShardLayout,
  SHARD_REGISTRY_REFRESH_MS,
  ShardRegistry,
} from './shard-registry.js';
export {
  allShards,
  type ShardLayout,
  SINGLE_SHARD,
  scopeShard,
  shardOf,
  shardPicker,
} from './shards.js';
export { type EnqueueOptions, Spool, type SpoolOptions } from './spool.js';
export type { QueueStats, SiteQueueStats } from './stats.js';
export { queueStats } from './stats.js';
export type {
  DelayedFor,
  DeliveryJobData,
  EnqueueResult,
  JobRecipient,
  RecipientState,
  ReleasedFrom,
  SpoolMessage,
} from './types.js';
