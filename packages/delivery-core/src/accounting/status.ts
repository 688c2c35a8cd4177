/**
 * The accounting log's consumer name and its position, for `herald accounting status` and the
 * wiring: `accountingConsumer` is the cursor's name (`accounting:<name>`, the name being
 * `accounting.name`, else `node_id`, else the host name); `accountingStatus` reads the cursor, the
 * stream's head and oldest entry, and says how far behind the log is (entries counted up to
 * LAG_COUNT_MAX, and the time between the two ids) and whether trimming outran it. Read only.
 * Given the streams of every queue shard, ids are merged cursors (events/merged.ts), the lag is
 * summed over the streams.
 */
import { hostname } from 'node:os';
import type { HeraldConfig } from '../config/index.js';
import {
  CURSOR_SEPARATOR,
  newestCursor,
  oldestCursor,
  splitCursor,
  streamCursor,
  trimmedAfter,
} from '../events/index.js';
import type { RedisClient } from '../redis/index.js';

/** Entries behind counted at most (a lag past it prints as "at least"). */
export const LAG_COUNT_MAX = 10_000;

export function accountingConsumer(config: Pick<HeraldConfig, 'accounting' | 'node_id'>): string {
  return `accounting:${config.accounting?.name ?? config.node_id ?? hostname()}`;
}

export interface AccountingStatus {
  consumer: string;
  /** The last stream id written; undefined before the first batch. */
  cursor?: string;
  /** The newest and oldest ids in the stream; undefined when it is empty. */
  head?: string;
  oldest?: string;
  /** Entries after the cursor, counted up to LAG_COUNT_MAX (`lagCapped` then). */
  lagEntries: number;
  lagCapped: boolean;
  /** Milliseconds between the cursor's id and the head's (0 when caught up). */
  lagMs: number;
  /** Trimming dropped entries the log had not written yet. */
  gap: boolean;
}

function idMs(id: string): number {
  return Number(id.split('-')[0]);
}

export async function accountingStatus(
  redis: RedisClient,
  prefix: string,
  streamKeys: string | readonly string[],
  consumer: string,
): Promise<AccountingStatus> {
  const keys = typeof streamKeys === 'string' ? [streamKeys] : streamKeys;
  const cursor = await streamCursor(redis, prefix, consumer).load();
  const head = await newestCursor(redis, keys);
  const oldest = await oldestCursor(redis, keys);
  const at = cursor === undefined ? undefined : splitCursor(cursor, keys.length);
  let behind = 0;
  for (const [i, key] of keys.entries()) {
    const from = at === undefined ? '-' : `(${at[i]}`;
    behind += ((await redis.xrange(key, from, '+', 'COUNT', LAG_COUNT_MAX + 1)) as unknown[]).length;
  }
  const empty = head.split(CURSOR_SEPARATOR).every((id) => id === '0');
  const headMs = newestMs(head);
  const status: AccountingStatus = {
    consumer,
    lagEntries: Math.min(behind, LAG_COUNT_MAX),
    lagCapped: behind > LAG_COUNT_MAX,
    lagMs: empty
      ? 0
      : Math.max(0, headMs - (cursor === undefined ? oldestMs(oldest ?? head) : newestMs(cursor))),
    gap: cursor === undefined ? false : await trimmedAfter(redis, keys, cursor),
  };
  if (cursor !== undefined) status.cursor = cursor;
  if (!empty) status.head = head;
  if (oldest) status.oldest = oldest;
  return status;
}

/** The time of a cursor's newest id (ms). */
function newestMs(cursor: string): number {
  return Math.max(...cursor.split(CURSOR_SEPARATOR).map(idMs));
}

/** The time of a cursor's oldest non-empty id (ms). */
function oldestMs(cursor: string): number {
  const times = cursor
    .split(CURSOR_SEPARATOR)
    .filter((id) => id !== '0')
    .map(idMs);
  return times.length > 0 ? Math.min(...times) : 0;
}
