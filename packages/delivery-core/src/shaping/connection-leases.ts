/**
 * Site-wide connection slots across every relay, and waking the jobs that wait for one.
 * SiteConnectionLeases hands the SMTP pool one Redis lease (LeasedSemaphore, key
 * `conn:<site>`, renewed while the connection lives) per connection. A job refused a slot is
 * parked: moved to the delayed set (at most PARK_SAFETY_MS) and listed under its site; when any
 * relay releases a slot of that site it promotes the first parked job, so waiting jobs are woken
 * by releases, one per release, and never poll. Parked jobs wake in their stream's queue priority
 * order (transactional first), FIFO within one priority.
 * With a `max_connection_rate`, a new connection also needs a GCRA cell of `conn-rate:<site>`.
 * Redis keys: the semaphore's `<prefix>:sem:conn:{<site>}` (capped by the lane's window `<prefix>:site:{<site>}:window`), the limiter's `<prefix>:gcra:conn-rate:<site>`, and `<prefix>:site:<site>:parked-jobs` (names: keys/shaping.ts)
 * (a sorted set of job ids, score = priority * PRIORITY_SCORE_STEP + time parked in epoch ms).
 */
import { Job, type Queue } from 'bullmq';
import type { Logger } from 'pino';
import { type JobParking, PARK_SAFETY_MS } from '../delivery/index.js';
import {
  CONNECTION_LEASE_PREFIX,
  connectionLeaseKey,
  connectionRateKey,
  laneOfConnectionLeaseKey,
  parkedJobsKey,
} from '../keys/index.js';
import { type DeliveryJobData, streamPriority } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';
import type { ConnectionLease, ConnectionLeases } from '../smtp/index.js';
import type { LeasedSemaphore, Rate, RateLimiter } from '../throttle/index.js';

/** The bound of a park is the delivery port's (re-exported for shaping's users). */
export { PARK_SAFETY_MS };

/** A parked list nobody touches disappears after this. */
const PARKED_KEY_TTL_MS = 3_600_000;
/**
 * Score distance between two priorities: 2^42 ms (~139 years) keeps every epoch-ms time of one
 * priority below the next one, and priority * step stays exact in a double up to priority 2047.
 */
const PRIORITY_SCORE_STEP = 2 ** 42;
const MAX_SCORED_PRIORITY = 2047;

export class ParkedJobs implements JobParking {
  private readonly queueFor: (jobId: string) => Queue<DeliveryJobData>;

  /** `queues`: the delivery queue, or of a sharded queue the one holding a job (Spool.queueFor). */
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    queues: Queue<DeliveryJobData> | ((jobId: string) => Queue<DeliveryJobData>),
    private readonly logger: Logger,
  ) {
    this.queueFor = typeof queues === 'function' ? queues : () => queues;
  }

  private key(site: string): string {
    return parkedJobsKey(this.prefix, site);
  }

  /**
   * Lists a job (already moved to the delayed set) as waiting for a slot of `site`, ranked by its
   * stream's priority (absent: transactional, first), then by when it was parked.
   */
  async park(site: string, jobId: string, stream?: string, now = Date.now()): Promise<void> {
    const priority = Math.min(streamPriority(stream), MAX_SCORED_PRIORITY);
    await this.redis
      .multi()
      .zadd(this.key(site), priority * PRIORITY_SCORE_STEP + now, jobId)
      .pexpire(this.key(site), PARKED_KEY_TTL_MS)
      .exec();
  }

  /** Promotes the first parked job of `site` (highest priority, then oldest) still waiting, if any. */
  async wakeOne(site: string): Promise<boolean> {
    for (;;) {
      const [id] = await this.redis.zpopmin(this.key(site));
      if (!id) return false;
      if (await this.promote(id)) return true;
    }
  }

  /** Promotes every job parked under `key` (e.g. a resumed tenant's); returns how many. */
  async wakeAll(key: string): Promise<number> {
    let woken = 0;
    while (await this.wakeOne(key)) woken++;
    return woken;
  }

  private async promote(id: string): Promise<boolean> {
    const job = await Job.fromId<DeliveryJobData>(this.queueFor(id), id);
    if (!job || !(await job.isDelayed())) return false;
    try {
      await job.promote();
      return true;
    } catch (err) {
      this.logger.debug({ err, id }, 'parked job could not be promoted');
      return false;
    }
  }
}

export class SiteConnectionLeases implements ConnectionLeases {
  constructor(
    private readonly semaphore: LeasedSemaphore,
    private readonly parked: ParkedJobs,
    private readonly logger: Logger,
    /** For `max_connection_rate` (GCRA key `conn-rate:<site>`); absent = not enforced. */
    private readonly limiter?: RateLimiter,
    /**
     * The Redis key of a lane's concurrency window (keys/shaping.ts laneWindowKey): a lease is
     * taken under the window as it is in Redis at that moment, not as the caller last read it
     * (another relay or thread may have shrunk it since). Absent: the caller's limit alone.
     */
    private readonly windowKeyOf?: (lane: string) => string,
  ) {}

  async acquire(
    site: string,
    limit: number,
    rate?: Rate,
  ): Promise<ConnectionLease | { retryAfterMs: number; reason: 'connections' | 'connection-rate' }> {
    const lease = await this.semaphore.acquire(connectionLeaseKey(site), limit, this.windowKeyOf?.(site));
    if (!lease.acquired) return { retryAfterMs: lease.retryAfterMs, reason: 'connections' };
    if (rate && this.limiter) {
      // A slot is free; the new connection must also fit the site's connection rate.
      const opened = await this.limiter
        .tryAcquire(connectionRateKey(site), rate)
        .catch(async (err: unknown) => {
          await lease.release();
          throw err;
        });
      if (!opened.allowed) {
        await lease.release();
        return { retryAfterMs: opened.retryAfterMs, reason: 'connection-rate' };
      }
    }
    lease.autoRenew((reason) => this.logger.warn({ site, reason }, 'connection lease lost'));
    let released: Promise<void> | undefined;
    return {
      release: () => {
        released ??= lease
          .release()
          .then(() => {
            // The slot is free: wake one job parked for it, without holding up the caller.
            void this.parked
              .wakeOne(site)
              .catch((err: unknown) => this.logger.debug({ err, site }, 'wake failed'));
          })
          .catch((err: unknown) => this.logger.warn({ err, site }, 'connection lease release failed'));
        return released;
      },
    };
  }
}

/**
 * At a relay's start, with a stable node id: frees the connection leases its previous
 * incarnation held when it died (instead of leaving the site idle for the lease TTL) and wakes
 * one parked job per freed slot. `semaphore` must hold leases as `<node id>|<this incarnation>`.
 * Returns how many leases were freed.
 */
export async function reclaimNodeLeases(
  semaphore: LeasedSemaphore,
  nodeId: string,
  parked: ParkedJobs,
  logger: Logger,
): Promise<number> {
  const reclaimed = await semaphore.reclaim(`${CONNECTION_LEASE_PREFIX}*`, nodeId);
  let total = 0;
  for (const { key, removed } of reclaimed) {
    const lane = laneOfConnectionLeaseKey(key);
    total += removed;
    for (let i = 0; i < removed; i++) await parked.wakeOne(lane).catch(() => false);
  }
  if (total > 0)
    logger.info(
      { nodeId, leases: total, lanes: reclaimed.length },
      'reclaimed connection leases of a previous run',
    );
  return total;
}
