/**
 * BullMQ's Worker, paced after a refused fetch. BullMQ asks Redis for the next job again at once
 * when the ask fails with an error Redis answered (not a connection error, which it waits
 * `runRetryDelay` after): a full Redis (`OOM` under `maxmemory-policy noeviction`, which refuses
 * the move-to-active script) spun the relay's worker loop at thousands of failed asks, and
 * logged errors, per second for as long as Redis stayed full. `PacedWorker` waits
 * FETCH_REFUSED_PAUSE_MS after such a refusal before BullMQ sees it (and asks again); `close`
 * cuts the wait short. Relies on BullMQ's protected `moveToActive` (bullmq is pinned; its
 * contract test runs this class).
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import { type Job, Worker } from 'bullmq';
import { isRedisOutage } from '../redis/index.js';

/** The wait after Redis refused to hand out the next job, before it is asked again. */
export const FETCH_REFUSED_PAUSE_MS = 1_000;

export class PacedWorker<T> extends Worker<T> {
  private readonly closingNow = new AbortController();

  protected override async moveToActive(...args: Parameters<Worker<T>['moveToActive']>): Promise<Job<T>> {
    try {
      return await super.moveToActive(...args);
    } catch (err) {
      // A connection error is BullMQ's to wait on; an answer that refused is paced here.
      if (!isRedisOutage(err) && !this.closingNow.signal.aborted)
        await sleepFor(FETCH_REFUSED_PAUSE_MS, undefined, { signal: this.closingNow.signal }).catch(() => {});
      throw err;
    }
  }

  override close(force?: boolean): Promise<void> {
    this.closingNow.abort();
    return super.close(force);
  }
}
