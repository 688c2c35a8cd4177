/**
 * tailEvents without follow, bounded: `maxScanned` caps the entries a read examines (one stream
 * and several, forward and back) and returns where it stopped, so paging on from that cursor
 * finds every rare match exactly once; an aborted signal ends the read at its next page; a cursor
 * Redis could not read after is named by `cursorProblem` before any read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  cursorProblem,
  type StreamEvent,
  type TailOptions,
  type TailStop,
  tailEvents,
} from '@herald/delivery-core/events';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';

const ONE = 'scan:{queue}:events';
const SHARDED = ['scan:{queue}:events', 'scan:{queue-1}:events'];
/** Entries per stream: mostly another tenant's, a rare match every RARE_EVERY entries. */
const ENTRIES = 3_000;
const RARE_EVERY = 700;
const BUDGET = 1_000;

async function read(
  redis: Redis,
  keys: string | string[],
  options: TailOptions,
): Promise<{ found: StreamEvent[]; stop: TailStop | undefined }> {
  const found: StreamEvent[] = [];
  const tail = tailEvents(redis, keys, options);
  let step = await tail.next();
  for (; !step.done; step = await tail.next()) found.push(step.value);
  return { found, stop: step.value };
}

/** Counts XRANGE and XREVRANGE calls the server has answered. */
async function rangeCalls(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  let calls = 0;
  for (const m of stats.matchAll(/cmdstat_(?:xrange|xrevrange):calls=(\d+)/g)) calls += Number(m[1]);
  return calls;
}

describe('a bounded read of the event stream', () => {
  let handle: RedisHandle;
  let redis: Redis;
  before(async () => {
    handle = await startRedis();
    redis = handle.client();
    for (const key of SHARDED) {
      const batch = redis.pipeline();
      for (let n = 0; n < ENTRIES; n++) {
        const tenant = n % RARE_EVERY === RARE_EVERY - 1 ? 'rare' : 'busy';
        batch.xadd(
          key,
          '*',
          'event',
          JSON.stringify({ type: 'delivered', tenant, messageId: `${key}-${n}` }),
        );
      }
      await batch.exec();
    }
  });
  after(async () => {
    redis.disconnect();
    await handle.stop();
  });

  for (const [name, keys] of [
    ['one stream', ONE],
    ['two shards', SHARDED],
  ] as const) {
    it(`${name}: paging on from where the budget stopped finds every rare match once`, async () => {
      const streams = typeof keys === 'string' ? 1 : keys.length;
      const seen: string[] = [];
      let cursor = '0';
      let reads = 0;
      for (; reads < 50; reads++) {
        const { found, stop } = await read(redis, [...[keys].flat()], {
          after: cursor,
          tenant: 'rare',
          limit: 100,
          maxScanned: BUDGET,
        });
        seen.push(...found.map((e) => (e.event as { messageId: string }).messageId));
        if (!stop) break;
        assert.equal(stop.reason, 'scan_budget');
        cursor = stop.cursor;
      }
      const expected = streams * Math.floor(ENTRIES / RARE_EVERY);
      assert.equal(seen.length, expected);
      assert.equal(new Set(seen).size, expected, 'no duplicate');
      assert.ok(
        reads >= (streams * ENTRIES) / BUDGET - 1,
        `${reads} reads: each examined at most the budget`,
      );
    });

    it(`${name}: without a cursor the budget bounds how far back it looks`, async () => {
      const { found, stop } = await read(redis, [...[keys].flat()], {
        tenant: 'rare',
        limit: 100,
        maxScanned: BUDGET,
      });
      assert.equal(stop?.reason, 'scan_budget');
      // The last BUDGET entries (shared among the streams) hold only the newest rare matches.
      assert.ok(
        found.length >= 1 && found.length < Math.floor(ENTRIES / RARE_EVERY) * 2,
        String(found.length),
      );
    });
  }

  it('an aborted signal ends the read at its next page', async () => {
    const scan = new AbortController();
    const before = await rangeCalls(redis);
    const tail = tailEvents(redis, ONE, { after: '0', tenant: 'rare', limit: 100, signal: scan.signal });
    const first = await tail.next();
    assert.equal(first.done, false);
    scan.abort();
    let step = await tail.next();
    for (; !step.done; step = await tail.next());
    assert.equal(step.value?.reason, 'aborted');
    // Pages of 500: the first match is in page 2, the full scan would be 6; it stopped after 2.
    assert.ok((await rangeCalls(redis)) - before <= 3, 'stopped at the next page');
  });

  it('cursorProblem: shape, shard count and range, quoting nothing', () => {
    assert.equal(cursorProblem('1700-3', 1), undefined);
    assert.equal(cursorProblem('1-0,2-5', 2), undefined);
    assert.equal(cursorProblem('1-0', 4), undefined, 'a plain id stands for every shard');
    assert.match(cursorProblem('0-0,0-0,0-0', 1) ?? '', /3 stream ids for 1 stream/);
    assert.match(cursorProblem('99999999999999999999-0', 1) ?? '', /over 18446744073709551615/);
    assert.match(cursorProblem('18446744073709551615-18446744073709551615', 1) ?? '', /nothing comes after/);
    assert.match(cursorProblem('1-x', 1) ?? '', /expected a stream id/);
    assert.match(cursorProblem('1-0,'.repeat(5_000), 1) ?? '', /longer than 42 characters/);
    assert.doesNotMatch(cursorProblem('abc-def', 1) ?? '', /abc/);
  });
});
