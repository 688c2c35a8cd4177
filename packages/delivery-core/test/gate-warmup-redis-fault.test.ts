/**
 * The recipients an admission counted against a warming IP's daily cap (shaping-gate.ts: the
 * warm-up take, then the concurrency window read again) are given back when the admission then
 * fails on Redis. Before, the slot was given back but the count kept, so each failed admission
 * lowered the IP's cap at the site for the rest of the day. Real redis-server; as in
 * gate-slot-redis-fault.test.ts the fault is the window client's own disconnect, so it lands
 * between the take (on the cap's own, connected client) and the window's second read.
 * Also: DailyCap's give-back never goes below 0, never creates a counter, and runs on a full Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { laneOf, warmupCapKey } from '../src/keys/index.js';
import type { DeliveryJobData } from '../src/queue/index.js';
import { ConcurrencyWindows, type LaneSlots, parseShaping, ShapingGate } from '../src/shaping/index.js';
import { DailyCap, type RateLimiter } from '../src/throttle/index.js';
import { until } from './fixtures/until.js';

const SITE = 'mx:mx.warm.test';
const WARMING_IP = '192.0.2.10';
/** Noon UTC on the IP's first warm-up day: the test's moves of the clock stay within that day. */
const T0 = Date.UTC(2026, 10, 25, 12);
const DAILY_CAP = 100;
/** Recipients per job: what each admission counts against the cap. */
const RECIPIENTS = 3;
/** Past the window cache (250 ms): the admission reads the window from Redis again. */
const CACHE_STALE_MS = 1_000;

describe('shaping gate: a warm-up count taken by an admission that then fails on Redis', () => {
  let redis: RedisHandle;
  let windowsClient: Redis;
  let capClient: Redis;
  before(async () => {
    redis = await startRedis();
    windowsClient = redis.client();
    capClient = redis.client();
  });
  after(async () => {
    windowsClient.disconnect();
    capClient.disconnect();
    await redis.stop();
  });

  it('is given back, so the IP keeps the rest of its daily cap', async () => {
    let clock = T0;
    const now = () => clock;
    const dailyCap = new DailyCap(capClient, { keyPrefix: 'gwf' });
    const gate = new ShapingGate({
      shaping: parseShaping({
        defaults: { max_connections: 1, initial_connections: 1 },
        pools: {
          warm: {
            sources: [{ ip: WARMING_IP, warmup_from: '2026-11-25' }],
            warmup: { schedule: [{ day: 1, daily_cap: DAILY_CAP }] },
          },
        },
        pool_selection: [{ pool: 'warm' }],
      }),
      siteOf: () => ({ site: SITE }),
      // No rate is configured: the gate never asks the limiter.
      limiter: {} as RateLimiter,
      dailyCap,
      windows: new ConcurrencyWindows(windowsClient, 'gwf', now),
      now,
    });
    const request = () => ({
      domain: 'warm.test',
      hosts: [{ hostname: 'mx.warm.test', addresses: ['127.0.0.1'], port: 25 }],
      data: {
        tenant: 'acme',
        recipients: Array.from({ length: RECIPIENTS }, (_, i) => ({
          address: `r${i}@warm.test`,
          state: 'pending',
        })),
      } as unknown as DeliveryJobData,
    });
    const counted = async () => (await dailyCap.counts([warmupCapKey(WARMING_IP, SITE, clock)]))[0];

    const first = await gate.admit(request());
    assert.ok(first.admitted, 'the first job takes the lane’s one slot');
    assert.equal(await counted(), RECIPIENTS, 'its recipients are counted');
    // The second waits in memory for that slot (a fast lane).
    const second = gate.admit(request());
    const slots = (gate as unknown as { slots: LaneSlots }).slots;
    const lanes = (slots as unknown as { lanes: Map<string, { waiters: unknown[] }> }).lanes;
    await until(
      'the second job waiting for the slot',
      () => lanes.get(laneOf(SITE, WARMING_IP))?.waiters.length === 1,
    );

    // The window's cached read goes stale and its client loses Redis before the slot is handed
    // over: the second admission takes its warm-up count, then fails reading the window.
    clock += CACHE_STALE_MS;
    windowsClient.disconnect();
    first.release();
    await assert.rejects(second, 'the second admission fails on Redis');
    await until('the failed admission’s count given back', async () => (await counted()) === RECIPIENTS);

    await windowsClient.connect();
    const third = await gate.admit(request());
    assert.ok(third.admitted, 'the lane admits again');
    assert.equal(await counted(), 2 * RECIPIENTS, 'the admitted jobs only');
    third.release();
  });

  it('DailyCap.giveBack stops at 0 and leaves an absent counter absent', async () => {
    const cap = new DailyCap(capClient, { keyPrefix: 'gb' });
    assert.deepEqual(await cap.take('k', 4, 10), { taken: true, total: 4 });
    assert.equal(await cap.giveBack('k', 3), 1);
    assert.equal(await cap.giveBack('k', 5), 0, 'never below 0');
    assert.deepEqual(await cap.take('k', 10, 10), { taken: true, total: 10 }, 'the whole cap is free');
    assert.equal(await cap.giveBack('absent', 2), 0);
    assert.equal(await capClient.exists('gb:cap:absent'), 0, 'no counter created');
  });

  it('DailyCap.giveBack runs on a full Redis (maxmemory, noeviction), where a take is refused', async () => {
    const cap = new DailyCap(capClient, { keyPrefix: 'gbf' });
    await cap.take('k', 5, 10);
    await capClient.config('SET', 'maxmemory-policy', 'noeviction');
    await capClient.config('SET', 'maxmemory', '1');
    try {
      await assert.rejects(cap.take('k', 1, 10), /OOM/);
      assert.equal(await cap.giveBack('k', 2), 3);
    } finally {
      await capClient.config('SET', 'maxmemory', '0');
    }
  });
});
