/**
 * End to end: the recipients `send()` takes are the ones the relay's SMTP server would take.
 * A mailbox named twice (any case) is one recipient — one delivery, one terminal event, as
 * smtp-server keeps RCPT TO — and an address SMTP refuses with 501 (bad syntax) is a `rejected`
 * entry with the same enhanced code, never spooled.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Stack, startStack } from './lib/stack.js';

/** Many copies of one mailbox: a list this long made 500 deliveries before the fix. */
const COPIES = 500;

describe('send(): recipients as SMTP takes them', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.stop());

  it('a mailbox named many times (any case) is accepted once and terminates once', async () => {
    const to = [
      ...Array<string>(COPIES).fill('same@example.test'),
      'Same@EXAMPLE.test',
      'other@example.test',
    ];
    const result = await stack.relay.herald.send({ from: 'app@origin.test', to, subject: 'dup', text: 'x' });
    assert.deepEqual(result.accepted, ['Same@EXAMPLE.test', 'other@example.test']);
    assert.deepEqual(result.rejected, []);
    const messages = await stack.sinks[0]!.waitForMessages(1);
    assert.equal(messages.length, 1);
    assert.deepEqual(messages[0]!.to.map((r) => r.toLowerCase()).sort(), [
      'other@example.test',
      'same@example.test',
    ]);
    const events = await stack.assertEveryRecipientTerminatedOnce();
    const accepted = events.flatMap((e) => (e.type === 'accepted' ? e.recipients : []));
    assert.deepEqual(accepted, ['Same@EXAMPLE.test', 'other@example.test']);
    assert.equal(events.filter((e) => e.type === 'delivered').length, 2);
  });
});
