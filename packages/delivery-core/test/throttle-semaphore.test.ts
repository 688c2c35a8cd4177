import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { type Lease, LeasedSemaphore, type Refused } from '../src/throttle/index.js';

/** An arbitrary fake epoch for tests that move the clock by hand. */
const T0 = 1_700_000_000_000;
const FAKE_TTL_MS = 10_000;
/** Auto-renew runs on real timers: a short TTL renews every 100 ms. */
const SHORT_TTL_MS = 300;
/** Clock steps of auto-renew's test, each just short of the TTL. */
const RENEW_STEPS = 4;
/** A generous bound for an event to happen (a failure message, not a timing assertion). */
const WAIT_BOUND_MS = 30_000;
const POLL_MS = 10;

function fakeClock(start = T0) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

function held(result: Lease | Refused): Lease {
  assert.equal(result.acquired, true, 'expected the slot to be granted');
  return result as Lease;
}

function refused(result: Lease | Refused): Refused {
  assert.equal(result.acquired, false, 'expected the slot to be refused');
  return result as Refused;
}

async function scriptCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(m[1]);
  return calls;
}

/** The Redis server's clock in ms, as the scripts read it. */
async function serverTimeMs(client: Redis): Promise<number> {
  const [seconds, micros] = await client.time();
  return Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
}

