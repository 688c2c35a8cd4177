/**
 * Streams in the queue, on a real redis-server and BullMQ: transactional mail is added without a
 * priority and taken before any backlog of bulk mail; other streams get their priority, kept
 * through retries and promotions; jobs parked for a connection slot wake transactional first.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { DelayedError, type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { DELIVERY_QUEUE, type DeliveryJobData, newMessageId, queueKeys, Spool } from '../src/queue/index.js';
import { ParkedJobs } from '../src/shaping/index.js';

const PREFIX = 'herald';
const WAIT_STEP_MS = 20;
const WAIT_LIMIT_MS = 10_000;
const RETRY_LATER_MS = 3_600_000;
const PRIORITY_SHIFT = 2 ** 32;

async function waitFor(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
  }
}

describe('traffic streams in the delivery queue', () => {
  let redis: RedisHandle;
  let client: Redis;
  let spool: Spool;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    spool = new Spool(client, PREFIX);
  });
  beforeEach(async () => {
    await Promise.all(spool.allQueues().map((queue) => queue.obliterate({ force: true })));
  });
  after(async () => {
    await spool.close();
    await redis.stop();
  });

  const enqueue = (label: string, stream?: string, campaign?: string) =>
    spool.enqueue({
      id: newMessageId(),
      tenant: 'shop',
      from: 'news@shop.test',
      recipients: [`${label}@example.test`],
      body: Buffer.from(`Subject: ${label}\r\n\r\nbody\r\n`),
      acceptedAt: Date.now(),
      ...(stream ? { stream } : {}),
      ...(campaign ? { campaign } : {}),
    });

  /** Runs a concurrency-1 worker over the queue; returns the labels in the order it took them. */
  async function processInOrder(
    expected: number,
    handle?: (job: Job<DeliveryJobData>, token: string | undefined) => Promise<void>,
  ): Promise<string[]> {
    const order: string[] = [];
    const worker = new Worker<DeliveryJobData>(
      DELIVERY_QUEUE,
      async (job, token) => {
        order.push(job.data.recipients[0]!.address.split('@')[0]!);
        await handle?.(job, token);
      },
      {
        connection: redis.client({ maxRetriesPerRequest: null }),
        prefix: queueKeys(PREFIX).bullmqPrefix,
        concurrency: 1,
      },
    );
    try {
      await waitFor(`${expected} jobs processed`, () => order.length >= expected);
    } finally {
      await worker.close();
    }
    return order;
  }

  it('spools a bulk message as a prioritized job and a transactional one in the wait list', async () => {
    const bulk = await enqueue('b', 'bulk', 'spring');
    const plain = await enqueue('t');
    const named = await enqueue('n', 'transactional');
    const bulkJob = (await spool.queueFor(bulk.jobs[0]!.id).getJob(bulk.jobs[0]!.id))!;
    assert.equal(await bulkJob.getState(), 'prioritized');
    assert.equal(bulkJob.priority, 10);
    const score = Number(
      await client.zscore(`${queueKeys(PREFIX).bullmqPrefix}:${DELIVERY_QUEUE}:prioritized`, bulkJob.id!),
    );
    assert.equal(Math.floor(score / PRIORITY_SHIFT), 10, 'the prioritized set scores by priority');
    assert.equal(bulkJob.data.stream, 'bulk');
    assert.equal(bulkJob.data.campaign, 'spring');
    assert.deepEqual(
      await client.hmget(spool.keysFor(bulk.messageId).message(bulk.messageId), 'stream', 'campaign'),
      ['bulk', 'spring'],
    );
    for (const { messageId, jobs } of [plain, named]) {
      const job = (await spool.queueFor(jobs[0]!.id).getJob(jobs[0]!.id))!;
      assert.equal(await job.getState(), 'waiting');
      assert.equal(job.priority, 0);
      assert.equal('stream' in job.data, false, 'transactional is stored as absent');
      assert.equal(await client.hexists(spool.keysFor(messageId).message(messageId), 'stream'), 0);
    }
    assert.deepEqual(await spool.counts(), { waiting: 2, active: 0, delayed: 0, prioritized: 1 });
  });

  it('a worker with one slot takes transactional mail before a bulk backlog enqueued earlier', async () => {
    for (let i = 0; i < 6; i++) await enqueue(`bulk${i}`, 'bulk');
    for (let i = 0; i < 2; i++) await enqueue(`news${i}`, 'newsletters');
    for (let i = 0; i < 3; i++) await enqueue(`tx${i}`);
    const order = await processInOrder(11);
    assert.deepEqual(order, [
      'tx0',
      'tx1',
      'tx2',
      'news0',
      'news1',
      ...Array.from({ length: 6 }, (_, i) => `bulk${i}`),
    ]);
  });

  it('a retried bulk job keeps its priority when promoted, and still waits behind transactional mail', async () => {
    const bulk = await enqueue('bulk', 'bulk');
    const first = await processInOrder(1, async (job, token) => {
      await job.moveToDelayed(Date.now() + RETRY_LATER_MS, token);
      throw new DelayedError();
    });
    assert.deepEqual(first, ['bulk']);
    const job = (await spool.queueFor(bulk.jobs[0]!.id).getJob(bulk.jobs[0]!.id))!;
    assert.equal(await job.getState(), 'delayed');
    await enqueue('tx');
    await job.promote();
    assert.equal(await job.getState(), 'prioritized');
    assert.equal((await spool.queueFor(job.id!).getJob(job.id!))!.priority, 10);
    assert.deepEqual(await processInOrder(2), ['tx', 'bulk']);
  });
});

