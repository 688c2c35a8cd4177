/**
 * Queue operations for operators (Postfix's `postqueue -p`, `postsuper -d/-r`, `postqueue -f`;
 * KumoMTA's `kcli bounce`), as plain data in and out (`herald queue …`, the HTTP API):
 * - `list(site, {limit, after})`: a site's queued jobs, paged with a stable cursor (list.ts);
 * - `retry(target)`: jobs of one message, a site or the whole queue that wait (a retry backoff,
 *   a shaping wait, parked) are made ready now, still through the shaping gate (wake.ts);
 * - `flush(site)`: the same for one site, leaving jobs a suspension or tenant pause holds;
 * - `remove(target | filter, mark)`: delete (no DSN) or bounce (DSN to the sender) the jobs: each
 *   pending recipient ends `bounced` with `operator` exactly once; a job in flight is marked and
 *   its worker applies the mark after the attempt (remove.ts).
 * A site is a site name (`provider:gmail`, `mx:…`, `route:…`: jobs rolled up to it at their last
 * admission) or `domain:<name>` (every job to that domain, rolled up or not).
 * Needs injected: the command connection, the spool, and delivery's `operatorReport` and
 * `settleOperator` (a bounce's DSN lines saved with the finish, then events and reports), so
 * queue-ops does not import delivery.
 */

import { HeraldError } from '../errors/index.js';
import { OPERATOR_REASON_MAX_CHARS, type OperatorMark, type Spool } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';
import { listQueue } from './list.js';
import { type RemoveParts, removeJobs } from './remove.js';
import { DEFAULT_MAX_JOBS, inSite, jobsOf, type LoadedJob, loadJobs, snapshot } from './scan.js';
import type { ListOptions, QueueFilter, QueuePage, QueueTarget, RemoveResult, WakeResult } from './types.js';
import { wakeJobs } from './wake.js';

export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './list.js';
export { DOMAIN_PREFIX } from './scan.js';
export type {
  ListOptions,
  QueuedJob,
  QueuedState,
  QueueFilter,
  QueuePage,
  QueueTarget,
  RemoveResult,
  WakeResult,
} from './types.js';

/** Jobs a site-wide or filtered operation reads at most (a bounded scan of the queue). */
export const MAX_OPERATION_JOBS = 1_000_000;

export interface QueueOpsParts {
  redis: RedisClient;
  prefix: string;
  spool: Spool;
  operatorReport: RemoveParts['operatorReport'];
  settleOperator: RemoveParts['settleOperator'];
  now?: () => number;
}

export interface QueueOps {
  list(site: string, opts?: ListOptions): Promise<QueuePage>;
  retry(target: QueueTarget): Promise<WakeResult>;
  flush(site: string): Promise<WakeResult>;
  delete(target: { messageId: string } | QueueFilter): Promise<RemoveResult>;
  bounce(target: { messageId: string } | { site: string }, opts?: { reason?: string }): Promise<RemoveResult>;
}

export function createQueueOps(parts: QueueOpsParts): QueueOps {
  const { spool } = parts;
  const queue = spool;
  const now = parts.now ?? Date.now;
  const pendingJobIds = (id: string) => spool.pendingJobIds(id);

  /** The jobs of one message, or of the whole queue matching `keep`, in batches. */
  async function* select(
    target: { messageId: string } | { keep: (data: LoadedJob['job']['data']) => boolean },
  ): AsyncGenerator<LoadedJob[]> {
    if ('messageId' in target) {
      const jobs = await jobsOf(queue, pendingJobIds, target.messageId, spool.leases);
      if (jobs.length === 0)
        throw new HeraldError('HERALD_QUEUE_NOT_FOUND', `no queued message or job ${target.messageId}`);
      yield jobs;
      return;
    }
    const { refs } = await snapshot(queue, MAX_OPERATION_JOBS, spool.leases);
    for await (const batch of loadJobs(queue, refs, spool.leases))
      yield batch.filter((j) => target.keep(j.job.data));
  }

  const removeWith = (
    target: { messageId: string } | { keep: (d: LoadedJob['job']['data']) => boolean },
    mark: OperatorMark,
  ) => removeJobs(parts, select(target), mark);

  return {
    list: (site, opts = {}) => listQueue(queue, site, { ...opts, maxJobs: DEFAULT_MAX_JOBS }, spool.leases),
    async retry(target) {
      const selection =
        'messageId' in target
          ? select(target)
          : 'site' in target
            ? select({ keep: (d) => inSite(d, siteName(target.site)) })
            : select({ keep: () => true });
      return wakeJobs(parts, selection, { includeHeld: true });
    },
    async flush(site) {
      const name = siteName(site);
      return wakeJobs(parts, select({ keep: (d) => inSite(d, name) }), { includeHeld: false });
    },
    async delete(target) {
      const mark: OperatorMark = { action: 'delete', at: now() };
      if ('messageId' in target) return removeWith({ messageId: target.messageId }, mark);
      return removeWith({ keep: filterOf(target) }, mark);
    },
    async bounce(target, opts = {}) {
      const reason = reasonText(opts.reason);
      const mark: OperatorMark = { action: 'bounce', at: now(), ...(reason ? { reason } : {}) };
      if ('messageId' in target) return removeWith({ messageId: target.messageId }, mark);
      const name = siteName(target.site);
      return removeWith({ keep: (d) => inSite(d, name) }, mark);
    },
  };
}

function siteName(site: string): string {
  if (site.trim() === '') throw new HeraldError('HERALD_INPUT_INVALID', 'a site name is required');
  return site;
}

/** A filter as a predicate; a filter without any criterion is refused (it would delete everything). */
function filterOf(filter: QueueFilter): (data: LoadedJob['job']['data']) => boolean {
  const site = filter.site === undefined ? undefined : siteName(filter.site);
  const tenant = filter.tenant?.toLowerCase();
  const from = filter.from?.toLowerCase();
  const domains = filter.toDomains?.length
    ? new Set(filter.toDomains.map((d) => d.toLowerCase()))
    : undefined;
  if (site === undefined && tenant === undefined && from === undefined && domains === undefined)
    throw new HeraldError(
      'HERALD_INPUT_INVALID',
      'a delete needs a message id or a filter (site, tenant, sender or recipient domain)',
    );
  return (data) =>
    (site === undefined || inSite(data, site)) &&
    (tenant === undefined || data.tenant.toLowerCase() === tenant) &&
    (from === undefined || data.from.toLowerCase() === from) &&
    (domains === undefined || domains.has(data.domain));
}

/** The operator's reason as it may go into a reply and a DSN: one line of printable text. */
function reasonText(reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  const text = reason.trim();
  if (text === '') return undefined;
  if (/[\u0000-\u001f\u007f]/.test(text))
    throw new HeraldError('HERALD_INPUT_INVALID', 'the reason must be one line without control characters');
  if (text.length > OPERATOR_REASON_MAX_CHARS)
    throw new HeraldError(
      'HERALD_INPUT_INVALID',
      `the reason is longer than ${OPERATOR_REASON_MAX_CHARS} characters`,
    );
  return text;
}
