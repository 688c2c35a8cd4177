/**
 * Fast-lane leases on a real redis-server: the spool leases a job the lane has room for instead of
 * adding it to BullMQ (and hands it over only after the EXEC); finishing a lease ends the job and,
 * for the message's last job, the message; a requeue makes it a delayed BullMQ job; the reaper
 * moves an expired lease (or, taking back a run's leases, any of that run's) to BullMQ with the
 * recorded data, and a holder finishing after that changes nothing. On a sharded queue every lease
 * lives in its message's shard and goes back to that shard's BullMQ queue; the reaper serves every shard.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  DELIVERY_QUEUE,
  type DeliveryJobData,
  type FastJob,
  type FastLane,
  newMessageId,
  Spool,
} from '../src/queue/index.js';

const TTL_MS = 30_000;

/** A lane with `room` slots that records what it was handed. */
function recordingLane(room: number) {
  const handed: { jobs: FastJob[]; body: Buffer }[] = [];
  let held = 0;
  const lane: FastLane = {
    reserve: () => {
      if (held >= room) return false;
      held++;
      return true;
    },
    unreserve: (n) => {
      held -= n;
    },
    hand: (jobs, body) => handed.push({ jobs, body }),
  };
  return { lane, handed };
}

describe('fast-lane leases', () => {
  let redis: RedisHandle;
  let client: Redis;
  let spool: Spool;
  let own: Redis;
  let ownQueue: Queue<DeliveryJobData>;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    spool = new Spool(client, 'herald');
    own = redis.client();
    ownQueue = new Queue<DeliveryJobData>(DELIVERY_QUEUE, {
      connection: own,
      prefix: spool.shardKeys(0).bullmqPrefix,
    });
  });
  after(async () => {
    await ownQueue.close();
    await spool.close();
    await redis.stop();
  });

  const enqueue = (recipients: string[]) =>
    spool.enqueue({
      id: newMessageId(),
      tenant: 't1',
      from: 'a@sender.test',
      recipients,
      body: Buffer.from('Subject: x\r\n\r\nbody\r\n'),
      acceptedAt: Date.now(),
    });

  it('leases what the lane has room for, hands it over after the EXEC, and adds the rest to BullMQ', async () => {
    const { lane, handed } = recordingLane(1);
    spool.useFastLane({ lane, leaseTtlMs: TTL_MS, node: 'n1|run1' });
    try {
      const result = await enqueue(['x@one.test', 'y@two.test']);
      const [first, second] = result.jobs;
      assert.deepEqual(
        handed.map((h) => h.jobs.map((j) => j.id)),
        [[first!.id]],
        'the first job is handed over, once',
      );
      assert.equal(handed[0]!.body.toString(), 'Subject: x\r\n\r\nbody\r\n');
      assert.equal(
        (await spool.queueFor(first!.id).getJob(first!.id)) ?? undefined,
        undefined,
        'a leased job is not in BullMQ',
      );
      assert.equal(
        (await spool.queueFor(second!.id).getJob(second!.id))?.data.domain,
        'two.test',
        'no room: BullMQ',
      );
      assert.equal((await spool.leases.data(first!.id))?.domain, 'one.test');
      assert.deepEqual(await spool.leases.ids(10), [first!.id]);
      assert.equal((await spool.counts()).active, 1, 'a leased job counts as active');

      // Finishing the leased job leaves the message (its other job is still pending).
      assert.deepEqual(await spool.leases.finish(result.messageId, first!.id), {
        lost: false,
        left: 1,
        reportsDue: false,
      });
      assert.deepEqual(await spool.leases.ids(10), []);
      assert.notEqual(await spool.getBody(result.messageId), null);
      await (await spool.queueFor(second!.id).getJob(second!.id))?.remove();
      assert.equal(await spool.finishJob(result.messageId, second!.id), 0);
      assert.equal(await spool.getBody(result.messageId), null, 'the last job deletes the message');
    } finally {
      spool.useFastLane(undefined);
    }
  });

  it('requeues a leased job as a delayed BullMQ job with its updated data, and makes up none without its lease', async () => {
    const { lane } = recordingLane(1);
    spool.useFastLane({ lane, leaseTtlMs: TTL_MS, node: 'n1|run1' });
    const result = await enqueue(['x@three.test']).finally(() => spool.useFastLane(undefined));
    const id = result.jobs[0]!.id;
    const data = (await spool.leases.data(id))!;
    const now = Date.now();
    data.attempts = 1;
    data.delayed = { kind: 'retry', until: now + 60_000 };
    assert.deepEqual(await spool.leases.requeue(id, data, now + 60_000, now), { lost: false });
    const job = await spool.queueFor(id).getJob(id);
    assert.equal(await job?.getState(), 'delayed');
    assert.equal(job?.data.attempts, 1);
    assert.deepEqual(await spool.leases.ids(10), []);
    await job?.remove();
    await spool.finishJob(result.messageId, id);
    // Lease and message gone (a write a failover did not keep): no job without a body.
    assert.deepEqual(await spool.leases.requeue(id, data, now + 60_000, now), { lost: true });
    assert.equal((await spool.queueFor(id).getJob(id)) ?? undefined, undefined);
  });

  it('the reaper moves expired leases to BullMQ, takes back a run’s leases at once, and a late finish changes nothing', async () => {
    const { lane } = recordingLane(2);
    spool.useFastLane({ lane, leaseTtlMs: TTL_MS, node: 'n1|old' });
    const result = await enqueue(['x@four.test', 'y@five.test']).finally(() => spool.useFastLane(undefined));
    const [a, b] = result.jobs.map((j) => j.id);

    assert.equal(await spool.leases.reapExpired(() => ownQueue, Date.now()), 0, 'nothing has expired yet');
    assert.equal(
      await spool.leases.reapExpired(
        () => ownQueue,
        Date.now(),
        (node) => node === 'n1|other',
      ),
      0,
      'another run’s leases are not taken back',
    );
    assert.equal(
      await spool.leases.reapExpired(
        () => ownQueue,
        Date.now(),
        (node) => node === 'n1|old',
      ),
      2,
      'a restart of node n1 takes back what its old run held',
    );
    for (const id of [a!, b!]) {
      const job = await spool.queueFor(id).getJob(id);
      assert.equal(await job?.getState(), 'waiting');
      assert.equal(job?.data.recipients[0]?.state, 'pending');
    }
    assert.deepEqual(await spool.leases.ids(10), []);
    // The old holder finishing now finds its lease gone: the pending set is untouched.
    assert.deepEqual(await spool.leases.finish(result.messageId, a!), {
      lost: true,
      left: -1,
      reportsDue: false,
    });
    assert.equal((await spool.pendingJobIds(result.messageId)).length, 2);

    // Expiry: a lease past its time is reaped by anyone.
    const { lane: lane2 } = recordingLane(1);
    spool.useFastLane({ lane: lane2, leaseTtlMs: TTL_MS, node: 'n2|run' });
    const late = await enqueue(['z@six.test']).finally(() => spool.useFastLane(undefined));
    const lateId = late.jobs[0]!.id;
    assert.equal(await spool.leases.reapExpired(() => ownQueue, Date.now() + TTL_MS + 1), 1);
    assert.equal(await (await spool.queueFor(lateId).getJob(lateId))?.getState(), 'waiting');
    assert.equal(await spool.leases.reapExpired(() => ownQueue, Date.now() + TTL_MS + 1), 0, 'idempotent');
  });
});

