/**
 * The fast path: delivery of jobs handed over from memory (the spool's fast lane, queue/fast-lane.ts)
 * instead of fetched from BullMQ. Each job runs the same `processDelivery` as a BullMQ job (shaping
 * gate, suppression, DKIM'd body, SMTP, retry classes, operator marks) on the body it came with,
 * followed through as the worker's are (after-attempt.ts); the outcome ends its lease in one script (`JobLeases.finish`) or hands it to BullMQ as a delayed
 * job in one MULTI (`requeue`: retries, throttle waits, parking). Leases are renewed while their
 * attempts run, every third of the lease time, in one script per queue shard for all of them
 * (allowed while Redis is full: queue/leases.ts).
 * Room: the lane may hold (`announce`d room) every slot BullMQ's worker is not using but one (and
 * never BullMQ's floor: with queue shards a worker per shard, each with at least 1 slot), and
 * the worker's BullMQ concurrency is kept at `concurrency` minus what the lane may hold (until the
 * host has seen a smaller room, the larger one counts). So the two sources never run more than
 * `concurrency` jobs together, BullMQ can always take one more job, and each job it takes shrinks
 * the lane by one: a BullMQ backlog (retries due, overflow) takes slots over as the lane's jobs
 * end, and an idle BullMQ leaves them all to the lane.
 * Through a Redis outage (a failover) or a full Redis (`maxmemory` under `noeviction`: the
 * requeue's MULTI refused with `EXECABORT`) the end of an attempt — finish or requeue — is retried
 * (delivery/outage.ts) while the job stays in the lane and its lease is renewed, so it is
 * recorded once Redis answers or has memory again instead of waiting for the lease to expire and
 * running again.
 * Needs injected: the worker's deps, the leases, the worker itself, and `announce`, which tells
 * the host the room and how many jobs finished since the last call.
 */

import type { DeliveryJobData, FastJob, JobLeases } from '../queue/index.js';
import { outageStopController } from '../redis/index.js';
import { type AfterAttemptOptions, afterAttempt } from './after-attempt.js';
import { rideEnding } from './outage.js';
import { processDelivery } from './process.js';
import type { WorkerSlots } from './thread-workers.js';

/** How often the room is re-evaluated while nothing else happens (BullMQ work appearing). */
const ROOM_CHECK_MS = 50;
/** Leases are renewed this many times per lease time. */
const RENEWALS_PER_TTL = 3;
const MIN_RENEW_MS = 100;

export interface FastPathOptions extends AfterAttemptOptions {
  leases: JobLeases;
  /** The BullMQ side sharing the slots (a thread's shard workers, thread-workers.ts). */
  worker: WorkerSlots;
  concurrency: number;
  leaseTtlMs: number;
  /** The host may hold `room` jobs in this lane (handed, not reported done); `done` finished since. */
  announce(room: number, done: number): void;
}

export class FastPath {
  private readonly running = new Map<string, Promise<void>>();
  private room = 0;
  private done = 0;
  /** Room announcements the host has not acknowledged, and the largest room among them. */
  private unacked = 0;
  private unackedRoom = 0;
  private closing = false;
  /** Aborted when close() stops waiting: endings still retrying through an outage give up. */
  private readonly stopping = outageStopController();
  private evaluateQueued = false;
  private readonly roomTimer: NodeJS.Timeout;
  private readonly renewTimer: NodeJS.Timeout;

  constructor(private readonly options: FastPathOptions) {
    this.roomTimer = setInterval(() => this.evaluate(), ROOM_CHECK_MS);
    const renewMs = Math.max(MIN_RENEW_MS, Math.floor(options.leaseTtlMs / RENEWALS_PER_TTL));
    this.renewTimer = setInterval(() => this.renew(), renewMs);
    this.roomTimer.unref();
    this.renewTimer.unref();
    this.evaluate();
  }

  get activeJobs(): number {
    return this.running.size;
  }

  /** Jobs of one message from the host, with its body. */
  accept(jobs: readonly FastJob[], body: Buffer): void {
    for (const job of jobs) {
      const run = this.closing ? this.handBack(job) : this.runJob(job, body);
      this.running.set(job.id, run);
      void run.finally(() => {
        this.running.delete(job.id);
        this.done += 1;
        this.queueEvaluate();
      });
    }
  }

  /** The host has seen every room announced so far. */
  roomSeen(): void {
    this.unacked = Math.max(0, this.unacked - 1);
    if (this.unacked === 0) this.unackedRoom = 0;
    this.queueEvaluate();
  }

