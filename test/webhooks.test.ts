/**
 * Webhooks through the relay: mail submitted over SMTP and delivered by the relay's worker thread
 * reaches a real HTTP receiver as signed batches, from the dispatcher the relay runs on its main
 * thread; a receiver that hangs never holds up delivery to the SMTP sink.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { webhookKeys } from '@herald/delivery-core/keys';
import { startReceiver } from '@herald/test-harness';
import { sampleMessage } from './lib/message.js';
import { startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const SENDER = 'sender@origin.test';

describe('webhooks from a relay', () => {
  it('each delivered and bounced recipient reaches the endpoint, signed, while a hanging endpoint waits', async (t) => {
    const receiver = await startReceiver(SECRET);
    const stuck = await startReceiver(SECRET);
    stuck.fallback = 'hang';
    t.after(() => receiver.close());
    t.after(() => stuck.close());
    const stack = await startStack({
      sinks: [
        {
          host: '127.0.0.2',
          script: { rcpt: { 'bad@example.test': { code: 550, enhanced: '5.1.1', text: 'no such user' } } },
        },
      ],
      config: {
        webhooks: [
          {
            tenant: 'default',
            url: receiver.url,
            events: ['delivered', 'bounced'],
            secret: SECRET,
            batch_wait: '50ms',
          },
          { tenant: 'default', url: stuck.url, events: ['accepted'], secret: SECRET, timeout: '60s' },
        ],
      },
    });
    t.after(() => stack.stop());
    const redis = stack.redis.client();
    t.after(() => redis.disconnect());
    const cursor = webhookKeys(stack.relay.herald.config.redis.prefix).cursor;
    await waitUntil(
      'the webhook dispatcher to take its place in the stream',
      async () => (await redis.exists(cursor)) === 1,
    );

    const recipients = ['a@example.test', 'b@example.test', 'bad@example.test'];
    const sent = await stack.submit({
      from: SENDER,
      to: recipients,
      body: sampleMessage({ subject: 'hooks' }),
    });
    assert.equal(sent.code, 250, sent.response);
    await stack.sinks[0]!.waitForMessages(1);
    // The bounce also makes a DSN to the sender (a message of its own, with its own outcome).
    const outcomes = () =>
      receiver
        .accepted()
        .flatMap((r) => r.events)
        .filter((e) => e.messageId === sent.queueId);
    await receiver.waitFor(() => outcomes().length === 3);
    assert.ok(
      receiver.requests.every((r) => r.verified),
      'every signature verifies',
    );
    assert.deepEqual(
      outcomes()
        .map((e) => `${e.type} ${e.recipient}`)
        .sort(),
      ['bounced bad@example.test', 'delivered a@example.test', 'delivered b@example.test'],
    );
    assert.ok(outcomes().every((e) => e.tenant === 'default'));
    assert.equal(stuck.hanging, 1, "the other endpoint's request hangs all along");
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
