/**
 * Queue shards as pure logic: the shard of a message id (from the id alone, legacy ids in shard 0),
 * new ids in round robin, an Idempotency-Key scope's shard, each shard's part of
 * delivery.concurrency; merged cursors of several event streams.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DeliveryDeps, DeliveryWorker } from '../src/delivery/index.js';
import { concurrencyShare, splitConcurrency, ThreadWorkers } from '../src/delivery/thread-workers.js';
import { compareCursors, idBefore, isStreamCursor, joinCursor, splitCursor } from '../src/events/index.js';
import { newMessageId, SINGLE_SHARD, scopeShard, shardOf, shardPicker } from '../src/queue/index.js';

const SINCE = Date.UTC(2026, 11, 1);
const FOUR = { count: 4, max: 4, since: SINCE };

describe('the shard of a message id', () => {
  test('a new id carries its shard; job ids are their message’s shard', () => {
    for (let shard = 0; shard < 4; shard++) {
      const id = newMessageId(SINCE + 1_000, shard);
      assert.match(id, /^[0-9a-z]{9}[0-9a-f]{16}$/);
      assert.equal(shardOf(id, FOUR), shard);
      assert.equal(shardOf(`${id}.3`, FOUR), shard);
    }
  });

  test('every id is in shard 0 while no process ever used more than one shard', () => {
    const id = newMessageId(SINCE + 1_000, 3);
    assert.equal(shardOf(id, SINGLE_SHARD), 0);
    assert.equal(shardOf(id, { count: 1, max: 1 }), 0);
  });

  test('ids from before `since` (spooled by one shard, random digits) stay in shard 0', () => {
    const legacy = `${(SINCE - 1).toString(36).padStart(9, '0')}03a1b2c3d4e5f607`;
    assert.equal(shardOf(legacy, FOUR), 0);
    assert.equal(shardOf(`${legacy}.0`, FOUR), 0);
  });

  test('a shard past every count used, and ids not of Herald’s form, are shard 0', () => {
    assert.equal(shardOf(`${(SINCE + 5).toString(36).padStart(9, '0')}ff00000000000000`, FOUR), 0);
    assert.equal(shardOf('m1', FOUR), 0);
    assert.equal(shardOf('', FOUR), 0);
  });

  test('a lowered count keeps reading where ids say (max is the highest count ever used)', () => {
    const id = newMessageId(SINCE + 9, 7);
    assert.equal(shardOf(id, { count: 2, max: 8, since: SINCE }), 7);
  });

  test('new messages go round robin over this process’s count', () => {
    const pick = shardPicker(4);
    assert.deepEqual(
      Array.from({ length: 9 }, () => pick()),
      [0, 1, 2, 3, 0, 1, 2, 3, 0],
    );
    const one = shardPicker(1);
    assert.deepEqual([one(), one()], [0, 0]);
  });

  test('an Idempotency-Key scope picks one shard below the count, the same every time', () => {
    const scope = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    assert.equal(scopeShard(scope, 1), 0);
    const s = scopeShard(scope, 16);
    assert.ok(s >= 0 && s < 16);
    assert.equal(scopeShard(scope, 16), s);
    const spread = new Set(
      Array.from({ length: 64 }, (_, i) => scopeShard(i.toString(16).padStart(8, '0'), 4)),
    );
    assert.equal(spread.size, 4);
  });
});

describe("each shard's part of delivery.concurrency", () => {
  test('the total is kept, the remainder to the first shards', () => {
    const shares = [0, 1, 2, 3].map((s) => concurrencyShare(50, 4, s));
    assert.deepEqual(shares, [13, 13, 12, 12]);
    assert.equal(
      shares.reduce((a, b) => a + b, 0),
      50,
    );
    assert.equal(concurrencyShare(50, 1, 0), 50);
  });

  test('more shards than the total: one job per shard', () => {
    assert.deepEqual(
      [0, 1, 2, 3].map((s) => concurrencyShare(2, 4, s)),
      [1, 1, 1, 1],
    );
  });
});

describe("a delivery thread's shard workers (what the fast path shares slots with)", () => {
  /** Stand-ins for BullMQ workers: their concurrency as set, and jobs running. */
  function fakeThread(budget: number) {
    const workers = new Map<number, { concurrency: number; active: number }>();
    const thread = new ThreadWorkers({} as DeliveryDeps, budget, (shard, _deps, concurrency) => {
      const w = { concurrency, active: 0 };
      workers.set(shard, w);
      return {
        get activeJobs() {
          return w.active;
        },
        setConcurrency: (n: number) => {
          w.concurrency = n;
        },
      } as unknown as DeliveryWorker;
    });
    return { thread, workers };
  }
  const total = (workers: Map<number, { concurrency: number }>) =>
    [...workers.values()].reduce((sum, w) => sum + w.concurrency, 0);

  test('the budget is split over the shards, re-split when the fast path shrinks it or a shard is added', () => {
    const { thread, workers } = fakeThread(10);
    assert.equal(thread.serve([0, 1, 2, 3]).length, 4);
    assert.equal(total(workers), 10);
    assert.equal(thread.minConcurrency, 4, 'a worker per shard, 1 each at least');
    thread.setConcurrency(6);
    assert.deepEqual(
      [...workers.values()].map((w) => w.concurrency),
      [2, 2, 1, 1],
    );
    assert.equal(thread.serve([0, 1, 2, 3, 4, 5]).length, 2, 'only the new shards start');
    assert.equal(total(workers), 6);
    workers.get(2)!.active = 2;
    workers.get(5)!.active = 1;
    assert.equal(thread.activeJobs, 3, 'jobs running on every shard');
  });

  test('a shard whose slots slow jobs hold keeps a free slot: its queue is not stuck behind them', () => {
    const { thread, workers } = fakeThread(200);
    thread.serve([0, 1, 2, 3, 4, 5, 6, 7]);
    // The fast path is idle and leaves BullMQ its floor: a free slot per shard.
    thread.setConcurrency(thread.activeJobs + thread.minConcurrency);
    assert.deepEqual(
      [...workers.values()].map((w) => w.concurrency),
      [1, 1, 1, 1, 1, 1, 1, 1],
    );
    // Shard 0 now runs 3 jobs stuck at a slow destination: it gets them plus a free slot.
    workers.get(0)!.active = 3;
    thread.setConcurrency(thread.activeJobs + thread.minConcurrency);
    assert.deepEqual(
      [...workers.values()].map((w) => w.concurrency),
      [4, 1, 1, 1, 1, 1, 1, 1],
    );
    // With room to spare, the rest is split evenly on top of each shard's floor.
    thread.setConcurrency(27);
    assert.deepEqual(
      [...workers.values()].map((w) => w.concurrency),
      [6, 3, 3, 3, 3, 3, 3, 3],
    );
  });
});

