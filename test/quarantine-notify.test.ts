/**
 * End to end: the sender of a held message is told when the retention sweep deletes it
 * (`quarantine.notify_sender: expiry`, the default). A real rspamd holds GTUBE for the `holder`
 * tenant; with a one-second retention the relay's own sweeper deletes it, each recipient ends
 * `bounced` (operator delete) and one RFC 3464 failure DSN from the null sender reaches the
 * sender domain's sink, naming the quarantine and the retention. A held message whose sender
 * asked NOTIFY=NEVER gets none; the DSN is itself delivered, every recipient ends once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { classifyMessage } from '@herald/delivery-core/bounce';
import type { AcceptedEvent } from '@herald/delivery-core/events';
import { GTUBE, type RspamdHandle, startRspamd } from '@herald/test-harness';
import { sampleMessage } from './lib/message.js';
import { mxZone, type Stack, startStack } from './lib/stack.js';

const HOLDER = { user: 'holder', pass: 'secret' };
const ADMIN_KEY = 'admin-key-for-the-quarantine-notify-e2e-0123';

describe('quarantine: the sender informed when the retention deletes a held message', () => {
  let rspamd: RspamdHandle;
  let stack: Stack;
  before(async () => {
    rspamd = await startRspamd();
    stack = await startStack({
      sinks: ['127.0.0.2', '127.0.0.3'],
      zone: {
        ...mxZone('dest.test', [{ preference: 10, address: '127.0.0.2' }]),
        ...mxZone('origin.test', [{ preference: 10, address: '127.0.0.3' }]),
      },
      config: {
        smtp: { users: [{ username: HOLDER.user, password: HOLDER.pass, tenant: 'holder' }] },
        api: { listen: '127.0.0.1:0', admin_keys: [{ key: ADMIN_KEY }] },
        scanning: {
          rspamd: { url: rspamd.url, timeout: '10s' },
          actions: { holder: { quarantine: 10, reject: 100 } },
        },
        quarantine: { retention: '1s', sweep_interval: '200ms' },
      },
    });
  });
  after(async () => {
    await stack?.stop();
    await rspamd?.close();
  });

  it('one failure DSN reaches the sender of an expired held message; NOTIFY=NEVER gets none', async () => {
    const silent = await fetch(`http://127.0.0.1:${stack.api!.port}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        from: 'quiet@origin.test',
        to: ['never@dest.test'],
        subject: 'never tell',
        text: `hi ${GTUBE}`,
        tenant: 'holder',
        dsn: { notify: ['NEVER'] },
      }),
    });
    assert.equal(silent.status, 202, await silent.clone().text());
    const silentId = ((await silent.json()) as { id: string }).id;
    const sent = await stack.submit({
      from: 'app@origin.test',
      to: ['held@dest.test', 'held2@dest.test'],
      body: sampleMessage({ subject: 'held then expired', lines: [GTUBE] }),
      auth: HOLDER,
    });
    assert.equal(sent.code, 250, sent.response);
    await stack.events.waitFor(
      'quarantined',
      (e) => e.type === 'quarantined' && e.messageId === sent.queueId,
    );

    const [dsn] = await stack.sinks[1]!.waitForMessages(1);
    assert.equal(dsn!.from, '', 'the DSN comes from the null sender');
    assert.deepEqual(dsn!.to, ['app@origin.test']);
    const text = dsn!.raw.toString('utf8');
    assert.match(text, /Content-Type: multipart\/report; report-type=delivery-status/);
    assert.match(
      text,
      /Diagnostic-Code: smtp; 550 5\.7\.1 message held in quarantine and deleted after 1 second/,
    );
    assert.match(text, new RegExp(`X-Herald-Queue-ID: ${sent.queueId}`));
    assert.doesNotMatch(text, /held then expired|XJS\*C4JDBQADN1/, 'nothing of the held message is returned');
    assert.doesNotMatch(text, /message\/rfc822|text\/rfc822-headers|\(spam\)/, 'no content part, no reason');
    assert.deepEqual(
      classifyMessage(dsn!.raw).recipients.map((r) => [r.address, r.status]),
      [
        ['held@dest.test', '5.7.1'],
        ['held2@dest.test', '5.7.1'],
      ],
    );
    for (const to of ['held@dest.test', 'held2@dest.test']) {
      const end = await stack.events.terminal(to, sent.queueId);
      assert.equal(end.type, 'bounced');
      assert.equal(end.operator, 'delete');
    }
    assert.equal((await stack.events.terminal('never@dest.test', silentId)).operator, 'delete');

    const events = await stack.assertEveryRecipientTerminatedOnce();
    const dsns = events.filter((e): e is AcceptedEvent => e.type === 'accepted' && e.source === 'dsn');
    assert.equal(dsns.length, 1, 'one DSN: the NOTIFY=NEVER message tells no one');
    assert.equal(stack.sinks[1]!.messages.length, 1);
    assert.equal(stack.sinks[0]!.messages.length, 0, 'nothing held is delivered');
  });
});
