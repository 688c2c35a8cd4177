/**
 * End to end: delivery status notifications. A recipient the remote refuses with 550 5.1.1 gets
 * its sender an RFC 3464 report (from the null sender, delivered through the sender domain's MX),
 * which Herald's own classifier reads back as userunknown; the DSN itself bouncing makes no
 * further DSN (no loop); a tenant with `dsn: false` gets none. Every accepted recipient, the
 * DSNs' included, ends with exactly one terminal event.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyMessage } from '@herald/delivery-core/bounce';
import type { AcceptedEvent } from '@herald/delivery-core/events';
import { sampleMessage } from './lib/message.js';
import { mxZone, startStack } from './lib/stack.js';

const GONE = { code: 550, enhanced: '5.1.1', text: 'user unknown' };

function zone() {
  return {
    ...mxZone('dest.test', [{ preference: 10, address: '127.0.0.2' }]),
    ...mxZone('origin.test', [{ preference: 10, address: '127.0.0.3' }]),
  };
}

describe('DSNs to senders', () => {
  it('a 550 5.1.1 bounce sends the sender a DSN from <>, which reads back as userunknown', async (t) => {
    const stack = await startStack({
      sinks: [{ host: '127.0.0.2', script: { rcpt: { 'gone@dest.test': GONE } } }, '127.0.0.3'],
      zone: zone(),
    });
    t.after(() => stack.stop());
    const sent = await stack.submit({
      from: 'app@origin.test',
      to: ['gone@dest.test', 'here@dest.test'],
      body: sampleMessage({ subject: 'invoice 42' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const [dsn] = await stack.sinks[1]!.waitForMessages(1);
    assert.equal(dsn!.from, '', 'the DSN comes from the null sender');
    assert.deepEqual(dsn!.to, ['app@origin.test']);
    const text = dsn!.raw.toString('utf8');
    assert.match(text, /Content-Type: multipart\/report; report-type=delivery-status/);
    assert.match(text, /Subject: invoice 42/, "the original's headers are quoted");
    const report = classifyMessage(dsn!.raw);
    assert.deepEqual(
      report.recipients.map((r) => [r.address, r.reason, r.status]),
      [['gone@dest.test', 'userunknown', '5.1.1']],
    );
    const events = await stack.assertEveryRecipientTerminatedOnce();
    const accepted = events.filter((e): e is AcceptedEvent => e.type === 'accepted');
    assert.deepEqual(
      accepted.map((e) => e.source),
      ['smtp', 'dsn'],
    );
  });

  it('a DSN that bounces makes no DSN (no loop), and a tenant with dsn: false gets none', async (t) => {
    const stack = await startStack({
      sinks: [
        { host: '127.0.0.2', script: { rcpt: { 'gone@dest.test': GONE } } },
        // The sender's own domain refuses everything: the DSN bounces.
        {
          host: '127.0.0.3',
          script: { rcpt: () => ({ code: 550, enhanced: '5.1.1', text: 'no such user' }) },
        },
      ],
      zone: zone(),
      config: {
        tenants: { quiet: { dsn: false } },
        smtp: { users: [{ username: 'quiet', password: 'pw', tenant: 'quiet' }] },
      },
    });
    t.after(() => stack.stop());
    const loud = await stack.submit({
      from: 'app@origin.test',
      to: ['gone@dest.test'],
      body: sampleMessage({ subject: 'one' }),
    });
    assert.equal(loud.code, 250, loud.response);
    const quiet = await stack.submit({
      from: 'quiet@origin.test',
      to: ['gone@dest.test'],
      body: sampleMessage({ subject: 'two' }),
      auth: { user: 'quiet', pass: 'pw' },
    });
    assert.equal(quiet.code, 250, quiet.response);
    const events = await stack.assertEveryRecipientTerminatedOnce();
    const accepted = events.filter((e): e is AcceptedEvent => e.type === 'accepted');
    assert.equal(accepted.filter((e) => e.source === 'dsn').length, 1, 'one DSN: for the first message only');
    const bounced = events
      .filter((e) => e.type === 'bounced')
      .map((e) => ('recipient' in e ? e.recipient : ''));
    assert.deepEqual(bounced.sort(), ['app@origin.test', 'gone@dest.test', 'gone@dest.test']);
  });

  it('a 550 5.1.1 at delivery puts the recipient on the suppression list: the next message to it is refused at RCPT', async (t) => {
    const stack = await startStack({
      sinks: [{ host: '127.0.0.2', script: { rcpt: { 'gone@dest.test': GONE } } }, '127.0.0.3'],
      zone: zone(),
    });
    t.after(() => stack.stop());
    const first = await stack.submit({
      from: 'app@origin.test',
      to: ['gone@dest.test'],
      body: sampleMessage({ subject: 'first' }),
    });
    assert.equal(first.code, 250, first.response);
    assert.equal((await stack.events.terminal('gone@dest.test', first.queueId)).type, 'bounced');
    const listed = await stack.relay.herald.suppression.check('default', ['gone@dest.test']);
    assert.deepEqual(
      [listed.get('gone@dest.test')?.reason, listed.get('gone@dest.test')?.source],
      ['userunknown', 'bounce'],
    );
    const second = await stack.submit({
      from: 'app@origin.test',
      to: ['gone@dest.test', 'here@dest.test'],
      body: sampleMessage({ subject: 'second' }),
    });
    assert.deepEqual(second.rejected, ['gone@dest.test']);
    assert.match(second.rejectedResponses[0]!, /^550 5\.7\.1 .*suppressed \(userunknown\)/);
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
