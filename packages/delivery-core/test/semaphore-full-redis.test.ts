/**
 * A leased semaphore's lease (a connection slot: SiteConnectionLeases) is still renewed while
 * Redis is full (`maxmemory` reached under `noeviction`), on a real redis-server. Before, the renew
 * script's `ZADD XX` was refused (`OOM command not allowed`), so a holder still at work lost its
 * lease after the TTL and another relay could take its slot: the site's connection limit exceeded.
 * Release (ZREM only) runs on a full Redis too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { type Lease, LeasedSemaphore } from '../src/throttle/index.js';

/** An arbitrary fake epoch (the scripts take the caller's clock when given). */
const T0 = 1_700_000_000_000;
const TTL_MS = 30_000;
/** The holder renews a third of the TTL later. */
const RENEW_AFTER_MS = TTL_MS / 3;
/** The smallest maxmemory: whatever the server holds is over it. */
const FULL = '1';

describe('leased semaphore on a full Redis (maxmemory, noeviction)', () => {
  let redis: RedisHandle;
  let client: Redis;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    await client.config('SET', 'maxmemory-policy', 'noeviction');
  });
  after(async () => {
    await client.config('SET', 'maxmemory', '0');
    client.disconnect();
    await redis.stop();
  });

  it('renews a held lease and releases it while writes are refused with OOM', async () => {
    let clock = T0;
    const sem = new LeasedSemaphore(client, { keyPrefix: 'full', leaseTtlMs: TTL_MS, now: () => clock });
    const taken = await sem.acquire('conn:mx.full.test', 1);
    assert.ok(taken.acquired, 'the slot is free');
    const lease = taken as Lease;

    await client.config('SET', 'maxmemory', FULL);
    await assert.rejects(client.set('full:probe', 'x'), /OOM/, 'Redis is full: a write is refused');

    clock += RENEW_AFTER_MS;
    assert.equal(await lease.renew(), true, 'the lease is renewed on a full Redis');
    assert.equal(lease.expiresAt, clock + TTL_MS);
    assert.equal(Number(await client.zscore(sem.keyOf('conn:mx.full.test'), lease.id)), clock + TTL_MS);
    assert.equal(await sem.acquire('conn:mx.full.test', 1).then((r) => r.acquired), false, 'still held');

    assert.equal(await lease.release(), true, 'released on a full Redis');
    assert.equal(await client.exists(sem.keyOf('conn:mx.full.test')), 0);
    await client.config('SET', 'maxmemory', '0');
  });
});
