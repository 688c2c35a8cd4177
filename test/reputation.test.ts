/**
 * End to end: tenant reputation. A tenant whose hard-bounce rate passes its threshold (with
 * enough volume in the window) has its bulk streams paused by Herald itself: a `tenant_paused`
 * event, its bulk mail held (parked, no attempt spent) while its transactional mail still goes;
 * `resumeTenant` (what `herald tenant resume` runs) releases the held mail at once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TenantEvent } from '@herald/delivery-core/events';
import { mxZone, startStack } from './lib/stack.js';

const GONE = { code: 550, enhanced: '5.1.1', text: 'no such user' };

describe('tenant reputation', () => {
  it('a tenant over its hard-bounce threshold gets its bulk mail paused until it is resumed', {
    timeout: 60_000,
  }, async (t) => {
    const stack = await startStack({
      sinks: [
        {
          host: '127.0.0.2',
          script: { rcpt: (to) => (to.startsWith('gone') ? GONE : undefined) },
        },
      ],
      zone: mxZone('dest.test', [{ preference: 10, address: '127.0.0.2' }]),
      config: {
        tenants: { acme: { bounce_rate_threshold: 0.2, reputation_min_volume: 5, dsn: false } },
      },
    });
    t.after(() => stack.stop());
    const herald = stack.relay.herald;
    const send = (to: string, stream?: string) =>
      herald.send({ from: 'app@origin.test', to, text: 'x', tenant: 'acme', ...(stream ? { stream } : {}) });

    for (const to of [
      'gone1@dest.test',
      'gone2@dest.test',
      'ok1@dest.test',
      'ok2@dest.test',
      'ok3@dest.test',
    ])
      await send(to);
    const paused = await stack.events.waitFor<TenantEvent>(
      'tenant_paused',
      (e) => e.type === 'tenant_paused',
    );
    assert.equal(paused.tenant, 'acme');
    assert.match(paused.reason, /hard bounce rate 40\.00 % over 20\.00 %/);

    await send('bulk1@dest.test', 'bulk');
    await send('tx1@dest.test');
    const sink = stack.sinks[0]!;
    await sink.waitForMessages(4, 15_000);
    // The transactional message went; give the bulk one time to (wrongly) go too.
    await new Promise((r) => setTimeout(r, 1_500));
    const delivered = () => sink.messages.flatMap((m) => m.to);
    assert.ok(delivered().includes('tx1@dest.test'));
    assert.ok(!delivered().includes('bulk1@dest.test'), 'bulk mail is held while the tenant is paused');

    assert.equal(await herald.resumeTenant('acme'), true);
    await sink.waitForMessages(5, 10_000);
    assert.ok(delivered().includes('bulk1@dest.test'), 'resuming releases the held bulk mail');
    const events = await stack.assertEveryRecipientTerminatedOnce();
    const bulk = events.find((e) => e.type === 'delivered' && e.recipient === 'bulk1@dest.test');
    assert.equal(bulk && 'attempt' in bulk ? bulk.attempt : undefined, 1, 'the wait spent no attempt');
    assert.ok(events.some((e) => e.type === 'tenant_resumed'));
  });
});
