/**
 * Traffic streams in the queue: the stream a job is stored with and the BullMQ priority it gets.
 * BullMQ takes jobs without a priority (the wait list) before every prioritized job, and
 * prioritized jobs lowest number first, FIFO within a number (bullmq 5.81 moveToActive /
 * fetchNextJob: RPOPLPUSH wait, else ZPOPMIN prioritized). So the default stream is added without
 * a priority and overtakes any backlog of other streams. A job keeps its priority through
 * moveToDelayed, promotion and delayed-job promotion (the scripts read the job hash's `priority`).
 */

/** The stream of a message that names none. Stored as absent (job data, records, events). */
export const DEFAULT_STREAM = 'transactional';

/** BullMQ priority per stream: 0 = none (ahead of all), then lower numbers first. */
const STREAM_PRIORITY: Readonly<Record<string, number>> = {
  [DEFAULT_STREAM]: 0,
  bulk: 10,
};
/** Any stream not in the table: after transactional mail, before bulk. */
export const OTHER_STREAM_PRIORITY = 5;

/** The stream as stored: undefined for the default stream. */
export function storedStream(stream: string | undefined): string | undefined {
  return stream === DEFAULT_STREAM ? undefined : stream;
}

/** The BullMQ priority of a stream's jobs (0: added without a priority). */
export function streamPriority(stream: string | undefined): number {
  if (stream === undefined) return 0;
  return Object.hasOwn(STREAM_PRIORITY, stream) ? STREAM_PRIORITY[stream]! : OTHER_STREAM_PRIORITY;
}
