/**
 * `herald bench --backlog N`: a queue that already holds N deferred messages.
 * Owns: filling the relay's Redis with N scheduled messages laid out exactly as spool.ts writes
 * them (body key, message record, pending-jobs set, one BullMQ job per domain) except that each
 * job is delayed by BACKLOG_DELAY_MS, so none becomes due during a run; reading Redis
 * `used_memory` around the fill and the delayed-job count (over every shard) afterwards.
 * With `queue.shards` > 1 the messages are spread as the spool spreads them: the shard count is
 * recorded in the shard registry, each new id names its shard, round robin (ShardQueues), and
 * each message lands in its shard's keys and BullMQ queue.
 * Guarantees: writes go out in batches of BATCH_MESSAGES, one MULTI per shard a batch touches,
 * with at most MAX_IN_FLIGHT batches outstanding (bounded memory); the fill stops with an error at
 * the deadline or on abort; the Redis connection is closed by close().
 * Needs injected: the Redis URL and key prefix of the relay, the deadline and an AbortSignal.
 */
import { performance } from 'node:perf_hooks';
import { connectRedis } from '@herald/delivery-core';
import {
  addJobInMulti,
  type DeliveryJobData,
  queueTransaction,
  ShardQueues,
  ShardRegistry,
} from '@herald/delivery-core/queue';
import { Job } from 'bullmq';
import type { ChainableCommander } from 'ioredis';

/** Far enough out that no backlog job becomes due during any bench run. */
export const BACKLOG_DELAY_MS = 24 * 3600 * 1000;
const BATCH_MESSAGES = 250;
const CONNECT_TIMEOUT_MS = 10_000;
const MAX_IN_FLIGHT = 4;
/** Deferred mail spreads over many destinations; jobs are named after their domain. */
const BACKLOG_DOMAINS = 1000;
const BACKLOG_TENANT = 'bench';
const BACKLOG_SENDER = 'backlog@bench.herald.test';
/** The same job options spool.ts gives every job (JOB_OPTIONS there), plus the delay. */
const JOB_ATTEMPTS_GUARD = 1_000_000;
const CRASH_BACKOFF_MS = 60_000;
const FAILED_JOB_RETENTION_S = 7 * 24 * 3600;
const AOF_POLL_MS = 200;
const PROGRESS_EVERY_MESSAGES = 50_000;

export interface BacklogFillResult {
  messages: number;
  fillMs: number;
  usedMemoryBefore: number;
  usedMemoryAfter: number;
  /** (after - before) / messages; null when messages is 0. */
  bytesPerMessage: number | null;
}

export interface BacklogFillOptions {
  messages: number;
  sizeBytes: number;
  deadline: number;
  signal: AbortSignal;
  onProgress?: (written: number) => void;
}

