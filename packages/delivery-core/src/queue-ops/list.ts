/**
 * `listQueue`: a site's queued jobs, a page at a time, in job id order (= acceptance order). The
 * cursor is the last job id of a page, so paging is stable while jobs move between states or
 * finish: every job queued for the whole walk is listed exactly once, a job that finishes is
 * simply not listed again. Each page reads a fresh id snapshot (bounded by `maxJobs`) and loads
 * jobs only from the cursor on, until one more than the page is found.
 */
import { HeraldError } from '../errors/index.js';
import {
  DEFAULT_MAX_JOBS,
  describe,
  inSite,
  type LeaseReader,
  loadJobs,
  type ShardQueues,
  snapshot,
} from './scan.js';
import type { ListOptions, QueuedJob, QueuePage } from './types.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1_000;

export async function listQueue(
  queue: ShardQueues,
  site: string,
  opts: ListOptions & { maxJobs?: number } = {},
  leases?: LeaseReader,
): Promise<QueuePage> {
  const limit = opts.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE)
    throw new HeraldError('HERALD_INPUT_INVALID', `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  if (site === '') throw new HeraldError('HERALD_INPUT_INVALID', 'a site name is required');
  const { refs, truncated } = await snapshot(queue, opts.maxJobs ?? DEFAULT_MAX_JOBS, leases);
  const after = opts.after;
  const from = after === undefined ? 0 : refs.findIndex((r) => r.id > after);
  const jobs: QueuedJob[] = [];
  let more = false;
  if (from >= 0) {
    for await (const batch of loadJobs(queue, refs.slice(from), leases)) {
      for (const loaded of batch) {
        if (!inSite(loaded.job.data, site)) continue;
        if (jobs.length === limit) {
          more = true;
          break;
        }
        jobs.push(describe(loaded));
      }
      if (more) break;
    }
  }
  const page: QueuePage = { site, jobs, scanned: refs.length, truncated };
  if (more) page.next = jobs[jobs.length - 1]!.jobId;
  return page;
}
