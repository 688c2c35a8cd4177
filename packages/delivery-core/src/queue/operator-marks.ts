/**
 * Operator marks: what an operator decided (`herald queue delete` / `bounce`) for a job that was
 * in flight when the decision was made, so could not be removed (BullMQ refuses to remove a
 * locked job). One hash per message, `<prefix>:{queue}:msg:<id>:op` (in the message's shard), field = the job's
 * destination domain (one job per message × domain), value = the mark as JSON; it expires after
 * OPERATOR_MARK_TTL_MS and is deleted with the message's body when its last job finishes.
 * Delivery reads the mark before an attempt (not before a fast-lane job's first, in flight since
 * its enqueue: delivery/process.ts `Preloaded`) and before it would schedule a retry, and applies
 * it to the recipients still pending (delivery/operator.ts). Needs injected: an ioredis client.
 */

import type { OperatorAction } from '../events/index.js';
import { type QueueKeys, queueKeys } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';

/**
 * How long a mark outlives its last write: far beyond an attempt's deadlines and a crashed
 * worker's lock expiry, after which the job is tried again and reads the mark.
 */
export const OPERATOR_MARK_TTL_MS = 24 * 3_600_000;
/** Longest operator reason kept (it goes into the reply text and the DSN). */
export const OPERATOR_REASON_MAX_CHARS = 200;

export interface OperatorMark {
  action: OperatorAction;
  /** The operator's words (`--reason`), for a bounce's reply and DSN. */
  reason?: string;
  /** When the operator acted (epoch ms). */
  at: number;
}

export class OperatorMarks {
  private readonly keysFor: (messageId: string) => QueueKeys;

  /** `shardKeys`: the keys of a message's shard (Spool.keysFor); absent: one shard of `prefix`. */
  constructor(
    private readonly redis: RedisClient,
    prefixOrShardKeys: string | ((messageId: string) => QueueKeys),
  ) {
    const p = prefixOrShardKeys;
    this.keysFor = typeof p === 'string' ? () => queueKeys(p) : p;
  }

  /** Marks the job of `messageId` to `domain` (one HSET + PEXPIRE on the message's hash). */
  async mark(messageId: string, domain: string, mark: OperatorMark): Promise<void> {
    const key = this.keysFor(messageId).operatorMarks(messageId);
    await this.redis
      .multi()
      .hset(key, domain, JSON.stringify(mark))
      .pexpire(key, OPERATOR_MARK_TTL_MS)
      .exec();
  }

  /** The mark of the job of `messageId` to `domain`, if an operator set one. */
  async read(messageId: string, domain: string): Promise<OperatorMark | undefined> {
    const raw = await this.redis.hget(this.keysFor(messageId).operatorMarks(messageId), domain);
    return raw === null ? undefined : parseMark(raw);
  }

  /** Forgets the job's mark (after it was applied). */
  async clear(messageId: string, domain: string): Promise<void> {
    await this.redis.hdel(this.keysFor(messageId).operatorMarks(messageId), domain);
  }
}

function parseMark(raw: string): OperatorMark | undefined {
  try {
    const value = JSON.parse(raw) as Partial<OperatorMark>;
    if (value.action !== 'delete' && value.action !== 'bounce') return undefined;
    return {
      action: value.action,
      at: typeof value.at === 'number' ? value.at : 0,
      ...(typeof value.reason === 'string' ? { reason: value.reason } : {}),
    };
  } catch {
    return undefined;
  }
}
