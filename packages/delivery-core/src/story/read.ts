/**
 * Reads a message's story: its trace (events/trace.ts: what remains after the spool deleted the
 * message), then, for recipients not finished, their jobs (`<id>.<n>`, one per destination
 * domain, n < the accepted event's `jobs`: BullMQ state and the job data's shaping hold) and the
 * live suspension of the job's site. Reads only. Needs injected: the command connection, the
 * delivery queue and keys of the message's shard and a reader of a site's suspension (shaping's
 * site state).
 */
import type { Queue } from 'bullmq';
import { type AcceptedEvent, readTrace } from '../events/index.js';
import type { DeliveryJobData, JobLeases, QueueKeys } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';
import { storyFromEvents } from './derive.js';
import type { JobView, MessageStory } from './types.js';

/** What a message id may be (queue/ids.ts makes base-36 + hex); anything else names no message. */
const MESSAGE_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
/** A message has at most one job per destination domain; more than this is not a trace of ours. */
const MAX_JOBS_READ = 1_000;

export interface StoryParts {
  redis: RedisClient;
  /** The delivery queue of the shard a message id or job id is in. */
  queueFor(id: string): Queue<DeliveryJobData>;
  /** The keys of the shard a message id is in. */
  keysFor(id: string): Pick<QueueKeys, 'trace'>;
  /** Jobs leased to a fast lane, in every shard (in flight, not BullMQ's while they run). */
  leases?: Pick<JobLeases, 'data'>;
  /** When the site's suspension ends; undefined when it is not suspended now. */
  siteSuspendedUntil(site: string): Promise<number | undefined>;
}

export type StoryReader = (id: string) => Promise<MessageStory | undefined>;

export function createStoryReader(parts: StoryParts): StoryReader {
  return async (id) => {
    if (!MESSAGE_ID_PATTERN.test(id)) return undefined;
    const trace = await readTrace(parts.redis, parts.keysFor(id).trace(id));
    if (!trace) return undefined;
    const story = storyFromEvents(id, trace.events, trace.truncated);
    if (!story || story.recipients.every((r) => r.state !== 'queued' && r.state !== 'deferred')) return story;
    const accepted = trace.events.find((e): e is AcceptedEvent => e.type === 'accepted');
    const jobs = await readJobs(parts, id, Math.min(accepted?.jobs ?? 0, MAX_JOBS_READ));
    return storyFromEvents(id, trace.events, trace.truncated, jobs);
  };
}

/** The view of each job of the message, by the lower-cased address of each recipient it holds. */
async function readJobs(parts: StoryParts, id: string, count: number): Promise<Map<string, JobView>> {
  const views = new Map<string, JobView>();
  const ids = Array.from({ length: count }, (_, n) => `${id}.${n}`);
  await Promise.all(
    ids.map(async (jobId) => {
      const job = await parts.queueFor(jobId).getJob(jobId);
      const leased = job?.data ? undefined : await parts.leases?.data(jobId);
      if (leased) {
        for (const recipient of leased.recipients)
          views.set(recipient.address.toLowerCase(), { state: 'active' });
        return;
      }
      if (!job?.data) return;
      const state = await job.getState();
      const data = job.data;
      const view: JobView = {
        state: state === 'unknown' ? 'missing' : (state as JobView['state']),
        ...(data.delayed?.kind === 'throttled'
          ? {
              held: {
                reason: data.delayed.reason ?? 'shaping',
                until: data.delayed.until,
                ...(data.delayed.parkedOn ? { parkOn: data.delayed.parkedOn } : {}),
              },
            }
          : {}),
        ...(data.site ? { site: data.site } : {}),
      };
      if (data.site && state === 'delayed') {
        const until = await parts.siteSuspendedUntil(data.site);
        if (until !== undefined) view.siteSuspendedUntil = until;
      }
      for (const recipient of data.recipients) views.set(recipient.address.toLowerCase(), view);
    }),
  );
  return views;
}
