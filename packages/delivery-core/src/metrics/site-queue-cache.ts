/**
 * Per-site queue depth and oldest age for /metrics without a Redis scan per scrape. Owns: a
 * cached view of the queue's per-site split (`herald.queueStats`, a bounded job scan), refreshed
 * at most every SITE_QUEUE_REFRESH_MS, reading at most SITE_QUEUE_SCAN_MAX_JOBS jobs.
 * Guarantees: at most one scan runs at a time; a scrape never waits for one longer than
 * SITE_QUEUE_SCAN_TIMEOUT_MS (and only while no view exists yet: later scrapes serve the last view
 * while the next scan runs); a failed scan keeps the last view. Needs injected: the stats source,
 * optionally a clock.
 */
import { settlesWithin } from '../util/index.js';

/** A scrape older than this starts a new scan; the view can be this stale. */
export const SITE_QUEUE_REFRESH_MS = 15_000;
/** Jobs one scan reads at most (the split is then partial: `herald_site_queue_scan_truncated` 1). */
export const SITE_QUEUE_SCAN_MAX_JOBS = 10_000;
/** How long the first scrape waits for the first scan. */
export const SITE_QUEUE_SCAN_TIMEOUT_MS = 2_000;

export interface SiteQueueRow {
  site: string;
  ready: number;
  scheduled: number;
  inFlight: number;
  oldestAgeMs: number;
}

/** What `herald.queueStats` answers, as far as these gauges need it. */
export interface SiteQueueSource {
  queueStats(opts: { maxJobs: number }): Promise<{ sites: readonly SiteQueueRow[]; truncated: boolean }>;
}

export interface SiteQueueView {
  sites: readonly SiteQueueRow[];
  truncated: boolean;
  /** When the scan finished (epoch ms). */
  at: number;
}

export class SiteQueueCache {
  private view: SiteQueueView | undefined;
  private running: Promise<void> | undefined;
  private startedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly source: SiteQueueSource,
    private readonly now: () => number = Date.now,
    private readonly refreshMs = SITE_QUEUE_REFRESH_MS,
  ) {}

  /** The latest view (starting a scan when it is stale); undefined before the first scan ends. */
  async read(): Promise<SiteQueueView | undefined> {
    if (!this.running && this.now() - this.startedAt >= this.refreshMs) {
      this.startedAt = this.now();
      this.running = this.source
        .queueStats({ maxJobs: SITE_QUEUE_SCAN_MAX_JOBS })
        .then(
          (stats) => {
            this.view = { sites: stats.sites, truncated: stats.truncated, at: this.now() };
          },
          () => undefined,
        )
        .finally(() => {
          this.running = undefined;
        });
    }
    if (!this.view && this.running) await settlesWithin(this.running, SITE_QUEUE_SCAN_TIMEOUT_MS);
    return this.view;
  }
}