  /** Closes the lane (room 0), waits up to `graceMs` for the jobs running; the rest keep their leases. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    this.evaluate();
    clearInterval(this.roomTimer);
    const all = Promise.all(this.running.values()).then(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.stopping.abort();
    clearInterval(this.renewTimer);
  }

  private queueEvaluate(): void {
    if (this.evaluateQueued) return;
    this.evaluateQueued = true;
    setImmediate(() => {
      this.evaluateQueued = false;
      this.evaluate();
    });
  }

  private evaluate(): void {
    const { concurrency, worker } = this.options;
    // BullMQ keeps its running jobs and a free slot per queue shard (a worker each): a shard whose
    // slots a slow destination holds still takes its next job.
    const bullmqHolds = worker.activeJobs + worker.minConcurrency;
    const room = this.closing ? 0 : Math.max(0, concurrency - bullmqHolds);
    if (room !== this.room || this.done > 0) {
      if (room !== this.room) {
        this.unacked += 1;
        this.unackedRoom = Math.max(this.unackedRoom, this.room);
      }
      this.room = room;
      const done = this.done;
      this.done = 0;
      this.options.announce(room, done);
    }
    const laneMayHold = Math.max(this.running.size, this.room, this.unackedRoom);
    worker.setConcurrency(Math.max(1, concurrency - laneMayHold));
  }

  private renew(): void {
    const ids = [...this.running.keys()];
    if (ids.length === 0) return;
    this.options.leases
      .renew(ids, this.options.deps.now() + this.options.leaseTtlMs)
      .catch((err: unknown) => this.options.logger.warn({ err }, 'fast lane: lease renewal failed'));
  }

  /** A job that arrived while closing goes to BullMQ at once instead of waiting for its lease. */
  private async handBack(job: FastJob): Promise<void> {
    const { deps } = this.options;
    await this.requeue(job.id, job.data, deps.now()).catch((err: unknown) =>
      this.options.logger.warn({ err, jobId: job.id }, 'fast lane: hand-back failed; the lease expires'),
    );
  }

  private async runJob(job: FastJob, body: Buffer): Promise<void> {
    const { deps, logger, leases } = this.options;
    const jobId = job.id;
    // Fresh: handed over by the enqueue that leased it, never attempted (process.ts `Preloaded`).
    const preloaded = { body, fresh: job.data.attempts === 0 };
    try {
      await afterAttempt(job, () => processDelivery(job.data, deps, preloaded), this.options, {
        defer: (data, at) => this.requeue(jobId, data, at),
        promote: async () => {
          await (await deps.spool.queueFor(jobId).getJob(jobId))?.promote().catch(() => {});
        },
        finish: async () => {
          let tries = 0;
          const { lost, reportsDue } = await this.ride(jobId, 'finish', () => {
            tries += 1;
            return leases.finish(job.data.messageId, jobId);
          });
          if (lost && tries > 1)
            // An earlier try whose reply was lost took effect, or the lease was reaped meanwhile.
            logger.info(
              { jobId },
              'fast lane: lease already ended after a redis outage; the job may run again',
            );
          else if (lost)
            logger.warn({ jobId }, 'fast lane: lease had expired and was re-queued; the job may run again');
          return reportsDue;
        },
        ride: (what, op) => this.ride(jobId, what, op),
      });
    } catch (err) {
      // Redis failed (or stayed full) on the way out for longer than ENDING_RIDE_MS: the lease is no longer
      // renewed and expires, and a reaper re-queues the job from its last recorded data (the
      // attempt in flight may be repeated).
      logger.error({ err, jobId }, 'fast lane: ending the job failed; its lease will expire');
    }
  }

  /**
   * The lease handed to BullMQ as a job due at `at`, through an outage, only while the lease is
   * there (`JobLeases.requeue`): gone, a try whose reply was lost took effect or the reaper moved
   * it (the job is BullMQ's), or it vanished with its message — a write the strict barrier could
   * not confirm (its client heard 451 / 503) that the promoted replica never had: the job is
   * dropped, said in the log, and no job is made up without a body (a "body missing" bounce).
   */
  private async requeue(jobId: string, data: DeliveryJobData, at: number): Promise<void> {
    const { leases, deps, logger } = this.options;
    const { lost } = await this.ride(jobId, 'requeue', () => leases.requeue(jobId, data, at, deps.now()));
    if (!lost) return;
    const queued = await this.ride(jobId, 'pending check', () => deps.spool.isPending(data.messageId, jobId));
    if (queued) logger.info({ jobId }, 'fast lane: lease already ended or re-queued; not re-queued again');
    else
      logger.warn(
        { jobId, messageId: data.messageId },
        'fast lane: lease and message not in the spool (a write never confirmed, lost with a failover?); job dropped, nothing to deliver or bounce',
      );
  }

  private ride<T>(jobId: string, what: string, op: () => Promise<T>): Promise<T> {
    return rideEnding(what, op, { logger: this.options.logger, jobId, signal: this.stopping.signal });
  }
}
