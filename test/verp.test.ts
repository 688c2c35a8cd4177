/**
 * End to end: VERP return paths. With a `bounce` section, every recipient's transaction carries
 * its own MAIL FROM bounces+<token>@<bounce domain>, which decodes to the tenant, the message and
 * that recipient; null-sender mail keeps <>; without the section, the sender is used as given.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeVerp, verpKeys } from '@herald/delivery-core/verp';
import { mxZone, startStack } from './lib/stack.js';

const BOUNCE = {
  listen: '127.0.0.1:0',
  domain: 'bounces.herald.test',
  verp_secret: 'test-secret-0123456789',
};

describe('VERP return paths', () => {
  it('one transaction per recipient, each with its own decodable return path', async (t) => {
    const stack = await startStack({
      zone: mxZone('dest.test', [{ preference: 10, address: '127.0.0.2' }]),
      config: { bounce: BOUNCE },
    });
    t.after(() => stack.stop());
    const herald = stack.relay.herald;
    const sent = await herald.send({
      from: 'app@origin.test',
      to: ['a@dest.test', 'b@dest.test'],
      text: 'x',
      tenant: 'acme',
    });
    const nullSender = await herald.send({ from: '', to: 'c@dest.test', text: 'x' });
    const messages = await stack.sinks[0]!.waitForMessages(3);
    const keys = verpKeys(BOUNCE.verp_secret, []);
    for (const rcpt of ['a@dest.test', 'b@dest.test']) {
      const m = messages.find((x) => x.to.length === 1 && x.to[0] === rcpt);
      assert.ok(m, `a transaction of its own for ${rcpt}`);
      assert.match(m.from, /^bounces\+[a-z2-7]+@bounces\.herald\.test$/);
      assert.ok(m.from.split('@')[0]!.length <= 64);
      const decoded = decodeVerp(m.from, keys, { now: Date.now(), maxAgeMs: 86_400_000 });
      assert.ok(decoded.ok, JSON.stringify(decoded));
      assert.equal(decoded.messageId, sent.messageId);
      assert.equal(decoded.tenant, 'acme');
      assert.ok(decoded.matchesRecipient(rcpt));
    }
    const bounceOfNothing = messages.find((x) => x.to[0] === 'c@dest.test');
    assert.equal(bounceOfNothing?.from, '', 'null-sender mail keeps <>');
    assert.ok(nullSender.messageId);
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
