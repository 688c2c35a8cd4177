/**
 * Deadlines of a message transfer (SMTP DATA): the whole phase must end within `timeoutMs`, and
 * once `graceMs` have passed it must average at least `minBytesPerSecond`, so a client dripping
 * a byte now and then (which resets an idle timeout every time) cannot hold its slot. Pure: the
 * caller samples the clock and the byte count every DATA_PACE_CHECK_MS and acts on a verdict.
 */

export interface DataPaceLimits {
  timeoutMs: number;
  minBytesPerSecond: number;
  graceMs: number;
}

export type DataPaceVerdict = 'data_timeout' | 'data_rate';

/** How often a transfer in progress is checked. */
export const DATA_PACE_CHECK_MS = 500;

const MS_PER_SECOND = 1000;

/** Why the transfer that began at `startedAt` and has `bytes` so far must end now, or undefined. */
export function dataPaceVerdict(
  startedAt: number,
  now: number,
  bytes: number,
  limits: DataPaceLimits,
): DataPaceVerdict | undefined {
  const elapsedMs = now - startedAt;
  if (elapsedMs >= limits.timeoutMs) return 'data_timeout';
  if (elapsedMs > limits.graceMs && bytes * MS_PER_SECOND < limits.minBytesPerSecond * elapsedMs)
    return 'data_rate';
  return undefined;
}
