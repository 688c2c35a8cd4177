/**
 * End to end: submission-time sender policy. A tenant's bulk stream gets one-click unsubscribe
 * headers (List-Unsubscribe with https and mailto, List-Unsubscribe-Post) added by Herald, its
 * transactional mail does not; `sender_domains` refuses a foreign sender at MAIL over SMTP and
 * in `send()`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeraldError } from '@herald/delivery-core';
import { sampleMessage } from './lib/message.js';
import { startStack } from './lib/stack.js';

describe('sender policy at submission', () => {
  it('bulk mail gets List-Unsubscribe and List-Unsubscribe-Post; a foreign sender is refused', async (t) => {
    const stack = await startStack({
      config: {
        tenants: {
          default: {
            sender_domains: ['origin.test'],
            list_unsubscribe: { https: 'https://origin.test/u?m={message_id}', mailto: 'unsub@origin.test' },
          },
        },
      },
    });
    t.after(() => stack.stop());
    const bulk = await stack.submit({
      from: 'news@origin.test',
      to: ['a@example.test'],
      body: `X-Herald-Stream: bulk\r\n${sampleMessage({ subject: 'sale' })}`,
    });
    assert.equal(bulk.code, 250, bulk.response);
    const tx = await stack.submit({
      from: 'news@origin.test',
      to: ['b@example.test'],
      body: sampleMessage({ subject: 'receipt' }),
    });
    assert.equal(tx.code, 250, tx.response);
    const messages = await stack.sinks[0]!.waitForMessages(2);
    const bulkText = messages.find((m) => m.to[0] === 'a@example.test')!.raw.toString();
    assert.match(
      bulkText,
      new RegExp(
        `^List-Unsubscribe: <https://origin\\.test/u\\?m=${bulk.queueId}>, <mailto:unsub@origin\\.test\\?subject=unsubscribe>\\r\\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\\r\\n`,
        'm',
      ),
    );
    assert.doesNotMatch(
      messages.find((m) => m.to[0] === 'b@example.test')!.raw.toString(),
      /List-Unsubscribe/,
    );

    const foreign = await stack.submit({
      from: 'ceo@bank.test',
      to: ['c@example.test'],
      body: sampleMessage({ subject: 'x' }),
    });
    assert.equal(foreign.code, 553, foreign.response);
    assert.match(foreign.response, /^553 5\.7\.1 /);
    await assert.rejects(
      stack.relay.herald.send({ from: 'ceo@bank.test', to: 'c@example.test', text: 'x' }),
      (err: unknown) => err instanceof HeraldError && err.code === 'HERALD_SEND_DOMAIN_NOT_ALLOWED',
    );
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('refuse_dmarc_fail: mail whose From aligns with nothing Herald authenticates gets 550 5.7.26', async (t) => {
    const stack = await startStack({ config: { tenants: { default: { refuse_dmarc_fail: true } } } });
    t.after(() => stack.stop());
    const foreign = await stack.submit({
      from: 'app@origin.test',
      to: ['a@example.test'],
      body: 'From: ceo@bank.test\r\nSubject: pay\r\n\r\nx\r\n',
    });
    assert.equal(foreign.code, 550, foreign.response);
    assert.match(foreign.response, /^550 5\.7\.26 DMARC would fail for bank\.test/);
    const own = await stack.submit({
      from: 'app@origin.test',
      to: ['a@example.test'],
      body: 'From: app@origin.test\r\nSubject: hi\r\n\r\nx\r\n',
    });
    assert.equal(own.code, 250, own.response);
    await assert.rejects(
      stack.relay.herald.send({
        from: 'app@origin.test',
        to: 'a@example.test',
        raw: 'From: ceo@bank.test\r\n\r\nx\r\n',
      }),
      /DMARC would fail/,
    );
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('a pathological From (200 KB unclosed quote, runs of "(") is refused at once and the relay keeps answering', async (t) => {
    const stack = await startStack({
      config: {
        smtp: { max_message_size: 2_000_000 },
        tenants: { default: { sender_domains: ['origin.test'] } },
      },
    });
    t.after(() => stack.stop());
    for (const from of [
      `"${'a'.repeat(200_000)}`,
      '('.repeat(200_000),
      `${'a'.repeat(200_000)} <a@origin.test>`,
    ]) {
      const hostile = await stack.submit({
        from: 'app@origin.test',
        to: ['a@example.test'],
        body: `From: ${from}\r\nSubject: x\r\n\r\nx\r\n`,
      });
      assert.match(hostile.response, /^550 5\.7\.1 Message refused: invalid From header/);
      await assert.rejects(
        stack.relay.herald.send({
          from: 'app@origin.test',
          to: 'a@example.test',
          raw: `From: ${from}\r\n\r\nx\r\n`,
        }),
        (err: unknown) => err instanceof HeraldError && err.code === 'HERALD_SEND_BAD_FROM',
      );
    }
    const ok = await stack.submit({
      from: 'app@origin.test',
      to: ['a@example.test'],
      body: sampleMessage({ subject: 'hi' }),
    });
    assert.equal(ok.code, 250, ok.response);
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
