/**
 * BullMQ's Worker, paced after a refused fetch, and closed without a timer left behind. BullMQ
 * asks Redis for the next job again at once when the ask fails with an error Redis answered (not
 * a connection error, which it waits `runRetryDelay` after): a full Redis (`OOM` under
 * `maxmemory-policy noeviction`, which refuses the move-to-active script) spun the relay's worker
 * loop at thousands of failed asks, and logged errors, per second for as long as Redis stayed
 * full. `PacedWorker` waits FETCH_REFUSED_PAUSE_MS after such a refusal before BullMQ sees it (and
 * asks again). Its stalled-job checker waits STALLED_CHECK_RETRY_MS after a failed check (BullMQ's
 * wait, which close did not cut) and then arms its next check's timer even when the worker closed
 * meanwhile (nothing stopped it: a closed worker held the process open for up to
 * `stalledInterval`). `close` cuts both waits and stops a timer armed after it. Relies on BullMQ's
 * protected `moveToActive` and `checkConnectionError` and (queue/bullmq-internals.ts,
 * `worker-stalled-stop`) its private `stalledCheckStopper`; bullmq is pinned, its contract test
 * runs this class.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import { isNotConnectionError, type Job, type Processor, Worker, type WorkerOptions } from 'bullmq';
import { stopStalledChecksAfter } from '../queue/index.js';
import { isRedisOutage } from '../redis/index.js';

/** The wait after Redis refused to hand out the next job, before it is asked again. */
export const FETCH_REFUSED_PAUSE_MS = 1_000;
/** The wait after a stalled-job check failed, before the stalled interval starts (BullMQ's DELAY_TIME_5). */
export const STALLED_CHECK_RETRY_MS = 5_000;

export class PacedWorker<T> extends Worker<T> {
  private readonly closingNow = new AbortController();

  constructor(
    name: string,
    processor?: string | URL | Processor<T> | null,
    opts?: WorkerOptions,
    Connection?: ConstructorParameters<typeof Worker>[3],
  ) {
    super(name, processor, opts, Connection);
    stopStalledChecksAfter(this, this.closingNow.signal);
  }

  protected override async moveToActive(...args: Parameters<Worker<T>['moveToActive']>): Promise<Job<T>> {
    try {
      return await super.moveToActive(...args);
    } catch (err) {
      // A connection error is BullMQ's to wait on; an answer that refused is paced here.
      if (!isRedisOutage(err)) await this.pauseUnlessClosed(FETCH_REFUSED_PAUSE_MS);
      throw err;
    }
  }

  /** BullMQ's own (its stalled-job checker runs each check through it), with a wait close cuts. */
  protected override async checkConnectionError<R>(
    fn: () => Promise<R>,
    delayInMs = STALLED_CHECK_RETRY_MS,
  ): Promise<R | undefined> {
    try {
      return await fn();
    } catch (err) {
      if (isNotConnectionError(err as Error)) this.emit('error', err as Error);
      await this.pauseUnlessClosed(delayInMs);
      return undefined;
    }
  }

  override close(force?: boolean): Promise<void> {
    this.closingNow.abort();
    return super.close(force);
  }

  private async pauseUnlessClosed(ms: number): Promise<void> {
    if (ms > 0 && !this.closingNow.signal.aborted)
      await sleepFor(ms, undefined, { signal: this.closingNow.signal }).catch(() => {});
  }
}
