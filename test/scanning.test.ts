/**
 * End to end: content scanning through a real rspamd (Debian's, started by the harness on
 * loopback) and the quarantine. With the default thresholds GTUBE is refused 550 5.7.1 and clean
 * mail delivered untouched; a message scoring between add_header and quarantine is delivered with
 * X-Spam headers. For a tenant whose thresholds quarantine GTUBE, the message is answered 250 and
 * held (a `quarantined` event, nothing delivered); released, it is delivered; deleted, each
 * recipient ends bounced (operator delete). Every accepted recipient ends exactly once. A scanner
 * that does not answer is fail-closed (451 4.7.1) for the stack's config.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { QuarantineEvent } from '@herald/delivery-core/events';
import { GTUBE, type RspamdHandle, startRspamd, TEST_SCORE_HEADER } from '@herald/test-harness';
import { headerValue, sampleMessage } from './lib/message.js';
import { type Stack, startStack } from './lib/stack.js';

const SENDER = 'app@origin.test';
const HOLDER = { user: 'holder', pass: 'secret' };

describe('content scanning with rspamd, and the quarantine', () => {
  let rspamd: RspamdHandle;
  let stack: Stack;
  before(async () => {
    rspamd = await startRspamd();
    stack = await startStack({
      config: {
        smtp: { users: [{ username: HOLDER.user, password: HOLDER.pass, tenant: 'holder' }] },
        scanning: {
          rspamd: { url: rspamd.url, timeout: '10s' },
          fail: 'closed',
          actions: {
            default: { add_header: 6, quarantine: 10, reject: 15 },
            holder: { quarantine: 10, reject: 100 },
          },
        },
      },
    });
  });
  after(async () => {
    await stack?.stop();
    await rspamd?.close();
  });

  const delivered = (to: string) => stack.sinks[0]!.messages.filter((m) => m.to.includes(to));

  it('refuses GTUBE with 550 5.7.1 and delivers clean mail without spam headers', async () => {
    const spam = await stack.submit({
      from: SENDER,
      to: ['victim@example.test'],
      body: sampleMessage({ subject: 'gtube', lines: ['Buy now', GTUBE] }),
    });
    assert.equal(spam.ok, false);
    assert.match(spam.response, /^550 5\.7\.1 Message rejected as spam/);
    const clean = await stack.submit({
      from: SENDER,
      to: ['reader@example.test'],
      body: sampleMessage({ subject: 'hello' }),
    });
    assert.equal(clean.code, 250, clean.response);
    assert.equal((await stack.events.terminal('reader@example.test', clean.queueId)).type, 'delivered');
    assert.equal(headerValue(delivered('reader@example.test')[0]!.raw, 'X-Spam'), undefined);
    const metrics = await stack.relay.herald.metrics.metrics();
    assert.match(metrics, /herald_scan_total\{result="reject"\} 1/);
    assert.match(metrics, /herald_scan_total\{result="accept"\} 1/);
  });

  it('adds X-Spam headers to a message scoring between add_header and quarantine, and delivers it', async () => {
    const sent = await stack.submit({
      from: SENDER,
      to: ['tagged@example.test'],
      body: sampleMessage({ subject: 'borderline', headers: [`${TEST_SCORE_HEADER}: 7.5`] }),
    });
    assert.equal(sent.code, 250, sent.response);
    assert.equal((await stack.events.terminal('tagged@example.test', sent.queueId)).type, 'delivered');
    const raw = delivered('tagged@example.test')[0]!.raw;
    assert.equal(headerValue(raw, 'X-Spam'), 'Yes');
    assert.equal(headerValue(raw, 'X-Spam-Score'), '7.50');
    assert.match(headerValue(raw, 'X-Spam-Symbols') ?? '', /HERALD_TEST_SCORE/);
  });

  it('holds GTUBE in quarantine for a tenant whose thresholds say so, and delivers it once released', async () => {
    const sent = await stack.submit({
      from: SENDER,
      to: ['held@example.test'],
      body: sampleMessage({ subject: 'held', lines: [GTUBE] }),
      auth: HOLDER,
    });
    assert.equal(sent.code, 250, sent.response);
    const held = await stack.events.waitFor<QuarantineEvent>(
      'quarantined',
      (e) => e.type === 'quarantined' && e.messageId === sent.queueId,
    );
    assert.equal(held.tenant, 'holder');
    assert.equal(held.score, 15);
    assert.ok(held.symbols?.includes('GTUBE'));
    const { quarantine } = stack.relay.herald;
    const listed = await quarantine.list({ tenant: 'holder' });
    assert.deepEqual(
      listed.messages.map((m) => [m.id, m.reason, m.recipients]),
      [[sent.queueId, 'spam', ['held@example.test']]],
    );
    assert.match((await quarantine.show(sent.queueId!))?.headers ?? '', /Subject: held/);
    assert.equal(delivered('held@example.test').length, 0);
    const released = await quarantine.release(sent.queueId!);
    assert.equal(released?.id, sent.queueId);
    assert.equal(await quarantine.release(sent.queueId!), undefined, 'a message is released once');
    assert.equal((await stack.events.terminal('held@example.test', sent.queueId)).type, 'delivered');
    assert.equal((await quarantine.list()).total, 0);
  });

  it('deletes a held message: each recipient ends bounced by the operator, nothing is delivered', async () => {
    const sent = await stack.submit({
      from: SENDER,
      to: ['doomed@example.test', 'doomed2@example.test'],
      body: sampleMessage({ subject: 'doomed', lines: [GTUBE] }),
      auth: HOLDER,
    });
    assert.equal(sent.code, 250, sent.response);
    await stack.events.waitFor(
      'quarantined',
      (e) => e.type === 'quarantined' && e.messageId === sent.queueId,
    );
    const removed = await stack.relay.herald.quarantine.remove(sent.queueId!);
    assert.deepEqual(removed?.recipients, ['doomed@example.test', 'doomed2@example.test']);
    for (const to of ['doomed@example.test', 'doomed2@example.test']) {
      const end = await stack.events.terminal(to, sent.queueId);
      assert.equal(end.type, 'bounced');
      assert.equal(end.operator, 'delete');
      assert.equal(end.reply.enhanced, '5.7.1');
    }
    await stack.assertEveryRecipientTerminatedOnce();
    assert.equal(delivered('doomed@example.test').length, 0);
  });

  it('answers 451 4.7.1 while the scanner is down (fail closed)', async () => {
    await rspamd.close();
    const sent = await stack.submit({
      from: SENDER,
      to: ['later@example.test'],
      body: sampleMessage({ subject: 'scanner down' }),
    });
    assert.equal(sent.ok, false);
    assert.match(sent.response, /^451 4\.7\.1 Temporary local problem: content scanner unavailable/);
    assert.match(await stack.relay.herald.metrics.metrics(), /herald_scan_total\{result="failed_closed"\} 1/);
  });
});
