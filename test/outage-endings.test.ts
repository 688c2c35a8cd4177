/**
 * End to end: Redis goes away while deliveries are in flight and comes back before their
 * attempts end (a failover, a restart). With the default job locks (30 s), the relay that made
 * the attempts records their outcomes once Redis answers again — it does not leave them to crash
 * recovery (lease expiry or BullMQ's stalled check, then another attempt). So every recipient is
 * delivered exactly once, no recipient gets a second terminal event (a 554 "body missing" bounce
 * of a job that ran again after its message was finished), and the queue is idle again long
 * before a lock could have expired. Both delivery paths: the fast lane (delivery threads, jobs
 * handed over from memory under a lease) and the BullMQ worker (delivery.threads 0).
 * Redis runs with appendfsync always, so its restart loses nothing and only the outage is tested.
 * And what a lost BullMQ completion leaves behind: a job handed out again after an earlier run
 * finished it (its message gone from the spool) is not attempted again, so neither delivered twice
 * nor bounced `554 5.3.0` "body missing"; nor is a second copy of a job the worker is running (a
 * move to active the failed master had not replicated) while that run lasts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { queueKeys } from '@herald/delivery-core/keys';
import { allShards, DELIVERY_QUEUE, ShardRegistry, Spool } from '@herald/delivery-core/queue';
import { stallFor, stallUntil } from '@herald/test-harness';
import { Job, Queue } from 'bullmq';
import { TEST_SHARDS } from './lib/config.js';
import { terminalEventProblems } from './lib/events.js';
import { sampleMessage } from './lib/message.js';
import { startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const MESSAGES = 5;
/**
 * The sink holds its reply to the final dot this long while the worker hands out a second copy of
 * the job (the last case): the copy meets the first run still going.
 */
const HOLD_REPLY_MS = 3_000;
/** The config's default delivery.lock_duration: crash recovery would take at least this long. */
const DEFAULT_LOCK_MS = 30_000;
/** Idle well before any lock or lease could have expired and been recovered. */
const IDLE_WITHIN_MS = DEFAULT_LOCK_MS / 2;
const PREFIX = 'herald';

for (const path of [
  { name: 'the fast lane', threads: 1 },
  { name: 'the BullMQ worker', threads: 0 },
]) {
  describe(`Redis outage while attempts end (${path.name}, default locks)`, () => {
    it('each attempt is recorded once Redis is back: delivered once, no second attempt, no lock expiry waited for', {
      timeout: 90_000,
    }, async (t) => {
      // The sink holds its reply to each final dot until Redis is down (the test waits for every
      // message to be held first), so each attempt ends while Redis is down.
      let redisDown!: () => void;
      const held = new Promise<void>((resolve) => {
        redisDown = resolve;
      });
      const stack = await startStack({
        redis: { appendfsync: 'always' },
        sinks: [{ host: '127.0.0.2', script: { stages: { dataEnd: stallUntil(held) } } }],
        config: { redis: { prefix: PREFIX }, delivery: { threads: path.threads } },
      });
      t.after(() => stack.stop());
      const sink = stack.sinks[0]!;
      const recipients = Array.from({ length: MESSAGES }, (_, i) => `outage${i}@example.test`);
      for (const to of recipients) {
        const sent = await stack.submit({
          from: 'sender@origin.test',
          to: [to],
          body: sampleMessage({ subject: to }),
        });
        assert.equal(sent.code, 250, sent.response);
      }
      const heldAtSink = () =>
        sink
          .transcripts()
          .flatMap((c) => c.entries)
          .filter((e) => e.stage === 'dataEnd' && e.received);
      await waitUntil('every message at the sink, its reply held', () => heldAtSink().length === MESSAGES);
      if (path.threads > 0) {
        // Every queue shard's leases (HERALD_TEST_SHARDS).
        const shards = allShards(stack.relay.herald.shards.layout);
        const counts = await Promise.all(
          shards.map((s) => stack.redisClient.zcard(queueKeys(PREFIX, s).leases)),
        );
        const leased = counts.reduce((a, b) => a + b, 0);
        assert.equal(leased, MESSAGES, 'the jobs run in the fast lane (leased)');
      }

      await stack.redis.kill();
      const killedAt = Date.now();
      redisDown();
      await waitUntil('the sink replying 250 to every final dot (Redis down)', () =>
        heldAtSink().every((e) => e.fate?.kind === 'written'),
      );
      assert.ok(
        heldAtSink().every((e) => e.fate!.at >= killedAt),
        'every attempt ended after Redis went down',
      );
      await stack.redis.restart();
      const restartedAt = Date.now();

      await stack.waitForIdleQueue(IDLE_WITHIN_MS);
      t.diagnostic(`queue idle ${Date.now() - restartedAt} ms after Redis came back`);
      for (const to of recipients) {
        const truth = sink.truth().get(to);
        assert.equal(truth?.accepted, 1, `${to} delivered exactly once`);
      }
      await stack.relay.herald.events.flush();
      // The in-process record (the stream missed what was written while Redis was down).
      assert.deepEqual(terminalEventProblems(stack.events.all), [], 'one terminal event per recipient');
      assert.ok(
        stack.events.all.every((e) => e.type !== 'bounced'),
        'nothing bounced (no job ran again after its message was finished)',
      );
    });
  });
}

