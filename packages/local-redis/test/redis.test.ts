import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';
import {
  type RedisHandle,
  redisServerPath,
  startRedis,
  startReplica,
  trackedChildren,
} from '../src/index.js';

const AOF_FSYNC_WAIT_MS = 1_200; // appendfsync everysec flushes at least once a second

const started: RedisHandle[] = [];
async function start(opts?: Parameters<typeof startRedis>[0]): Promise<RedisHandle> {
  const redis = await startRedis(opts);
  started.push(redis);
  return redis;
}
after(async () => {
  await Promise.all(started.map((r) => r.stop()));
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('redisServerPath finds the installed redis-server binary', () => {
  const path = redisServerPath();
  assert.ok(path, 'redis-server must be installed: apt-get install -y redis-server');
  assert.match(path, /redis-server$/);
});

test('a private redis answers on 127.0.0.1 and stores what a client sets', async () => {
  const redis = await start();
  assert.equal(redis.host, '127.0.0.1');
  assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
  assert.ok(existsSync(redis.dir));
  const client = redis.client();
  await client.set('herald:test', 'hello');
  assert.equal(await client.get('herald:test'), 'hello');
  assert.equal(await client.config('GET', 'appendonly').then((r) => (r as string[])[1]), 'yes');
  assert.ok(trackedChildren().some((c) => c.pid === redis.pid));
});

test('an AOF-written key survives a SIGKILL and a restart on the same port', async () => {
  const redis = await start();
  const port = redis.port;
  const firstPid = redis.pid;
  const writer = redis.client();
  await writer.set('herald:durable', 'kept');
  await new Promise((resolve) => setTimeout(resolve, AOF_FSYNC_WAIT_MS));

  await redis.kill();
  assert.equal(isAlive(firstPid), false, 'kill() must leave the old process dead');

  await redis.restart();
  assert.equal(redis.port, port);
  assert.notEqual(redis.pid, firstPid);
  const reader = redis.client();
  assert.equal(await reader.get('herald:durable'), 'kept');
});

test('stop leaves no process and no temp dir behind, and is idempotent', async () => {
  const redis = await start();
  const client = redis.client();
  await client.ping();
  const { pid, dir } = redis;
  await redis.stop();
  await redis.stop();
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  assert.equal(existsSync(dir), false);
  assert.equal(client.status, 'end');
  assert.equal(
    trackedChildren().some((c) => c.pid === pid),
    false,
  );
  assert.throws(() => redis.client(), /stopped/);
  await assert.rejects(redis.restart(), /stopped/);
});

test('appendonly: false starts redis without AOF', async () => {
  const redis = await start({ appendonly: false });
  const client = redis.client();
  assert.equal(await client.config('GET', 'appendonly').then((r) => (r as string[])[1]), 'no');
});

test('two private redis servers run side by side on different ports', async () => {
  const [a, b] = await Promise.all([start(), start()]);
  assert.notEqual(a.port, b.port);
  await a.client().set('k', 'a');
  assert.equal(await b.client().get('k'), null);
});

test("appendfsync: 'always' starts a server that fsyncs each write (CONFIG GET says so)", async () => {
  const redis = await start({ appendfsync: 'always' });
  const client = redis.client();
  assert.deepEqual(await client.config('GET', 'appendfsync'), ['appendfsync', 'always']);
  const everysec = await start();
  assert.deepEqual(await everysec.client().config('GET', 'appendfsync'), ['appendfsync', 'everysec']);
});

test('startReplica: online when it resolves, WAIT 1 is acknowledged, and stop() ends it by PID', async () => {
  const primary = await start();
  const replica = await startReplica(primary);
  started.push(replica);
  const client = primary.client();
  await client.set('herald:replicated', 'yes');
  assert.equal(await client.call('WAIT', '1', '5000'), 1, 'the replica acknowledged the write');
  assert.equal(await replica.client().get('herald:replicated'), 'yes');
  await replica.stop();
  assert.equal(isAlive(replica.pid), false);
});
