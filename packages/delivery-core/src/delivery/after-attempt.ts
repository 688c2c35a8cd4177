/**
 * What follows one delivery attempt, the same for a BullMQ job (worker.ts) and a fast-lane job
 * (fast-path.ts). Owns: an attempt that threw becomes a retry (outage.ts `retryAfterFault`: soon
 * when Redis did not answer, LOCAL_FAULT_RETRY_MS otherwise); an
 * operator's mark set while the job was in flight ends its pending recipients now; the follow-up
 * of failed recipients (DSN report lines recorded, suppression) runs before the job ends, and the
 * message's reports are sent after its last job ended (dsn-reports.ts); a retry or shaping wait records why in `data.delayed`, holds the job until its
 * time and parks it on its lane when the gate said so; a mark set after that check brings the job
 * back at once; a job whose message is not in the spool (`messageGone`: never confirmed and lost
 * with a failover, or already ended) is finished with a warning and no recipient event. Through a Redis outage (a failover) each of these Redis steps is retried by the
 * caller's `ride` (outage.ts `rideEnding`) while the job's lock or lease stays renewed; the
 * source's `defer` and `finish` ride their own steps. Guarantees: the job ends exactly one way,
 * deferred or finished.
 * Needs injected: the delivery deps, a logger, the parking and follow-up hooks, and the job's
 * source as a `JobEnding` (how this source holds, wakes and finishes a job).
 */
import type { Logger } from 'pino';
import type { DeliveryJobData } from '../queue/index.js';
import { applyOperatorMark } from './operator.js';
import { retryAfterFault } from './outage.js';
import type {
  DeliveryDeps,
  DeliveryOutcome,
  JobParking,
  RecipientFailure,
  RecipientNotice,
} from './types.js';

/** The parts an attempt's follow-through needs; the worker's and the fast path's options share them. */
export interface AfterAttemptOptions {
  deps: DeliveryDeps;
  logger: Logger;
  /** Jobs waiting for a site's connection slot, woken when one is released. */
  parked?: JobParking;
  /**
   * After an attempt in which recipients bounced or expired (DSN, suppression) or the sender asked
   * to hear about others (relayed, delayed: `notices`); errors are logged.
   */
  afterFailures?(
    data: DeliveryJobData,
    failures: RecipientFailure[],
    notices?: RecipientNotice[],
  ): Promise<void>;
  /**
   * The job was its message's last and the message has DSN reports recorded: send them
   * (dsn-reports.ts `flush`); errors are logged (the sweep sends them later).
   */
  reportsDue?(messageId: string): Promise<void>;
}

/** How the job's source ends it: BullMQ's delayed set and finishJob, or the lane's lease. */
export interface JobEnding {
  /** Holds the job until `at` (epoch ms) with `data` as its recorded state. */
  defer(data: DeliveryJobData, at: number): Promise<void>;
  /** Brings a deferred job back now (errors are the caller's to swallow or not). */
  promote(): Promise<void>;
  /**
   * The job is over: every recipient settled; its share of the spooled body is released. True
   * when it was the message's last and made its DSN reports due.
   */
  finish(): Promise<boolean>;
  /** Runs a Redis step that is safe to repeat, retrying it through an outage (bounded). */
  ride<T>(what: string, op: () => Promise<T>): Promise<T>;
}

/** Runs the attempt and follows it through; says whether the job was deferred or finished. */
export async function afterAttempt(
  job: { id: string; data: DeliveryJobData },
  attempt: () => Promise<DeliveryOutcome>,
  options: AfterAttemptOptions,
  ending: JobEnding,
): Promise<'deferred' | 'finished'> {
  const { deps, logger } = options;
  const jobId = job.id;
  let outcome: DeliveryOutcome;
  try {
    outcome = await attempt();
  } catch (err) {
    logger.error({ err, jobId }, 'delivery attempt failed locally; retrying later');
    outcome = { kind: 'retry', at: retryAfterFault(err, deps.now()), data: job.data };
  }
  if ((outcome.kind === 'retry' || outcome.kind === 'throttled') && deps.operatorMark) {
    // An operator deleted or bounced this job while it was in flight: its recipients still
    // pending end now instead of waiting for another attempt.
    const { data } = outcome;
    const mark = await ending.ride('operator mark', () => deps.operatorMark!(data));
    if (mark) outcome = applyOperatorMark(outcome.data, mark, deps);
  }
  if (outcome.kind !== 'throttled' && (outcome.failures || outcome.notices) && options.afterFailures) {
    // Before the job ends: the DSN quotes the original headers from the spooled body.
    await options
      .afterFailures(outcome.data, outcome.failures ?? [], outcome.notices ?? [])
      .catch((err: unknown) => logger.error({ err, jobId }, 'follow-up of failed recipients failed'));
  }
  if (outcome.kind === 'retry' || outcome.kind === 'throttled') {
    // A throttled job keeps its attempt count: only data of a real attempt changes it.
    const parkOn = outcome.kind === 'throttled' ? outcome.parkOn : undefined;
    // A parked job's `at` is its safety net if no release wakes it (the gate chose it).
    outcome.data.delayed =
      outcome.kind === 'retry'
        ? { kind: 'retry', until: outcome.at }
        : {
            kind: 'throttled',
            until: outcome.at,
            reason: outcome.reason,
            ...(parkOn ? { parkedOn: parkOn } : {}),
          };
    const { data, at } = outcome;
    await ending.defer(data, at);
    if (parkOn) await ending.ride('park', async () => options.parked?.park(parkOn, jobId, job.data.stream));
    // A mark set after the check above found the job still held: bring it back now, so the
    // mark is applied at once instead of after the wait.
    if (deps.operatorMark && (await ending.ride('operator mark', () => deps.operatorMark!(data))))
      await ending.promote();
    return 'deferred';
  }
  if (outcome.messageGone)
    logger.warn(
      { jobId, messageId: job.data.messageId },
      'job ended without an attempt: its message is not in the spool (a write never confirmed, lost with a failover, or already ended)',
    );
  if ((await ending.finish()) && options.reportsDue)
    await options
      .reportsDue(job.data.messageId)
      .catch((err: unknown) =>
        logger.error({ err, jobId }, 'sending the DSN reports failed; the sweep retries'),
      );
  return 'finished';
}
