/**
 * The delivery worker's BullMQ Worker against a full Redis (maxmemory reached under noeviction),
 * on a real redis-server: Redis refuses the move-to-active script with OOM, and BullMQ's own
 * Worker asks again at once — thousands of failed asks (and error logs) a second. PacedWorker
 * waits FETCH_REFUSED_PAUSE_MS after each refusal, and still runs the job once Redis takes writes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { FETCH_REFUSED_PAUSE_MS, PacedWorker } from '../src/delivery/index.js';

const PREFIX = 'paced';
const FULL_MS = 2_000;

async function errorsWhileFull(
  redis: RedisHandle,
  client: Redis,
  name: string,
  Kind: new (...args: ConstructorParameters<typeof Worker>) => Worker,
): Promise<{ errors: number; ran: boolean; oom: boolean }> {
  const queue = new Queue(name, { connection: redis.client(), prefix: PREFIX });
  await queue.add('job', { n: 1 });
  await client.config('SET', 'maxmemory', '1');
  let ran = false;
  const worker = new Kind(
    name,
    async () => {
      ran = true;
    },
    { connection: redis.client({ maxRetriesPerRequest: null }), prefix: PREFIX, autorun: false },
  );
  let errors = 0;
  let oom = false;
  worker.on('error', (err) => {
    errors++;
    if (/^OOM /.test(err.message)) oom = true;
  });
  void worker.run();
  await sleep(FULL_MS);
  const counted = errors;
  await client.config('SET', 'maxmemory', '0');
  const deadline = Date.now() + 10_000;
  while (!ran && Date.now() < deadline) await sleep(20);
  await worker.close();
  await queue.close();
  return { errors: counted, ran, oom };
}

describe('PacedWorker (a fetch Redis refused)', () => {
  let redis: RedisHandle;
  let client: Redis;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    await client.config('SET', 'maxmemory-policy', 'noeviction');
  });
  after(() => redis.stop());

  it("BullMQ's own Worker spins on an OOM refusal (why PacedWorker exists)", async () => {
    const { errors, oom } = await errorsWhileFull(redis, client, 'plain', Worker);
    assert.ok(oom, 'Redis refused the fetch with OOM');
    assert.ok(errors > 50, `${errors} refusals in ${FULL_MS} ms`);
  });

  it('asks again after a pause, and runs the job once Redis takes writes', async () => {
    const { errors, ran, oom } = await errorsWhileFull(redis, client, 'paced', PacedWorker);
    assert.ok(oom, 'Redis refused the fetch with OOM');
    assert.ok(
      errors <= Math.ceil(FULL_MS / FETCH_REFUSED_PAUSE_MS) + 1,
      `${errors} refusals in ${FULL_MS} ms`,
    );
    assert.ok(ran, 'the job ran after memory was freed');
  });
});
