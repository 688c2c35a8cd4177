import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { tenantPolicy } from '../src/config/index.js';
import type { EventSink, HeraldEvent } from '../src/events/index.js';
import { REPUTATION_BUCKET_MS, TenantReputation, windowKeys } from '../src/reputation/index.js';

const T0 = Date.UTC(2026, 10, 26, 10, 30);

function recorder(): EventSink & { events: HeraldEvent[] } {
  const events: HeraldEvent[] = [];
  return { events, emit: (e) => void events.push(e), flush: async () => {} };
}

describe('windowKeys', () => {
  it('covers the window ending in the current hour bucket, capped at 7 days', () => {
    const keys = windowKeys('h', 'Acme', 'hard', T0, 3 * REPUTATION_BUCKET_MS);
    const hour = Math.floor(T0 / REPUTATION_BUCKET_MS);
    assert.deepEqual(keys, [
      `h:{queue}:rep:acme:hard:${hour}`,
      `h:{queue}:rep:acme:hard:${hour - 1}`,
      `h:{queue}:rep:acme:hard:${hour - 2}`,
    ]);
    assert.equal(windowKeys('h', 'a', 'sent', T0, 30 * 86_400_000).length, 7 * 24);
  });
});

describe('TenantReputation (real redis-server)', () => {
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

  it('rolling rates over the window; older buckets fall out', async () => {
    const clock = { t: T0 };
    const rep = new TenantReputation(client, 'r1', recorder(), () => clock.t);
    await rep.count('acme', 'sent', 100);
    await rep.count('acme', 'hard', 3);
    clock.t += 2 * REPUTATION_BUCKET_MS;
    await rep.count('acme', 'sent', 100);
    await rep.count('acme', 'complaint', 1);
    const day = await rep.rates('acme', 24 * REPUTATION_BUCKET_MS);
    assert.deepEqual(day, { sent: 200, hard: 3, complaints: 1, bounceRate: 0.015, complaintRate: 0.005 });
    const hour = await rep.rates('acme', REPUTATION_BUCKET_MS);
    assert.deepEqual([hour.sent, hour.hard, hour.complaints], [100, 0, 1]);
    assert.ok((await client.pttl((await client.keys('r1:{queue}:rep:acme:sent:*'))[0]!)) > 7 * 86_400_000);
  });

  it('pauses once over a threshold with enough volume, one event; resume lifts it', async () => {
    const events = recorder();
    const rep = new TenantReputation(client, 'r2', events, () => T0);
    const policy = tenantPolicy(
      { tenants: { acme: { ...tenantPolicy({ tenants: {} }, 'x'), reputation_min_volume: 100 } } },
      'acme',
    );
    await rep.count('acme', 'sent', 50);
    await rep.count('acme', 'complaint', 5);
    assert.equal(await rep.evaluate('acme', policy), undefined, 'below the minimum volume: not judged');
    await rep.count('acme', 'sent', 950);
    const paused = await rep.evaluate('acme', policy);
    assert.match(paused?.reason ?? '', /complaint rate 0\.50 % over 0\.30 %/);
    assert.deepEqual(await rep.evaluate('acme', policy), paused, 'still paused, no second pause');
    assert.deepEqual(
      events.events.map((e) => e.type),
      ['tenant_paused'],
    );
    assert.ok(await rep.paused('acme'));
    assert.equal(await rep.resume('acme', 'operator'), true);
    assert.equal(await rep.paused('acme', { fresh: true }), undefined);
    assert.equal(await rep.resume('acme', 'operator'), false);
    assert.deepEqual(
      events.events.map((e) => e.type),
      ['tenant_paused', 'tenant_resumed'],
    );
  });
  it('countOnce counts under a marker once, also when 20 clients race; the marker expires', async () => {
    const rep = new TenantReputation(client, 'r3', recorder(), () => T0);
    const once = { key: 'r3:{queue}:feedback:bounce:m1:abcd', ttlMs: 60_000 };
    const others = Array.from({ length: 20 }, () => redis.client());
    try {
      const racers = others.map((c) => new TenantReputation(c, 'r3', recorder(), () => T0));
      const results = await Promise.all(racers.map((r) => r.countOnce('acme', 'hard', 1, once)));
      assert.equal(results.filter(Boolean).length, 1);
    } finally {
      for (const c of others) c.disconnect();
    }
    assert.equal(await rep.countOnce('acme', 'hard', 1, once), false);
    assert.equal((await rep.rates('acme', REPUTATION_BUCKET_MS)).hard, 1);
    const ttl = await client.pttl(once.key);
    assert.ok(ttl > 0 && ttl <= 60_000, `marker ttl ${ttl}`);
    // n = 0 sets the marker without counting (a suppression that is not a hard bounce).
    assert.equal(
      await rep.countOnce('acme', 'hard', 0, { key: 'r3:{queue}:feedback:bounce:m2:abcd', ttlMs: 60_000 }),
      true,
    );
    assert.equal((await rep.rates('acme', REPUTATION_BUCKET_MS)).hard, 1);
  });
});
