/**
 * Outboxes and dead-letter lists in Redis, all in the `{webhooks}` slot: per endpoint a list of
 * batch ids oldest first (`outbox:<endpoint>`, `dead:<endpoint>`), and per batch a hash with its
 * body (fixed when it was made, so every retry sends the same bytes under the same webhook-id),
 * endpoint, tenant, event count, attempts, first / last / next attempt times and last error. The
 * fan-out queues new batches inside its own MULTI (`queueBatch`); the sender reads the head,
 * acknowledges it, records a failure, or moves it to the dead-letter list; `replay` moves a dead
 * batch back to the end of its outbox with a fresh retry budget (same id).
 */
import { randomBytes } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { WebhookKeys } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';

/** Batches one endpoint's outbox holds at most; beyond it new batches go to its dead-letter list. */
export const OUTBOX_MAX_BATCHES = 1_000;
/** Longest last-error text kept (a reason line, never a response body). */
const MAX_ERROR_CHARS = 200;

export interface WebhookBatch {
  /** The `webhook-id` of every attempt. */
  id: string;
  endpoint: string;
  tenant: string;
  /** `{"events":[...]}` exactly as sent. */
  body: string;
  events: number;
  createdAt: number;
  attempts: number;
  firstAttemptAt?: number;
  lastAttemptAt?: number;
  nextAttemptAt?: number;
  lastError?: string;
  /** When it went to the dead-letter list. */
  deadAt?: number;
}

export type DeadReason = 'retry_expired' | 'outbox_full';

export function newBatchId(nowMs: number): string {
  return `msg_${nowMs.toString(36)}${randomBytes(8).toString('hex')}`;
}

function record(fields: Record<string, string>): WebhookBatch | undefined {
  if (!fields.id || fields.body === undefined) return undefined;
  const num = (name: string) => (fields[name] === undefined ? undefined : Number(fields[name]));
  return {
    id: fields.id,
    endpoint: fields.endpoint ?? '',
    tenant: fields.tenant ?? '',
    body: fields.body,
    events: num('events') ?? 0,
    createdAt: num('createdAt') ?? 0,
    attempts: num('attempts') ?? 0,
    firstAttemptAt: num('firstAttemptAt'),
    lastAttemptAt: num('lastAttemptAt'),
    nextAttemptAt: num('nextAttemptAt'),
    lastError: fields.lastError,
    deadAt: num('deadAt'),
  };
}

/** Queues a new batch on `tx`: into the endpoint's outbox, or its dead-letter list with `deadError`. */
export function queueBatch(
  tx: ChainableCommander,
  keys: WebhookKeys,
  batch: Pick<WebhookBatch, 'id' | 'endpoint' | 'tenant' | 'body' | 'events' | 'createdAt'>,
  deadError?: string,
): void {
  const fields: Record<string, string | number> = { ...batch, attempts: 0 };
  if (deadError !== undefined) Object.assign(fields, { deadAt: batch.createdAt, lastError: deadError });
  tx.hset(keys.batch(batch.id), fields);
  tx.rpush(deadError === undefined ? keys.outbox(batch.endpoint) : keys.dead(batch.endpoint), batch.id);
}

/**
 * KEYS[1] dead list, KEYS[2] outbox, KEYS[3] batch hash. ARGV[1] batch id.
 * Moves the batch from the dead list to the end of the outbox with a fresh retry budget
 * (attempts, times and the dead mark cleared; id, body and last error kept). Returns 1, or 0 when
 * the batch is not on that dead list.
 */
const REPLAY_LUA = `
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[3], 'attempts', 0)
redis.call('HDEL', KEYS[3], 'firstAttemptAt', 'nextAttemptAt', 'deadAt')
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1`;

export class Outbox {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: WebhookKeys,
  ) {}

  /** The oldest batch waiting for `endpoint`, or undefined. */
  async head(endpoint: string): Promise<WebhookBatch | undefined> {
    const id = await this.redis.lindex(this.keys.outbox(endpoint), 0);
    if (id === null) return undefined;
    const batch = record(await this.redis.hgetall(this.keys.batch(id)));
    if (batch) return batch;
    await this.redis.lrem(this.keys.outbox(endpoint), 1, id); // a record lost: nothing to send
    return this.head(endpoint);
  }

  /** The batch was delivered: off the outbox, record deleted. */
  async ack(batch: WebhookBatch): Promise<void> {
    await this.redis
      .multi()
      .lrem(this.keys.outbox(batch.endpoint), 1, batch.id)
      .del(this.keys.batch(batch.id))
      .exec();
  }

  /** One more failed attempt, and when the next one is due. */
  async recordFailure(
    batch: WebhookBatch,
    failure: {
      attempts: number;
      firstAttemptAt: number;
      lastAttemptAt: number;
      nextAttemptAt: number;
      error: string;
    },
  ): Promise<void> {
    await this.redis.hset(this.keys.batch(batch.id), {
      attempts: failure.attempts,
      firstAttemptAt: failure.firstAttemptAt,
      lastAttemptAt: failure.lastAttemptAt,
      nextAttemptAt: failure.nextAttemptAt,
      lastError: failure.error.slice(0, MAX_ERROR_CHARS),
    });
  }

  /** Moves the head batch to the endpoint's dead-letter list. */
  async deadLetter(batch: WebhookBatch, nowMs: number, fields: Partial<WebhookBatch> = {}): Promise<void> {
    const update: Record<string, string | number> = { deadAt: nowMs };
    for (const [name, value] of Object.entries(fields))
      if (value !== undefined)
        update[name] = name === 'lastError' ? String(value).slice(0, MAX_ERROR_CHARS) : value;
    await this.redis
      .multi()
      .lrem(this.keys.outbox(batch.endpoint), 1, batch.id)
      .hset(this.keys.batch(batch.id), update)
      .rpush(this.keys.dead(batch.endpoint), batch.id)
      .exec();
  }

  /** Batches waiting per endpoint. */
  async depths(endpoints: readonly string[]): Promise<Map<string, number>> {
    if (endpoints.length === 0) return new Map();
    const pipeline = this.redis.pipeline();
    for (const id of endpoints) pipeline.llen(this.keys.outbox(id));
    const replies = (await pipeline.exec()) ?? [];
    return new Map(endpoints.map((id, i) => [id, Number(replies[i]?.[1] ?? 0)]));
  }

  /** The dead-letter lists of `endpoints`, oldest first, at most `limit` batches (bodies left out). */
  async deadLetters(endpoints: readonly string[], limit: number): Promise<WebhookBatch[]> {
    const found: WebhookBatch[] = [];
    for (const endpoint of endpoints) {
      const ids = await this.redis.lrange(this.keys.dead(endpoint), 0, limit - found.length - 1);
      if (ids.length === 0) continue;
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hgetall(this.keys.batch(id));
      for (const [, fields] of (await pipeline.exec()) ?? []) {
        const batch = record((fields ?? {}) as Record<string, string>);
        if (batch) found.push({ ...batch, body: '' });
      }
      if (found.length >= limit) break;
    }
    return found;
  }

  /** Moves dead batch `id` of `endpoint` back to its outbox (fresh retry budget); false if not there. */
  async replay(endpoint: string, id: string): Promise<boolean> {
    const moved = await this.redis.eval(
      REPLAY_LUA,
      3,
      this.keys.dead(endpoint),
      this.keys.outbox(endpoint),
      this.keys.batch(id),
      id,
    );
    return moved === 1;
  }
}
