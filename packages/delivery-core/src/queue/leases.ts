/**
 * Job leases: a job handed to an in-process delivery lane straight from memory (the fast lane,
 * fast-lane.ts) instead of BullMQ is recorded as a lease — its id in `<prefix>:{queue}:leases`
 * scored by expiry, its record (`{node, data}`) in `<prefix>:{queue}:lease:<job id>` — written in
 * the enqueue MULTI, so the 250 still means "durably queued". While its attempt runs the holder
 * renews it (`renew`, batched); the attempt ends it with one script (`finish`: lease, pending set
 * and, for the message's last job, body and record) or one MULTI back to BullMQ (`requeue` with
 * a delayed job: deferrals, throttle waits, parking; only while the lease exists, so a lease lost
 * with a failover never becomes a job without a body). Renewal runs in a script flagged
 * `allow-oom`: a full Redis (`maxmemory`, `noeviction`) refuses `ZADD` even with `XX`, and a holder
 * waiting for memory to record its attempt's end (delivery/outage.ts) must keep its lease, or the
 * reaper would re-queue the job once memory is freed and its attempt run again; the script only
 * moves existing entries' scores and expiries, so it takes no memory (the reaper's MULTI, which
 * adds a job, is refused while Redis is full). A lease whose holder stopped renewing
 * (a crash) is moved to BullMQ by any relay's reaper (`reapExpired`: WATCH on the lease record,
 * then BullMQ's add, ZREM and DEL in one MULTI, so a holder finishing meanwhile wins and nothing
 * is queued twice by the reaper). Same crash semantics as a BullMQ lock: only the attempt in
 * flight can be repeated.
 * Sharded (`queue.shards`): a lease lives in its message's shard (`<prefix>:{queue-i}:leases`,
 * `…:lease:<job id>`, so the enqueue MULTI stays in one slot) and goes back to that shard's BullMQ
 * queue; renewal is one pipeline per shard, counts, ids and the reaper cover every shard.
 */
