/**
 * How a delivery job is added to BullMQ inside a caller's MULTI: the job options every delivery
 * job carries (Herald schedules its own retries with moveToDelayed; BullMQ's attempts only guard
 * crashes) and `addDeliveryJob`, used by the spool's enqueue and by a leased job going back to
 * BullMQ (a deferral, a throttle wait, an expired lease: queue/leases.ts).
 */
import { Job, type Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import { RecordedMulti } from '../redis/index.js';
import { addJobInMulti } from './bullmq-internals.js';
import { storedStream, streamPriority } from './priority.js';
import type { DeliveryJobData } from './types.js';

const JOB_ATTEMPTS_GUARD = 1_000_000;
const CRASH_BACKOFF_MS = 60_000;
const FAILED_JOB_RETENTION_S = 7 * 24 * 3600;

export function jobOptions(jobId: string, priority: number, delayMs = 0) {
  return {
    jobId,
    // 0 is left out: BullMQ then adds the job to the wait list (addStandardJob), ahead of any
    // prioritized job; a priority selects addPrioritizedJob (prioritized set + priority counter).
    ...(priority > 0 ? { priority } : {}),
    ...(delayMs > 0 ? { delay: delayMs } : {}),
    attempts: JOB_ATTEMPTS_GUARD,
    backoff: { type: 'fixed' as const, delay: CRASH_BACKOFF_MS },
    removeOnComplete: true,
    removeOnFail: { age: FAILED_JOB_RETENTION_S },
  };
}

/**
 * Queues BullMQ's add script for one delivery job on `multi` (delayed by `delayMs` when > 0);
 * returns the commands it queued. Adding a job id that exists already changes nothing (BullMQ).
 */
export function addDeliveryJob(
  multi: ChainableCommander,
  queue: Queue<DeliveryJobData>,
  jobId: string,
  data: DeliveryJobData,
  delayMs = 0,
): number {
  const priority = streamPriority(storedStream(data.stream));
  const job = new Job<DeliveryJobData>(queue, data.domain, data, jobOptions(jobId, priority, delayMs), jobId);
  // The spool's recorded transaction queues the job itself (replayed onto BullMQ's MULTI at exec).
  if (multi instanceof RecordedMulti) return multi.queueOn((real) => addJobInMulti(real, job));
  return addJobInMulti(multi, job);
}
