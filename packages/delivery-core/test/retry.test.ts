import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultConfig } from '../src/config/index.js';
import {
  DEFAULT_RETRY_POLICY,
  EXPIRED_REPLY,
  nextRetryDelayMs,
  type RetryPolicy,
  retryDecision,
  retryPolicyFromConfig,
} from '../src/retry/index.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const middle = () => 0.5;
const lowest = () => 0;
const highest = () => 0.999999;
const plain: RetryPolicy = { scheduleMs: [1000, 2000, 4000], jitter: 0, maxQueueLifetimeMs: 60_000 };

describe('nextRetryDelayMs', () => {
  test('follows the schedule by attempts made, and the last entry repeats', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 10].map((n) => nextRetryDelayMs(plain, n)),
      [1000, 2000, 4000, 4000, 4000],
    );
  });

  test('jitter spreads the delay by up to ± the fraction', () => {
    const policy = { ...plain, jitter: 0.2 };
    assert.equal(nextRetryDelayMs(policy, 1, middle), 1000);
    assert.equal(nextRetryDelayMs(policy, 1, lowest), 800);
    assert.equal(nextRetryDelayMs(policy, 1, highest), 1200);
    assert.equal(
      nextRetryDelayMs(policy, 3, () => 0.25),
      3600,
    );
  });

  test('the default policy starts at 5 minutes and settles at 4 hours', () => {
    assert.equal(nextRetryDelayMs(DEFAULT_RETRY_POLICY, 1, middle), 5 * MINUTE);
    assert.equal(nextRetryDelayMs(DEFAULT_RETRY_POLICY, 5, middle), 80 * MINUTE);
    assert.equal(nextRetryDelayMs(DEFAULT_RETRY_POLICY, 30, middle), 4 * HOUR);
  });

  test('refuses attemptsMade below 1 and an empty schedule', () => {
    assert.throws(() => nextRetryDelayMs(plain, 0), RangeError);
    assert.throws(() => nextRetryDelayMs(plain, 1.5), RangeError);
    assert.throws(() => nextRetryDelayMs({ ...plain, scheduleMs: [] }, 1), RangeError);
  });
});

describe('retryDecision', () => {
  const enqueued = 1_000_000;

  test('retries after the scheduled delay while the lifetime lasts', () => {
    const now = enqueued + 5000;
    assert.deepEqual(retryDecision(plain, { attemptsMade: 2, firstAttemptAt: enqueued, now }), {
      action: 'retry',
      at: now + 2000,
    });
  });

  test('pulls a retry that would pass the deadline in to the deadline itself', () => {
    const deadline = enqueued + plain.maxQueueLifetimeMs;
    const now = deadline - 1000;
    assert.deepEqual(retryDecision(plain, { attemptsMade: 3, firstAttemptAt: enqueued, now }), {
      action: 'retry',
      at: deadline,
    });
  });

  test('expires at and after the deadline', () => {
    const deadline = enqueued + plain.maxQueueLifetimeMs;
    assert.deepEqual(retryDecision(plain, { attemptsMade: 9, firstAttemptAt: enqueued, now: deadline }), {
      action: 'expire',
    });
    assert.deepEqual(retryDecision(plain, { attemptsMade: 9, firstAttemptAt: enqueued, now: deadline + 1 }), {
      action: 'expire',
    });
  });

  test('uses the injected random for jitter', () => {
    const policy = { ...plain, jitter: 0.5 };
    const decision = retryDecision(policy, {
      attemptsMade: 1,
      firstAttemptAt: enqueued,
      now: enqueued,
      random: lowest,
    });
    assert.deepEqual(decision, { action: 'retry', at: enqueued + 500 });
  });

  test('with the default policy a message is tried for 5 days, then expires', () => {
    let now = 0;
    let attempts = 1;
    for (;;) {
      const decision = retryDecision(DEFAULT_RETRY_POLICY, {
        attemptsMade: attempts,
        firstAttemptAt: 0,
        now,
        random: middle,
      });
      if (decision.action === 'expire') break;
      assert.ok(decision.at > now && decision.at <= 5 * DAY);
      now = decision.at;
      attempts++;
    }
    assert.equal(now, 5 * DAY, 'the last attempt happens exactly at the deadline');
    assert.ok(attempts > 20 && attempts < 40, `attempts: ${attempts}`);
  });
});

describe('policy and reply', () => {
  test('the config defaults give the default policy', () => {
    assert.deepEqual(retryPolicyFromConfig(defaultConfig().retry), {
      ...DEFAULT_RETRY_POLICY,
      scheduleMs: [...DEFAULT_RETRY_POLICY.scheduleMs],
    });
  });

  test('expired recipients get 554 5.4.7 at the queue stage', () => {
    assert.deepEqual(EXPIRED_REPLY, {
      code: 554,
      enhanced: '5.4.7',
      text: 'delivery time expired',
      stage: 'queue',
    });
    assert.ok(Object.isFrozen(EXPIRED_REPLY));
  });
});
