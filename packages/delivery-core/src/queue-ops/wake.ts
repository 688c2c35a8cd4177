/**
 * `retryQueued` and `flushSite`: jobs that wait — a retry's backoff, a shaping wait, parked for a
 * connection slot — are made ready now (BullMQ's promote, which fails harmlessly on a job that
 * moved meanwhile), and taken off the parked list they were on. They still pass the shaping gate
 * when a worker takes them, so every limit holds: a site's max_connections, its rates (a job
 * that booked a rate slot goes back to wait for it), its suspension. A retry wakes jobs held by a
 * site suspension or a tenant pause too (they look again and, still held, park again); a flush
 * leaves those (`held`): lifting them is `herald site resume` / `herald tenant resume`.
 */

import { parkedJobsKey, parkedKindOf } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import { currentState, type LoadedJob } from './scan.js';
import type { WakeResult } from './types.js';

export interface WakeParts {
  redis: RedisClient;
  prefix: string;
}

export async function wakeJobs(
  parts: WakeParts,
  jobs: AsyncIterable<LoadedJob[]> | Iterable<LoadedJob[]>,
  opts: { includeHeld: boolean },
): Promise<WakeResult> {
  const result: WakeResult = { woken: 0, ready: 0, inFlight: 0, held: 0 };
  for await (const batch of jobs) {
    await Promise.all(batch.map((loaded) => wakeOne(parts, loaded, opts, result)));
  }
  return result;
}

async function wakeOne(
  parts: WakeParts,
  { job, state }: LoadedJob,
  opts: { includeHeld: boolean },
  result: WakeResult,
): Promise<void> {
  if (state === 'active') {
    result.inFlight++;
    return;
  }
  if (state !== 'delayed') {
    result.ready++;
    return;
  }
  const parkedOn = job.data.delayed?.parkedOn;
  if (parkedOn && !opts.includeHeld && parkedKindOf(parkedOn) !== 'slot') {
    result.held++;
    return;
  }
  try {
    await job.promote();
    result.woken++;
  } catch {
    // Not delayed any more: taken by a worker, promoted by a release, or finished.
    const now = await currentState(job);
    if (now === 'active') result.inFlight++;
    else if (now) result.ready++;
    return;
  }
  if (parkedOn) await parts.redis.zrem(parkedJobsKey(parts.prefix, parkedOn), job.id ?? '');
}
