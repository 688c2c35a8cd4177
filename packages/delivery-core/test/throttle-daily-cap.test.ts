import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { DAILY_CAP_TTL_MS, DailyCap } from '../src/throttle/index.js';

describe('DailyCap (real redis-server)', () => {
  let redis: RedisHandle;
  let client: Redis;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('adds while the total stays within the cap, then refuses without adding', async () => {
    const cap = new DailyCap(client, { keyPrefix: 't1' });
    assert.deepEqual(await cap.take('k', 2, 5), { taken: true, total: 2 });
    assert.deepEqual(await cap.take('k', 3, 5), { taken: true, total: 5 });
    assert.deepEqual(await cap.take('k', 1, 5), { taken: false, total: 5 });
    assert.deepEqual(await cap.counts(['k', 'absent']), [5, 0]);
    const ttl = await client.pttl('t1:cap:k');
    assert.ok(ttl > DAILY_CAP_TTL_MS - 10_000 && ttl <= DAILY_CAP_TTL_MS, `expires with the day: ${ttl}`);
  });

  it('a first take bigger than the cap goes once; nothing after it', async () => {
    const cap = new DailyCap(client, { keyPrefix: 't2' });
    assert.deepEqual(await cap.take('big', 8, 5), { taken: true, total: 8 });
    assert.deepEqual(await cap.take('big', 1, 5), { taken: false, total: 8 });
  });

  it('20 concurrent clients taking 1 each never exceed the cap together', async () => {
    const clients = Array.from({ length: 20 }, () => redis.client());
    try {
      const caps = clients.map((c) => new DailyCap(c, { keyPrefix: 't3' }));
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => caps[i % caps.length]!.take('shared', 1, 37)),
      );
      assert.equal(results.filter((r) => r.taken).length, 37);
      assert.deepEqual(await caps[0]!.counts(['shared']), [37]);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });
});
