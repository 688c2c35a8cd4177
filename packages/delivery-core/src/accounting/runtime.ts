/**
 * The accounting log built from a Herald config (its `accounting` section, the Redis prefix and
 * the event stream's key), so the relay and `herald accounting run` wire it the same way.
 */

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { HeraldConfig } from '../config/index.js';
import { streamCursor } from '../events/index.js';
import { readEventStreamKeys } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';
import { type AccountingLog, createAccountingLog } from './log.js';
import { accountingConsumer } from './status.js';

export interface AccountingDeps {
  /** A connection of its own (the follow blocks on it); the caller closes it after `stop`. */
  redis: RedisClient;
  logger: Logger;
  registry?: Registry;
  blockMs?: number;
}

/** The accounting log for `config`, or undefined when `accounting` is not configured. */
export function accountingFromConfig(
  config: Pick<HeraldConfig, 'accounting' | 'node_id' | 'redis'>,
  deps: AccountingDeps,
): AccountingLog | undefined {
  const section = config.accounting;
  if (!section) return undefined;
  const consumer = accountingConsumer(config);
  return createAccountingLog({
    redis: deps.redis,
    streamKey: () => readEventStreamKeys(deps.redis, config.redis.prefix),
    cursor: streamCursor(deps.redis, config.redis.prefix, consumer),
    directory: section.directory,
    format: section.format,
    records: section.records,
    logger: deps.logger.child({ consumer }),
    ...(deps.registry ? { registry: deps.registry } : {}),
    ...(deps.blockMs === undefined ? {} : { blockMs: deps.blockMs }),
  });
}
