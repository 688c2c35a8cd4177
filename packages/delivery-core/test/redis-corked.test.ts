/**
 * inOneWrite on a real redis-server: the commands sent synchronously inside it reach Redis in one
 * read (one socket write), with their own replies; a cluster client or a client not connected yet
 * just runs the function.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { Redis } from 'ioredis';
import { inOneWrite } from '../src/redis/index.js';

const COMMANDS = 16;

async function readsProcessed(probe: Redis): Promise<number> {
  const info = await probe.info('stats');
  return Number(/^total_reads_processed:(\d+)/m.exec(info)?.[1]);
}

describe('inOneWrite', () => {
  let redis: RedisHandle;
  let client: Redis;
  let probe: Redis;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    probe = redis.client();
    await Promise.all([client.ping(), probe.ping()]);
  });
  after(async () => {
    client.disconnect();
    probe.disconnect();
    await redis.stop();
  });

  it('sends the commands of the function in one write, each with its own reply', async () => {
    const before = await readsProcessed(probe);
    const replies = await inOneWrite(client, () =>
      Promise.all(Array.from({ length: COMMANDS }, (_, i) => client.incrby('corked:n', i + 1))),
    );
    const reads = (await readsProcessed(probe)) - before;
    // The second INFO's own read is counted too: one for the 16 commands, one for it.
    assert.ok(reads <= 2, `Redis read ${reads} times for ${COMMANDS} corked commands`);
    assert.deepEqual(
      replies,
      Array.from({ length: COMMANDS }, (_, i) => ((i + 1) * (i + 2)) / 2),
    );
  });

  it('runs the function as it is on a client without a socket yet', async () => {
    const lazy = new Redis(redis.url, { lazyConnect: true });
    try {
      assert.equal(
        inOneWrite(lazy, () => 'ran'),
        'ran',
      );
      const reply = await inOneWrite(lazy, () => lazy.ping());
      assert.equal(reply, 'PONG');
    } finally {
      lazy.disconnect();
    }
  });
});
