/**
 * A hard bounce counts once per message × recipient, whichever side sees it first: delivery's
 * permanent refusal (feedback `hardBounces`) or a bounce report the bounce-processor received for
 * the same VERP token (record.ts). Each side sets `<prefix>:{queue}:feedback:hard:<message id>:
 * <sha256(address)>` with SET NX PX (in the message's queue shard) for the VERP max age — as long
 * as a report about the message can arrive — and counts only when it set it. Without a `bounce`
 * section no report is read, so delivery has nothing to dedupe against and counts as before.
 */
import { createHash } from 'node:crypto';
import { feedbackMarkerKey } from '../keys/index.js';
import { type ShardLayout, SINGLE_SHARD, shardOf } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';

export interface HardOnceParts {
  redis: RedisClient;
  prefix: string;
  layout?: ShardLayout | undefined;
  /** How long a marker lasts: the VERP max age. */
  ttlMs: number;
}

/** The marker of one message's hard bounce to one recipient (address compared case-insensitively). */
export function hardOnceKey(
  prefix: string,
  messageId: string,
  address: string,
  layout?: ShardLayout,
): string {
  const hash = createHash('sha256').update(address.toLowerCase()).digest('hex').slice(0, 32);
  return feedbackMarkerKey(prefix, 'hard', messageId, hash, shardOf(messageId, layout ?? SINGLE_SHARD));
}

/** Sets each recipient's marker; resolves with the addresses counted for the first time. */
export async function firstHardBounces(
  parts: HardOnceParts,
  messageId: string,
  addresses: readonly string[],
): Promise<string[]> {
  const fresh: string[] = [];
  for (const address of addresses) {
    const key = hardOnceKey(parts.prefix, messageId, address, parts.layout);
    if ((await parts.redis.set(key, '1', 'PX', parts.ttlMs, 'NX')) === 'OK') fresh.push(address);
  }
  return fresh;
}
