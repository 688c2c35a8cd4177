/**
 * Fast-lane leases on a real redis-server: the spool leases a job the lane has room for instead of
 * adding it to BullMQ (and hands it over only after the EXEC); finishing a lease ends the job and,
 * for the message's last job, the message; a requeue makes it a delayed BullMQ job; the reaper
 * moves an expired lease (or, taking back a run's leases, any of that run's) to BullMQ with the
 * recorded data, and a holder finishing after that changes nothing.
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
      prefix: spool.keys.bullmqPrefix,
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
        (await spool.queue.getJob(first!.id)) ?? undefined,
        undefined,
        'a leased job is not in BullMQ',
      );
      assert.equal((await spool.queue.getJob(second!.id))?.data.domain, 'two.test', 'no room: BullMQ');
      assert.equal((await spool.leases.data(first!.id))?.domain, 'one.test');
      assert.deepEqual(await spool.leases.ids(10), [first!.id]);
      assert.equal((await spool.counts()).active, 1, 'a leased job counts as active');

      // Finishing the leased job leaves the message (its other job is still pending).
      assert.deepEqual(await spool.leases.finish(result.messageId, first!.id), { lost: false, left: 1 });
      assert.deepEqual(await spool.leases.ids(10), []);
      assert.notEqual(await spool.getBody(result.messageId), null);
      await (await spool.queue.getJob(second!.id))?.remove();
      assert.equal(await spool.finishJob(result.messageId, second!.id), 0);
      assert.equal(await spool.getBody(result.messageId), null, 'the last job deletes the message');
    } finally {
      spool.useFastLane(undefined);
    }
  });

  it('requeues a leased job as a delayed BullMQ job with its updated data', async () => {
    const { lane } = recordingLane(1);
    spool.useFastLane({ lane, leaseTtlMs: TTL_MS, node: 'n1|run1' });
    const result = await enqueue(['x@three.test']).finally(() => spool.useFastLane(undefined));
    const id = result.jobs[0]!.id;
    const data = (await spool.leases.data(id))!;
    const now = Date.now();
    data.attempts = 1;
    data.delayed = { kind: 'retry', until: now + 60_000 };
    await spool.leases.requeue(id, data, now + 60_000, now);
    const job = await spool.queue.getJob(id);
    assert.equal(await job?.getState(), 'delayed');
    assert.equal(job?.data.attempts, 1);
    assert.deepEqual(await spool.leases.ids(10), []);
    await job?.remove();
    await spool.finishJob(result.messageId, id);
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
      const job = await spool.queue.getJob(id);
      assert.equal(await job?.getState(), 'waiting');
      assert.equal(job?.data.recipients[0]?.state, 'pending');
    }
    assert.deepEqual(await spool.leases.ids(10), []);
    // The old holder finishing now finds its lease gone: the pending set is untouched.
    assert.deepEqual(await spool.leases.finish(result.messageId, a!), { lost: true, left: -1 });
    assert.equal((await spool.pendingJobIds(result.messageId)).length, 2);

    // Expiry: a lease past its time is reaped by anyone.
    const { lane: lane2 } = recordingLane(1);
    spool.useFastLane({ lane: lane2, leaseTtlMs: TTL_MS, node: 'n2|run' });
    const late = await enqueue(['z@six.test']).finally(() => spool.useFastLane(undefined));
    const lateId = late.jobs[0]!.id;
    assert.equal(await spool.leases.reapExpired(() => ownQueue, Date.now() + TTL_MS + 1), 1);
    assert.equal(await (await spool.queue.getJob(lateId))?.getState(), 'waiting');
    assert.equal(await spool.leases.reapExpired(() => ownQueue, Date.now() + TTL_MS + 1), 0, 'idempotent');
  });
});