/** Waits until `done()` holds: an event (a renewal landing), not an amount of time. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_BOUND_MS;
  while (!done()) {
    assert.ok(Date.now() < deadline, `no ${what} within ${WAIT_BOUND_MS} ms`);
    await sleep(POLL_MS);
  }
}

describe('leased semaphore on a real redis-server', () => {
  let redis: RedisHandle;
  let client: Redis;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
  });
  after(() => redis.stop());

  it('with limit 2 refuses a third holder until the earliest lease expires, and release frees a slot', async () => {
    const clock = fakeClock();
    const sem = new LeasedSemaphore(client, { keyPrefix: 't', leaseTtlMs: FAKE_TTL_MS, now: clock.now });
    const a = held(await sem.acquire('site', 2));
    clock.t += 1_000;
    const b = held(await sem.acquire('site', 2));
    clock.t += 1_000;
    assert.deepEqual(await sem.acquire('site', 2), { acquired: false, retryAfterMs: FAKE_TTL_MS - 2_000 });
    assert.equal(a.expiresAt, T0 + FAKE_TTL_MS);
    assert.equal(await a.release(), true);
    assert.equal(await a.release(), false, 'a second release finds nothing');
    const c = held(await sem.acquire('site', 2));
    assert.equal(
      refused(await sem.acquire('site', 2)).retryAfterMs,
      FAKE_TTL_MS - 1_000,
      'b expires first now',
    );
    await b.release();
    await c.release();
    assert.equal(await client.exists(sem.keyOf('site')), 0, 'an emptied pool leaves no key');
  });

  it('a cap key lowers the limit to its whole part while it exists, read in the same script', async () => {
    const clock = fakeClock();
    const sem = new LeasedSemaphore(client, { keyPrefix: 't', leaseTtlMs: FAKE_TTL_MS, now: clock.now });
    const cap = 't:{capped}:window';
    const key = '{capped}';
    const a = held(await sem.acquire(key, 3, cap));
    const b = held(await sem.acquire(key, 3, cap));
    await client.set(cap, '1.75');
    refused(await sem.acquire(key, 3, cap));
    const uncapped = held(await sem.acquire(key, 3));
    await client.set(cap, '0.2');
    await a.release();
    await b.release();
    await uncapped.release();
    const c = held(await sem.acquire(key, 3, cap));
    refused(await sem.acquire(key, 3, cap));
    await client.set(cap, '7');
    held(await sem.acquire(key, 2, cap));
    refused(await sem.acquire(key, 2, cap));
    await client.del(cap);
    held(await sem.acquire(key, 4, cap));
    await c.release();
  });

  it('renew extends a lease past its first expiry; a lapsed lease cannot be renewed', async () => {
    const clock = fakeClock();
    const sem = new LeasedSemaphore(client, { keyPrefix: 't', leaseTtlMs: FAKE_TTL_MS, now: clock.now });
    const lease = held(await sem.acquire('renewed', 1));
    clock.t += 9_000;
    assert.equal(await lease.renew(), true);
    assert.equal(lease.expiresAt, T0 + 9_000 + FAKE_TTL_MS);
    clock.t = T0 + 15_000; // past the first expiry: still held thanks to the renewal
    assert.deepEqual(await sem.acquire('renewed', 1), { acquired: false, retryAfterMs: 4_000 });
    clock.t = T0 + 19_000; // the renewed expiry: the slot is free, the old lease is lost
    assert.equal(await lease.renew(), false);
    const next = held(await sem.acquire('renewed', 1));
    assert.equal(await lease.renew(), false, 'a lost lease stays lost');
    await next.release();
  });

  it('a lease not renewed expires after its TTL and the slot can be acquired again', async () => {
    const clock = fakeClock();
    const sem = new LeasedSemaphore(client, { keyPrefix: 't', leaseTtlMs: FAKE_TTL_MS, now: clock.now });
    const crashed = held(await sem.acquire('crash', 1)); // its holder "crashes": never renews
    assert.equal(refused(await sem.acquire('crash', 1)).retryAfterMs, FAKE_TTL_MS);
    clock.t += FAKE_TTL_MS - 1;
    assert.equal(refused(await sem.acquire('crash', 1)).retryAfterMs, 1, 'held until its expiry');
    clock.t += 1;
    const successor = held(await sem.acquire('crash', 1));
    assert.notEqual(successor.id, crashed.id);
    assert.equal(await crashed.renew(), false);
    await successor.release();
  });

  it("without a clock, a lease's expiry is the Redis server's TIME plus the TTL", async () => {
    const sem = new LeasedSemaphore(client, { keyPrefix: 't', leaseTtlMs: FAKE_TTL_MS });
    const before = await serverTimeMs(client);
    const lease = held(await sem.acquire('server-clock', 1));
    const after = await serverTimeMs(client);
    assert.ok(
      lease.expiresAt >= before + FAKE_TTL_MS && lease.expiresAt <= after + FAKE_TTL_MS,
      `${lease.expiresAt} not within [${before}, ${after}] + ${FAKE_TTL_MS}`,
    );
    await lease.release();
  });

  it('auto-renew keeps a lease alive over several TTLs and stops on release', async () => {
    // The lease's clock moves only when the test moves it, each step short of the TTL and only
    // after the renewal of the step before has landed: however slow the machine, the lease lives.
    const clock = fakeClock();
    const sem = new LeasedSemaphore(client, { keyPrefix: 't', leaseTtlMs: SHORT_TTL_MS, now: clock.now });
    const lease = held(await sem.acquire('auto', 1));
    const lost: string[] = [];
    lease.autoRenew((reason) => lost.push(reason));
    for (let step = 0; step < RENEW_STEPS; step++) {
      clock.t += SHORT_TTL_MS - 1;
      await until(() => lease.expiresAt === clock.t + SHORT_TTL_MS, 'a renewal at the new time');
    }
    assert.ok(clock.t - T0 > 3 * SHORT_TTL_MS, 'the lease outlived several TTLs');
    refused(await sem.acquire('auto', 1));
    assert.deepEqual(lost, []);
    await lease.release();
    await held(await sem.acquire('auto', 1)).release();
    const before = await scriptCalls(client);
    await sleep(SHORT_TTL_MS); // three renewal periods: a slow machine only checks fewer of them
    assert.equal(await scriptCalls(client), before, 'no renewal runs after release');
    assert.deepEqual(lost, []);
  });

  it('auto-renew reports a lease that was lost', async () => {
    const sem = new LeasedSemaphore(client, { keyPrefix: 't', leaseTtlMs: SHORT_TTL_MS });
    const lease = held(await sem.acquire('stolen', 1));
    const lost = new Promise<string>((resolve) => lease.autoRenew(resolve));
    await client.del(sem.keyOf('stolen')); // e.g. an operator flushed it
    const bound = new AbortController();
    const timeout = sleep(WAIT_BOUND_MS, 'timeout', { signal: bound.signal }).catch(() => 'aborted');
    const reason = await Promise.race([lost, timeout]);
    bound.abort();
    assert.equal(reason, 'expired');
    await lease.release();
  });

  it('30 concurrent acquirers on 10 clients with limit 3: exactly 3 get a slot (atomic)', async () => {
    const clients = Array.from({ length: 10 }, () => redis.client());
    await Promise.all(clients.map((c) => c.ping()));
    const sems = clients.map((c) => new LeasedSemaphore(c, { keyPrefix: 't' }));
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => sems[i % 10]!.acquire('ip', 3)));
    const granted = results.filter((r): r is Lease => r.acquired);
    assert.equal(granted.length, 3);
    assert.equal(await client.zcard(sems[0]!.keyOf('ip')), 3);
    for (const r of results) if (!r.acquired) assert.ok(r.retryAfterMs > 0);
    await Promise.all(granted.map((l) => l.release()));
  });

  it('lease ids name their holder and the pool key carries a TTL', async () => {
    const sem = new LeasedSemaphore(client, { keyPrefix: 't' });
    const lease = held(await sem.acquire('hygiene', 1));
    assert.ok(lease.id.startsWith(`${hostname()}:${process.pid}:`), lease.id);
    assert.equal(sem.keyOf('hygiene'), 't:sem:hygiene');
    const pttl = await client.pttl(sem.keyOf('hygiene'));
    assert.ok(pttl > 0 && pttl <= sem.leaseTtlMs, String(pttl));
    await lease.release();
  });

  it("a node's next incarnation reclaims the leases its previous one held, and nobody else's", async () => {
    const before = new LeasedSemaphore(client, { keyPrefix: 'r', holder: 'relay-a|run1' });
    const other = new LeasedSemaphore(client, { keyPrefix: 'r', holder: 'relay-b|run1' });
    const anonymous = new LeasedSemaphore(client, { keyPrefix: 'r' });
    held(await before.acquire('conn:mx:x', 3));
    held(await before.acquire('conn:mx:x', 3));
    held(await before.acquire('conn:mx:y', 3));
    const theirs = held(await other.acquire('conn:mx:x', 3));
    const plain = held(await anonymous.acquire('conn:mx:y', 3));
    const after = new LeasedSemaphore(client, { keyPrefix: 'r', holder: 'relay-a|run2' });
    const mine = held(await after.acquire('conn:mx:y', 3));
    const reclaimed = await after.reclaim('conn:*', 'relay-a');
    assert.deepEqual(
      reclaimed.sort((a, b) => a.key.localeCompare(b.key)),
      [
        { key: 'conn:mx:x', removed: 2 },
        { key: 'conn:mx:y', removed: 1 },
      ],
    );
    assert.deepEqual((await client.zrange(after.keyOf('conn:mx:x'), 0, -1)).sort(), [theirs.id]);
    assert.deepEqual(
      (await client.zrange(after.keyOf('conn:mx:y'), 0, -1)).sort(),
      [plain.id, mine.id].sort(),
    );
    assert.deepEqual(await after.reclaim('conn:*', 'relay-a'), [], 'a second reclaim finds nothing');
    await assert.rejects(after.reclaim('conn:*', 'relay-b'), RangeError);
  });

  it('rejects a limit below 1', async () => {
    const sem = new LeasedSemaphore(client, { keyPrefix: 't' });
    await assert.rejects(sem.acquire('bad', 0), RangeError);
  });
});