describe('fast-lane leases on a sharded queue (queue.shards: 4)', () => {
  const SHARDS = { layout: { count: 4, max: 4, since: 0 } };
  let redis: RedisHandle;
  let client: Redis;
  let spool: Spool;
  let own: Redis;
  const ownQueues = new Map<number, Queue<DeliveryJobData>>();
  const ownQueueOf = (shard: number) => {
    let queue = ownQueues.get(shard);
    if (!queue) {
      queue = new Queue<DeliveryJobData>(DELIVERY_QUEUE, {
        connection: own,
        prefix: spool.shardKeys(shard).bullmqPrefix,
      });
      ownQueues.set(shard, queue);
    }
    return queue;
  };
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    spool = new Spool(client, 'herald', { shards: SHARDS });
    own = redis.client();
  });
  after(async () => {
    for (const queue of ownQueues.values()) await queue.close();
    await spool.close();
    await redis.stop();
  });

  const enqueueIn = (shard: number, recipients: string[]) =>
    spool.enqueue({
      id: spool.newMessageId(shard),
      tenant: 't1',
      from: 'a@sender.test',
      recipients,
      body: Buffer.from('Subject: x\r\n\r\nbody\r\n'),
      acceptedAt: Date.now(),
    });

  it("writes each lease in its message's shard; count, ids, renew, finish and requeue follow the job's shard", async () => {
    const { lane, handed } = recordingLane(8);
    spool.useFastLane({ lane, leaseTtlMs: TTL_MS, node: 'n1|run1' });
    const results = await Promise.all([1, 3].map((shard) => enqueueIn(shard, ['x@one.test']))).finally(() =>
      spool.useFastLane(undefined),
    );
    assert.equal(handed.length, 2, 'both handed over after their shard’s EXEC');
    const [in1, in3] = results.map((r) => r.jobs[0]!.id);
    for (const [shard, id] of [
      [1, in1!],
      [3, in3!],
    ] as const) {
      assert.equal(spool.shardOf(id), shard);
      const keys = spool.shardKeys(shard);
      assert.notEqual(await client.zscore(keys.leases, id), null, `lease of ${id} in shard ${shard}`);
      assert.ok(await client.exists(keys.lease(id)), `lease record of ${id} in shard ${shard}`);
      assert.equal(await client.zscore(spool.shardKeys(0).leases, id), null, 'not in shard 0');
    }
    assert.equal(await spool.leases.count(), 2, 'leases of every shard counted');
    assert.deepEqual(await spool.leases.ids(10), [in1, in3].sort());
    assert.equal((await spool.counts()).active, 2, 'leased jobs of every shard are in flight');

    const later = Date.now() + 10 * TTL_MS;
    await spool.leases.renew([in1!, in3!], later);
    assert.equal(Number(await client.zscore(spool.shardKeys(3).leases, in3!)), later, 'renewed in its shard');

    // Done: the finish script runs on shard 1's keys and ends the message there.
    assert.deepEqual(await spool.leases.finish(results[0]!.messageId, in1!), {
      lost: false,
      left: 0,
      reportsDue: false,
    });
    assert.equal(await client.exists(spool.shardKeys(1).body(results[0]!.messageId)), 0, 'body gone');

    // Retry: back to shard 3's BullMQ queue as a delayed job.
    const data = (await spool.leases.data(in3!))!;
    const now = Date.now();
    await spool.leases.requeue(in3!, { ...data, attempts: 1 }, now + 60_000, now);
    const job = await spool.queueOf(3).getJob(in3!);
    assert.equal(await job?.getState(), 'delayed');
    assert.equal(await spool.queueOf(0).getJob(in3!), undefined, 'not in shard 0’s queue');
    assert.equal(await spool.leases.count(), 0);
    await job?.remove();
    await spool.finishJob(results[1]!.messageId, in3!);
  });

  it("the reaper serves every shard: an expired lease goes to its shard's BullMQ queue", async () => {
    const { lane } = recordingLane(4);
    spool.useFastLane({ lane, leaseTtlMs: TTL_MS, node: 'n2|run' });
    const results = await Promise.all([0, 2].map((shard) => enqueueIn(shard, ['y@two.test']))).finally(() =>
      spool.useFastLane(undefined),
    );
    const ids = results.map((r) => r.jobs[0]!.id);
    assert.equal(await spool.leases.reapExpired(ownQueueOf, Date.now()), 0, 'nothing has expired yet');
    assert.equal(await spool.leases.reapExpired(ownQueueOf, Date.now() + TTL_MS + 1), 2);
    for (const [shard, id] of [
      [0, ids[0]!],
      [2, ids[1]!],
    ] as const) {
      assert.equal(
        await (await spool.queueOf(shard).getJob(id))?.getState(),
        'waiting',
        `${id} in shard ${shard}`,
      );
      assert.equal(await client.exists(spool.shardKeys(shard).lease(id)), 0);
    }
    assert.equal(await spool.leases.count(), 0);
  });
});