export interface Backlog {
  fill(opts: BacklogFillOptions): Promise<BacklogFillResult>;
  /** Jobs in BullMQ's delayed sets of the delivery queue, summed over every shard. */
  delayedCount(): Promise<number>;
  /**
   * Compacts the append-only file now (BGREWRITEAOF) and resolves once no rewrite is running or
   * scheduled, so the rewrite a large fill would trigger does not fall into the timed run.
   * Does nothing when AOF is off.
   */
  settleAof(deadline: number, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export function parseInfoField(info: string, field: string): number | null {
  const match = new RegExp(`^${field}:(\\d+)\\r?$`, 'm').exec(info);
  return match ? Number(match[1]) : null;
}

/** A printable, deterministic body of exactly `sizeBytes` bytes. */
export function backlogBody(sizeBytes: number): Buffer {
  const line = 'Deferred bench message body line, padded to a fixed width for the backlog.....\r\n';
  return Buffer.from(line.repeat(Math.ceil(sizeBytes / line.length) + 1).slice(0, sizeBytes));
}

/** `shards`: the relay's `queue.shards` (recorded in the shard registry before the fill). */
export async function openBacklog(redisUrl: string, prefix: string, shards = 1): Promise<Backlog> {
  // The bench's own private server (INFO below reads that one server).
  const redis = await connectRedis(redisUrl, {
    timeoutMs: CONNECT_TIMEOUT_MS,
    redis: { maxRetriesPerRequest: null },
    onError: () => {},
  });
  const queues = new ShardQueues(redis, prefix, await ShardRegistry.open(redis, prefix, shards));

  const usedMemory = async () => {
    const value = parseInfoField(await redis.info('memory'), 'used_memory');
    if (value === null) throw new Error('redis INFO memory has no used_memory');
    return value;
  };

  const queueMessage = (
    multi: ChainableCommander,
    shard: number,
    id: string,
    body: Buffer,
    seq: number,
    acceptedAt: number,
  ) => {
    const keys = queues.shardKeys(shard);
    const domain = `d${seq % BACKLOG_DOMAINS}.deferred.bench.test`;
    const jobId = `${id}.0`;
    multi.set(keys.body(id), body);
    multi.hset(keys.message(id), {
      from: BACKLOG_SENDER,
      tenant: BACKLOG_TENANT,
      size: body.length,
      acceptedAt,
      recipients: 1,
    });
    multi.sadd(keys.pendingJobs(id), jobId);
    const data: DeliveryJobData = {
      messageId: id,
      tenant: BACKLOG_TENANT,
      from: BACKLOG_SENDER,
      domain,
      recipients: [{ address: `${seq}rcpt@${domain}`, state: 'pending' }],
      attempts: 1,
      acceptedAt,
      size: body.length,
    };
    const job = new Job<DeliveryJobData>(
      queues.queueOf(shard),
      domain,
      data,
      {
        jobId,
        delay: BACKLOG_DELAY_MS,
        attempts: JOB_ATTEMPTS_GUARD,
        backoff: { type: 'fixed', delay: CRASH_BACKOFF_MS },
        removeOnComplete: true,
        removeOnFail: { age: FAILED_JOB_RETENTION_S },
      },
      jobId,
    );
    // As spool.ts does: the job's add script (addDelayedJob here) is queued inside our MULTI.
    addJobInMulti(multi, job);
  };

  /** One MULTI per shard the batch's messages fall in (each shard's keys share one hash tag). */
  const writeBatch = async (body: Buffer, from: number, count: number) => {
    const acceptedAt = Date.now();
    const byShard = new Map<number, { id: string; seq: number }[]>();
    for (let i = 0; i < count; i++) {
      const id = queues.newMessageId();
      const shard = queues.shardOf(id);
      const messages = byShard.get(shard) ?? [];
      messages.push({ id, seq: from + i });
      byShard.set(shard, messages);
    }
    await Promise.all(
      [...byShard].map(async ([shard, messages]) => {
        const multi = await queueTransaction(queues.queueOf(shard));
        for (const { id, seq } of messages) queueMessage(multi, shard, id, body, seq, acceptedAt);
        const results = await multi.exec();
        if (!results) throw new Error('backlog fill: transaction aborted');
        const failed = results.find(([err]) => err);
        if (failed) throw new Error(`backlog fill: ${failed[0]?.message}`);
      }),
    );
  };

  return {
    async fill(opts) {
      const before = await usedMemory();
      const t0 = performance.now();
      const body = backlogBody(opts.sizeBytes);
      const inFlight = new Set<Promise<void>>();
      let firstError: unknown;
      let next = 0;
      let nextProgress = PROGRESS_EVERY_MESSAGES;
      while (next < opts.messages && firstError === undefined) {
        if (opts.signal.aborted) throw new Error('interrupted');
        if (Date.now() >= opts.deadline) throw new Error(`backlog fill timed out after ${next} messages`);
        const count = Math.min(BATCH_MESSAGES, opts.messages - next);
        const p: Promise<void> = writeBatch(body, next, count).then(
          () => void inFlight.delete(p),
          (err: unknown) => {
            inFlight.delete(p);
            firstError ??= err;
          },
        );
        inFlight.add(p);
        next += count;
        if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
        if (next >= nextProgress) {
          opts.onProgress?.(next);
          nextProgress += PROGRESS_EVERY_MESSAGES;
        }
      }
      await Promise.all(inFlight);
      if (firstError !== undefined) throw firstError;
      const fillMs = performance.now() - t0;
      const after = await usedMemory();
      return {
        messages: opts.messages,
        fillMs,
        usedMemoryBefore: before,
        usedMemoryAfter: after,
        bytesPerMessage: opts.messages > 0 ? (after - before) / opts.messages : null,
      };
    },
    async delayedCount() {
      return (await queues.counts()).delayed;
    },
    async settleAof(deadline, signal) {
      if (parseInfoField(await redis.info('persistence'), 'aof_enabled') !== 1) return;
      // Fails harmlessly when a rewrite is already running; the loop below waits for that one.
      await redis.bgrewriteaof().catch(() => {});
      for (;;) {
        const info = await redis.info('persistence');
        const busy =
          parseInfoField(info, 'aof_rewrite_in_progress') === 1 ||
          parseInfoField(info, 'aof_rewrite_scheduled') === 1;
        if (!busy) return;
        if (signal.aborted) throw new Error('interrupted');
        if (Date.now() >= deadline) throw new Error('timed out waiting for the AOF rewrite after the fill');
        await new Promise((r) => setTimeout(r, AOF_POLL_MS));
      }
    },
    async close() {
      await queues.close().catch(() => {});
      redis.disconnect();
    },
  };
}
