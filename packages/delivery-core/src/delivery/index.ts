/**
 * Delivery: the worker that takes a job from the queue, finds where its domain's mail goes
 * (static route or MX), sends over the pooled SMTP client, records one event per recipient
 * outcome and schedules retries or expiry.
 */

export type { ConnectionVerdict } from './concurrency.js';
export { ConcurrencyWindows, clampWindow, NEGATIVE_FEEDBACK, WINDOW_TTL_MS } from './concurrency.js';
export { PARK_SAFETY_MS, ParkedJobs, reclaimNodeLeases, SiteConnectionLeases } from './connection-leases.js';
export { type FollowUpDeps, followUpFailures } from './follow-up.js';
export type { RouteChoice, StaticRoute } from './hosts.js';
export { hostsFor } from './hosts.js';
export * from './keys.js';
export type { DeliveryDeps, DeliveryGate, DeliveryOutcome, RecipientFailure } from './process.js';
export { processDelivery } from './process.js';
export type { ShapingGateOptions, SiteLimits } from './shaping-gate.js';
export { ShapingGate } from './shaping-gate.js';
export type { SiteCondition } from './site-state.js';
export { CONDITION_CACHE_MS, SiteState } from './site-state.js';
export type { TlsPolicyDecision } from './types.js';
export type { DeliveryWorkerOptions } from './worker.js';
export { DeliveryWorker } from './worker.js';
