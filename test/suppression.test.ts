/**
 * End to end: the suppression list at RCPT. In mode refuse (the default) a suppressed recipient
 * is refused with 550 5.7.1 and its reason while the others of the message are delivered; in mode
 * drop it is accepted, gets exactly one `suppressed` event and never reaches the sink, and a
 * message whose every recipient is dropped is answered 250 with nothing spooled. A lookup that
 * cannot reach Redis answers 451 4.3.0, never an unchecked 250.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sampleMessage } from './lib/message.js';
import { type Stack, startStack } from './lib/stack.js';

const SENDER = 'app@origin.test';
const QUIET_USER = { user: 'quiet', pass: 'secret' };

describe('the suppression list at RCPT', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: {
        smtp: { users: [{ username: QUIET_USER.user, password: QUIET_USER.pass, tenant: 'quiet' }] },
        tenants: { quiet: { suppression: 'drop' } },
      },
    });
    const { suppression } = stack.relay.herald;
    await suppression.add('default', {
      address: 'gone@example.test',
      reason: 'userunknown',
      source: 'bounce',
    });
    await suppression.add('quiet', {
      address: 'angry@example.test',
      reason: 'feedback',
      source: 'complaint',
    });
  });
  after(() => stack.stop());

  const sinkRecipients = () => stack.sinks[0]!.messages.flatMap((m) => m.to.map((t) => t.toLowerCase()));

  it('refuses a suppressed recipient with 550 5.7.1 and the reason, and delivers to the other', async () => {
    const sent = await stack.submit({
      from: SENDER,
      to: ['Gone@example.test', 'ok@example.test'],
      body: sampleMessage({ subject: 'refuse mode' }),
    });
    assert.equal(sent.code, 250, sent.response);
    assert.deepEqual(sent.rejected, ['Gone@example.test']);
    assert.match(
      sent.rejectedResponses[0]!,
      /^550 5\.7\.1 <Gone@example\.test>: recipient suppressed \(userunknown\)$/,
    );
    assert.equal((await stack.events.terminal('ok@example.test', sent.queueId)).type, 'delivered');
    await stack.assertEveryRecipientTerminatedOnce();
    assert.ok(!sinkRecipients().includes('gone@example.test'));
  });

  it('in mode drop accepts the suppressed recipient, emits one suppressed event and delivers only the other', async () => {
    const sent = await stack.submit({
      from: SENDER,
      to: ['angry@example.test', 'fine@example.test'],
      body: sampleMessage({ subject: 'drop mode' }),
      auth: QUIET_USER,
    });
    assert.equal(sent.code, 250, sent.response);
    assert.deepEqual(sent.accepted, ['angry@example.test', 'fine@example.test']);
    const dropped = await stack.events.terminal('angry@example.test', sent.queueId);
    assert.equal(dropped.type, 'suppressed');
    assert.equal(dropped.tenant, 'quiet');
    assert.equal(dropped.reply.enhanced, '5.7.1');
    assert.equal((await stack.events.terminal('fine@example.test', sent.queueId)).type, 'delivered');
    const events = await stack.assertEveryRecipientTerminatedOnce();
    const accepted = events.find((e) => e.type === 'accepted' && e.messageId === sent.queueId);
    assert.ok(accepted?.type === 'accepted');
    assert.equal(accepted.jobs, 1);
    assert.deepEqual(
      events.filter((e) => e.type === 'suppressed').map((e) => 'recipient' in e && e.recipient),
      ['angry@example.test'],
    );
    assert.ok(sinkRecipients().includes('fine@example.test'));
    assert.ok(!sinkRecipients().includes('angry@example.test'));
  });

  it('in mode drop answers 250 for a message whose every recipient is suppressed and spools nothing', async () => {
    const sent = await stack.submit({
      from: SENDER,
      to: ['angry@example.test'],
      body: sampleMessage({ subject: 'all dropped' }),
      auth: QUIET_USER,
    });
    assert.equal(sent.code, 250, sent.response);
    assert.equal((await stack.events.terminal('angry@example.test', sent.queueId)).type, 'suppressed');
    const events = await stack.assertEveryRecipientTerminatedOnce();
    const accepted = events.find((e) => e.type === 'accepted' && e.messageId === sent.queueId);
    assert.ok(accepted?.type === 'accepted');
    assert.equal(accepted.jobs, 0);
  });

  it('answers 451 4.3.0 at RCPT while Redis is unreachable', async () => {
    await stack.redis.kill();
    try {
      const sent = await stack.submit({
        from: SENDER,
        to: ['someone@example.test'],
        body: sampleMessage({ subject: 'no redis' }),
      });
      assert.equal(sent.ok, false);
      assert.match(sent.response, /^451 4\.3\.0 Temporary local problem: suppression list unavailable/);
    } finally {
      await stack.redis.restart();
    }
  });
});
