/**
 * End to end: an operator's delete and bounce. A deleted message leaves the queue and the spool,
 * each recipient still pending ends with exactly one `bounced` event with `operator: 'delete'`
 * (a recipient already delivered stays delivered), and nobody is told: no DSN. A filter deletes
 * only what matches every criterion. A bounce sends the sender the DSN a remote permanent failure
 * would, naming the recipient and the operator's reason, and suppresses nothing. A job in flight
 * cannot be removed: it is marked, and when its attempt ends in a 451 the recipient ends
 * bounced by the operator instead of being retried.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HeraldEvent } from '@herald/delivery-core';
import { classifyMessage } from '@herald/delivery-core/bounce';
import type { AcceptedEvent, RecipientEvent } from '@herald/delivery-core/events';
import { siteForMxHosts } from '@herald/delivery-core/sites';
import { type SinkReply, type SinkScript, stallUntil } from '@herald/test-harness';
import { deferrer } from './lib/cleanup.js';
import { sampleMessage } from './lib/message.js';
import { mxZone, type Stack, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const TRY_LATER: SinkReply = { code: 451, enhanced: '4.3.0', text: 'try again later' };

/**
 * Recipients named later* are always deferred; slow@dest.test's final dot waits until `released`
 * settles (the attempt is in flight meanwhile), then gets 451.
 */
const script = (released: Promise<unknown>): SinkScript => ({
  rcpt: (to) => (to.startsWith('later') ? TRY_LATER : undefined),
  data: (msg) => (msg.to.includes('slow@dest.test') ? TRY_LATER : undefined),
  stages: {
    dataEnd: (ctx) =>
      ctx.recipients.some((r) => r.includes('slow@dest.test')) ? stallUntil(released) : undefined,
  },
});

async function start(
  t: Parameters<typeof deferrer>[0],
  released: Promise<unknown> = Promise.resolve(),
): Promise<Stack> {
  const defer = deferrer(t);
  const stack = await startStack({
    sinks: [{ host: '127.0.0.2', script: script(released) }, '127.0.0.3'],
    zone: {
      ...mxZone('dest.test', [{ preference: 10, address: '127.0.0.2' }]),
      ...mxZone('other.test', [{ preference: 10, address: '127.0.0.2' }]),
      ...mxZone('origin.test', [{ preference: 10, address: '127.0.0.3' }]),
    },
    config: { retry: { schedule: ['1h'] } },
  });
  defer(() => stack.stop());
  return stack;
}

async function submit(stack: Stack, from: string, to: string[]): Promise<string> {
  const sent = await stack.submit({ from, to, body: sampleMessage({ subject: to.join(' ') }) });
  assert.equal(sent.code, 250, sent.response);
  return sent.queueId!;
}

/** Waits until the message's jobs are all in `state` (listed under `domain:<domain>`). */
async function waitState(stack: Stack, domain: string, messageId: string, state: string): Promise<void> {
  await waitUntil(`${messageId} ${state}`, async () => {
    const { jobs } = await stack.relay.herald.listQueue(`domain:${domain}`, { limit: 1000 });
    const mine = jobs.filter((j) => j.messageId === messageId);
    return mine.length > 0 && mine.every((j) => j.state === state);
  });
}

function outcomes(events: readonly HeraldEvent[], messageId: string): [string, string, string?][] {
  return events
    .filter(
      (e): e is RecipientEvent => 'recipient' in e && e.messageId === messageId && e.type !== 'deferred',
    )
    .map((e) => [e.type, e.recipient, e.operator]);
}

function dsnCount(events: readonly HeraldEvent[]): number {
  return events.filter((e): e is AcceptedEvent => e.type === 'accepted' && e.source === 'dsn').length;
}

