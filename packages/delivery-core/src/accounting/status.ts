/**
 * The accounting log's consumer name and its position, for `herald accounting status` and the
 * wiring: `accountingConsumer` is the cursor's name (`accounting:<name>`, the name being
 * `accounting.name`, else `node_id`, else the host name); `accountingStatus` reads the cursor, the
 * stream's head and oldest entry, and says how far behind the log is (entries counted up to
 * LAG_COUNT_MAX, and the time between the two ids) and whether trimming outran it. Read only.
 */
import { hostname } from 'node:os';
import type { HeraldConfig } from '../config/index.js';
import { streamCursor, trimmedAfter } from '../events/index.js';
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
  streamKey: string,
  consumer: string,
): Promise<AccountingStatus> {
  const cursor = await streamCursor(redis, prefix, consumer).load();
  const [head] = (await redis.xrevrange(streamKey, '+', '-', 'COUNT', 1)) as [string, string[]][];
  const [oldest] = (await redis.xrange(streamKey, '-', '+', 'COUNT', 1)) as [string, string[]][];
  const behind = (await redis.xrange(
    streamKey,
    cursor === undefined ? '-' : `(${cursor}`,
    '+',
    'COUNT',
    LAG_COUNT_MAX + 1,
  )) as unknown[];
  const status: AccountingStatus = {
    consumer,
    lagEntries: Math.min(behind.length, LAG_COUNT_MAX),
    lagCapped: behind.length > LAG_COUNT_MAX,
    lagMs: head
      ? Math.max(0, idMs(head[0]) - (cursor === undefined ? idMs(oldest?.[0] ?? head[0]) : idMs(cursor)))
      : 0,
    gap: cursor === undefined ? false : await trimmedAfter(redis, streamKey, cursor),
  };
  if (cursor !== undefined) status.cursor = cursor;
  if (head) status.head = head[0];
  if (oldest) status.oldest = oldest[0];
  return status;
}