describe('jobs parked for a connection slot', () => {
  let redis: RedisHandle;
  let spool: Spool;
  let parked: ParkedJobs;
  before(async () => {
    redis = await startRedis();
    const client = redis.client();
    spool = new Spool(client, PREFIX);
    parked = new ParkedJobs(client, PREFIX, (jobId) => spool.queueFor(jobId), pino({ level: 'silent' }));
  });
  after(async () => {
    await spool.close();
    await redis.stop();
  });

  it('wake transactional jobs first, then other streams, then bulk, each oldest first', async () => {
    const site = 'example.test';
    const parkedJobs: [id: string, stream?: string][] = [
      ['bulk-1', 'bulk'],
      ['bulk-2', 'bulk'],
      ['news-1', 'newsletters'],
      ['tx-1'],
      ['tx-2', 'transactional'],
    ];
    let parkedAt = Date.now();
    for (const [id, stream] of parkedJobs) {
      const data = { recipients: [], stream } as unknown as DeliveryJobData;
      await spool.queueFor(id).add(site, data, { jobId: id, delay: RETRY_LATER_MS });
      await parked.park(site, id, stream, parkedAt++);
    }
    const woken: string[] = [];
    for (let i = 0; i < parkedJobs.length; i++) {
      await parked.wakeOne(site);
      const delayed = await Promise.all(spool.allQueues().map((queue) => queue.getDelayed()));
      const stillDelayed = new Set(delayed.flat().map((j) => j.id));
      const next = parkedJobs.map(([id]) => id).find((id) => !stillDelayed.has(id) && !woken.includes(id));
      woken.push(next ?? 'none');
    }
    assert.deepEqual(woken, ['tx-1', 'tx-2', 'news-1', 'bulk-1', 'bulk-2']);
  });

  it('a job parked twice is listed once, and a job no longer delayed is skipped', async () => {
    const site = 'twice.test';
    await spool.queueFor('gone').add(site, {} as DeliveryJobData, { jobId: 'gone', delay: RETRY_LATER_MS });
    await spool.queueFor('again').add(site, {} as DeliveryJobData, {
      jobId: 'again',
      delay: RETRY_LATER_MS,
      priority: 10,
    });
    await parked.park(site, 'gone');
    await parked.park(site, 'again', 'bulk');
    await parked.park(site, 'again', 'bulk');
    await (await spool.queueFor('gone').getJob('gone'))!.remove();
    await parked.wakeOne(site);
    assert.equal(await spool.queueFor('again').getJobState('again'), 'prioritized');
    await parked.wakeOne(site);
    assert.equal(await redis.client().exists(`${PREFIX}:site:${site}:parked-jobs`), 0);
  });
});
