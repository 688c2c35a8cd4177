/**
 * `herald bench --backlog N` on loopback: a private redis-server, the counting sink and a relay
 * child, all started and stopped by runBench. The backlog's delayed jobs must survive the run
 * untouched, and with `--shards` they are spread over every shard as the spool spreads messages.
 * No assertions on speed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DELIVERY_QUEUE,
  type DeliveryJobData,
  queueKeys,
  readShardLayout,
  shardOf,
} from '@herald/delivery-core/queue';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { Queue } from 'bullmq';
import { parseBenchArgs } from '../src/bench/args.js';
import { type Backlog, backlogBody, openBacklog, parseInfoField } from '../src/bench/backlog.js';
import { runBench } from '../src/bench/index.js';

const BACKLOG = 200;
const BODY_BYTES = 2048;
const FILL_TIMEOUT_MS = 60_000;

function capture() {
  let text = '';
  return { write: (chunk: string) => (text += chunk), text: () => text };
}

test('a run on 2 shards over 200 scheduled messages delivers every new message and leaves the 200 delayed jobs queued', async () => {
  const stdout = capture();
  const stderr = capture();
  const code = await runBench(
    [
      ...['--backlog', String(BACKLOG), '--shards', '2'],
      ...['--messages', '50', '--concurrency', '5', '--timeout', '120'],
    ],
    { stdout, stderr, env: {} },
  );
  const lines = stdout.text().trim().split('\n');
  assert.equal(lines.length, 1, `stdout holds exactly one line; stderr:\n${stderr.text()}`);
  const result = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(code, 0, `exit 0 expected; result: ${lines[0]}`);
  assert.equal(result['status'], 'ok');
  assert.equal(result['delivered'], 50);
  assert.equal(result['backlog'], BACKLOG);
  assert.equal((result['params'] as Record<string, unknown>)['shards'], 2);
  assert.equal(typeof result['backlog_fill_s'], 'number');
  assert.ok((result['delayed_after_run'] as number) >= BACKLOG, 'the backlog is still delayed after the run');
  assert.ok(
    (result['redis_bytes_per_queued_message'] as number) > BODY_BYTES,
    'each queued message costs more than its body',
  );
});

test('without --backlog the result says backlog 0 and no bytes per queued message', async () => {
  const stdout = capture();
  const code = await runBench(['--messages', '10', '--concurrency', '2', '--timeout', '120'], {
    stdout,
    stderr: capture(),
    env: {},
  });
  const result = JSON.parse(stdout.text().trim()) as Record<string, unknown>;
  assert.equal(code, 0, `exit 0 expected; result: ${stdout.text()}`);
  assert.equal(result['backlog'], 0);
  assert.equal(result['backlog_fill_s'], null);
  assert.equal(result['redis_bytes_per_queued_message'], null);
  assert.equal(result['delayed_after_run'], 0);
});

/** Every shard's delayed jobs, read the way a relay finds them (the registry, then each shard's queue). */
async function delayedByShard(redis: RedisHandle, prefix: string) {
  const client = redis.client();
  try {
    const layout = await readShardLayout(client, prefix);
    const shards = [];
    for (let shard = 0; shard < layout.max; shard++) {
      const keys = queueKeys(prefix, shard);
      const queue = new Queue<DeliveryJobData>(DELIVERY_QUEUE, {
        connection: client,
        prefix: keys.bullmqPrefix,
      });
      const jobs = await queue.getDelayed();
      const bodies = await Promise.all(jobs.map((job) => client.exists(keys.body(job.data.messageId))));
      shards.push({ jobs, bodies: bodies.reduce((a, b) => a + b, 0) });
      await queue.close();
    }
    return { layout, shards };
  } finally {
    client.disconnect();
  }
}

/** Fills `messages` small scheduled messages over `shards` shards of a private Redis, then runs `check`. */
async function withBacklog(
  prefix: string,
  shards: number,
  messages: number,
  check: (redis: RedisHandle, backlog: Backlog) => Promise<void>,
): Promise<void> {
  const redis = await startRedis();
  const backlog = await openBacklog(redis.url, prefix, shards);
  try {
    await backlog.fill({
      messages,
      sizeBytes: 64,
      deadline: Date.now() + FILL_TIMEOUT_MS,
      signal: new AbortController().signal,
    });
    await check(redis, backlog);
  } finally {
    await backlog.close();
    await redis.stop();
  }
}

test('a backlog on 4 shards is spread evenly, each message in the shard its id names, with its body there', async () => {
  await withBacklog('bench-shards', 4, BACKLOG, async (redis, backlog) => {
    assert.equal(await backlog.delayedCount(), BACKLOG, 'the delayed count sums every shard');
    const { layout, shards } = await delayedByShard(redis, 'bench-shards');
    assert.equal(layout.max, 4, 'the shard count is in the registry, as the relay records it');
    assert.ok(layout.since !== undefined, 'ids carry their shard from the registry on');
    assert.deepEqual(
      shards.map((s) => s.jobs.length),
      [50, 50, 50, 50],
      'round robin, as the spool picks shards',
    );
    shards.forEach(({ jobs, bodies }, shard) => {
      for (const job of jobs) assert.equal(shardOf(job.id!, layout), shard, `${job.id} names shard ${shard}`);
      assert.equal(bodies, jobs.length, `every body of shard ${shard} is under that shard's keys`);
    });
  });
});

test('a backlog on one shard keeps the single-slot layout: all in shard 0, no shard in the ids', async () => {
  await withBacklog('bench-one', 1, 20, async (redis) => {
    const { layout, shards } = await delayedByShard(redis, 'bench-one');
    assert.deepEqual([layout.max, layout.since], [1, undefined]);
    assert.equal(shards[0]!.jobs.length, 20);
    assert.equal(shards[0]!.bodies, 20);
  });
});

test('--shards takes 1 to 256 (default 1) and is refused with --relay', () => {
  assert.equal(parseBenchArgs([]).shards, 1);
  assert.equal(parseBenchArgs(['--shards', '16']).shards, 16);
  assert.throws(() => parseBenchArgs(['--shards', '0']), /--shards: expected 1\.\.256/);
  assert.throws(() => parseBenchArgs(['--shards', '257']), /--shards: expected 1\.\.256/);
  assert.throws(
    () => parseBenchArgs(['--shards', '2', '--relay', '127.0.0.1:2525', '--sink-port', '2526']),
    /--shards only applies to a relay the bench starts/,
  );
});

test('--backlog takes a count of zero or more and is refused with --relay', () => {
  assert.equal(parseBenchArgs(['--backlog', '1000000']).backlog, 1_000_000);
  assert.equal(parseBenchArgs([]).backlog, 0);
  assert.throws(() => parseBenchArgs(['--backlog', '-1']), /--backlog: expected an integer/);
  assert.throws(
    () => parseBenchArgs(['--backlog', '5', '--relay', '127.0.0.1:2525', '--sink-port', '2526']),
    /--backlog only applies to a relay the bench starts/,
  );
});

test('the backlog body has exactly the requested size and INFO fields are read by name', () => {
  assert.equal(backlogBody(BODY_BYTES).length, BODY_BYTES);
  assert.equal(backlogBody(0).length, 0);
  const info = '# Memory\r\nused_memory:965032\r\nused_memory_human:942.41K\r\n';
  assert.equal(parseInfoField(info, 'used_memory'), 965_032);
  assert.equal(parseInfoField(info, 'used_memory_peak'), null);
});
