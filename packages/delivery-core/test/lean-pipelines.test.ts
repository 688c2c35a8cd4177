/**
 * Lean ioredis pipelines (src/redis/lean-pipelines.ts) on a real redis-server: they behave as
 * ioredis' own (replies, errors, MULTI, scripts, auto-pipelining), carry no per-instance `length`,
 * and — the reason they exist — what a finished pipeline held is freed by the young-generation GC
 * instead of being promoted (old-space growth across two forced minor GCs, both kinds compared in
 * one process). herald-test: own-process (it sets V8's --expose-gc at run time).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { Pipeline, type Redis } from 'ioredis';
import { leanPipelinesActive, useLeanPipelines } from '../src/redis/index.js';

/** Pipelines per round of the GC comparison, commands each. */
const ROUNDS = 80;
const COMMANDS = 48;

describe('lean ioredis pipelines', () => {
  let server: RedisHandle;
  let redis: Redis;

  before(async () => {
    useLeanPipelines();
    server = await startRedis();
    redis = server.client();
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('is active on the installed ioredis and leaves no own length on a pipeline', () => {
    assert.equal(leanPipelinesActive(), true);
    const p = redis.pipeline().set('lean:a', '1').get('lean:a');
    assert.equal(Object.getOwnPropertyDescriptor(p, 'length'), undefined);
    assert.equal(p.length, 2);
  });

  it('answers a pipeline, a MULTI and an error reply as ioredis does', async () => {
    const replies = await redis.pipeline().set('lean:b', 'x').get('lean:b').incr('lean:b').exec();
    assert.deepEqual(replies?.slice(0, 2), [
      [null, 'OK'],
      [null, 'x'],
    ]);
    assert.match(String(replies?.[2]?.[0]), /not an integer/);
    const multi = await redis.multi().set('lean:c', '5').incrby('lean:c', 2).exec();
    assert.deepEqual(multi, [
      [null, 'OK'],
      [null, 7],
    ]);
    assert.deepEqual(await redis.multi().exec(), []);
  });

  it('runs a script defined on the client inside a pipeline (its sha map)', async () => {
    redis.defineCommand('leanEcho', { numberOfKeys: 1, lua: 'return ARGV[1] .. KEYS[1]' });
    const p = redis.pipeline() as unknown as {
      leanEcho(k: string, a: string): typeof p;
      exec(): Promise<unknown>;
    };
    assert.deepEqual(await p.leanEcho('k', 'v').exec(), [[null, 'vk']]);
    assert.equal(Object.hasOwn(p, 'leanEcho'), false, 'the script sits on the client’s shape');
    redis.defineCommand('leanTwice', { numberOfKeys: 0, lua: 'return ARGV[1] .. ARGV[1]' });
    const q = redis.pipeline() as unknown as {
      leanEcho(k: string, a: string): typeof q;
      leanTwice(a: string): typeof q;
      exec(): Promise<unknown>;
    };
    assert.deepEqual(await q.leanTwice('ab').leanEcho('k', 'w').exec(), [
      [null, 'abab'],
      [null, 'wk'],
    ]);
  });

  it('serves auto-pipelined commands', async () => {
    const auto = server.client({ enableAutoPipelining: true });
    try {
      const got = await Promise.all(
        Array.from({ length: 50 }, (_, i) => auto.set(`lean:auto:${i}`, String(i))),
      );
      assert.equal(got.length, 50);
      assert.equal(await auto.get('lean:auto:49'), '49');
    } finally {
      auto.disconnect();
    }
  });

  it('lets the young-generation GC free a finished pipeline (ioredis’ own: promoted)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as (o: { type: 'minor' | 'major' }) => void;
    const Original = Pipeline.prototype.constructor as new (r: Redis) => ReturnType<Redis['pipeline']>;
    assert.equal(redis.pipeline().constructor, Original);
    const oldSpace = () =>
      v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
    async function promoted(make: () => ReturnType<Redis['pipeline']>): Promise<number> {
      gc({ type: 'major' });
      const before = oldSpace();
      for (let round = 0; round < ROUNDS; round++) {
        const p = make();
        for (let i = 0; i < COMMANDS; i++) p.set(`lean:gc:${i}`, `${round}:${i}:${'v'.repeat(200)}`);
        await p.exec();
      }
      gc({ type: 'minor' });
      gc({ type: 'minor' });
      return oldSpace() - before;
    }
    await promoted(() => redis.pipeline()); // warm both code paths once
    await promoted(() => new Original(redis));
    const lean = await promoted(() => redis.pipeline());
    const original = await promoted(() => new Original(redis));
    assert.ok(
      original > 4 * Math.max(lean, 64 * 1024),
      `old space grew ${original} B with ioredis' pipelines, ${lean} B with lean ones`,
    );
  });
});
