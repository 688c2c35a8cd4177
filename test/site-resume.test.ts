/**
 * End to end: an operator's resume releases at once the mail a site's suspension held, instead of
 * leaving it delayed until the suspension would have ended.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Spool } from '@herald/delivery-core/queue';
import { siteForMxHosts } from '@herald/delivery-core/sites';
import { deferrer } from './lib/cleanup.js';
import { mxZone, startStack } from './lib/stack.js';
import { submitEach } from './lib/submit.js';
import { waitUntil } from './lib/wait.js';

const DOMAIN = 'held.test';
const SUSPEND_MS = 10 * 60_000;
/** Far below the suspension: only the resume can explain the delivery. */
const DELIVERED_WITHIN_MS = 15_000;

describe('site resume', () => {
  it('herald site resume delivers the mail held by the suspension at once', {
    timeout: 60_000,
  }, async (t) => {
    const defer = deferrer(t);
    const stack = await startStack({ zone: mxZone(DOMAIN, [{ preference: 10, address: '127.0.0.2' }]) });
    defer(() => stack.stop());
    const herald = stack.relay.herald;
    const site = siteForMxHosts([`mx1.${DOMAIN}`]).site;
    await herald.suspendSite(site, SUSPEND_MS, 'test');
    const spool = new Spool(stack.redis.client(), 'herald');
    defer(() => spool.close());
    await submitEach(stack, ['a@held.test', 'b@held.test'], 1);
    await waitUntil('both jobs held by the suspension', async () => (await spool.counts()).delayed === 2);
    assert.equal(stack.sinks[0]!.messages.length, 0);
    assert.equal(await herald.resumeSite(site), true);
    await stack.sinks[0]!.waitForMessages(2, DELIVERED_WITHIN_MS);
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
