/**
 * The delivery worker: a BullMQ Worker on the delivery queue running `processDelivery` per job.
 * What follows each attempt is after-attempt.ts's (shared with the fast path): retries and
 * deferrals move the job to the delayed set with its updated per-recipient state (`DelayedError`:
 * BullMQ's own attempt counter is not used); finished jobs release their share of the spooled
 * body. An operator's mark (`herald queue delete` / `bounce` of a job in flight) is applied when
 * the attempt would schedule a retry or a shaping wait. A crashed worker's jobs come back after `lockDurationMs` (stalled check),
 * and are never failed for stalling (maxStalledCount is effectively unlimited): nothing is lost.
 */
import { DelayedError, type Job, Worker } from 'bullmq';
import { abandonWorker, checkWorkerInternals, DELIVERY_QUEUE, type DeliveryJobData } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';
import { settlesWithin } from '../util/index.js';
import { type AfterAttemptOptions, afterAttempt } from './after-attempt.js';
import { processDelivery } from './process.js';

const UNLIMITED_STALLS = 1_000_000;
/** How long a graceful shutdown waits for in-flight deliveries. */
const SHUTDOWN_GRACE_MS = 30_000;
/** How long a forced close may take before the worker is left to its connection's fate. */
const FORCED_CLOSE_MS = 2_000;

export interface DeliveryWorkerOptions extends AfterAttemptOptions {
  /** A dedicated connection (BullMQ blocks on it); created with maxRetriesPerRequest: null. */
  connection: RedisClient;
  prefix: string;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
}

export class DeliveryWorker {
  readonly worker: Worker<DeliveryJobData>;
  private readonly inFlight = new Set<string>();

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.worker = new Worker<DeliveryJobData>(DELIVERY_QUEUE, (job, token) => this.run(job, token), {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: UNLIMITED_STALLS,
      autorun: false,
    });
    // What close() falls back on must exist before any job runs (queue/bullmq-internals.ts).
    checkWorkerInternals(this.worker);
    this.worker.on('error', (err) => options.logger.error({ err }, 'delivery worker error'));
  }

  start(): void {
    void this.worker.run().catch((err) => this.options.logger.error({ err }, 'delivery worker stopped'));
  }

  get activeJobs(): number {
    return this.inFlight.size;
  }

  /** How many BullMQ jobs it may run at once from now on (the fast path shares the slots). */
  setConcurrency(n: number): void {
    if (this.worker.concurrency !== n) this.worker.concurrency = n;
  }

  private async run(job: Job<DeliveryJobData>, token: string | undefined): Promise<void> {
    const { deps } = this.options;
    const jobId = job.id ?? '';
    this.inFlight.add(jobId);
    try {
      const ended = await afterAttempt(
        { id: jobId, data: job.data },
        () => processDelivery(job.data, deps),
        this.options,
        {
          defer: async (data, at) => {
            await job.updateData(data);
            await job.moveToDelayed(at, token);
          },
          promote: () => job.promote().catch(() => {}),
          finish: async () => {
            await deps.spool.finishJob(job.data.messageId, jobId);
          },
        },
      );
      if (ended === 'deferred') throw new DelayedError();
    } finally {
      this.inFlight.delete(jobId);
    }
  }

  /**
   * Stops taking jobs and waits up to `graceMs` for in-flight ones to finish (graceful shutdown);
   * jobs still running then are abandoned: their locks expire and another worker retries them.
   */
  async close(graceMs = SHUTDOWN_GRACE_MS): Promise<void> {
    if (graceMs > 0) {
      // BullMQ's close drops the listeners of a connection still starting, whose late "Connection
      // is closed" then has none: an uncaught error (startWorkers() then close() at once). Let
      // the connections finish starting first (bounded: an unreachable Redis never gets there).
      await settlesWithin(
        this.worker.waitUntilReady().catch(() => {}),
        FORCED_CLOSE_MS,
      );
      if (await settlesWithin(this.worker.close(), graceMs)) return;
      this.options.logger.warn(
        { active: this.inFlight.size },
        'shutdown grace period over; abandoning in-flight jobs',
      );
    } else if (await settlesWithin(this.worker.close(true), FORCED_CLOSE_MS)) {
      return;
    }
    // BullMQ's close is waiting on jobs or on an unreachable Redis (a later close(true) only
    // returns the same pending promise): unfinished jobs come back via lock expiry.
    await abandonWorker(this.worker, FORCED_CLOSE_MS);
  }
}