describe('queue delete and bounce', () => {
  it('delete ends the pending recipients bounced by the operator, keeps the delivered one, sends no DSN and empties the spool', {
    timeout: 60_000,
  }, async (t) => {
    const stack = await start(t);
    const herald = stack.relay.herald;
    const id = await submit(stack, 'app@origin.test', ['now@dest.test', 'later@dest.test']);
    await waitState(stack, 'dest.test', id, 'scheduled');
    const result = await herald.deleteQueued({ messageId: id });
    assert.deepEqual(result, {
      action: 'delete',
      removed: { jobs: 1, recipients: 1 },
      marked: { jobs: 0, recipients: 0 },
    });
    const events = await stack.assertEveryRecipientTerminatedOnce();
    assert.deepEqual(outcomes(events, id).sort(), [
      ['bounced', 'later@dest.test', 'delete'],
      ['delivered', 'now@dest.test', undefined],
    ]);
    const bounced = events.find((e): e is RecipientEvent => e.type === 'bounced')!;
    assert.deepEqual(
      [bounced.reply.code, bounced.reply.enhanced, bounced.reply.text],
      [550, '5.0.0', 'deleted by operator'],
    );
    assert.equal(dsnCount(events), 0, 'a delete sends no DSN');
    assert.equal(stack.sinks[0]!.stats().transactions, 1, 'the sink never saw the message again');
    assert.equal(stack.sinks[1]!.messages.length, 0);
    await assert.rejects(herald.deleteQueued({ messageId: id }), { code: 'HERALD_QUEUE_NOT_FOUND' });
  });

  it('a filtered delete touches only the jobs matching every criterion; a delete without one is refused', {
    timeout: 60_000,
  }, async (t) => {
    const stack = await start(t);
    const herald = stack.relay.herald;
    const a1 = await submit(stack, 'a@origin.test', ['later1@dest.test']);
    const b = await submit(stack, 'b@origin.test', ['later2@dest.test']);
    const a2 = await submit(stack, 'a@origin.test', ['later3@other.test']);
    await waitState(stack, 'dest.test', a1, 'scheduled');
    await waitState(stack, 'dest.test', b, 'scheduled');
    await waitState(stack, 'other.test', a2, 'scheduled');
    await assert.rejects(herald.deleteQueued({}), { code: 'HERALD_INPUT_INVALID' });

    const first = await herald.deleteQueued({ from: 'A@origin.test', toDomains: ['dest.test'] });
    assert.deepEqual(first.removed, { jobs: 1, recipients: 1 });
    assert.equal((await stack.events.terminal('later1@dest.test')).operator, 'delete');
    const left = await herald.listQueue('domain:dest.test');
    assert.deepEqual(
      left.jobs.map((j) => j.messageId),
      [b],
    );
    assert.deepEqual((await herald.deleteQueued({ tenant: 'nobody' })).removed, { jobs: 0, recipients: 0 });
    assert.deepEqual((await herald.deleteQueued({ from: 'a@origin.test' })).removed, {
      jobs: 1,
      recipients: 1,
    });
    const site = siteForMxHosts(['mx1.dest.test']).site;
    assert.deepEqual((await herald.deleteQueued({ site })).removed, { jobs: 1, recipients: 1 });
    const events = await stack.assertEveryRecipientTerminatedOnce();
    for (const id of [a1, b, a2])
      assert.deepEqual(
        outcomes(events, id).map(([type, , operator]) => [type, operator]),
        [['bounced', 'delete']],
      );
  });

  it('bounce sends the sender a DSN naming the recipient and the operator’s reason, and suppresses nothing', {
    timeout: 60_000,
  }, async (t) => {
    const stack = await start(t);
    const herald = stack.relay.herald;
    const id = await submit(stack, 'app@origin.test', ['later@dest.test']);
    await waitState(stack, 'dest.test', id, 'scheduled');
    const site = siteForMxHosts(['mx1.dest.test']).site;
    await assert.rejects(herald.bounceQueued({ site }, { reason: 'two\nlines' }), {
      code: 'HERALD_INPUT_INVALID',
    });
    const result = await herald.bounceQueued({ site }, { reason: 'customer closed the account' });
    assert.deepEqual(result.removed, { jobs: 1, recipients: 1 });
    const [dsn] = await stack.sinks[1]!.waitForMessages(1);
    assert.equal(dsn!.from, '', 'the DSN comes from the null sender');
    assert.deepEqual(dsn!.to, ['app@origin.test']);
    const text = dsn!.raw.toString('utf8');
    assert.match(text, /550 5\.0\.0 bounced by operator: customer closed the account/);
    assert.deepEqual(
      classifyMessage(dsn!.raw).recipients.map((r) => [r.address, r.status]),
      [['later@dest.test', '5.0.0']],
    );
    const events = await stack.assertEveryRecipientTerminatedOnce();
    assert.deepEqual(outcomes(events, id), [['bounced', 'later@dest.test', 'bounce']]);
    assert.equal(dsnCount(events), 1);
    const listed = await herald.suppression.check('default', ['later@dest.test']);
    assert.equal(listed.size, 0, 'an operator bounce is no verdict on the address');
  });

  it('a job in flight is marked: after its attempt ends in 451 the recipient ends bounced by the operator, with no retry', {
    timeout: 60_000,
  }, async (t) => {
    let deleted!: () => void;
    const stack = await start(
      t,
      new Promise<void>((resolve) => {
        deleted = resolve;
      }),
    );
    const herald = stack.relay.herald;
    const id = await submit(stack, 'app@origin.test', ['slow@dest.test']);
    await waitState(stack, 'dest.test', id, 'in-flight');
    await waitUntil('the sink holding the reply to the final dot', () =>
      stack.sinks[0]!.transcripts().some((c) =>
        c.entries.some((e) => e.stage === 'dataEnd' && e.received && e.fate === undefined),
      ),
    );
    const result = await herald.deleteQueued({ messageId: id }).finally(deleted);
    assert.deepEqual(result, {
      action: 'delete',
      removed: { jobs: 0, recipients: 0 },
      marked: { jobs: 1, recipients: 1 },
    });
    const terminal = await stack.events.terminal('slow@dest.test', id);
    assert.deepEqual([terminal.type, terminal.operator], ['bounced', 'delete']);
    const events = await stack.assertEveryRecipientTerminatedOnce();
    assert.equal(stack.events.attempts(id).length, 1, 'one attempt, no retry');
    assert.deepEqual(
      stack.events.attempts(id)[0]!.results.map((r) => r.reply.code),
      [451],
      'the attempt itself ended in the sink’s 451',
    );
    assert.equal(stack.sinks[0]!.stats().transactions, 1);
    assert.equal(dsnCount(events), 0);
  });
});
