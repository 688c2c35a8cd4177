/**
 * A command batch on a real redis-server: the commands recorded through the MULTI-shaped methods
 * run in order in one script call and answer as a MULTI's EXEC would (a failing command fails
 * alone, the others still apply); a batch that recorded a BullMQ script goes as the MULTI it is
 * given, in the same order; on an auto-pipelining client the script call shares a pipeline with
 * other commands of the same turn; after SCRIPT FLUSH (a restarted or promoted server) the batch
 * loads the script again and runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { ChainableCommander, Redis } from 'ioredis';
import { CommandBatch } from '../src/redis/index.js';

describe('command batch on a real redis-server', () => {
  let redis: RedisHandle;
  let client: Redis;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
  });
  after(async () => {
    await redis.stop();
  });

  it('runs every command in order in one call and answers like EXEC, a failed command alone', async () => {
    await client.set('cb:string', 'x');
    const batch = new CommandBatch(client);
    batch
      .asCommander()
      .set('cb:body', Buffer.from('body bytes'))
      .hset('cb:record', { from: 'a@b.test', size: 10 })
      .sadd('cb:pending', 'j1')
      .zadd('cb:leases', 123, 'j1')
      .sadd('cb:string', 'oops')
      .xadd('cb:events', 'MAXLEN', '~', '100', '*', 'event', '{"type":"accepted"}')
      .rpush('cb:trace', 'one')
      .rpushx('cb:missing', 'two')
      .pexpireat('cb:trace', Date.now() + 60_000)
      .del('cb:gone1', 'cb:gone2');
    assert.equal(batch.length, 11); // del of two keys is recorded as two
    const results = await batch.exec();
    assert.ok(results);
    assert.equal(results.length, 11);
    assert.deepEqual(results[0], [null, 'OK']);
    assert.deepEqual(results[1], [null, 2]);
    assert.deepEqual(results[2], [null, 1]);
    assert.deepEqual(results[3], [null, 1]);
    assert.match(String(results[4]![0]?.message), /WRONGTYPE/);
    assert.match(String(results[5]![1]), /^\d+-\d+$/);
    assert.deepEqual(results[6], [null, 1]);
    assert.deepEqual(results[7], [null, 0]);
    assert.deepEqual(results[8], [null, 1]);
    assert.deepEqual(results[9], [null, 0]);
    assert.equal(await client.get('cb:body'), 'body bytes');
    assert.deepEqual(await client.hgetall('cb:record'), { from: 'a@b.test', size: '10' });
    assert.ok((await client.pttl('cb:trace')) > 0);
    assert.equal(await client.xlen('cb:events'), 1);
  });

  it('a batch with a BullMQ script goes as the given MULTI, in order', async () => {
    const batch = new CommandBatch(client);
    const commander = batch.asCommander() as ChainableCommander & {
      runCommand(name: string, args: unknown): unknown;
    };
    commander.rpush('cb:order', 'first');
    commander.runCommand('echoScript', ['cb:order', 'second']);
    commander.rpush('cb:order', 'third');
    const multi = client.multi();
    (multi as unknown as Record<string, unknown>).runCommand = (_name: string, args: string[]) =>
      multi.rpush(args[0]!, args[1]!);
    const results = await batch.exec(async () => multi);
    assert.deepEqual(
      results?.map(([err]) => err),
      [null, null, null],
    );
    assert.deepEqual(await client.lrange('cb:order', 0, -1), ['first', 'second', 'third']);
  });

  it('shares an auto-pipelined flush with the commands around it', async () => {
    const auto = redis.client({ enableAutoPipelining: true });
    const batch = new CommandBatch(auto);
    batch.asCommander().incrby('cb:count', 2);
    const [before, results, after] = await Promise.all([
      auto.incr('cb:count'),
      batch.exec(),
      auto.incr('cb:count'),
    ]);
    assert.equal(before, 1);
    assert.deepEqual(results, [[null, 3]]);
    assert.equal(after, 4);
    auto.disconnect();
  });

  it('runs after the server forgot the script (SCRIPT FLUSH: a restart, a promoted replica)', async () => {
    const first = new CommandBatch(client);
    first.asCommander().set('cb:flush', 'one');
    assert.deepEqual(await first.exec(), [[null, 'OK']]);
    await client.script('FLUSH');
    const again = new CommandBatch(client);
    again.asCommander().set('cb:flush', 'two');
    assert.deepEqual(await again.exec(), [[null, 'OK']]);
    assert.equal(await client.get('cb:flush'), 'two');
  });
});
