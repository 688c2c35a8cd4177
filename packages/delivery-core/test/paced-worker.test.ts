/**
 * The delivery worker's BullMQ Worker against a full Redis (maxmemory reached under noeviction),
 * on a real redis-server: Redis refuses the move-to-active script with OOM, and BullMQ's own
 * Worker asks again at once — thousands of failed asks (and error logs) a second. PacedWorker
 * waits FETCH_REFUSED_PAUSE_MS after each refusal (the gaps between refusals, not a count in a time window), and still runs the job once Redis takes writes.
 * Its stalled-job checker, refused too, is stopped by close: BullMQ's own waits 5 s after the
 * refused check and then arms its next check's timer (stalledInterval, 30 s) after close.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { FETCH_REFUSED_PAUSE_MS, PacedWorker } from '../src/delivery/index.js';

const PREFIX = 'paced';
/** Refusals watched before memory is freed: enough for two gaps between asks. */
const REFUSALS = 3;
/** Timer slack allowed below the pause (timers fire late, never this early). */
const TIMER_SLACK_MS = 50;

async function errorsWhileFull(
  redis: RedisHandle,
  client: Redis,
  name: string,
  Kind: new (...args: ConstructorParameters<typeof Worker>) => Worker,
): Promise<{ gaps: number[]; ran: boolean; oom: boolean }> {
  const queue = new Queue(name, { connection: redis.client(), prefix: PREFIX });
  await queue.add('job', { n: 1 });
  await client.config('SET', 'maxmemory', '1');
  let ran = false;
  const worker = new Kind(
    name,
    async () => {
      ran = true;
    },
    // Fetches only: the stalled-job check's refusals are not these (and BullMQ's own Worker would
    // arm its next check's timer after close, holding the test process open 35 s).
    {
      connection: redis.client({ maxRetriesPerRequest: null }),
      prefix: PREFIX,
      autorun: false,
      skipStalledCheck: true,
    },
  );
  const refusedAt: number[] = [];
  let oom = false;
  worker.on('error', (err) => {
    refusedAt.push(performance.now());
    if (/^OOM /.test(err.message)) oom = true;
  });
  void worker.run();
  // Waits for refusals (events), not for a time; the bound only stops a broken run.
  const watchUntil = Date.now() + 30_000;
  while (refusedAt.length < REFUSALS && Date.now() < watchUntil) await sleep(20);
  const seen = refusedAt.slice(0, REFUSALS);
  await client.config('SET', 'maxmemory', '0');
  const deadline = Date.now() + 10_000;
  while (!ran && Date.now() < deadline) await sleep(20);
  await worker.close();
  await queue.close();
  assert.equal(seen.length, REFUSALS, `${REFUSALS} refusals seen`);
  return { gaps: seen.slice(1).map((t, i) => t - (seen[i] ?? t)), ran, oom };
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
    const { gaps, oom } = await errorsWhileFull(redis, client, 'plain', Worker);
    assert.ok(oom, 'Redis refused the fetch with OOM');
    // It asks again at once: no pause between refusals (a round trip, not a second).
    assert.ok(
      gaps.some((gap) => gap < FETCH_REFUSED_PAUSE_MS / 2),
      `gaps between refusals: ${gaps.map(Math.round).join(', ')} ms`,
    );
  });

  it('asks again after a pause, and runs the job once Redis takes writes', async () => {
    const { gaps, ran, oom } = await errorsWhileFull(redis, client, 'paced', PacedWorker);
    assert.ok(oom, 'Redis refused the fetch with OOM');
    // Every ask after a refusal waited the pause (a lower bound: a busy machine only adds to it).
    for (const gap of gaps)
      assert.ok(gap >= FETCH_REFUSED_PAUSE_MS - TIMER_SLACK_MS, `gap between refusals ${Math.round(gap)} ms`);
    assert.ok(ran, 'the job ran after memory was freed');
  });

  it('close cuts the stalled-job check a full Redis refused, and leaves it no timer', async () => {
    const queue = new Queue('stalled', { connection: redis.client(), prefix: PREFIX });
    await queue.add('job', { n: 1 });
    await client.config('SET', 'maxmemory', '1');
    const worker = new PacedWorker('stalled', async () => {}, {
      connection: redis.client({ maxRetriesPerRequest: null }),
      prefix: PREFIX,
      autorun: false,
    });
    let refused: Error | null = null;
    worker.on('error', (err) => {
      refused ??= err;
    });
    // The stalled-job checker alone (no fetches): it checks at once, then every stalledInterval.
    await worker.startStalledCheckTimer();
    const watchUntil = Date.now() + 10_000;
    while (refused === null && Date.now() < watchUntil) await sleep(20);
    await worker.close();
    await client.config('SET', 'maxmemory', '0');
    await queue.close();
    assert.match(String(refused), /OOM /, 'Redis refused the stalled-job check with OOM');
    // BullMQ's own flag, cleared when its checker loop ends (a timer armed after close kept it on).
    const { stalledCheckerRunning } = worker as unknown as { stalledCheckerRunning: boolean };
    assert.equal(stalledCheckerRunning, false, 'the stalled-job checker ended with close');
  });
});
