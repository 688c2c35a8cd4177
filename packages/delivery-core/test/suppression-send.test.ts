/**
 * `herald.send()` consults the tenant's suppression list: refused recipients come back in
 * `rejected` (550 5.7.1), dropped ones stay accepted with a suppressed event and no job.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createHerald, type Herald, type HeraldEvent, readEvents } from '@herald/delivery-core';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { queueKeys } from '../src/keys/index.js';
import { Spool } from '../src/queue/index.js';

const MESSAGE = { from: 'app@example.org', subject: 'hello', text: 'hi' };

describe('send() and the suppression list', () => {
  let redis: RedisHandle;
  let herald: Herald;
  /** The test's own connection and view of the queue (not Herald's). */
  let db: ReturnType<RedisHandle['client']>;
  let spool: Spool;
  before(async () => {
    redis = await startRedis();
    db = redis.client();
    spool = new Spool(db, 'herald');
    herald = await createHerald({
      redis: { url: redis.url },
      events: { log_level: 'silent' },
      tenants: { quiet: { suppression: 'drop' } },
    });
  });
  after(async () => {
    await herald.close();
    await spool.close();
    await redis.stop();
  });
  beforeEach(async () => {
    await db.flushall();
  });

  const streamEvents = async (): Promise<HeraldEvent[]> => {
    await herald.events.flush();
    return readEvents(db, queueKeys('herald').events);
  };

  it('refuses a suppressed recipient with 550 5.7.1 and its reason, and sends to the others', async () => {
    await herald.suppression.add('default', {
      address: 'gone@example.net',
      reason: 'userunknown',
      source: 'bounce',
    });
    const result = await herald.send({ ...MESSAGE, to: ['Gone@example.net', 'ok@example.net'] });
    assert.deepEqual(result.accepted, ['ok@example.net']);
    assert.deepEqual(result.rejected, [
      {
        address: 'Gone@example.net',
        code: 550,
        enhanced: '5.7.1',
        reason: '<Gone@example.net>: recipient suppressed (userunknown)',
      },
    ]);
    const jobs = (await Promise.all(spool.allQueues().map((q) => q.getJobs(['waiting'])))).flat();
    assert.deepEqual(
      jobs.map((j) => j.data.recipients.map((r) => r.address)),
      [['ok@example.net']],
    );
  });

  it('in mode drop accepts a suppressed recipient, spools no job for it and emits one suppressed event', async () => {
    await herald.suppression.add('quiet', {
      address: 'angry@example.net',
      reason: 'feedback',
      source: 'complaint',
    });
    const result = await herald.send({
      ...MESSAGE,
      tenant: 'quiet',
      to: ['angry@example.net', 'ok@example.org'],
    });
    assert.deepEqual(result.accepted, ['angry@example.net', 'ok@example.org']);
    assert.deepEqual(result.rejected, []);
    const jobs = (await Promise.all(spool.allQueues().map((q) => q.getJobs(['waiting'])))).flat();
    assert.deepEqual(
      jobs.map((j) => j.data.domain),
      ['example.org'],
    );
    const events = await streamEvents();
    const accepted = events.find((e) => e.type === 'accepted');
    assert.ok(accepted && accepted.type === 'accepted');
    assert.deepEqual([...accepted.recipients].sort(), ['angry@example.net', 'ok@example.org']);
    assert.equal(accepted.jobs, 1);
    const suppressed = events.filter((e) => e.type === 'suppressed');
    assert.equal(suppressed.length, 1);
    assert.ok('recipient' in suppressed[0]! && suppressed[0].recipient === 'angry@example.net');
    assert.equal(suppressed[0].messageId, result.messageId);
  });

  it('in mode drop with every recipient suppressed, spools nothing but the events', async () => {
    await herald.suppression.add('quiet', {
      address: 'angry@example.net',
      reason: 'feedback',
      source: 'complaint',
    });
    const result = await herald.send({ ...MESSAGE, tenant: 'quiet', to: 'angry@example.net' });
    assert.deepEqual(result.accepted, ['angry@example.net']);
    assert.equal((await herald.queueStats({ maxJobs: 0 })).totals.ready, 0);
    assert.deepEqual(await db.keys(queueKeys('herald').body('*')), []);
    // Only the message's trace (its events, for `herald message show`) is kept.
    assert.deepEqual(await db.keys(queueKeys('herald').message('*')), [
      queueKeys('herald').trace(result.messageId),
    ]);
    assert.deepEqual(
      (await streamEvents()).map((e) => e.type),
      ['accepted', 'suppressed'],
    );
    const story = await herald.messageStory(result.messageId);
    assert.deepEqual(
      story?.recipients.map((r) => [r.address, r.state]),
      [['angry@example.net', 'suppressed']],
    );
  });

  it('ignores another tenant’s list and expired entries', async () => {
    await herald.suppression.add('quiet', {
      address: 'a@example.net',
      reason: 'userunknown',
      source: 'bounce',
    });
    await herald.suppression.add('default', {
      address: 'b@example.net',
      reason: 'mailboxfull',
      source: 'bounce',
      expiresAt: Date.now() - 1,
    });
    const result = await herald.send({ ...MESSAGE, to: ['a@example.net', 'b@example.net'] });
    assert.deepEqual(result.accepted, ['a@example.net', 'b@example.net']);
  });
});
