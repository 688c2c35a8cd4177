import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EVENT_TYPES, isStreamId, type StreamEvent, tailEvents } from '@herald/delivery-core/events';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';

const KEY = 'test:{queue}:events';

async function collect(source: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const all: StreamEvent[] = [];
  for await (const entry of source) all.push(entry);
  return all;
}

describe('tailEvents', () => {
  let redis: RedisHandle;
  let client: Redis;
  const ids: string[] = [];
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    // More than one page (500) of entries, alternating tenants, plus a record that is not JSON.
    for (let n = 0; n < 1_200; n += 1) {
      const event = {
        type: n % 3 === 0 ? 'accepted' : 'delivered',
        time: n,
        messageId: `m${n}`,
        tenant: n % 2 ? 'a' : 'b',
      };
      ids.push((await client.xadd(KEY, '*', 'event', JSON.stringify(event)))!);
    }
    await client.xadd(KEY, '*', 'event', '{not json');
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('reads the last matching entries across pages, oldest first', async () => {
    const last = await collect(tailEvents(client, KEY, { limit: 300, tenant: 'a', types: ['delivered'] }));
    assert.equal(last.length, 300); // 400 match; the last 300 span more than one page
    assert.ok(
      last.every(({ event }) => 'tenant' in event && event.tenant === 'a' && event.type === 'delivered'),
    );
    assert.equal(last.at(-1)!.id, ids[1_199]);
    const positions = last.map(({ id }) => ids.indexOf(id));
    assert.deepEqual(
      positions,
      [...positions].sort((x, y) => x - y),
    );
  });

  it('pages after a cursor without gap or duplicate', async () => {
    const seen: string[] = [];
    let after = '0';
    for (;;) {
      const page = await collect(tailEvents(client, KEY, { after, limit: 333 }));
      if (page.length === 0) break;
      seen.push(...page.map((e) => e.id));
      after = page.at(-1)!.id;
    }
    assert.deepEqual(seen, ids);
  });

  it('follows until the signal aborts', async () => {
    const controller = new AbortController();
    const follow = tailEvents(client, KEY, {
      limit: 1,
      follow: true,
      signal: controller.signal,
      blockMs: 50,
    });
    const first = await follow.next();
    assert.equal((first.value as StreamEvent).id, ids[1_199]);
    const next = follow.next();
    const id = await client.xadd(
      KEY,
      '*',
      'event',
      JSON.stringify({ type: 'accepted', time: 1, messageId: 'x', tenant: 'a' }),
    );
    assert.equal(((await next).value as StreamEvent).id, id);
    controller.abort();
    assert.equal((await follow.next()).done, true);
  });

  it('knows the vocabulary and stream ids', () => {
    assert.ok(EVENT_TYPES.includes('delivered'));
    assert.ok(isStreamId('1700000000000-3') && isStreamId('0') && !isStreamId('abc'));
  });
});
