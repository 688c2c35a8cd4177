/**
 * A sharded queue (`queue.shards: 4`) on one real redis-server: the registry, the spool's group
 * commit (one MULTI per shard touched), each message's keys in its shard, finishJob, the event
 * streams of all shards read as one (paging and following), merged cursors saved forward id by
 * id, an Idempotency-Key found after the count changed, reputation counters summed over shards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { newestCursor, type StreamEvent, streamCursor, tailEvents } from '../src/events/index.js';
import { IdempotencyStore, idempotencyScope } from '../src/intake/index.js';
import { hashSlot, queueKeys, reputationKey, shardRegistryKey } from '../src/keys/index.js';
import { eventStreamKeys, readShardLayout, ShardRegistry, Spool } from '../src/queue/index.js';
import { reputationBucket, TenantReputation } from '../src/reputation/index.js';

const PREFIX = 'hs';

async function collect(source: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const all: StreamEvent[] = [];
  for await (const entry of source) all.push(entry);
  return all;
}

describe('a queue of 4 shards on one redis-server', () => {
  let redis: RedisHandle;
  let client: Redis;
  let shards: ShardRegistry;
  let spool: Spool;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    shards = await ShardRegistry.open(client, PREFIX, 4);
    spool = new Spool(client, PREFIX, { shards });
  });
  after(async () => {
    await spool.close();
    client.disconnect();
    await redis.stop();
  });

  it('records the count: max only grows, `since` is set once', async () => {
    assert.equal(shards.layout.max, 4);
    assert.ok(shards.layout.since !== undefined);
    const since = shards.layout.since;
    const lower = await ShardRegistry.open(client, PREFIX, 2);
    assert.deepEqual(lower.layout, { count: 2, max: 4, since });
    const read = await readShardLayout(client, PREFIX);
    assert.equal(read.max, 4);
    assert.equal(await client.hget(shardRegistryKey(PREFIX), 'since'), String(since));
  });

  it('hears when another process raised the count (its workers and readers then serve the new shards)', async () => {
    const prefix = `${PREFIX}-grow`;
    const mine = await ShardRegistry.open(client, prefix, 2);
    const grown: number[] = [];
    mine.onGrow((layout) => grown.push(layout.max));
    await mine.refresh();
    assert.deepEqual(grown, [], 'nothing changed');
    await ShardRegistry.open(client, prefix, 6);
    await mine.refresh();
    assert.deepEqual(grown, [6]);
    assert.equal(mine.layout.count, 2, 'this process still spools to its own count');
    const spoolOfMine = new Spool(client, prefix, { shards: mine });
    assert.equal(spoolOfMine.allQueues().length, 6);
    await spoolOfMine.close();
  });

  it('commits a turn of messages as one MULTI per shard, each message whole in its shard', async () => {
    const monitor = await redis.client().monitor();
    const multis: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'multi') multis.push(args[0]);
    });
    const ids = Array.from({ length: 20 }, () => spool.newMessageId());
    const results = await Promise.all(
      ids.map((id, n) =>
        spool.enqueue({
          id,
          tenant: 'acme',
          from: 'a@sender.test',
          recipients: [`r${n}@one.test`, `r${n}@two.test`],
          body: Buffer.from(`Subject: ${n}\r\n\r\nbody\r\n`),
          acceptedAt: Date.now(),
          acceptedEvent: JSON.stringify({ type: 'accepted', messageId: id, tenant: 'acme', time: n }),
        }),
      ),
    );
    // MONITOR shows commands as the server runs them: wait for the four EXECs to be seen.
    const deadline = Date.now() + 5_000;
    while (multis.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    monitor.disconnect();
    assert.equal(multis.length, 4, 'one MULTI per shard touched');
    assert.deepEqual(new Set(ids.map((id) => spool.shardOf(id))), new Set([0, 1, 2, 3]));
    for (const [n, id] of ids.entries()) {
      const q = queueKeys(PREFIX, spool.shardOf(id));
      assert.equal(await client.exists(q.body(id), q.message(id), q.pendingJobs(id), q.trace(id)), 4);
      const jobs = await spool.queueFor(id).getJobs(['waiting']);
      assert.equal(jobs.filter((j) => j.data.messageId === id).length, 2, `message ${n}'s jobs in its shard`);
      const slot = hashSlot(q.body(id));
      for (const job of results[n]!.jobs)
        assert.equal(hashSlot(`${q.bullmqPrefix}:delivery:${job.id}`), slot);
    }
    const counts = await spool.counts();
    assert.equal(counts.waiting, 40);
    const perShard = await Promise.all([0, 1, 2, 3].map((s) => spool.queueOf(s).count()));
    assert.deepEqual(perShard, [10, 10, 10, 10]);
    for (let s = 0; s < 4; s++)
      assert.equal(await client.xlen(queueKeys(PREFIX, s).events), 5, `shard ${s}'s accepted events`);
  });

  it('finishes a job in its shard; the last one deletes the message', async () => {
    const id = spool.newMessageId(3);
    const { jobs } = await spool.enqueue({
      id,
      tenant: 't',
      from: '',
      recipients: ['a@a.test', 'b@b.test'],
      body: Buffer.from('x'),
      acceptedAt: Date.now(),
    });
    assert.equal(spool.shardOf(id), 3);
    assert.equal(await spool.finishJob(id, jobs[0]!.id), 1);
    assert.equal(await spool.finishJob(id, jobs[1]!.id), 0);
    assert.equal(await client.exists(queueKeys(PREFIX, 3).body(id)), 0);
  });

  it('reads every shard’s stream as one: the last N merged by id, paging without gap or repeat', async () => {
    const keys = eventStreamKeys(PREFIX, shards.layout).map((k) => `${k}-tail`);
    const streamOf = (n: number) => (n * 7) % 4;
    const written: number[] = [];
    for (let n = 0; n < 1_300; n++) {
      await client.xadd(keys[streamOf(n)]!, '*', 'event', JSON.stringify({ type: 'delivered', time: n }));
      written.push(n);
    }
    // Each stream keeps its order; across streams entries go by stream id (entries of one
    // millisecond in two streams have no order between them).
    const assertMergedOrder = (entries: StreamEvent[]) => {
      const last = new Map<number, number>();
      let ms = 0;
      for (const { event, streamId } of entries) {
        const stream = streamOf(event.time);
        assert.ok((last.get(stream) ?? -1) < event.time, 'in order within its stream');
        last.set(stream, event.time);
        const at = Number(streamId!.split('-')[0]);
        assert.ok(at >= ms, 'merged by stream id');
        ms = at;
      }
    };
    const last = await collect(tailEvents(client, keys, { limit: 50 }));
    assert.equal(last.length, 50);
    assertMergedOrder(last);
    for (let stream = 0; stream < 4; stream++) {
      const newest = Math.max(...written.filter((n) => streamOf(n) === stream));
      assert.ok(
        last.some(({ event }) => event.time === newest),
        `the newest entry of stream ${stream}`,
      );
    }
    // Each entry's cursor resumes exactly after it.
    const resumed = await collect(tailEvents(client, keys, { after: last[9]!.id, limit: 100 }));
    assert.deepEqual(
      resumed.map(({ event }) => event.time),
      last.slice(10).map(({ event }) => event.time),
    );
    const seen: StreamEvent[] = [];
    let cursor = '0';
    for (;;) {
      const page = await collect(tailEvents(client, keys, { after: cursor, limit: 333 }));
      if (page.length === 0) break;
      seen.push(...page);
      cursor = page.at(-1)!.id;
    }
    assert.equal(seen.length, written.length, 'every entry once');
    assert.deepEqual(
      seen.map(({ event }) => event.time).sort((a, b) => a - b),
      written,
    );
    assertMergedOrder(seen);
  });

  it('follows every shard’s stream', async () => {
    const keys = eventStreamKeys(PREFIX, shards.layout).map((k) => `${k}-follow`);
    const controller = new AbortController();
    const got: number[] = [];
    const reader = client.duplicate();
    const after = await newestCursor(client, keys);
    const reading = (async () => {
      for await (const { event } of tailEvents(reader, keys, {
        after,
        limit: 0,
        follow: true,
        signal: controller.signal,
        blockMs: 100,
      })) {
        got.push(event.time);
        if (got.length === 8) controller.abort();
      }
    })();
    for (let n = 0; n < 8; n++)
      await client.xadd(keys[n % 4]!, '*', 'event', JSON.stringify({ type: 'delivered', time: n }));
    const timeout = setTimeout(() => controller.abort(), 10_000);
    await reading;
    clearTimeout(timeout);
    reader.disconnect();
    assert.deepEqual(
      got.sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
  });

  it('saves a merged cursor forward id by id', async () => {
    const cursor = streamCursor(client, PREFIX, 'merged-test');
    await cursor.save('5-0');
    await cursor.save('6-0,4-0,5-0,7-1');
    assert.equal(await cursor.load(), '6-0,5-0,5-0,7-1', 'a plain id stood for every stream');
    await cursor.save('6-0,9-0,1-0,7-1');
    assert.equal(await cursor.load(), '6-0,9-0,5-0,7-1');
  });

  it('finds an Idempotency-Key answer recorded while another count was in use', async () => {
    const scope = idempotencyScope('acme', 'key-1');
    const four = new IdempotencyStore(client, PREFIX, { layout: { count: 4, max: 4, since: 1 } });
    assert.deepEqual(await four.claim(scope), { state: 'claimed' });
    await four.finish({ scope, value: 'answer', ttlMs: 60_000 });
    const three = new IdempotencyStore(client, PREFIX, { layout: { count: 3, max: 4, since: 1 } });
    assert.deepEqual(await three.claim(scope), { state: 'done', record: 'answer' });
  });

  it('sums reputation counters over every shard', async () => {
    const now = Date.now();
    const bucket = reputationBucket(now);
    for (let s = 0; s < 4; s++) await client.set(reputationKey(PREFIX, 'acme', 'sent', bucket, s), 10);
    await client.set(reputationKey(PREFIX, 'acme', 'hard', bucket, 2), 4);
    const events = { emit() {}, on: () => () => {} } as never;
    const rep = new TenantReputation(client, PREFIX, events, () => now, shards);
    const rates = await rep.rates('acme', 3_600_000);
    assert.equal(rates.sent, 40);
    assert.equal(rates.hard, 4);
    assert.equal(rates.bounceRate, 0.1);
  });
});