import type { Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import type { QueueKeys } from '../keys/index.js';
import type { RedisClient } from '../redis/index.js';
import { queueTransaction } from './bullmq-internals.js';
import { messageEndLua } from './finish-lua.js';
import { addDeliveryJob } from './job-add.js';
import type { ShardQueues } from './shard-queues.js';
import type { DeliveryJobData } from './types.js';

/** Where a job's lease keys and BullMQ queue are (the spool's shards). */
export type LeaseShards = Pick<ShardQueues, 'keysFor' | 'queueFor' | 'shardKeys' | 'allShards'>;

/** What the lease record holds. */
export interface LeaseRecord {
  /** The relay run that took the job (its incarnation). */
  node: string;
  data: DeliveryJobData;
}

/** How many expired leases one reaper pass moves at most. */
export const REAP_BATCH = 100;
/** Lease records outlive their zset entry by far; the expiry is only a leak guard (7 days). */
const LEASE_RECORD_TTL_MS = 7 * 24 * 3600 * 1000;

/**
 * KEYS[1] leases zset, KEYS[2] lease record, KEYS[3] pending-jobs set, KEYS[4] body, KEYS[5]
 * message record, KEYS[6] operator marks, KEYS[7] DSN report collector, KEYS[8] reports-due zset.
 * ARGV[1] job id, ARGV[2] message id. When the lease is gone (reaped: the job is BullMQ's now)
 * nothing changes and {-1, -1, 0} is returned; else as FINISH_JOB_LUA (spool.ts) without its fields.
 */
const FINISH_LEASED_LUA = `
if redis.call('DEL', KEYS[2]) == 0 then return {-1, -1, 0} end
redis.call('ZREM', KEYS[1], ARGV[1])
local removed = redis.call('SREM', KEYS[3], ARGV[1])
${messageEndLua({ pending: 'KEYS[3]', body: 'KEYS[4]', record: 'KEYS[5]', marks: 'KEYS[6]', collector: 'KEYS[7]', due: 'KEYS[8]' })}`;

/**
 * KEYS[1] leases zset, KEYS[2..n] the lease records of the jobs in ARGV[3..] (same order).
 * ARGV[1] new expiry (epoch ms), ARGV[2] the records' TTL (ms), ARGV[3..] job ids. Moves each
 * job's lease to ARGV[1] only while it is leased (ZADD XX) and touches its record's expiry (a
 * reaper WATCHing it sees the holder is alive); returns how many leases were moved. Flagged
 * `allow-oom`: run while Redis is full (it only changes entries that exist).
 */
const RENEW_LEASES_LUA = `#!lua flags=allow-oom
local moved = 0
for i = 3, #ARGV do
  moved = moved + redis.call('ZADD', KEYS[1], 'XX', 'CH', ARGV[1], ARGV[i])
  redis.call('PEXPIRE', KEYS[i - 1], ARGV[2])
end
return moved`;

export class JobLeases {
  constructor(
    private readonly redis: RedisClient,
    private readonly shards: LeaseShards,
  ) {
    redis.defineCommand('heraldFinishLeased', { numberOfKeys: 8, lua: FINISH_LEASED_LUA });
    redis.defineCommand('heraldRenewLeases', { lua: RENEW_LEASES_LUA });
  }

  /** Queues a lease's write on `multi` (the enqueue MULTI); returns the commands queued. */
  static queueWrite(
    multi: ChainableCommander,
    keys: QueueKeys,
    jobId: string,
    record: LeaseRecord,
    expiresAt: number,
  ): number {
    multi
      .zadd(keys.leases, expiresAt, jobId)
      .set(keys.lease(jobId), JSON.stringify(record), 'PX', LEASE_RECORD_TTL_MS);
    return 2;
  }

  /**
   * Moves the leases of `jobIds` to `expiresAt` (only those still leased), also while Redis is
   * full; one script per shard (its keys stay in one slot), the shards' scripts sent together.
   */
  async renew(jobIds: readonly string[], expiresAt: number): Promise<void> {
    if (jobIds.length === 0) return;
    const byShard = new Map<number, string[]>();
    for (const id of jobIds) {
      const shard = this.shards.keysFor(id).shard;
      const ids = byShard.get(shard);
      if (ids) ids.push(id);
      else byShard.set(shard, [id]);
    }
    const run = (this.redis as unknown as Record<string, (...args: (string | number)[]) => Promise<number>>)
      .heraldRenewLeases!;
    await Promise.all(
      [...byShard].map(([shard, ids]) => {
        const keys = this.shards.shardKeys(shard);
        const records = ids.map((id) => keys.lease(id));
        return run.call(
          this.redis,
          1 + records.length,
          keys.leases,
          ...records,
          expiresAt,
          LEASE_RECORD_TTL_MS,
          ...ids,
        );
      }),
    );
  }

  /**
   * Ends a leased job that is done: drops the lease and the job from its message's pending set
   * (the last job also deletes record and marks, and the body unless DSN reports are due:
   * `reportsDue`, as `Spool.claimFinish`). `lost`: the lease had been reaped, the job is BullMQ's
   * now and nothing was changed.
   */
  async finish(
    messageId: string,
    jobId: string,
  ): Promise<{ lost: boolean; left: number; reportsDue: boolean }> {
    const run = (
      this.redis as unknown as Record<string, (...args: string[]) => Promise<[number, number, number]>>
    ).heraldFinishLeased!;
    const keys = this.shards.keysFor(jobId);
    const [removed, left, due] = await run.call(
      this.redis,
      keys.leases,
      keys.lease(jobId),
      keys.pendingJobs(messageId),
      keys.body(messageId),
      keys.message(messageId),
      keys.operatorMarks(messageId),
      keys.dsnReports(messageId),
      keys.dsnDue,
      jobId,
      messageId,
    );
    return { lost: removed === -1, left, reportsDue: due === 1 };
  }

  /**
   * Hands a leased job back to BullMQ as a delayed job due at `at` with `data` (its recipients'
   * states, `delayed`), and drops the lease, in one MULTI on the job's shard (its BullMQ queue).
   * Only while the lease is there: without it (`lost`: reaped, the job is BullMQ's now; or it
   * vanished with its whole message, a write the strict barrier could not confirm that a failover
   * did not keep) nothing is written, so no job is made up for a message the spool does not hold.
   * Were the lease reaped between the check and the MULTI, BullMQ's add of the existing job id
   * changes nothing.
   */
  async requeue(jobId: string, data: DeliveryJobData, at: number, now: number): Promise<{ lost: boolean }> {
    const queue = this.shards.queueFor(jobId);
    const keys = this.shards.keysFor(jobId);
    if ((await this.redis.exists(keys.lease(jobId))) === 0) return { lost: true };
    const multi = await queueTransaction(queue);
    addDeliveryJob(multi, queue, jobId, data, Math.max(0, at - now));
    multi.zrem(keys.leases, jobId).del(keys.lease(jobId));
    const results = await multi.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('lease requeue aborted');
    return { lost: false };
  }

  /** Leased jobs now in every shard (in flight or handed over): counted as active. */
  async count(): Promise<number> {
    const counts = await Promise.all(
      this.shards.allShards().map((shard) => this.redis.zcard(this.shards.shardKeys(shard).leases)),
    );
    return counts.reduce((sum, n) => sum + n, 0);
  }

  /**
   * The ids of the leased jobs now in every shard (at most `max`, the oldest first: ids sort by
   * acceptance whatever their shard), for queue operations: they are in flight.
   */
  async ids(max: number): Promise<string[]> {
    const perShard = await Promise.all(
      this.shards
        .allShards()
        .map((shard) => this.redis.zrange(this.shards.shardKeys(shard).leases, 0, max - 1)),
    );
    return perShard
      .flat()
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, max);
  }

  /** A leased job's data as recorded when it was leased (undefined when it is not leased). */
  async data(jobId: string): Promise<DeliveryJobData | undefined> {
    const raw = await this.redis.get(this.shards.keysFor(jobId).lease(jobId));
    return raw ? (JSON.parse(raw) as LeaseRecord).data : undefined;
  }

  /**
   * Moves up to REAP_BATCH leases per shard expired at `now` to their shard's BullMQ queue (ready
   * at once, with the data the lease recorded), one WATCH/MULTI each on the connection of
   * `ownQueueOf(shard)` (a BullMQ Queue of that shard on a connection of the caller's own, not
   * shared: WATCH is per connection, and BullMQ's scripts are loaded on it), every shard in turn.
   * With `takeBack`, the leases of the runs it names go whatever their expiry (a relay restarted
   * with the same node id takes back what its previous run held at once). Returns how many.
   */
  async reapExpired(
    ownQueueOf: (shard: number) => Queue<DeliveryJobData>,
    now: number,
    takeBack?: (node: string) => boolean,
  ): Promise<number> {
    let moved = 0;
    for (const shard of this.shards.allShards()) {
      const keys = this.shards.shardKeys(shard);
      const ownQueue = ownQueueOf(shard);
      const own = (await ownQueue.client) as unknown as RedisClient;
      const ids = takeBack
        ? await own.zrange(keys.leases, 0, -1)
        : await own.zrangebyscore(keys.leases, '-inf', now, 'LIMIT', 0, REAP_BATCH);
      for (const id of ids) if (await this.reapOne(ownQueue, own, keys, id, now, takeBack)) moved += 1;
    }
    return moved;
  }

  private async reapOne(
    ownQueue: Queue<DeliveryJobData>,
    own: RedisClient,
    keys: QueueKeys,
    jobId: string,
    now: number,
    takeBack?: (node: string) => boolean,
  ): Promise<boolean> {
    const key = keys.lease(jobId);
    await own.watch(key);
    try {
      const [raw, score] = await Promise.all([own.get(key), own.zscore(keys.leases, jobId)]);
      const record = raw ? (JSON.parse(raw) as LeaseRecord) : undefined;
      const expired = score !== null && Number(score) <= now;
      if (!record || score === null || !(expired || takeBack?.(record.node))) {
        if (!record && score !== null) await own.zrem(keys.leases, jobId); // record gone: stale entry
        await own.unwatch();
        return false;
      }
      const multi = await queueTransaction(ownQueue);
      addDeliveryJob(multi, ownQueue, jobId, record.data);
      multi.zrem(keys.leases, jobId).del(key);
      const results = await multi.exec();
      return results !== null && !results.some(([err]) => err);
    } catch (err) {
      await own.unwatch().catch(() => {});
      throw err;
    }
  }
}
