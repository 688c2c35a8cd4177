/**
 * End to end: a hard bounce counts once per message × recipient. A sink refuses one recipient
 * with 550 5.1.1 at RCPT (delivery's hard bounce: suppressed and counted), then a DSN about the
 * same message and recipient arrives at its VERP address (the bounce-processor): it is recorded
 * (`bounce_received`, suppressed) but counted no more — the tenant's hard-bounce count stays 1.
 * A DSN for another recipient of the same message still counts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FeedbackEvent } from '@herald/delivery-core/events';
import { dsnFor, verpFor, withProcessor } from './lib/bounce-reports.js';
import { sampleMessage } from './lib/message.js';
import { mxZone } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const GONE = { code: 550, enhanced: '5.1.1', text: 'no such user' };
const userUnknown = (address: string) =>
  dsnFor([{ address, status: '5.1.1', diagnostic: `550 5.1.1 <${address}>: User unknown` }]);

describe('hard bounces counted once', () => {
  it("delivery's 5xx and a later DSN for the same message and recipient count one hard bounce", {
    timeout: 120_000,
  }, async (t) => {
    const { stack, client } = await withProcessor(t, {
      // No DSN to the sender: its own failure (origin.test has no MX) would be a hard bounce too.
      config: { tenants: { default: { dsn: false } } },
      stack: {
        zone: mxZone('dest.test', [{ preference: 10, address: '127.0.0.2' }]),
        sinks: [{ host: '127.0.0.2', script: { rcpt: (to) => (to.startsWith('gone') ? GONE : undefined) } }],
      },
    });
    const herald = stack.relay.herald;
    const sent = await stack.submit({
      from: 'app@origin.test',
      to: ['gone@dest.test', 'fine@dest.test'],
      body: sampleMessage({ subject: 'once' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const bounced = await stack.events.terminal('gone@dest.test', sent.queueId);
    assert.equal(bounced.type, 'bounced');
    const tenant = bounced.tenant;
    await stack.events.terminal('fine@dest.test', sent.queueId);
    // The follow-up (suppress, count) runs as the job ends: wait for the suppression it writes.
    await waitUntil('gone@dest.test suppressed', async () =>
      (await herald.suppression.check(tenant, ['gone@dest.test'])).has('gone@dest.test'),
    );
    await waitUntil(
      'the hard bounce counted',
      async () => (await herald.tenantStatus(tenant)).rates.hard === 1,
    );

    // The same message × recipient reported again by DSN: recorded, not counted.
    const again = verpFor(tenant, 'gone@dest.test', sent.queueId);
    const dsn = await client.send({ from: '', to: [again.address] }, userUnknown('gone@dest.test'));
    assert.equal(dsn.code, 250, dsn.response);
    const event = await stack.events.waitFor<FeedbackEvent>(
      'bounce_received gone',
      (e) => e.type === 'bounce_received' && e.recipient === 'gone@dest.test',
    );
    assert.deepEqual([event.hard, event.suppressed, event.verified], [true, true, true]);
    assert.equal((await herald.tenantStatus(tenant)).rates.hard, 1, 'the DSN does not count it twice');

    // Another recipient of that message (delivered, then bounced later): its first count.
    const later = verpFor(tenant, 'fine@dest.test', sent.queueId);
    const late = await client.send({ from: '', to: [later.address] }, userUnknown('fine@dest.test'));
    assert.equal(late.code, 250, late.response);
    await stack.events.waitFor<FeedbackEvent>(
      'bounce_received fine',
      (e) => e.type === 'bounce_received' && e.recipient === 'fine@dest.test',
    );
    assert.equal((await herald.tenantStatus(tenant)).rates.hard, 2);
  });
});
