/**
 * Queue statistics per site for operators (`herald queue stats`): jobs ready to go, scheduled
 * (retries and throttle waits), in flight, and the age of the oldest message, grouped by the site
 * each job last rolled up to (`domain:<d>` for jobs not attempted yet). Totals come from BullMQ's
 * counters (exact); the per-site split reads up to `maxJobs` jobs (a bounded scan, reported).
 * Jobs leased to a fast lane (leases.ts, in every shard) are in flight.
 * Every shard's queue counts (they are summed).
 */
import type { Queue } from 'bullmq';
import type { JobLeases } from './leases.js';
import type { DeliveryJobData } from './types.js';

const PAGE_SIZE = 1_000;
const DEFAULT_MAX_JOBS = 100_000;

export interface SiteQueueStats {
  site: string;
  ready: number;
  scheduled: number;
  inFlight: number;
  /** Milliseconds since the oldest of these jobs' messages was accepted. */
  oldestAgeMs: number;
}

export interface QueueStats {
  totals: { ready: number; scheduled: number; inFlight: number };
  sites: SiteQueueStats[];
  /** Jobs read for the per-site split; `truncated` when there were more than `maxJobs`. */
  scanned: number;
  truncated: boolean;
}

type Column = 'ready' | 'scheduled' | 'inFlight';
const STATES: [Column, ('waiting' | 'prioritized' | 'delayed' | 'active')[]][] = [
  ['ready', ['waiting', 'prioritized']],
  ['scheduled', ['delayed']],
  ['inFlight', ['active']],
];

export async function queueStats(
  queues: Queue<DeliveryJobData> | readonly Queue<DeliveryJobData>[],
  opts: { maxJobs?: number; now?: () => number; leases?: Pick<JobLeases, 'count' | 'ids' | 'data'> } = {},
): Promise<QueueStats> {
  const maxJobs = opts.maxJobs ?? DEFAULT_MAX_JOBS;
  const now = (opts.now ?? Date.now)();
  const all = Array.isArray(queues) ? queues : [queues as Queue<DeliveryJobData>];
  const leased = opts.leases ? await opts.leases.count() : 0;
  const totals = { ready: 0, scheduled: 0, inFlight: leased };
  for (const queue of all) {
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
    totals.ready += (counts.waiting ?? 0) + (counts.prioritized ?? 0);
    totals.scheduled += counts.delayed ?? 0;
    totals.inFlight += counts.active ?? 0;
  }
  const bySite = new Map<string, SiteQueueStats>();
  let scanned = 0;
  const count = (column: Column, data: DeliveryJobData) => {
    scanned++;
    const site = data.site ?? `domain:${data.domain}`;
    let row = bySite.get(site);
    if (!row) {
      row = { site, ready: 0, scheduled: 0, inFlight: 0, oldestAgeMs: 0 };
      bySite.set(site, row);
    }
    row[column]++;
    row.oldestAgeMs = Math.max(row.oldestAgeMs, now - data.acceptedAt);
  };
  for (const queue of all)
    for (const [column, states] of STATES) {
      for (let start = 0; scanned < maxJobs; start += PAGE_SIZE) {
        const want = Math.min(PAGE_SIZE, maxJobs - scanned);
        const jobs = await queue.getJobs(states, start, start + want - 1, true);
        for (const job of jobs) if (job?.data) count(column, job.data);
        if (jobs.length < want) break;
      }
    }
  // Leased jobs (fast lane) of every shard: in flight.
  if (opts.leases && leased > 0 && scanned < maxJobs) {
    const ids = await opts.leases.ids(maxJobs - scanned);
    const datas = await Promise.all(ids.map((id) => opts.leases!.data(id)));
    for (const data of datas) if (data) count('inFlight', data);
  }
  const truncated = scanned < totals.ready + totals.scheduled + totals.inFlight;
  const sites = [...bySite.values()].sort(
    (a, b) =>
      b.ready + b.scheduled + b.inFlight - (a.ready + a.scheduled + a.inFlight) ||
      a.site.localeCompare(b.site),
  );
  return { totals, sites, scanned, truncated };
}
