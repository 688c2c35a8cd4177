/**
 * Per-site queue depth and oldest age for /metrics without a Redis scan per scrape. Owns: a
 * cached view of the queue's per-site split (`herald.queueStats`, a bounded job scan), refreshed
 * at most every SITE_QUEUE_REFRESH_MS, reading at most SITE_QUEUE_SCAN_MAX_JOBS jobs.
 * Guarantees: at most one scan runs at a time; a scrape never waits for one longer than
 * SITE_QUEUE_SCAN_TIMEOUT_MS (and only while no view exists yet: later scrapes serve the last view
 * while the next scan runs); a failed scan keeps the last view. With each scan it reads the
 * suspension of the `conditionsFor` sites with the most queued jobs (shaping's live state, one
 * read per site), so a suspended site's time left is on /metrics at the same cost bound.
 * Needs injected: the stats source, optionally a clock.
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
  /** When the site's suspension ends (epoch ms), undefined when it is not suspended. */
  suspendedUntil?(site: string): Promise<number | undefined>;
}

export interface SiteQueueView {
  sites: readonly SiteQueueRow[];
  truncated: boolean;
  /** Suspended sites among the most queued ones: site → when the suspension ends (epoch ms). */
  suspended: ReadonlyMap<string, number>;
  /** When the scan finished (epoch ms). */
  at: number;
}

export class SiteQueueCache {
  private view: SiteQueueView | undefined;
  private running: Promise<void> | undefined;
  private startedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly source: SiteQueueSource,
    /** How many of the most queued sites get their suspension read. */
    private readonly conditionsFor: number,
    private readonly now: () => number = Date.now,
    private readonly refreshMs = SITE_QUEUE_REFRESH_MS,
  ) {}

  /** The latest view (starting a scan when it is stale); undefined before the first scan ends. */
  async read(): Promise<SiteQueueView | undefined> {
    if (!this.running && this.now() - this.startedAt >= this.refreshMs) {
      this.startedAt = this.now();
      this.running = this.scan()
        .then(
          (view) => {
            this.view = view;
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

  private async scan(): Promise<SiteQueueView> {
    const stats = await this.source.queueStats({ maxJobs: SITE_QUEUE_SCAN_MAX_JOBS });
    const suspended = new Map<string, number>();
    const read = this.source.suspendedUntil?.bind(this.source);
    if (read) {
      // Jobs not admitted yet roll up to `domain:<d>`, not a site: no state to read.
      const top = stats.sites
        .filter((row) => !row.site.startsWith('domain:'))
        .sort((a, b) => queued(b) - queued(a))
        .slice(0, this.conditionsFor);
      const untils = await Promise.all(top.map((row) => read(row.site).catch(() => undefined)));
      top.forEach((row, i) => {
        const until = untils[i];
        if (until !== undefined) suspended.set(row.site, until);
      });
    }
    return { sites: stats.sites, truncated: stats.truncated, suspended, at: this.now() };
  }
}

/** Jobs of a site in every state. */
export function queued(row: SiteQueueRow): number {
  return row.ready + row.scheduled + row.inFlight;
}
