/**
 * The delivery queues of a sharded queue (`queue.shards`, shards.ts): one BullMQ `delivery`
 * queue per shard (prefix `<prefix>:{queue-i}`, made on first use, all on one connection: the
 * queue connection when one is given — BullMQ defines its ~50 scripts on the connection it uses,
 * and ioredis copies every script of a connection into each pipeline it makes there, ~24 µs
 * each, which the command connection's auto-pipelining must not pay — else the command
 * connection), the keys of a shard or of the shard a message id or job id is in, new message ids in
 * round robin over this process's count, and the sums over every shard. The spool extends it.
 */
import { Queue } from 'bullmq';
import { DELIVERY_QUEUE, type QueueKeys, queueKeys } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import { settlesWithin } from '../util/index.js';
import { newMessageId } from './ids.js';
import { allShards, type ShardLayout, shardOf, shardPicker } from './shards.js';
import type { DeliveryJobData } from './types.js';

/** How long close() lets a queue whose connection still starts finish starting. */
const CLOSE_READY_WAIT_MS = 2_000;

export class ShardQueues {
  private readonly queues = new Map<number, Queue<DeliveryJobData>>();
  private readonly keysOfShard = new Map<number, QueueKeys>();
  private readonly pickShard: () => number;

  constructor(
    protected readonly redis: RedisClient,
    protected readonly prefix: string,
    /** The layout now (a ShardRegistry: it grows when another process raises the count). */
    private readonly shards: { readonly layout: ShardLayout },
    /** The connection BullMQ's queues (and the enqueue MULTI) run on; default: `redis`. */
    private readonly queueRedis: RedisClient = redis,
  ) {
    this.pickShard = shardPicker(shards.layout.count);
  }

  /** The shard layout now (it grows when another process raises `queue.shards`). */
  get layout(): ShardLayout {
    return this.shards.layout;
  }

  /** Every shard to serve and read: 0 … max-1. */
  allShards(): number[] {
    return allShards(this.shards.layout);
  }

  /** The shard of a message id or job id. */
  shardOf(id: string): number {
    return shardOf(id, this.shards.layout);
  }

  /** A new message id in the next shard (round robin over this process's `queue.shards`). */
  newMessageId(shard = this.pickShard()): string {
    return newMessageId(Math.max(Date.now(), this.shards.layout.since ?? 0), shard);
  }

  /** The keys of `shard` (made once per shard: they are asked for several times per message). */
  shardKeys(shard: number): QueueKeys {
    let keys = this.keysOfShard.get(shard);
    if (!keys) {
      keys = queueKeys(this.prefix, shard);
      this.keysOfShard.set(shard, keys);
    }
    return keys;
  }

  /** The keys of the shard a message id or job id is in. */
  keysFor(id: string): QueueKeys {
    return this.shardKeys(this.shardOf(id));
  }

  /** BullMQ's delivery queue of `shard` (made on first use; every one on the queue connection). */
  queueOf(shard: number): Queue<DeliveryJobData> {
    let queue = this.queues.get(shard);
    if (!queue) {
      queue = new Queue<DeliveryJobData>(DELIVERY_QUEUE, {
        connection: this.queueRedis,
        prefix: queueKeys(this.prefix, shard).bullmqPrefix,
      });
      this.queues.set(shard, queue);
    }
    return queue;
  }

  /** The delivery queue holding a message's or job's jobs. */
  queueFor(id: string): Queue<DeliveryJobData> {
    return this.queueOf(this.shardOf(id));
  }

  /** The delivery queue of every shard, in shard order. */
  allQueues(): Queue<DeliveryJobData>[] {
    return this.allShards().map((shard) => this.queueOf(shard));
  }

  /** Jobs per state, summed over every shard. */
  async counts(): Promise<{ waiting: number; active: number; delayed: number; prioritized: number }> {
    const sum = { waiting: 0, active: 0, delayed: 0, prioritized: 0 };
    for (const queue of this.allQueues()) {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      sum.waiting += c.waiting ?? 0;
      sum.active += c.active ?? 0;
      sum.delayed += c.delayed ?? 0;
      sum.prioritized += c.prioritized ?? 0;
    }
    return sum;
  }

  async close(): Promise<void> {
    // A queue closed while its connection still starts gets a late "Connection is closed" with no
    // listener left (an unhandled rejection): let it finish starting first, bounded (an
    // unreachable Redis never gets there).
    await Promise.all(
      [...this.queues.values()].map(async (queue) => {
        await settlesWithin(
          queue.waitUntilReady().catch(() => {}),
          CLOSE_READY_WAIT_MS,
        );
        await queue.close();
      }),
    );
  }
}
