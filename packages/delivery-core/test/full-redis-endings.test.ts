/**
 * Attempts that end while Redis is full (`maxmemory` reached under `noeviction`), on a real
 * redis-server and SMTP sink: the sink holds its reply to the final dot until the test has made
 * Redis full, then Redis is given memory again. The end of each attempt waits through the
 * refusals (`redis is full` in the log) and is recorded by the process that made it — not left to
 * a lease's or lock's expiry and its job run again — and a fast-lane lease is still renewed while
 * Redis is full (a script allowed under OOM), so the reaper does not take the job meanwhile.
 * The fast lane finishing (its finish script is allowed under OOM) and deferring (the requeue's
 * MULTI is refused: `EXECABORT`), and the BullMQ worker deferring (the job's data write refused).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHerald, type Herald } from '@herald/delivery-core';
import type { HeraldEvent } from '@herald/delivery-core/events';
import { queueKeys } from '@herald/delivery-core/keys';
import {
  DELIVERY_QUEUE,
  type DeliveryJobData,
  type FastJob,
  type FastLane,
} from '@herald/delivery-core/queue';
import {
  type RedisHandle,
  type SmtpSinkHandle,
  stallUntil,
  startRedis,
  startSmtpSink,
} from '@herald/test-harness';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import pino from 'pino';

/** Short, so a lease renewal (every third of it) is seen soon; BullMQ's lock is as long. */
const LOCK_DURATION = '6s';
const PREFIX = 'herald';
const keys = queueKeys(PREFIX);
const LATER = { code: 451, enhanced: '4.3.0', text: 'try again later' };

