import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { HeraldError } from '../src/errors/index.js';
import { FURTHER_MESSAGE_MAX_WAIT_MS, messageSlot } from '../src/shaping/index.js';
import { GCRA_IDLE_GRACE_MS, parseRate, type Rate, RateLimiter } from '../src/throttle/index.js';

/** An arbitrary fake epoch: tests move this clock by hand, no real time passes. */
const T0 = 1_700_000_000_000;
const TEN_PER_SECOND: Rate = { count: 10, periodMs: 1_000 };
const INTERVAL_MS = 100;

function fakeClock(start = T0) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

async function scriptCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(m[1]);
  return calls;
}

describe('parseRate', () => {
  it('reads count per second, minute, hour and day', () => {
    assert.deepEqual(parseRate('300/min'), { count: 300, periodMs: 60_000 });
    assert.deepEqual(parseRate('5/s'), { count: 5, periodMs: 1_000 });
    assert.deepEqual(parseRate('10/h'), { count: 10, periodMs: 3_600_000 });
    assert.deepEqual(parseRate('1000/d'), { count: 1000, periodMs: 86_400_000 });
    assert.deepEqual(parseRate(' 100 / 10s '), { count: 100, periodMs: 10_000 });
    assert.deepEqual(parseRate('20/minute', { burst: 5 }), { count: 20, periodMs: 60_000, burst: 5 });
  });

  it('rejects junk with HERALD_CONFIG_INVALID naming the accepted forms', () => {
    for (const junk of ['', 'fast', '10', '10/', '/s', '0/s', '-1/s', '1.5/s', '10/fortnight', '10/0s']) {
      assert.throws(
        () => parseRate(junk),
        (err: unknown) =>
          err instanceof HeraldError && err.code === 'HERALD_CONFIG_INVALID' && /300\/min/.test(err.message),
        junk,
      );
    }
    assert.throws(() => parseRate('5/s', { burst: 0 }), HeraldError);
  });
});

