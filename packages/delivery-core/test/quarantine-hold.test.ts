/**
 * The scan stage's hold against a real redis-server with four queue shards: a held message's
 * record, its indexes and its `accepted`, `suppressed` (a dropped recipient) and `quarantined`
 * events (stream and trace) are written in one MULTI in the message's shard slot — MONITOR shows
 * the XADDs between that MULTI and its EXEC, and the stream holds them the moment the hold
 * resolves, before the event sink's batch ever runs. Listing merges every shard's index by time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '@herald/delivery-core';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { type HeraldEvent, RedisEventSink, readEvents } from '../src/events/index.js';
import { scanStage } from '../src/intake/scan-stage.js';
import { hashSlot, quarantineKeys, queueKeys } from '../src/keys/index.js';
import { createQuarantine } from '../src/quarantine/index.js';
import { ShardRegistry, Spool } from '../src/queue/index.js';

const PREFIX = 'qhold';
const SHARDS = 4;
const MONITOR_WAIT_MS = 5_000;
const POLL_MS = 20;

describe('a held message and its events in one transaction', () => {
  let redis: RedisHandle;
  let client: Redis;
  let shards: ShardRegistry;
  let spool: Spool;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    shards = await ShardRegistry.open(client, PREFIX, SHARDS);
    spool = new Spool(client, PREFIX, { shards });
  });
  after(async () => {
    await spool?.close();
    await redis?.stop();
  });

  it('writes the record, its indexes and its accepted / suppressed / quarantined events in the MULTI of its shard', async () => {
    const sink = new RedisEventSink({
      redis: client,
      streamKey: (id) => (id === undefined ? spool.shardKeys(0) : spool.keysFor(id)).events,
      streamMaxLen: 10_000,
      logger: pino({ level: 'silent' }),
      trace: { key: (id) => spool.keysFor(id).trace(id), retentionMs: 60_000, maxEntries: 100 },
      activity: (id) => (id === undefined ? spool.shardKeys(0) : spool.keysFor(id)).activity,
    });
    const announced: HeraldEvent[] = [];
    sink.on((e) => void announced.push(e));
    const quarantine = createQuarantine({
      redis: client,
      config: parseConfig({ redis: { prefix: PREFIX } }),
      shards,
      events: sink,
      enqueue: async () => {},
    });
    const id = spool.newMessageId(2);
    const monitor = await redis.client().monitor();
    const seen: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => void seen.push(args));
    const result = await scanStage(
      {
        scanner: {
          scan: async () => ({ action: 'quarantine', score: 15, symbols: ['GTUBE'], threshold: 10 }),
        },
        quarantine: quarantine.store,
        events: sink,
      },
      {
        id,
        from: 'app@origin.test',
        recipients: ['held@dest.test'],
        body: Buffer.from('Subject: held\r\n\r\nGTUBE\r\n'),
        tenant: 'acme',
        source: 'smtp',
        dropped: [
          {
            address: 'gone@dest.test',
            entry: { address: 'gone@dest.test', reason: 'userunknown', source: 'bounce', at: 1 },
          },
        ],
      },
    );
    assert.equal(result, 'held');
    // Read at once: no sink batch has run (emit would write on a later turn; nothing was emitted).
    const k = queueKeys(PREFIX, 2);
    const stream = await readEvents(client, k.events);
    assert.deepEqual(
      stream.map((e) => e.type),
      ['accepted', 'suppressed', 'quarantined'],
    );
    assert.deepEqual(
      (await client.lrange(k.trace(id), 0, -1)).map((j) => (JSON.parse(j) as HeraldEvent).type),
      ['accepted', 'suppressed', 'quarantined'],
    );
    assert.deepEqual(
      announced.map((e) => e.type),
      ['accepted', 'suppressed', 'quarantined'],
      'announced to listeners once committed',
    );
    const q = quarantineKeys(PREFIX, 2);
    assert.equal(hashSlot(q.message(id)), hashSlot(k.events), 'the record is in its shard slot');
    assert.equal(await client.exists(q.message(id)), 1);

    // MONITOR shows commands as the server runs them: wait until the EXEC was seen.
    const deadline = Date.now() + MONITOR_WAIT_MS;
    while (!seen.some((a) => a[0]?.toLowerCase() === 'exec') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, POLL_MS));
    monitor.disconnect();
    const begin = seen.findIndex((a) => a[0]?.toLowerCase() === 'multi');
    const end = seen.findIndex((a, i) => i > begin && a[0]?.toLowerCase() === 'exec');
    assert.ok(begin >= 0 && end > begin, 'one MULTI … EXEC');
    const inside = seen.slice(begin + 1, end).map((a) => [a[0]?.toLowerCase(), a[1]]);
    assert.deepEqual(
      inside
        .filter(([cmd]) => cmd === 'hset' || cmd === 'zadd' || cmd === 'xadd')
        .map(([cmd, key]) => [cmd, key]),
      [
        ['hset', q.message(id)],
        ['zadd', q.index],
        ['zadd', q.tenant('acme')],
        ['xadd', k.events],
        ['xadd', k.events],
        ['xadd', k.events],
      ],
    );
    assert.ok(
      seen.slice(end + 1).every((a) => a[0]?.toLowerCase() !== 'xadd'),
      'no event written after the transaction',
    );
  });

  it('lists held messages of every shard, oldest first, and counts them all', async () => {
    const quarantine = createQuarantine({
      redis: client,
      config: parseConfig({ redis: { prefix: `${PREFIX}-list` } }),
      shards,
      events: { emit: () => {}, flush: async () => {} },
      enqueue: async () => {},
    });
    const ids = [3, 0, 1, 2, 3].map((shard) => spool.newMessageId(shard));
    for (const [n, id] of ids.entries())
      await quarantine.store.hold({
        id,
        tenant: n % 2 ? 'acme' : 'other',
        from: 'app@origin.test',
        recipients: [`r${n}@dest.test`],
        body: Buffer.from(`Subject: ${n}\r\n\r\nx\r\n`),
        reason: 'spam',
        heldAt: 1_000 + n,
        source: 'smtp',
      });
    assert.equal((await quarantine.list()).total, 5);
    assert.deepEqual(
      (await quarantine.list({ offset: 1, limit: 3 })).messages.map((m) => m.id),
      ids.slice(1, 4),
    );
    assert.deepEqual(
      (await quarantine.list({ tenant: 'acme' })).messages.map((m) => m.id),
      [ids[1], ids[3]],
    );
    assert.ok(await quarantine.remove(ids[4]!));
    assert.equal((await quarantine.list()).total, 4);
  });
});
