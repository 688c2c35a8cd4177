/**
 * Delivery: the worker that takes a job from the queue, finds where its domain's mail goes
 * (static route or MX), sends over the pooled SMTP client, records one event per recipient
 * outcome and schedules retries or expiry. Admission control and parking are a port
 * (`types.ts`: DeliveryGate, JobParking) that traffic shaping implements (`shaping/`); delivery
 * never imports shaping.
 */

export { FastPath, type FastPathOptions } from './fast-path.js';
export { type FollowUpDeps, followUpFailures } from './follow-up.js';
export type { RouteChoice, StaticRoute } from './hosts.js';
export { hostsFor } from './hosts.js';
export { type LeaseReaper, type LeaseReaperOptions, startLeaseReaper } from './lease-reaper.js';
export { applyOperatorMark, operatorReply } from './operator.js';
export { FETCH_REFUSED_PAUSE_MS, PacedWorker } from './paced-worker.js';
export type { DeliveryDeps, DeliveryGate, DeliveryOutcome, RecipientFailure } from './process.js';
export { processDelivery } from './process.js';
export {
  createDelivery,
  type Delivery,
  type DeliveryParts,
  type DeliveryShaping,
  toStaticRoute,
} from './runtime.js';
export { concurrencyShare, ThreadWorkers, type WorkerSlots } from './thread-workers.js';
export {
  type AttemptLimits,
  type ConnectionVerdict,
  type GateDestination,
  type JobParking,
  PARK_SAFETY_MS,
  type TlsPolicyDecision,
} from './types.js';
export type { DeliveryWorkerOptions } from './worker.js';
export { DeliveryWorker } from './worker.js';
