/**
 * The rest of a delay pass (dsn-reports.ts `sendDelayed`): the recipients of a message's other
 * jobs (other destination domains) that are still pending after at least one deferral (their job
 * data, as the worker last recorded it, has `lastError`), want delay notices and had none yet.
 * Read from BullMQ's jobs of the message's pending set; a job in the fast lane is in its first
 * attempt (never deferred) and is skipped. Reads only.
 */
import { type DsnRecipient, wantsReport } from '../dsn/index.js';
import type { DeliveryJobData, Spool } from '../queue/index.js';

/** Jobs of one message a delay pass reads at most (a message to more domains lists these). */
export const DELAY_PASS_MAX_JOBS = 100;

/** The enhanced status of a recorded reply ("451 4.2.0 try later" → 4.2.0), else 4.0.0. */
function statusOf(lastError: string): string {
  return /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(lastError)?.[1] ?? '4.0.0';
}

export async function othersDeferred(
  spool: Pick<Spool, 'pendingJobIds' | 'queueFor'>,
  data: DeliveryJobData,
): Promise<DsnRecipient[]> {
  const ids = (await spool.pendingJobIds(data.messageId)).slice(0, DELAY_PASS_MAX_JOBS);
  const jobs = await Promise.all(ids.map((id) => spool.queueFor(id).getJob(id)));
  const lines: DsnRecipient[] = [];
  for (const job of jobs) {
    const other = job?.data as DeliveryJobData | undefined;
    if (!other || other.domain === data.domain) continue;
    for (const r of other.recipients) {
      if (r.state !== 'pending' || r.lastError === undefined || r.delayNotifiedAt !== undefined) continue;
      if (!wantsReport(r.notify, 'delay')) continue;
      lines.push({
        address: r.address,
        action: 'delayed',
        orcpt: r.orcpt,
        status: statusOf(r.lastError),
        diagnostic: r.lastError,
      });
    }
  }
  return lines;
}
