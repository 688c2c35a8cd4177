/**
 * The lease reaper: every relay that delivers moves fast-lane leases whose holder stopped renewing
 * them (a crashed relay or thread) to BullMQ, every half lease time, on a connection of its own
 * (WATCH is per connection: queue/leases.ts `reapExpired`). Its first pass also takes back, at
 * once, every lease an earlier run of this node held (with `node_id`: a restart after a crash
 * re-queues that run's jobs without waiting for their leases to expire). Passes never overlap.
 * Every queue shard is served: a BullMQ queue per shard on the reaper's connection, made on first use.
 */
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { DeliveryJobData, JobLeases } from '../queue/index.js';
import type { RedisClient } from '../redis/index.js';

const MIN_INTERVAL_MS = 250;

export interface LeaseReaperOptions {
  /** A connection of the reaper's own (maxRetriesPerRequest null), disconnected by close(). */
  connection: RedisClient;
  /** BullMQ's prefix of a shard's delivery queue. */
  bullmqPrefixOf(shard: number): string;
  queueName: string;
  leases: JobLeases;
  leaseTtlMs: number;
  /** Runs of this node whose leases are taken back at once (an earlier run of the same node_id). */
  takeBack?: (node: string) => boolean;
  logger: Logger;
  now?: () => number;
}

export interface LeaseReaper {
  close(): Promise<void>;
}

export function startLeaseReaper(options: LeaseReaperOptions): LeaseReaper {
  const { leases, logger } = options;
  const now = options.now ?? Date.now;
  const { connection } = options;
  connection.on('error', (err) => logger.debug({ err: err.message }, 'redis lease reaper connection error'));
  const queues = new Map<number, Queue<DeliveryJobData>>();
  const queueOf = (shard: number): Queue<DeliveryJobData> => {
    let queue = queues.get(shard);
    if (!queue) {
      queue = new Queue<DeliveryJobData>(options.queueName, {
        connection,
        prefix: options.bullmqPrefixOf(shard),
      });
      queues.set(shard, queue);
    }
    return queue;
  };
  let first = true;
  let running: Promise<void> = Promise.resolve();
  let closed = false;
  let busy = false;
  const pass = () => {
    if (busy) return;
    busy = true;
    running = (async () => {
      try {
        const moved = await leases.reapExpired(queueOf, now(), first ? options.takeBack : undefined);
        first = false;
        if (moved > 0) logger.warn({ moved }, 'fast lane: re-queued jobs whose lease had expired');
      } catch (err) {
        logger.debug({ err }, 'fast lane: lease reaper pass failed');
      } finally {
        busy = false;
      }
    })();
  };
  const timer = setInterval(
    () => {
      if (!closed) pass();
    },
    Math.max(MIN_INTERVAL_MS, Math.floor(options.leaseTtlMs / 2)),
  );
  timer.unref();
  pass();
  return {
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
      await Promise.all([...queues.values()].map((queue) => queue.close().catch(() => {})));
      connection.disconnect();
    },
  };
}
