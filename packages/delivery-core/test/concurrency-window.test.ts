/**
 * Concurrency feedback per lane on a real redis-server: a lane starts at its initial window,
 * grows by 1/window per success up to max_connections, shrinks by one per connection failure down
 * to one, forgets an idle window, and stays within [1, max] under many concurrent relays.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { laneWindowKey } from '../src/keys/index.js';
import { ConcurrencyWindows, clampWindow, WINDOW_TTL_MS } from '../src/shaping/index.js';

describe('ConcurrencyWindows (real redis-server)', () => {
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

  /** A clock that moves past the read cache on every call, so each read goes to Redis. */
  const ticking = () => {
    let t = 1_000_000;
    return () => (t += 1_000);
  };

  it('starts at the initial window, grows by one per window of successes, never past max', async () => {
    const windows = new ConcurrencyWindows(client, 'g', ticking());
    assert.equal(await windows.limit('mx:a', 5, 20), 5);
    for (let i = 0; i < 5; i++) await windows.feedback('mx:a', 'success', 5, 20);
    assert.equal(await windows.limit('mx:a', 5, 20), 5, '5 successes at window 5 add 5 × 1/5… ≈ 0.96');
    await windows.feedback('mx:a', 'success', 5, 20);
    assert.equal(await windows.limit('mx:a', 5, 20), 6);
    for (let i = 0; i < 500; i++) await windows.feedback('mx:a', 'success', 5, 20);
    assert.equal(await windows.limit('mx:a', 5, 20), 20);
    assert.equal(Number(await client.get(laneWindowKey('g', 'mx:a'))), 20);
  });

  it('shrinks by one per connection failure, down to one, then grows again', async () => {
    const windows = new ConcurrencyWindows(client, 's', ticking());
    const seen: number[] = [];
    for (let i = 0; i < 7; i++) {
      await windows.feedback('mx:dead', 'failure', 5, 20);
      seen.push(await windows.limit('mx:dead', 5, 20));
    }
    assert.deepEqual(seen, [4, 3, 2, 1, 1, 1, 1]);
    await windows.feedback('mx:dead', 'success', 5, 20);
    assert.equal(await windows.limit('mx:dead', 5, 20), 2, 'one success at window 1 adds a whole connection');
  });

  it('an idle window expires (the lane starts over at its initial value)', async () => {
    const windows = new ConcurrencyWindows(client, 'e', ticking());
    await windows.feedback('mx:e', 'failure', 5, 20);
    const ttl = await client.pttl(laneWindowKey('e', 'mx:e'));
    assert.ok(ttl > WINDOW_TTL_MS - 60_000 && ttl <= WINDOW_TTL_MS, `ttl ${ttl}`);
    await client.del(laneWindowKey('e', 'mx:e'));
    assert.equal(await windows.limit('mx:e', 5, 20), 5);
  });

  it('a lower max_connections than the stored window caps it at once', async () => {
    const windows = new ConcurrencyWindows(client, 'c', ticking());
    for (let i = 0; i < 50; i++) await windows.feedback('mx:c', 'success', 5, 20);
    assert.equal(await windows.limit('mx:c', 5, 3), 3);
    await windows.feedback('mx:c', 'failure', 5, 3);
    assert.equal(await windows.limit('mx:c', 5, 3), 2, 'a failure counts from the capped window');
    assert.equal(clampWindow(0.2, 10), 1);
    assert.equal(clampWindow(7.9, 5), 5);
  });

  it('many relays feeding back at once keep the window within [1, max]', async () => {
    const clients = Array.from({ length: 10 }, () => redis.client());
    try {
      const relays = clients.map((c) => new ConcurrencyWindows(c, 'm', ticking()));
      await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          relays[i % relays.length]!.feedback('mx:m', i % 3 === 0 ? 'failure' : 'success', 5, 8),
        ),
      );
      const window = Number(await client.get(laneWindowKey('m', 'mx:m')));
      assert.ok(window >= 1 && window <= 8, `window ${window}`);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });
});