describe('splitConcurrency', () => {
  test("each shard's running jobs and one free slot, the rest evenly, remainder first", () => {
    assert.deepEqual(splitConcurrency(10, [0, 0, 0, 0]), [3, 3, 2, 2]);
    assert.deepEqual(splitConcurrency(10, [5, 0, 0, 0]), [7, 1, 1, 1]);
    assert.deepEqual(splitConcurrency(4, [5, 0, 0, 0]), [6, 1, 1, 1], 'below the floor: the floor');
    assert.deepEqual(splitConcurrency(50, [0]), [50]);
  });
});

describe('merged cursors', () => {
  test('one stream: a plain stream id, unchanged', () => {
    assert.deepEqual(splitCursor('1700-3', 1), ['1700-3']);
    assert.equal(joinCursor(['1700-3']), '1700-3');
    assert.ok(isStreamCursor('1700-3'));
  });

  test('several streams: ids joined by ","; a plain id applies to every stream; missing ones start at 0', () => {
    assert.ok(isStreamCursor('1-0,2-5,0,7'));
    assert.ok(!isStreamCursor('1-0,,2'));
    assert.ok(!isStreamCursor('1-0;2'));
    assert.deepEqual(splitCursor('5-1', 3), ['5-1', '5-1', '5-1']);
    assert.deepEqual(splitCursor('5-1,6-0', 4), ['5-1', '6-0', '0', '0']);
  });

  test('compared id by id: later only when ahead somewhere and behind nowhere', () => {
    assert.equal(compareCursors('2-0', '1-9'), 1);
    assert.equal(compareCursors('1-0,2-0', '1-0,2-0'), 0);
    assert.equal(compareCursors('1-0,3-0', '1-0,2-0'), 1);
    assert.equal(compareCursors('1-0,2-0', '1-0,3-0'), -1);
    assert.equal(compareCursors('2-0,1-0', '1-0,2-0'), -1);
  });

  test('the cursor just before an entry', () => {
    assert.equal(idBefore('10-3'), '10-2');
    assert.equal(idBefore('10-0'), '9-18446744073709551615');
    assert.equal(idBefore('0-0'), '0');
  });
});
