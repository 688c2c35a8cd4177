/**
 * The key registry: names as documented in ARCHITECTURE "Redis key layout", and on Redis Cluster
 * every multi-key script, MULTI and command keeps its keys in one slot (CRC16 per the cluster
 * specification).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CLUSTER_SLOTS,
  campaignRateKey,
  capKey,
  clusterMarkIn,
  clusterMarkKey,
  connectionLeaseKey,
  connectionRateKey,
  crc16,
  durabilityMarkKey,
  feedbackMarkerKey,
  gcraKey,
  hashSlot,
  laneOf,
  laneRateKey,
  laneWindowKey,
  MULTI_KEY_OPERATIONS,
  parkedJobsKey,
  queueKeys,
  reputationKey,
  semaphoreKey,
  shardRegistryKey,
  siteHoldKey,
  siteStateKey,
  suppressionKeys,
  tenantParkKey,
  tenantPausedKey,
  tenantRateKey,
  warmupCapKey,
} from '../src/keys/index.js';

const NOV_26 = Date.UTC(2026, 10, 26, 13, 5);

describe('hash slots per the Redis Cluster specification', () => {
  test('CRC16 (XMODEM) of the specification test vector', () => {
    assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
  });

  test('slots of keys with and without hash tags', () => {
    assert.equal(hashSlot('foo'), 12182);
    assert.equal(hashSlot('{user1000}.following'), hashSlot('{user1000}.followers'));
    assert.equal(hashSlot('foo{bar}{zap}'), hashSlot('bar'));
    assert.equal(hashSlot('foo{{bar}}zap'), hashSlot('{bar'));
    assert.equal(
      hashSlot('foo{}{bar}'),
      crc16(Buffer.from('foo{}{bar}')) % 16_384,
      'an empty tag: the whole key',
    );
  });
});

describe('every multi-key operation keeps its keys in one slot', () => {
  const samples = [
    {
      messages: ['mf3k2a1b0c4d5e6f7a8b9c0d1', 'mf3k2a1b1c4d5e6f7a8b9c0d2'],
      tenants: ['acme', 'Globex'],
      site: 'provider:gmail',
      hour: 494_000,
      shard: 0,
    },
    {
      messages: ['m1', 'm2'],
      tenants: ['default', 'odd}name{x'],
      site: 'mx:mx1.example.net,mx2.example.net',
      hour: 1,
      shard: 0,
    },
    { messages: ['a', 'b'], tenants: ['t', 'u'], site: 'route:[2001:db8::1]:2525', hour: 0, shard: 0 },
    { messages: ['a', 'b'], tenants: ['t', 'u'], site: 'mx:we}ird{.example', hour: 0, shard: 0 },
  ] as const;
  // Each sample again in shards of installations with 2, 4, 16 and 256 shards (queue.shards).
  const shardSamples = [0, 1, 3, 15, 255].flatMap((shard) => samples.map((s) => ({ ...s, shard })));
  for (const [name, operation] of Object.entries(MULTI_KEY_OPERATIONS)) {
    test(`${name} (${operation.where})`, () => {
      for (const prefix of ['herald', 'h2', 'x:y']) {
        for (const sample of shardSamples) {
          const keys = operation.keys(prefix, sample);
          assert.ok(keys.length >= 2, 'a multi-key operation');
          const slots = new Set(keys.map(hashSlot));
          assert.equal(slots.size, 1, `one slot for ${keys.join(' ')}`);
          for (const key of keys) assert.ok(key.startsWith(`${prefix}:`), `${key} starts with the prefix`);
        }
      }
    });
  }

  test('queue shards get slots of their own, all 16 of a 16-shard queue on distinct slots', () => {
    const slots = new Set(Array.from({ length: 16 }, (_, i) => hashSlot(queueKeys('herald', i).events)));
    assert.equal(slots.size, 16);
  });

  test("fast-lane lease operations run in the slot of their message's shard", () => {
    const leaseOps = Object.entries(MULTI_KEY_OPERATIONS).filter(([name]) => /lease/.test(name));
    assert.ok(leaseOps.length >= 3, 'finish, requeue/reap and renew are registered');
    const sample = { messages: ['a', 'b'], tenants: ['t', 'u'], site: 's', hour: 0 } as const;
    for (const shard of [0, 1, 7, 255]) {
      const slot = hashSlot(queueKeys('herald', shard).body('a'));
      for (const [name, operation] of leaseOps) {
        const keys = operation.keys('herald', { ...sample, shard });
        assert.ok(keys.includes(queueKeys('herald', shard).leases), `${name}: shard ${shard}'s lease zset`);
        for (const key of keys) assert.equal(hashSlot(key), slot, `${name}: ${key} in shard ${shard}'s slot`);
      }
    }
  });

  test('sites and tenants get slots of their own (they are spread over the cluster)', () => {
    const a = siteStateKey('herald', 'provider:gmail', 'suspended');
    const b = siteStateKey('herald', 'provider:yahoo', 'suspended');
    assert.notEqual(hashSlot(a), hashSlot(b));
    assert.notEqual(
      hashSlot(suppressionKeys('herald').entries('acme')),
      hashSlot(suppressionKeys('herald').entries('globex')),
    );
  });
});

describe('key names', () => {
  test('the queue slot: BullMQ, spool, events, reputation counters, feedback markers', () => {
    const q = queueKeys('herald');
    assert.equal(q.bullmqPrefix, 'herald:{queue}');
    assert.equal(q.body('m1'), 'herald:{queue}:body:m1');
    assert.equal(q.message('m1'), 'herald:{queue}:msg:m1');
    assert.equal(q.pendingJobs('m1'), 'herald:{queue}:msg:m1:jobs');
    assert.equal(q.events, 'herald:{queue}:events');
    assert.equal(q.trace('m1'), 'herald:{queue}:msg:m1:trace');
    assert.equal(reputationKey('herald', 'Acme', 'hard', 7), 'herald:{queue}:rep:acme:hard:7');
    assert.equal(
      feedbackMarkerKey('herald', 'bounce', 'm1', 'abcd'),
      'herald:{queue}:feedback:bounce:m1:abcd',
    );
  });

  test('shard 0 keeps the single-slot names; shard i is tagged {queue-i}', () => {
    assert.equal(queueKeys('herald', 0).body('m1'), 'herald:{queue}:body:m1');
    const q = queueKeys('herald', 3);
    assert.equal(q.shard, 3);
    assert.equal(q.bullmqPrefix, 'herald:{queue-3}');
    assert.equal(q.body('m1'), 'herald:{queue-3}:body:m1');
    assert.equal(q.events, 'herald:{queue-3}:events');
    assert.equal(q.hashedTenants, 'herald:{queue-3}:verp-tenants');
    assert.equal(q.activity.minute(NOV_26), `herald:{queue-3}:activity:${NOV_26}`);
    assert.equal(q.activity.bounces(NOV_26), `herald:{queue-3}:activity:${NOV_26}:bounces`);
    assert.equal(q.activity.sites(NOV_26), `herald:{queue-3}:activity:${NOV_26}:sites`);
    assert.equal(q.activity.siteReplies('provider:gmail'), 'herald:{queue-3}:site-replies:provider:gmail');
    assert.equal(reputationKey('herald', 'Acme', 'sent', 7, 3), 'herald:{queue-3}:rep:acme:sent:7');
    assert.equal(
      feedbackMarkerKey('herald', 'bounce', 'm1', 'abcd', 3),
      'herald:{queue-3}:feedback:bounce:m1:abcd',
    );
    assert.equal(q.leases, 'herald:{queue-3}:leases');
    assert.equal(q.lease('m1.0'), 'herald:{queue-3}:lease:m1.0');
    assert.equal(queueKeys('herald').leases, 'herald:{queue}:leases');
    assert.equal(queueKeys('herald').lease('m1.0'), 'herald:{queue}:lease:m1.0');
    assert.equal(shardRegistryKey('herald'), 'herald:{queue}:shards');
  });

  test('a site condition is tagged by its site; suppression by its tenant', () => {
    assert.equal(siteStateKey('herald', 'provider:gmail', 'slow'), 'herald:site:{provider:gmail}:slow');
    assert.equal(siteStateKey('herald', 'provider:gmail', 'rule:2'), 'herald:site:{provider:gmail}:rule:2');
    assert.equal(suppressionKeys('herald').entries('acme'), 'herald:suppress:{acme}');
    assert.equal(suppressionKeys('herald').expiries('acme'), 'herald:suppress-expiry:{acme}');
  });

  test('keys used alone keep their names', () => {
    const lane = laneOf('provider:gmail', '192.0.2.10');
    assert.equal(lane, 'provider:gmail@192.0.2.10');
    assert.equal(laneWindowKey('herald', lane), 'herald:site:{provider:gmail@192.0.2.10}:window');
    assert.equal(parkedJobsKey('herald', lane), 'herald:site:provider:gmail@192.0.2.10:parked-jobs');
    assert.equal(parkedJobsKey('herald', siteHoldKey('mx:a')), 'herald:site:suspended:mx:a:parked-jobs');
    assert.equal(parkedJobsKey('herald', tenantParkKey('Acme')), 'herald:site:tenant:acme:parked-jobs');
    assert.equal(
      semaphoreKey('herald', connectionLeaseKey(lane)),
      'herald:sem:conn:{provider:gmail@192.0.2.10}',
    );
    assert.equal(
      gcraKey('herald', connectionRateKey(lane)),
      'herald:gcra:conn-rate:provider:gmail@192.0.2.10',
    );
    assert.equal(gcraKey('herald', laneRateKey(lane)), 'herald:gcra:site:provider:gmail@192.0.2.10');
    assert.equal(gcraKey('herald', tenantRateKey('Acme')), 'herald:gcra:tenant:acme');
    assert.equal(gcraKey('herald', campaignRateKey('Acme', 'spring')), 'herald:gcra:campaign:acme:spring');
    assert.equal(
      capKey('herald', warmupCapKey('192.0.2.10', 'provider:gmail', NOV_26)),
      'herald:cap:warmup:192.0.2.10:provider:gmail:2026-11-26',
    );
    assert.equal(tenantPausedKey('herald', 'Acme'), 'herald:tenant:acme:paused');
  });
});

describe("strict durability's marks", () => {
  test('one server: one mark in shard 0; a cluster: <prefix>:{durability-<n>}:mark', () => {
    assert.equal(durabilityMarkKey('herald'), 'herald:{queue}:durability-mark');
    assert.equal(clusterMarkKey('herald', 7), 'herald:{durability-7}:mark');
  });

  test("a cluster master's mark is the first candidate in one of its slots, for any split of the slots", () => {
    // The three ranges redis-cli gives three masters, a master with one slot, one with the last slot.
    const splits: [number, number][] = [
      [0, 5460],
      [5461, 10922],
      [10923, 16383],
      [4242, 4242],
      [16383, 16383],
    ];
    for (const [from, to] of splits) {
      const found = clusterMarkIn('herald', (slot) => slot >= from && slot <= to);
      assert.ok(found, `a mark in ${from}-${to}`);
      assert.equal(hashSlot(found.key), found.slot);
      assert.ok(found.slot >= from && found.slot <= to);
      const n = Number(/\{durability-(\d+)\}/.exec(found.key)?.[1]);
      for (let m = 0; m < n; m++) {
        const earlier = hashSlot(clusterMarkKey('herald', m));
        assert.ok(earlier < from || earlier > to, 'no earlier candidate was in the range');
      }
    }
  });

  test('a prefix with a hash tag of its own pins every mark to its slot', () => {
    const pinned = hashSlot('{tenant-a}');
    assert.equal(
      clusterMarkIn('{tenant-a}', (slot) => slot === pinned)?.key,
      '{tenant-a}:{durability-0}:mark',
    );
    assert.equal(
      clusterMarkIn('{tenant-a}', (slot) => slot === (pinned + 1) % CLUSTER_SLOTS),
      undefined,
    );
  });
});
