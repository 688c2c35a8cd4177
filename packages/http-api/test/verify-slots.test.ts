/** VerifySlots: at most `running` at once, `waiting` queued in order, the rest refused at once. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VerifySlots } from '../src/verify-slots.js';

test('one running, two waiting, the fourth refused; releases hand the slot on in order', async () => {
  const slots = new VerifySlots(1, 2);
  const first = slots.acquire();
  assert.ok(first);
  const releaseFirst = await first;
  const order: string[] = [];
  const noted = (name: string) => (release: () => void) => {
    order.push(name);
    return release;
  };
  const second = slots.acquire()?.then(noted('second'));
  const third = slots.acquire()?.then(noted('third'));
  assert.ok(second && third);
  assert.equal(slots.acquire(), undefined, 'full: refused at once');
  assert.deepEqual(slots.load, { active: 1, queued: 2 });
  releaseFirst();
  releaseFirst(); // a second call is a no-op
  const releaseSecond = await second;
  assert.deepEqual(order, ['second']);
  assert.deepEqual(slots.load, { active: 1, queued: 1 });
  releaseSecond();
  (await third)();
  assert.deepEqual(order, ['second', 'third']);
  assert.deepEqual(slots.load, { active: 0, queued: 0 });
  assert.ok(slots.acquire(), 'free again');
});