describe('a job BullMQ hands out again after it was finished (its completion lost with a master)', () => {
  it('is not attempted again: no second delivery, no "body missing" bounce', async (t) => {
    const stack = await startStack({
      // The first attempt is deferred, so BullMQ hands the job out a second time.
      sinks: [
        { host: '127.0.0.2', script: { rcpt: () => ({ code: 451, enhanced: '4.7.1', text: 'later' }) } },
      ],
      config: { redis: { prefix: PREFIX }, delivery: { threads: 0 } },
    });
    t.after(() => stack.stop());
    const client = stack.redis.client();
    const spool = new Spool(client, PREFIX, {
      shards: await ShardRegistry.open(client, PREFIX, TEST_SHARDS),
    });
    t.after(() => spool.close());
    const to = 'finished@example.test';
    const sent = await stack.submit({
      from: 'sender@origin.test',
      to: [to],
      body: sampleMessage({ subject: to }),
    });
    assert.equal(sent.code, 250, sent.response);
    const deferred = await stack.events.outcome('deferred', to);
    // What an earlier run that delivered it did before BullMQ's completion was lost: the job
    // finished in the spool (its message's last job: body and record gone), BullMQ's job left.
    const jobId = `${deferred.messageId}.0`;
    assert.equal(await spool.finishJob(deferred.messageId, jobId), 0);
    stack.sinks[0]!.setScript({});

    await stack.waitForIdleQueue();
    assert.equal(stack.sinks[0]!.messages.length, 0, 'not delivered again');
    assert.deepEqual(
      stack.events.all.filter((e) => e.type === 'bounced' || e.type === 'delivered'),
      [],
      'no outcome for the finished job',
    );
    assert.equal(stack.events.attempts(deferred.messageId).length, 1, 'one attempt, the first');
  });
});

describe('a second copy of a job the worker is running (a move to active lost with a master)', () => {
  it('waits for the first run and is not attempted again: delivered once', async (t) => {
    const stack = await startStack({
      sinks: [{ host: '127.0.0.2', script: { stages: { dataEnd: stallFor(HOLD_REPLY_MS) } } }],
      // One shard: the test reads that shard's BullMQ queue.
      config: { redis: { prefix: PREFIX }, delivery: { threads: 0 }, queue: { shards: 1 } },
    });
    t.after(() => stack.stop());
    const client = stack.redis.client();
    const queue = new Queue(DELIVERY_QUEUE, { connection: client, prefix: queueKeys(PREFIX).bullmqPrefix });
    t.after(() => queue.close());
    const to = 'copied@example.test';
    const sent = await stack.submit({
      from: 'sender@origin.test',
      to: [to],
      body: sampleMessage({ subject: to }),
    });
    assert.equal(sent.code, 250, sent.response);
    const sink = stack.sinks[0]!;
    await waitUntil('the message at the sink, its reply held', () =>
      sink.transcripts().some((c) => c.entries.some((e) => e.stage === 'dataEnd' && e.received)),
    );
    // Back to wait under the running attempt, as on a replica that never saw it move to active
    // (the test reads BullMQ's lock key for the token: simulating the loss, not Herald's contract).
    const [active] = await queue.getJobs(['active']);
    const jobId = active?.id;
    const token = await client.get(`${queueKeys(PREFIX).bullmqPrefix}:${DELIVERY_QUEUE}:${jobId}:lock`);
    assert.ok(jobId && token, 'the job is active with a lock');
    await (await Job.fromId(queue, jobId))!.moveToWait(token);

    await stack.events.terminal(to);
    await stack.waitForIdleQueue();
    assert.equal(sink.truth().get(to)?.accepted, 1, 'delivered exactly once');
    assert.deepEqual(terminalEventProblems(stack.events.all), [], 'one terminal event');
  });
});
