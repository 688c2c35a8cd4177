/**
 * End to end: the recipients `send()` takes are the ones the relay's SMTP server would take.
 * A mailbox named twice (any case) is one recipient — one delivery, one terminal event, as
 * smtp-server keeps RCPT TO — and an address SMTP refuses with 501 (bad syntax) is a `rejected`
 * entry with the same enhanced code, never spooled. A display name (`Ann <ann@example.test>`) is
 * written into the header and left out of the envelope.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldError } from '@herald/delivery-core';
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

  it('an address the relay refuses with 501 is a rejected entry with the same enhanced code, never spooled', async () => {
    const bad = [
      '"a b"@example.test',
      '"a@b"@example.test',
      'a..b@example.test',
      '.a@example.test',
      'a.@example.test',
      'a@ok_x.example.test',
      'a@xn--zz.example',
      'wire1@example.test@example.test',
    ];
    const result = await stack.relay.herald.send({
      from: 'app@origin.test',
      to: [...bad, 'good@example.test'],
      subject: 'syntax',
      text: 'x',
    });
    assert.deepEqual(result.accepted, ['good@example.test']);
    assert.deepEqual(
      result.rejected.map((r) => [r.address, r.code, r.enhanced]),
      bad.map((address) => [address, 553, '5.1.3']),
    );
    for (const from of ['"a@b"@origin.test', 'a..b@origin.test', 'a@origin.test@origin.test'])
      await assert.rejects(
        stack.relay.herald.send({ from, to: 'good@example.test', text: 'x' }),
        (err: unknown) => err instanceof HeraldError && err.code === 'HERALD_SEND_BAD_SENDER',
      );
    await stack.assertEveryRecipientTerminatedOnce();
    const wire = stack.sinks[0]!.messages.flatMap((m) => m.to);
    assert.ok(!wire.some((to) => to.includes('wire1')), `never on the wire: ${wire.join(', ')}`);
  });

  it('display names ("Name <a@b>") go into the headers; the envelope takes the bare addresses', async () => {
    const before = stack.sinks[0]!.messages.length;
    const result = await stack.relay.herald.send({
      from: '"Shop, Inc." <app@origin.test>',
      to: ['Ann Lee <ann@example.test>', 'plain@example.test'],
      cc: 'Zoë <zoe@example.test>',
      subject: 'names',
      text: 'x',
    });
    assert.deepEqual(result.accepted, ['ann@example.test', 'plain@example.test', 'zoe@example.test']);
    const [message] = (await stack.sinks[0]!.waitForMessages(before + 1)).slice(before);
    assert.equal(message!.from, 'app@origin.test');
    assert.deepEqual([...message!.to].sort(), ['ann@example.test', 'plain@example.test', 'zoe@example.test']);
    const head = message!.raw.toString('utf8').split('\r\n\r\n')[0]!;
    assert.match(head, /^From: "Shop, Inc\." <app@origin\.test>$/m);
    assert.match(head, /^To: Ann Lee <ann@example\.test>, plain@example\.test$/m);
    assert.match(head, /^Cc: =\?UTF-8\?Q\?Zo=C3=AB\?= <zoe@example\.test>$/m);
    for (const from of ['Two <a@origin.test>, <b@origin.test>', 'Name <unclosed@origin.test', '"" <>'])
      await assert.rejects(
        stack.relay.herald.send({ from, to: 'good@example.test', text: 'x' }),
        (err: unknown) => err instanceof HeraldError && err.code === 'HERALD_SEND_BAD_SENDER',
        from,
      );
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
