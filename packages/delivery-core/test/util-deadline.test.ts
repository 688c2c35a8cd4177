import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeadlineExceeded, settlesWithin, withDeadline } from '../src/util/index.js';

const never = new Promise<never>(() => {});

describe('the timeout helper', () => {
  test('withDeadline settles like the promise, or rejects with DeadlineExceeded naming the step', async () => {
    assert.equal(await withDeadline(Promise.resolve(7), 1_000, 'lookup'), 7);
    await assert.rejects(withDeadline(Promise.reject(new Error('boom')), 1_000, 'lookup'), /boom/);
    await assert.rejects(
      withDeadline(never, 1, 'lookup'),
      (err) => err instanceof DeadlineExceeded && err.what === 'lookup' && err.ms === 1,
    );
  });

  test('settlesWithin: true when the promise settles either way, false when it does not', async () => {
    assert.equal(await settlesWithin(Promise.resolve(), 1_000), true);
    assert.equal(await settlesWithin(Promise.reject(new Error('boom')), 1_000), true);
    assert.equal(await settlesWithin(never, 1), false);
  });
});
