/**
 * Reading the delivery queue for queue operations: a snapshot of job ids with the state each was
 * seen in (ids only, one read per state, bounded by `maxJobs`), jobs loaded in batches, and what
 * a job's state and data say about it (`describe`: ready, scheduled with its due time, in flight,
 * parked and why). A job moving between states while the snapshot is read is seen at least once:
 * the states are read in the order jobs move (delayed → prioritized/wait → active), then the
 * first three again (a retry moves a job from active back to delayed). Every queue shard is
 * read (their ids merge into one sorted snapshot: ids sort by acceptance whatever their shard).
 * Jobs leased to a fast lane (queue/leases.ts, in their message's shard) are not BullMQ's while
 * they run: given `leases`, they are read from their lease records and are in flight (`active`).
 */
import { Job, type Queue } from 'bullmq';
import { parkedKindOf } from '../keys/index.js';
import type { DeliveryJobData, JobLeases, Spool } from '../queue/index.js';
import type { QueuedJob } from './types.js';

/** BullMQ states a queued job can be in (`waiting` is BullMQ's name of the wait list). */
export type JobState = 'delayed' | 'prioritized' | 'waiting' | 'active';

const READ_ORDER: readonly JobState[] = [
  'delayed',
  'prioritized',
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting',
];
/** Jobs loaded at once (their reads share the auto-pipelined connection's writes). */
const LOAD_BATCH = 200;
/** The delivery queues of every shard, and the one of a job (the spool). */
export type ShardQueues = Pick<Spool, 'allQueues' | 'queueFor'>;

/** The default bound of a snapshot: as `herald queue stats`. */
export const DEFAULT_MAX_JOBS = 100_000;

export interface JobRef {
  id: string;
  state: JobState;
}

export interface LoadedJob extends JobRef {
  job: Job<DeliveryJobData>;
}

/** Where queue operations read leased jobs (fast lane). */
export type LeaseReader = Pick<JobLeases, 'ids' | 'data'>;

/** The queued job ids (sorted: message ids sort by acceptance), each with the last state seen. */
export async function snapshot(
  queues: Pick<ShardQueues, 'allQueues'>,
  maxJobs = DEFAULT_MAX_JOBS,
  leases?: LeaseReader,
): Promise<{ refs: JobRef[]; truncated: boolean }> {
  const seen = new Map<string, JobState>();
  let truncated = false;
  for (const queue of queues.allQueues()) {
    for (const state of READ_ORDER) {
      const ids = await queue.getRanges([state], 0, maxJobs - 1, true);
      for (const id of ids) {
        if (seen.size >= maxJobs && !seen.has(id)) {
          truncated = true;
          break;
        }
        seen.set(id, state);
      }
      if (ids.length >= maxJobs) truncated = true;
    }
  }
  // Last: a leased job that goes back to BullMQ meanwhile was seen there already.
  for (const id of leases ? await leases.ids(maxJobs) : []) {
    if (seen.size >= maxJobs && !seen.has(id)) {
      truncated = true;
      break;
    }
    if (!seen.has(id)) seen.set(id, 'active');
  }
  const refs = [...seen].map(([id, state]) => ({ id, state }));
  refs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { refs, truncated };
}

/** Loads `refs` in batches; jobs gone meanwhile are left out. */
export async function* loadJobs(
  queues: Pick<ShardQueues, 'queueFor'>,
  refs: readonly JobRef[],
  leases?: LeaseReader,
): AsyncGenerator<LoadedJob[]> {
  for (let i = 0; i < refs.length; i += LOAD_BATCH) {
    const batch = refs.slice(i, i + LOAD_BATCH);
    const jobs = await Promise.all(batch.map((ref) => loadJob(queues.queueFor(ref.id), ref.id, leases)));
    const loaded: LoadedJob[] = [];
    batch.forEach((ref, j) => {
      const job = jobs[j];
      if (job?.data?.messageId) loaded.push({ ...ref, job });
    });
    yield loaded;
  }
}

/** A job from BullMQ, else from its lease (an unsaved Job object carrying the lease's data). */
async function loadJob(
  queue: Queue<DeliveryJobData>,
  id: string,
  leases?: LeaseReader,
): Promise<Job<DeliveryJobData> | undefined> {
  const job = await Job.fromId<DeliveryJobData>(queue, id);
  if (job?.data?.messageId || !leases) return job;
  const data = await leases.data(id);
  return data ? new Job<DeliveryJobData>(queue, data.domain, data, {}, id) : undefined;
}

/** One job's current state, read now (undefined when it is no longer queued); leased = active. */
export async function currentState(
  job: Job<DeliveryJobData>,
  leases?: LeaseReader,
): Promise<JobState | undefined> {
  const state = await job.getState();
  if (state === 'delayed' || state === 'prioritized' || state === 'waiting' || state === 'active')
    return state;
  return job.id && leases && (await leases.data(job.id)) ? 'active' : undefined;
}

/** The jobs of one message (`<message id>`) or one job (`<message id>.<n>`), read now. */
export async function jobsOf(
  queues: Pick<ShardQueues, 'queueFor'>,
  pendingJobIds: (messageId: string) => Promise<string[]>,
  id: string,
  leases?: LeaseReader,
): Promise<LoadedJob[]> {
  const dot = id.lastIndexOf('.');
  const ids =
    dot > 0 ? ((await pendingJobIds(id.slice(0, dot))).includes(id) ? [id] : []) : await pendingJobIds(id);
  const loaded: LoadedJob[] = [];
  for (const jobId of ids.sort()) {
    const job = await loadJob(queues.queueFor(jobId), jobId, leases);
    const state = job?.data?.messageId ? await currentState(job, leases) : undefined;
    if (job && state) loaded.push({ id: jobId, state, job });
  }
  return loaded;
}

/** Does the job belong to `site` (a site name, or `domain:<name>`: every job to that domain)? */
export function inSite(data: DeliveryJobData, site: string): boolean {
  if (site.startsWith(DOMAIN_PREFIX)) return data.domain === site.slice(DOMAIN_PREFIX.length).toLowerCase();
  return data.site === site;
}

/** How queue stats and list name a job not rolled up to a site yet. */
export const DOMAIN_PREFIX = 'domain:';

/** The job as an operator sees it. */
export function describe(loaded: LoadedJob): QueuedJob {
  const data = loaded.job.data;
  const pending = data.recipients.filter((r) => r.state === 'pending');
  const lastError = pending.find((r) => r.lastError)?.lastError;
  const view: QueuedJob = {
    messageId: data.messageId,
    jobId: loaded.id,
    tenant: data.tenant,
    from: data.from,
    domain: data.domain,
    ...(data.site ? { site: data.site } : {}),
    pending: pending.map((r) => r.address),
    attempts: data.attempts,
    acceptedAt: data.acceptedAt,
    state: 'ready',
    ...(lastError ? { lastError } : {}),
    ...(data.stream ? { stream: data.stream } : {}),
    ...(data.campaign ? { campaign: data.campaign } : {}),
  };
  if (loaded.state === 'active') view.state = 'in-flight';
  else if (loaded.state === 'delayed') {
    const delayed = data.delayed;
    if (delayed?.parkedOn) {
      view.state = 'parked';
      view.parked = parkedKindOf(delayed.parkedOn);
    } else {
      view.state = 'scheduled';
      view.waitingFor = delayed?.kind === 'throttled' ? 'shaping' : 'retry';
    }
    if (delayed) view.nextAttemptAt = delayed.until;
    if (delayed?.reason) view.reason = delayed.reason;
  }
  return view;
}
