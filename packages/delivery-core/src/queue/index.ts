/**
 * Queue and spool: bodies stored once in Redis, one BullMQ job per (message, destination domain)
 * with per-recipient state, atomic enqueue, idempotent completion. See spool.ts.
 */

export { domainOf, groupByDomain, newMessageId } from './ids.js';
export type { QueueKeys } from './keys.js';
export { DELIVERY_QUEUE, queueKeys } from './keys.js';
export { Spool } from './spool.js';
export type { QueueStats, SiteQueueStats } from './stats.js';
export { queueStats } from './stats.js';
export type { DeliveryJobData, EnqueueResult, JobRecipient, RecipientState, SpoolMessage } from './types.js';
