/**
 * Contract test of queue/bullmq-internals.ts against the installed BullMQ and a real
 * redis-server: every touchpoint on BullMQ's private API still behaves as the spool, the
 * delivery worker and `herald bench --backlog` rely on. A failure names the touchpoint; read
 * bullmq-internals.ts before upgrading bullmq past the pinned version.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  ADD_JOB_COMMANDS,
  abandonWorker,
  addJobInMulti,
  checkWorkerInternals,
  queueTransaction,
} from '../src/queue/index.js';

const PREFIX = 'contract';
const QUEUE = 'bullmq-contract';
const FAR_DELAY_MS = 24 * 3600 * 1000;
const POLL_MS = 10;
const DISCONNECT_MS = 2_000;

const UNTIL_LIMIT_MS = 10_000;

/** Resolves once `condition()` holds, or after UNTIL_LIMIT_MS (the assertion that follows then fails). */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + UNTIL_LIMIT_MS;
  while (!condition() && Date.now() < deadline) await sleep(POLL_MS);
}

describe('BullMQ touchpoints (queue/bullmq-internals.ts)', () => {
  let redis: RedisHandle;
  let client: Redis;
  let queue: Queue;
  before(async () => {
    redis = await startRedis();
    client = redis.client({ maxRetriesPerRequest: null });
    queue = new Queue(QUEUE, { connection: client, prefix: PREFIX });
  });
  after(async () => {
    await queue.close();
    await redis.stop();
  });

  for (const on of ['queue', 'lean'] as const)
    it(`enqueue-in-multi (MULTI on the ${on} connection): addJob queues one command in our MULTI, whose EXEC adds standard, prioritized and delayed jobs`, async () => {
      const lean = on === 'lean' ? redis.client({ maxRetriesPerRequest: 0 }) : undefined;
      const ids = ['job-0', 'job-1', 'job-2'].map((id) => `${on}-${id}`);
      const multi = await queueTransaction(queue, lean);
      multi.sadd('contract:pending', 'a', 'b', 'c');
      const options = [{}, { priority: 5 }, { delay: FAR_DELAY_MS }];
      const queued = options.map((opts, i) =>
        addJobInMulti(multi, new Job(queue, `d${i}.test`, { n: i }, { jobId: ids[i], ...opts }, ids[i])),
      );
      assert.deepEqual(
        queued,
        [ADD_JOB_COMMANDS, ADD_JOB_COMMANDS, ADD_JOB_COMMANDS],
        'enqueue-in-multi: job.addJob(multi) must queue ADD_JOB_COMMANDS commands synchronously',
      );
      const results = await multi.exec();
      assert.ok(results, 'enqueue-in-multi: EXEC aborted');
      assert.equal(
        results.length,
        1 + queued.length * ADD_JOB_COMMANDS,
        'enqueue-in-multi: EXEC must return one reply per command Herald counted (the spool maps replies to messages by these counts)',
      );
      assert.deepEqual(
        results.map(([err]) => err?.message ?? null),
        [null, null, null, null],
        'enqueue-in-multi: every command in the MULTI must succeed',
      );
      assert.deepEqual(
        results.slice(1).map(([, reply]) => String(reply)),
        ids,
        'enqueue-in-multi: the add-job reply is the job id Herald chose',
      );
      assert.deepEqual(
        await Promise.all(ids.map((id) => queue.getJobState(id))),
        ['waiting', 'prioritized', 'delayed'],
        'enqueue-in-multi: the jobs must land where BullMQ keeps them',
      );
      assert.deepEqual(
        (await queue.getJob(ids[1]!))?.data,
        { n: 1 },
        'enqueue-in-multi: job data round-trips',
      );
      if (lean) {
        const scripts = Object.keys((lean as unknown as { scriptsSet: object }).scriptsSet);
        assert.equal(
          scripts.length,
          4,
          `only the add-job scripts are defined on the lean connection: ${scripts.join(', ')}`,
        );
        lean.disconnect();
      }
    });

  for (const on of ['queue', 'lean'] as const)
    it(`enqueue-in-multi (${on} connection) after a full Redis refused a MULTI: the next MULTI adds its job, no NOSCRIPT inside its EXEC`, async () => {
      // A server that never ran the add-job scripts, and a connection that never sent them.
      await client.script('FLUSH');
      const own = redis.client({ maxRetriesPerRequest: null });
      const fresh = new Queue(QUEUE, { connection: own, prefix: PREFIX });
      const lean = on === 'lean' ? redis.client({ maxRetriesPerRequest: 0 }) : undefined;
      const id = `oom-${on}`;
      const tryAdd = async () => {
        const multi = await queueTransaction(fresh, lean);
        multi.sadd('contract:oom', id);
        addJobInMulti(multi, new Job(fresh, 'oom.test', {}, { jobId: id, delay: FAR_DELAY_MS }, id));
        return multi.exec();
      };
      try {
        await client.config('SET', 'maxmemory-policy', 'noeviction');
        await client.config('SET', 'maxmemory', '1');
        await assert.rejects(tryAdd(), { message: /^EXECABORT/ });
        await client.config('SET', 'maxmemory', '0');
        const results = await tryAdd();
        assert.deepEqual(
          results?.map(([err]) => err?.message ?? null),
          [null, null],
          'enqueue-in-multi: the add-job script must be loaded again after an aborted MULTI',
        );
        assert.equal(await queue.getJobState(id), 'delayed');
      } finally {
        await client.config('SET', 'maxmemory', '0');
        await fresh.close();
        lean?.disconnect();
      }
    });

  it('worker-abandon: a worker stuck in close() has its timers stopped and both connections dropped', async () => {
    let started!: () => void;
    const active = new Promise<void>((resolve) => {
      started = resolve;
    });
    const worker = new Worker(
      QUEUE,
      async () => {
        started();
        await new Promise(() => {}); // never finishes: close() waits for it forever
      },
      { connection: redis.client({ maxRetriesPerRequest: null }), prefix: PREFIX, autorun: false },
    );
    const internals = worker as unknown as {
      blockingConnection: { client: Promise<Redis> };
      lockManager: { isRunning(): boolean };
      stalledCheckStopper?: unknown;
    };
    assert.doesNotThrow(() => checkWorkerInternals(worker), 'worker-abandon: private members before run()');
    void worker.run().catch(() => {});
    await active;
    await until(() => internals.stalledCheckStopper !== undefined);
    assert.doesNotThrow(() => checkWorkerInternals(worker), 'worker-abandon: private members while running');
    assert.equal(
      internals.lockManager.isRunning(),
      true,
      'worker-abandon: lockManager renews locks while running',
    );
    void worker.close();
    await abandonWorker(worker, DISCONNECT_MS);
    assert.equal(
      internals.lockManager.isRunning(),
      false,
      'worker-abandon: lockManager.close() stops lock renewal',
    );
    // ioredis reports 'end' once the socket has closed, a tick or more after disconnect() returns.
    const blocking = await internals.blockingConnection.client;
    const own = await worker.client;
    await until(() => blocking.status === 'end' && own.status === 'end');
    assert.equal(
      blocking.status,
      'end',
      'worker-abandon: blockingConnection.disconnect() ends the blocking client',
    );
    assert.equal(own.status, 'end', 'worker-abandon: worker.disconnect() ends its client');
  });
});
