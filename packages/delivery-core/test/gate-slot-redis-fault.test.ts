/**
 * A lane's in-flight slot is given back when the admission that took it fails on Redis
 * (shaping-gate.ts: the concurrency window is read again after the slot is taken). Found under
 * load with `CLIENT KILL TYPE normal` every 0.3 s: each admission whose second window read met the
 * killed connection kept its slot for good, and once a route's slots were all lost that way its
 * jobs stayed parked ("has 20 attempts in flight") with no connection open and nothing delivered,
 * new mail included, until the relay restarted. Real redis-server; the connection loss is the
 * window client's own disconnect, so it lands exactly between the two reads.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import type { DeliveryJobData } from '../src/queue/index.js';
import { ConcurrencyWindows, type LaneSlots, parseShaping, ShapingGate } from '../src/shaping/index.js';
import type { RateLimiter } from '../src/throttle/index.js';
import { until } from './fixtures/until.js';

const SITE = 'mx:mx.slow.test';
/** Past the window cache (250 ms): the admission reads the window from Redis again. */
const CACHE_STALE_MS = 1_000;

describe('shaping gate: a slot taken by an admission that then fails on Redis', () => {
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

  it('is released, so the lane admits the next job once the holder is done', async () => {
    let clock = 1_000_000;
    const now = () => clock;
    const gate = new ShapingGate({
      shaping: parseShaping({ defaults: { max_connections: 1, initial_connections: 1 } }),
      siteOf: () => ({ site: SITE }),
      // No rate is configured: the gate never asks the limiter.
      limiter: {} as RateLimiter,
      windows: new ConcurrencyWindows(client, 'gsf', now),
      now,
    });
    const request = () => ({
      domain: 'slow.test',
      hosts: [{ hostname: 'mx.slow.test', addresses: ['127.0.0.1'], port: 25 }],
      data: { tenant: 'acme', recipients: [] } as unknown as DeliveryJobData,
    });

    const first = await gate.admit(request());
    assert.ok(first.admitted, 'the first job takes the lane’s one slot');
    // The second waits in memory for that slot (a fast lane).
    const second = gate.admit(request());
    const slots = (gate as unknown as { slots: LaneSlots }).slots;
    const lanes = (slots as unknown as { lanes: Map<string, { waiters: unknown[] }> }).lanes;
    await until('the second job waiting for the slot', () => lanes.get(SITE)?.waiters.length === 1);

    // The window's cached read goes stale and Redis is lost before the slot is handed over.
    clock += CACHE_STALE_MS;
    client.disconnect();
    first.release();
    await assert.rejects(second, 'the second admission fails on Redis');

    await client.connect();
    const third = await gate.admit(request());
    assert.ok(
      third.admitted,
      `nothing is in flight, yet the lane refused: ${third.admitted ? '' : third.reason}`,
    );
    third.release();
  });
});
