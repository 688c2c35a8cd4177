/**
 * `deleteQueued` and `bounceQueued`: the jobs leave the queue and every recipient still pending
 * ends `bounced` with `operator` (a bounce also sends the DSN), exactly once, even while workers
 * take the same jobs. Per job:
 * 1. the operator mark is set first (queue/operator-marks.ts), so any worker that takes the job
 *    from now on applies it itself, before an attempt or before it would schedule a retry;
 * 2. the job's state, then its data, are read: in flight (locked) → left to its worker ("marked");
 * 3. BullMQ's remove, which refuses a locked job (→ "marked"), then `claimFinish`: only the party
 *    that takes the job off the message's pending set records the outcome — a worker that ended
 *    the job meanwhile took it first, and this call changes nothing;
 *    A bounce's DSN report lines (delivery's `operatorReport`) are written by that same finish
 *    script, only when it claimed the job: a crash right after the finish loses no DSN (the
 *    lines are in the collector; the last job's finish made the message due for the sweep);
 * 4. the pending recipients end through delivery's `settleOperator` (events; the message's
 *    reports when this was its last job: the finish kept the body for them), the record goes
 *    when the message has no job left, and a parked job leaves its parked list.
 */
import { parkedJobsKey } from '../keys/index.js';
import type { DeliveryJobData, OperatorMark, Spool } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';
import { currentState, type LoadedJob } from './scan.js';
import type { RemoveResult } from './types.js';

/** Jobs handled at once. */
const REMOVE_CONCURRENCY = 32;

export interface RemoveParts {
  redis: RedisClient;
  prefix: string;
  spool: Pick<Spool, 'marks' | 'claimFinish' | 'queueFor' | 'leases'>;
  /** The DSN collector fields a bounce of this job saves with its finish (none for a delete). */
  operatorReport(data: DeliveryJobData, mark: OperatorMark): string[];
  /** `reportsDue`: the job was its message's last and the message's DSN reports are to be sent. */
  settleOperator(data: DeliveryJobData, mark: OperatorMark, reportsDue?: boolean): Promise<number>;
}

export async function removeJobs(
  parts: RemoveParts,
  jobs: AsyncIterable<LoadedJob[]> | Iterable<LoadedJob[]>,
  mark: OperatorMark,
): Promise<RemoveResult> {
  const result: RemoveResult = {
    action: mark.action,
    removed: { jobs: 0, recipients: 0 },
    marked: { jobs: 0, recipients: 0 },
  };
  for await (const batch of jobs) {
    for (let i = 0; i < batch.length; i += REMOVE_CONCURRENCY)
      await Promise.all(
        batch.slice(i, i + REMOVE_CONCURRENCY).map((job) => removeOne(parts, job, mark, result)),
      );
  }
  return result;
}

function pendingCount(data: DeliveryJobData): number {
  return data.recipients.filter((r) => r.state === 'pending').length;
}

async function removeOne(parts: RemoveParts, loaded: LoadedJob, mark: OperatorMark, result: RemoveResult) {
  const { spool } = parts;
  const { messageId, domain } = loaded.job.data;
  const id = loaded.id;
  await spool.marks.mark(messageId, domain, mark);
  // State before data: a worker that takes the job after the mark applies the mark itself.
  const state = await currentState(loaded.job, spool.leases);
  if (!state) return;
  // A leased job (fast lane) is in flight and not BullMQ's: its lease record's data.
  const job = (await spool.queueFor(id).getJob(id)) ?? (state === 'active' ? loaded.job : undefined);
  if (!job?.data) return;
  const inFlight = () => {
    result.marked.jobs++;
    result.marked.recipients += pendingCount(job.data);
  };
  if (state === 'active') return inFlight();
  if ((await spool.queueFor(id).remove(id)) !== 1) return inFlight();
  // A bounce's report lines are saved by the finish itself, only if it claims the job.
  const report = parts.operatorReport(job.data, mark);
  const { claimed, left, reportsDue } = await spool.claimFinish(messageId, id, report);
  if (!claimed) return;
  // Awaited before the sum: jobs are handled concurrently (`x += await` would lose updates).
  const ended = await parts.settleOperator(job.data, mark, reportsDue);
  result.removed.jobs++;
  result.removed.recipients += ended;
  if (left > 0) await spool.marks.clear(messageId, domain);
  const parkedOn = job.data.delayed?.parkedOn;
  if (parkedOn) await parts.redis.zrem(parkedJobsKey(parts.prefix, parkedOn), id);
}
