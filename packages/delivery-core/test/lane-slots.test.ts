import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FAST_LANE_ATTEMPT_MS, LaneSlots } from '../src/shaping/index.js';

const SHORT_WAIT_MS = 50;
/** A local wait this long would outlast the test's own timeout: "parks at once" needs no clock check. */
const ENDLESS_WAIT_MS = 60_000;
const NO_WAIT_TEST = { timeout: 30_000 };

function clock() {
  const c = { t: 1_000_000, now: () => c.t };
  return c;
}

describe('LaneSlots', () => {
  it('gives slots up to the limit, then a fast lane hands a released slot to a local waiter', async () => {
    const c = clock();
    const slots = new LaneSlots(undefined, c.now, SHORT_WAIT_MS);
    const a = await slots.take('s', 2);
    const b = await slots.take('s', 2);
    assert.ok(a && b);
    const waiting = slots.take('s', 2);
    c.t += 10;
    a();
    const handed = await waiting;
    assert.ok(handed, 'the waiter got the released slot');
    assert.equal(await slots.take('s', 2), undefined, 'still full: the next one times out and parks');
  });

  it('a slow lane (mean attempt time over the bound) parks at once', NO_WAIT_TEST, async () => {
    const c = clock();
    const slots = new LaneSlots(undefined, c.now, ENDLESS_WAIT_MS);
    const a = await slots.take('dead', 1);
    c.t += FAST_LANE_ATTEMPT_MS + 1;
    a!();
    const b = await slots.take('dead', 1);
    assert.equal(await slots.take('dead', 1), undefined, 'parked without a local wait');
    b!();
  });

  it(
    'an attempt in flight longer than the bound makes the lane slow before any attempt ends',
    NO_WAIT_TEST,
    async () => {
      const c = clock();
      const slots = new LaneSlots(undefined, c.now, ENDLESS_WAIT_MS);
      const hanging = await slots.take('new', 1);
      c.t += FAST_LANE_ATTEMPT_MS;
      assert.equal(await slots.take('new', 1), undefined, 'parked without a local wait');
      hanging!(false);
    },
  );

  it('a release without an attempt does not count toward the mean', async () => {
    const c = clock();
    const slots = new LaneSlots(undefined, c.now, SHORT_WAIT_MS);
    const a = await slots.take('r', 1);
    c.t += 10 * FAST_LANE_ATTEMPT_MS;
    a!(false);
    const b = await slots.take('r', 1);
    const waiting = slots.take('r', 1);
    b!(false);
    assert.ok(await waiting, 'still a fast lane: the waiter was served');
  });

  it('a cap that shrank while jobs waited (concurrency feedback) is not exceeded by handing slots over', async () => {
    const c = clock();
    const slots = new LaneSlots(undefined, c.now, SHORT_WAIT_MS);
    const held = await Promise.all([1, 2, 3].map(() => slots.take('w', 3)));
    const waiters = [slots.take('w', 3), slots.take('w', 3)];
    // The window falls to 1: a later take tells the lane so.
    const late = slots.take('w', 1);
    for (const release of held) release!();
    const granted = await Promise.all([...waiters, late]);
    assert.equal(granted.filter(Boolean).length, 1, 'one slot at a time under the new cap of 1');
  });
});
