import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compareStreamIds, streamCursor, trimmedAfter } from '@herald/delivery-core/events';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';

const KEY = 'test:{queue}:events';

describe('stream cursors', () => {
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

  it('orders stream ids numerically, not as text', () => {
    assert.ok(compareStreamIds('9-0', '10-0') < 0);
    assert.ok(compareStreamIds('10-2', '10-10') < 0);
    assert.equal(compareStreamIds('10', '10-0'), 0);
    assert.ok(compareStreamIds('11-0', '10-99') > 0);
  });

  it('loads nothing before the first save, then only moves forward', async () => {
    const cursor = streamCursor(client, 'cur', 'accounting');
    assert.equal(await cursor.load(), undefined);
    await cursor.save('100-5');
    assert.equal(await cursor.load(), '100-5');
    await cursor.save('100-4');
    await cursor.save('99-9');
    assert.equal(await cursor.load(), '100-5', 'a stale writer cannot move it back');
    await cursor.save('101-0');
    assert.equal(await cursor.load(), '101-0');
    assert.equal(await client.get('cur:cursor:accounting'), '101-0');
    await assert.rejects(cursor.save('not-an-id'));
  });

  it('reports a gap only when the cursor entry was trimmed away', async () => {
    const ids: string[] = [];
    for (let n = 0; n < 50; n++) ids.push((await client.xadd(KEY, '*', 'event', String(n)))!);
    assert.equal(await trimmedAfter(client, KEY, ids[10]!), false);
    assert.equal(await trimmedAfter(client, KEY, '0'), false);
    await client.xtrim(KEY, 'MAXLEN', 20);
    assert.equal(await trimmedAfter(client, KEY, ids[10]!), true, 'entries after it are gone');
    assert.equal(await trimmedAfter(client, KEY, ids[30]!), false, 'still there');
    assert.equal(await trimmedAfter(client, 'test:{queue}:empty', ids[10]!), false);
  });
});