describe('GCRA rate limiter on a real redis-server', () => {
  let redis: RedisHandle;
  let client: Redis;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
  });
  after(() => redis.stop());

  it('at 10/s with burst 1 allows exactly 1 of 50 instant calls; the rest retry after 100 ms', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(client, { keyPrefix: 't', now: clock.now });
    const results = [];
    for (let i = 0; i < 50; i++) results.push(await limiter.tryAcquire('tight', TEN_PER_SECOND));
    assert.equal(results.filter((r) => r.allowed).length, 1);
    assert.deepEqual(results[0], { allowed: true, retryAfterMs: 0 });
    for (const r of results.slice(1)) assert.deepEqual(r, { allowed: false, retryAfterMs: INTERVAL_MS });

    clock.t += 1_000;
    let allowed = 0;
    for (let step = 0; step < 10; step++) {
      const first = await limiter.tryAcquire('tight', TEN_PER_SECOND);
      const second = await limiter.tryAcquire('tight', TEN_PER_SECOND);
      assert.equal(first.allowed, true, `step ${step}`);
      assert.deepEqual(second, { allowed: false, retryAfterMs: INTERVAL_MS });
      if (first.allowed) allowed++;
      clock.t += INTERVAL_MS;
    }
    assert.equal(allowed, 10);
  });

  it('retry-after counts down as the clock moves: 40 ms later it is 60 ms', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(client, { keyPrefix: 't', now: clock.now });
    await limiter.tryAcquire('countdown', TEN_PER_SECOND);
    clock.t += 40;
    assert.deepEqual(await limiter.tryAcquire('countdown', TEN_PER_SECOND), {
      allowed: false,
      retryAfterMs: 60,
    });
  });

  it('with burst 5 allows five at once, then paces at the rate', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(client, { keyPrefix: 't', now: clock.now });
    const rate = parseRate('10/s', { burst: 5 });
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await limiter.tryAcquire('burst', rate));
    assert.deepEqual(
      results.map((r) => r.allowed),
      [true, true, true, true, true, false, false, false],
    );
    assert.equal(results[5]!.retryAfterMs, INTERVAL_MS);
    clock.t += INTERVAL_MS;
    assert.equal((await limiter.tryAcquire('burst', rate)).allowed, true);
    assert.equal((await limiter.tryAcquire('burst', rate)).allowed, false);
  });

  it('a cost of several cells needs that many cells free, and more than the burst is refused locally', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(client, { keyPrefix: 't', now: clock.now });
    const rate = parseRate('10/s', { burst: 3 });
    assert.deepEqual(await limiter.tryAcquire('cost', rate, 2), { allowed: true, retryAfterMs: 0 });
    assert.deepEqual(await limiter.tryAcquire('cost', rate, 2), {
      allowed: false,
      retryAfterMs: INTERVAL_MS,
    });
    await assert.rejects(limiter.tryAcquire('cost', rate, 4), RangeError);
  });

  it('100 reservations at 10/s are delayed 0, 100, …, 9900 ms, one Redis call each', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(client, { keyPrefix: 't', now: clock.now });
    await limiter.reserve('warm-up', TEN_PER_SECOND); // the script is loaded (no NOSCRIPT retry below)
    const stats = redis.client();
    const before = await scriptCalls(stats);
    const delays: number[] = [];
    for (let i = 0; i < 100; i++) {
      const { delayMs, at } = await limiter.reserve('backlog', TEN_PER_SECOND);
      assert.equal(at, T0 + delayMs);
      delays.push(delayMs);
    }
    assert.equal((await scriptCalls(stats)) - before, 100);
    assert.deepEqual(
      delays,
      Array.from({ length: 100 }, (_, i) => i * INTERVAL_MS),
    );
    // the booked backlog is visible to tryAcquire: the next free slot is 10 s away
    assert.deepEqual(await limiter.tryAcquire('backlog', TEN_PER_SECOND), {
      allowed: false,
      retryAfterMs: 10_000,
    });
  });

  it('fractional intervals do not drift: 300 reservations at 3/s end 99.67 s out', async () => {
    const limiter = new RateLimiter(client, { keyPrefix: 't', now: fakeClock().now });
    const rate = parseRate('3/s');
    let last = 0;
    for (let i = 0; i < 300; i++) {
      last = (await limiter.reserve('thirds', rate)).delayMs;
      assert.ok(Math.abs(last - (i * 1000) / 3) < 1, `reservation ${i}: ${last}`);
    }
    assert.equal(last, Math.ceil((299 * 1000) / 3));
  });

  it('20 clients calling at once on one key get exactly `burst` allowed (atomic)', async () => {
    const clock = fakeClock();
    const clients = Array.from({ length: 20 }, () => redis.client());
    await Promise.all(clients.map((c) => c.ping()));
    const limiters = clients.map((c) => new RateLimiter(c, { keyPrefix: 't', now: clock.now }));
    const rate = parseRate('10/s', { burst: 5 });
    const results = await Promise.all(limiters.map((l) => l.tryAcquire('contended', rate)));
    assert.equal(results.filter((r) => r.allowed).length, 5);

    const reservations = await Promise.all(
      limiters.map((l) => l.reserve('contended-reserve', TEN_PER_SECOND)),
    );
    assert.deepEqual(
      reservations.map((r) => r.delayMs).sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i * INTERVAL_MS),
    );
  });

  it('on Redis TIME (no injected clock) a second call within the period is refused', async () => {
    const limiter = new RateLimiter(client, { keyPrefix: 't' });
    const rate = parseRate('1/min');
    assert.equal((await limiter.tryAcquire('server-clock', rate)).allowed, true);
    const second = await limiter.tryAcquire('server-clock', rate);
    assert.equal(second.allowed, false);
    assert.ok(second.retryAfterMs > 0 && second.retryAfterMs <= 60_000, String(second.retryAfterMs));
    const { delayMs, at } = await limiter.reserve('server-clock', rate);
    assert.ok(delayMs > 0 && delayMs <= 60_000, String(delayMs)); // the second cell of the minute
    assert.ok(Math.abs(at - delayMs - Date.now()) < 60_000, 'at is on the server clock');
  });

  it('keys carry a TTL of the booked time plus the idle grace, so idle keys vanish', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(client, { keyPrefix: 't', now: clock.now });
    await limiter.tryAcquire('hygiene', TEN_PER_SECOND);
    const pttl = await client.pttl(limiter.keyOf('hygiene'));
    assert.ok(pttl > 0 && pttl <= INTERVAL_MS + GCRA_IDLE_GRACE_MS, String(pttl));
    const refused = await limiter.tryAcquire('hygiene', TEN_PER_SECOND);
    assert.equal(refused.allowed, false);
    assert.ok((await client.pttl(limiter.keyOf('hygiene'))) <= pttl, 'a refusal does not extend the key');
    assert.equal(limiter.keyOf('hygiene'), 't:gcra:hygiene');
  });

  it("a further transaction's message slot waits for the next message of the rate, within its budget", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(client, { keyPrefix: 't', now: clock.now });
    const waits: number[] = [];
    const wait = async (ms: number) => {
      waits.push(ms);
      clock.t += ms;
    };
    const take = messageSlot(limiter, 'further', TEN_PER_SECOND, wait);
    // Ten further transactions at 10/s: each after the one before, never refused (the bug: 1 of 10).
    for (let i = 0; i < 10; i++) assert.equal(await take(), true, `message ${i}`);
    assert.deepEqual(waits, Array(9).fill(INTERVAL_MS), 'the first at once, then one interval each');
    // The attempt's waits are bounded in all: at one a minute it waits once, then gives up.
    const slow = { count: 1, periodMs: FURTHER_MESSAGE_MAX_WAIT_MS };
    const slowTake = messageSlot(limiter, 'slow', slow, wait);
    waits.length = 0;
    assert.equal(await slowTake(), true, 'the first at once');
    assert.equal(await slowTake(), true, 'the second after one period, within the budget');
    assert.equal(await slowTake(), false, 'the third would pass the budget');
    assert.deepEqual(waits, [FURTHER_MESSAGE_MAX_WAIT_MS]);
    // Booked far ahead by other jobs: past the budget it gives up at once, waiting for nothing.
    await limiter.reserve('busy', { count: 1, periodMs: FURTHER_MESSAGE_MAX_WAIT_MS * 2 });
    await limiter.reserve('busy', { count: 1, periodMs: FURTHER_MESSAGE_MAX_WAIT_MS * 2 });
    waits.length = 0;
    const busy = messageSlot(limiter, 'busy', { count: 1, periodMs: FURTHER_MESSAGE_MAX_WAIT_MS * 2 }, wait);
    assert.equal(await busy(), false);
    assert.deepEqual(waits, []);
    // A limiter that cannot answer gives no message (the rest wait for the next attempt).
    const broken = {
      tryAcquire: async () => Promise.reject(new Error('redis down')),
    } as unknown as RateLimiter;
    assert.equal(await messageSlot(broken, 'k', TEN_PER_SECOND, wait)(), false);
  });
});
