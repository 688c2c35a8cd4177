/**
 * The delivery worker: a BullMQ Worker on the delivery queue running `processDelivery` per job.
 * What follows each attempt is after-attempt.ts's (shared with the fast path): retries and
 * deferrals move the job to the delayed set with its updated per-recipient state (`DelayedError`:
 * BullMQ's own attempt counter is not used); finished jobs release their share of the spooled
 * body. An operator's mark (`herald queue delete` / `bounce` of a job in flight) is applied when
 * the attempt would schedule a retry or a shaping wait. A crashed worker's jobs come back after `lockDurationMs` (stalled check),
 * and are never failed for stalling (maxStalledCount is effectively unlimited): nothing is lost.
 * Through a Redis outage (a failover) or a full Redis (OOM) the end of an attempt is retried
 * (delivery/outage.ts) with the job's lock still renewed (not while Redis is full: BullMQ's lock
 * extension is refused then, so a full Redis outlasting `lock_duration` leaves the job to the
 * stalled check once memory is freed, its attempt repeated from its last saved data); a job started before that is no longer pending in the spool was
 * finished by that earlier run (its BullMQ completion lost with a failed master) and is not
 * attempted again, nor is a second copy of a job this worker is running (a move to active the
 * failed master had not replicated) before that run ends. A fetch Redis refused (full: OOM) is
 * asked again after a pause, not at once (paced-worker.ts).
 */
import { DelayedError, type Job, type Worker } from 'bullmq';
import { abandonWorker, checkWorkerInternals, DELIVERY_QUEUE, type DeliveryJobData } from '../queue/index.js';
import { outageStopController, type RedisClient } from '../redis/index.js';
import { settlesWithin } from '../util/index.js';
import { type AfterAttemptOptions, afterAttempt } from './after-attempt.js';
import { rideEnding } from './outage.js';
import { PacedWorker } from './paced-worker.js';
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
  /** Jobs running now, each to the end of its run (a second copy of one waits for it). */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Aborted when close() stops waiting: endings still retrying through an outage give up. */
  private readonly stopping = outageStopController();

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.worker = new PacedWorker<DeliveryJobData>(DELIVERY_QUEUE, (job, token) => this.run(job, token), {
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
    const jobId = job.id ?? '';
    // A second copy of a job this worker runs: wait for that run, then see whether it finished it.
    const earlier = this.inFlight.get(jobId);
    const running = (earlier ?? Promise.resolve()).then(() =>
      this.attempt(job, token, earlier !== undefined),
    );
    const settled = running.then(
      () => {},
      () => {},
    );
    this.inFlight.set(jobId, settled);
    try {
      await running;
    } finally {
      if (this.inFlight.get(jobId) === settled) this.inFlight.delete(jobId);
    }
  }

  private async attempt(job: Job<DeliveryJobData>, token: string | undefined, copy: boolean): Promise<void> {
    const { deps, logger } = this.options;
    const jobId = job.id ?? '';
    const ride = <T>(what: string, op: () => Promise<T>) =>
      rideEnding(what, op, { logger, jobId, signal: this.stopping.signal });
    if (
      (copy || job.attemptsStarted > 1) &&
      !(await ride('pending check', () => deps.spool.isPending(job.data.messageId, jobId)))
    ) {
      logger.info(
        { jobId },
        'job already finished by an earlier run (its completion was lost); not attempted again',
      );
      return;
    }
    const ended = await afterAttempt(
      { id: jobId, data: job.data },
      () => processDelivery(job.data, deps),
      this.options,
      {
        defer: async (data, at) => {
          await ride('job data', () => job.updateData(data));
          let tried = false;
          await ride('move to delayed', async () => {
            // A try whose reply was lost may have moved it already.
            if (tried && (await job.getState()) === 'delayed') return;
            tried = true;
            await job.moveToDelayed(at, token);
          });
        },
        promote: () => job.promote().catch(() => {}),
        finish: async () => {
          const { reportsDue } = await ride('finish', () =>
            deps.spool.claimFinish(job.data.messageId, jobId),
          );
          return reportsDue;
        },
        ride,
      },
    );
    if (ended === 'deferred') throw new DelayedError();
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
      this.stopping.abort();
    } else {
      // Not waiting for jobs: endings still retrying through an outage stop now.
      this.stopping.abort();
      if (await settlesWithin(this.worker.close(true), FORCED_CLOSE_MS)) return;
    }
    // BullMQ's close is waiting on jobs or on an unreachable Redis (a later close(true) only
    // returns the same pending promise): unfinished jobs come back via lock expiry.
    await abandonWorker(this.worker, FORCED_CLOSE_MS);
  }
}