/** Polls `probe` until it is true; throws after `ms`. */
async function waitUntil(what: string, probe: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('attempts ending while Redis is full (maxmemory, noeviction)', () => {
  let redis: RedisHandle;
  let direct: Redis;
  let sink: SmtpSinkHandle;
  let herald: Herald;
  let lane: ReturnType<typeof inProcessLane>;
  let queue: Queue<DeliveryJobData>;
  /** Per recipient: the moment the sink may answer its message's final dot. */
  const holds = new Map<string, Promise<void>>();
  const releases: (() => void)[] = [];
  const logs: { level: number; msg: string; jobId?: string }[] = [];
  const events: HeraldEvent[] = [];
  before(async () => {
    redis = await startRedis();
    direct = redis.client();
    await direct.config('SET', 'maxmemory-policy', 'noeviction');
    sink = await startSmtpSink({
      host: '127.0.0.2',
      script: {
        data: (msg) => (msg.to.some((to) => to.startsWith('later')) ? LATER : undefined),
        stages: {
          dataEnd: (ctx) => {
            const hold = holds.get(ctx.recipients[0] ?? '');
            return hold ? stallUntil(hold) : undefined;
          },
        },
      },
    });
    const logStream = new Writable({
      write(chunk, _enc, done) {
        logs.push(JSON.parse(String(chunk)));
        done();
      },
    });
    herald = await createHerald(
      {
        redis: { url: redis.url, prefix: PREFIX },
        routes: [{ match: '*', via: sink.address, tls: 'none' }],
        delivery: { lock_duration: LOCK_DURATION },
      },
      { logger: pino({ level: 'debug' }, logStream) },
    );
    herald.events.on((event) => events.push(event));
    await herald.startWorkers();
    lane = inProcessLane(herald);
    herald.useFastLane(lane);
    queue = new Queue<DeliveryJobData>(DELIVERY_QUEUE, { connection: direct, prefix: keys.bullmqPrefix });
  });
  // Each test starts with Redis taking writes (one that failed may have left it full).
  beforeEach(() => direct.config('SET', 'maxmemory', '0'));
  after(async () => {
    for (const release of releases) release();
    await direct.config('SET', 'maxmemory', '0');
    await queue.close();
    await herald.close();
    await sink.close();
    await redis.stop();
  });

  /** Sends one message to `to`, its final dot's reply held; resolves once the sink holds it. */
  async function sendHeld(to: string): Promise<{ jobId: string; release: () => void }> {
    let release: () => void = () => {};
    holds.set(to, new Promise<void>((resolve) => (release = resolve)));
    releases.push(release);
    const sent = await herald.send({ from: 'app@sender.test', to: [to], subject: to, text: 'x' });
    assert.deepEqual(sent.accepted, [to]);
    await waitUntil('the message at the sink, its reply held', () => sink.truth().get(to)?.received === 1);
    return { jobId: `${sent.messageId}.0`, release };
  }
  const leased = async (jobId: string) =>
    (await direct.zscore(keys.leases, jobId)) !== null || (await direct.exists(keys.lease(jobId))) === 1;
  const full = () => direct.config('SET', 'maxmemory', '1');
  const freed = () => direct.config('SET', 'maxmemory', '0');
  const of = (to: string, type: HeraldEvent['type']) =>
    events.filter((e) => e.type === type && 'recipient' in e && e.recipient === to);
  const noCrashRecovery = (jobId: string) => {
    const bad = logs.filter(
      (l) =>
        (l.jobId === jobId && l.level >= 40 && !l.msg.startsWith('redis is full')) ||
        l.msg.includes('lease had expired') ||
        l.msg.includes('re-queued jobs whose lease had expired'),
    );
    assert.deepEqual(bad, [], 'no lease left to expire, no reaper');
  };

  it('a fast-lane job delivered while Redis is full is finished once: one delivery, one terminal event, no lease, no BullMQ job', async () => {
    const to = 'delivered@example.test';
    const { jobId, release } = await sendHeld(to);
    assert.ok(await leased(jobId), 'the job runs in the fast lane (leased)');
    await full();
    release();
    await waitUntil('the delivered event', () => of(to, 'delivered').length === 1);
    await waitUntil('the lease ended', async () => !(await leased(jobId)));
    await freed();
    assert.equal(sink.truth().get(to)?.accepted, 1, 'delivered exactly once');
    assert.equal(await queue.getJob(jobId), undefined, 'no BullMQ job');
    assert.equal(of(to, 'bounced').length + of(to, 'deferred').length, 0);
    noCrashRecovery(jobId);
  });

  it('a fast-lane job deferred while Redis is full keeps its lease and is handed to BullMQ once memory is freed', async () => {
    const to = 'later-lane@example.test';
    const { jobId, release } = await sendHeld(to);
    assert.ok(await leased(jobId), 'the job runs in the fast lane (leased)');
    await full();
    release();
    await waitUntil('the requeue refused and retried', () =>
      logs.some(
        (l) =>
          l.jobId === jobId && l.level === 40 && l.msg === 'redis is full (maxmemory) (requeue); retrying',
      ),
    );
    const before = Number(await direct.zscore(keys.leases, jobId));
    await waitUntil('the lease renewed while Redis is full', async () => {
      return Number(await direct.zscore(keys.leases, jobId)) > before;
    });
    assert.match(String(await direct.info('memory')), /maxmemory:1\r/, 'still full');
    await freed();
    await waitUntil('the lease ended', async () => !(await leased(jobId)));
    const job = await queue.getJob(jobId);
    assert.equal(await job?.getState(), 'delayed', 'a delayed BullMQ job: the deferral, not the reaper');
    assert.equal(job?.data.attempts, 1, 'with the attempt recorded');
    assert.equal(job?.data.delayed?.kind, 'retry');
    assert.equal(sink.truth().get(to)?.received, 1, 'one attempt');
    assert.equal(of(to, 'deferred').length, 1, 'one deferred event');
    noCrashRecovery(jobId);
  });

  it('a BullMQ job deferred while Redis is full has its new data and retry time written once memory is freed', async () => {
    const to = 'later-bullmq@example.test';
    lane.open = false;
    const { jobId, release } = await sendHeld(to).finally(() => {
      lane.open = true;
    });
    assert.ok(!(await leased(jobId)), 'a BullMQ job, not a lease');
    await full();
    release();
    await waitUntil('the job data write refused and retried', () =>
      logs.some(
        (l) =>
          l.jobId === jobId && l.level === 40 && l.msg === 'redis is full (maxmemory) (job data); retrying',
      ),
    );
    await freed();
    await waitUntil('the job delayed', async () => (await queue.getJobState(jobId)) === 'delayed');
    const job = await queue.getJob(jobId);
    assert.equal(job?.data.attempts, 1, 'with the attempt recorded');
    assert.equal(job?.data.delayed?.kind, 'retry');
    assert.equal(sink.truth().get(to)?.received, 1, 'one attempt');
    assert.equal(of(to, 'deferred').length, 1, 'one deferred event');
    noCrashRecovery(jobId);
  });
});

/** The relay's lane in one process: the fast path's announced room, jobs handed to it at once. */
function inProcessLane(herald: Herald): FastLane & { open: boolean } {
  let room = 0;
  let held = 0;
  const fast = herald.startFastPath((r, done) => {
    room = r;
    held = Math.max(0, held - done);
    queueMicrotask(() => fast.roomSeen());
  });
  const lane = {
    /** Closed: the spool adds jobs to BullMQ instead. */
    open: true,
    reserve: () => {
      if (!lane.open || held >= room) return false;
      held += 1;
      return true;
    },
    unreserve: (n: number) => {
      held = Math.max(0, held - n);
    },
    hand: (jobs: FastJob[], body: Buffer) => fast.accept(jobs, body),
  };
  return lane;
}
