/**
 * End to end: traffic streams and campaigns at intake. X-Herald-Stream / X-Herald-Campaign are
 * instructions to Herald: they set the message's stream and campaign (in the durable accepted
 * event) and never reach the recipient; the message is otherwise delivered byte for byte. A
 * user's configured stream is the default, the library API takes them as fields, and invalid
 * instruction headers are refused at the end of DATA with 554 5.6.0.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HeraldEvent } from '@herald/delivery-core';
import type { AcceptedEvent } from '@herald/delivery-core/events';
import { sampleMessage, stripLeadingFields } from './lib/message.js';
import { type Stack, startStack } from './lib/stack.js';

const SENDER = 'news@origin.test';
const NEWSLETTER_USER = { user: 'newsletter', pass: 'secret' };

function acceptedOf(events: HeraldEvent[], messageId: string): AcceptedEvent {
  const accepted = events.find(
    (e): e is AcceptedEvent => e.type === 'accepted' && 'messageId' in e && e.messageId === messageId,
  );
  assert.ok(accepted, `accepted event of ${messageId} in the stream`);
  return accepted;
}

describe('traffic streams and campaigns at intake', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: {
        smtp: {
          users: [{ username: NEWSLETTER_USER.user, password: NEWSLETTER_USER.pass, stream: 'Newsletters' }],
        },
      },
    });
  });
  after(() => stack.stop());

  it('delivers a bulk campaign message without its instruction headers, otherwise byte for byte', async () => {
    const subject = 'spring sale';
    const sent = await stack.submit({
      from: SENDER,
      to: ['bulk@example.test'],
      body: sampleMessage({ subject, headers: ['X-Herald-Stream: bulk', 'X-Herald-Campaign:', '\tSpring'] }),
    });
    assert.equal(sent.code, 250, sent.response);
    const received = await stack.events.terminal('bulk@example.test', sent.queueId);
    assert.equal(received.type, 'delivered');
    const delivered = stack.sinks[0]!.messages.find((m) => m.to.includes('bulk@example.test'))!;
    const { rest } = stripLeadingFields(delivered.raw, ['Received', 'Message-ID', 'Date']);
    const expected = sampleMessage({ subject });
    assert.ok(rest.equals(expected), `delivered message differs:\n${rest.toString()}\n---\n${expected}`);
    assert.doesNotMatch(delivered.raw.toString('latin1'), /x-herald-/i);
    const events = await stack.assertEveryRecipientTerminatedOnce();
    const accepted = acceptedOf(events, sent.queueId!);
    assert.equal(accepted.stream, 'bulk');
    assert.equal(accepted.campaign, 'spring');
  });

  it('a user stream is the default, and transactional mail is stored without a stream', async () => {
    const fromUser = await stack.submit({
      from: SENDER,
      to: ['user-default@example.test'],
      body: sampleMessage({ subject: 'weekly news' }),
      auth: NEWSLETTER_USER,
    });
    assert.equal(fromUser.code, 250, fromUser.response);
    const overridden = await stack.submit({
      from: SENDER,
      to: ['override@example.test'],
      body: sampleMessage({ subject: 'password reset', headers: ['X-Herald-Stream: transactional'] }),
      auth: NEWSLETTER_USER,
    });
    assert.equal(overridden.code, 250, overridden.response);
    const events = await stack.assertEveryRecipientTerminatedOnce();
    assert.equal(acceptedOf(events, fromUser.queueId!).stream, 'newsletters');
    const transactional = acceptedOf(events, overridden.queueId!);
    assert.equal('stream' in transactional, false);
    assert.equal('campaign' in transactional, false);
  });

  it('refuses an invalid instruction header at the end of DATA with 554 5.6.0', async () => {
    const sent = await stack.submit({
      from: SENDER,
      to: ['invalid@example.test'],
      body: sampleMessage({ subject: 'bad', headers: ['X-Herald-Campaign: spring sale 2026'] }),
    });
    assert.equal(sent.ok, false);
    assert.equal(sent.command, 'DATA');
    assert.match(sent.response, /^554 5\.6\.0 invalid X-Herald-Campaign header/);
    const events = await stack.streamEvents();
    assert.equal(
      events.filter((e) => e.type === 'accepted' && e.recipients.includes('invalid@example.test')).length,
      0,
    );
  });

  it('the library API takes stream and campaign as fields and refuses invalid names', async () => {
    const herald = stack.relay.herald;
    const result = await herald.send({
      from: SENDER,
      to: 'api@example.test',
      subject: 'from the API',
      text: 'hello',
      stream: 'Bulk',
      campaign: 'spring',
    });
    await assert.rejects(
      herald.send({ from: SENDER, to: 'api@example.test', text: 'x', stream: 'no spaces' }),
      (err: Error & { code?: string }) =>
        err.code === 'HERALD_SEND_BAD_INSTRUCTION' && /invalid stream/.test(err.message),
    );
    const events = await stack.assertEveryRecipientTerminatedOnce();
    const accepted = acceptedOf(events, result.messageId);
    assert.deepEqual([accepted.stream, accepted.campaign], ['bulk', 'spring']);
  });
});
