/**
 * End to end: an automation rule from the shaping file acts on a remote reply. A sink answering
 * 421 4.7.28 suspends its site; nothing is sent to that site until the suspension lifts (by
 * itself), then delivery resumes — and waiting for the lift spends no delivery attempt.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SiteEvent } from '@herald/delivery-core';
import { deferrer } from './lib/cleanup.js';
import { sampleMessage } from './lib/message.js';
import { writeShapingFile } from './lib/shaping-file.js';
import { mxZone, startStack } from './lib/stack.js';

const SUSPEND_MS = 2_000;

describe('automation rules', () => {
  it('a 421 4.7.28 suspends the site until the rule lifts, then delivery resumes', {
    timeout: 60_000,
  }, async (t) => {
    const defer = deferrer(t);
    const shapingFile = await writeShapingFile(
      defer,
      `automation:\n  - { match: { enhanced: "4.7.28" }, action: { suspend: "${SUSPEND_MS / 1000}s" } }\n`,
    );
    let throttleReplies = 1;
    const stack = await startStack({
      zone: mxZone('busy.test', [{ preference: 10, address: '127.0.0.2' }]),
      sinks: [
        {
          host: '127.0.0.2',
          script: {
            rcpt: () =>
              throttleReplies-- > 0
                ? { code: 421, enhanced: '4.7.28', text: 'unusual rate, try later' }
                : undefined,
          },
        },
      ],
      config: { shaping: { file: shapingFile }, retry: { schedule: ['300ms'], jitter: 0 } },
    });
    defer(() => stack.stop());
    const sink = stack.sinks[0]!;

    const first = await stack.submit({
      from: 'a@origin.test',
      to: ['first@busy.test'],
      body: sampleMessage({ subject: 'first' }),
    });
    assert.equal(first.code, 250, first.response);
    const suspended = await stack.events.waitFor<SiteEvent>(
      'site_suspended',
      (e) => e.type === 'site_suspended',
    );
    assert.match(suspended.site, /^mx:mx1\.busy\.test$/);
    assert.match(suspended.reason, /4\.7\.28/);
    const connectionsAtSuspension = sink.stats().connections;

    const second = await stack.submit({
      from: 'a@origin.test',
      to: ['second@busy.test'],
      body: sampleMessage({ subject: 'second' }),
    });
    assert.equal(second.code, 250, second.response);
    await sink.waitForMessages(2, 15_000);
    const deliveredAt = sink.messages.map((m) => m.receivedAt);
    for (const at of deliveredAt) {
      assert.ok(
        at >= suspended.until! - 50,
        `delivered at ${at}, not before the suspension lifted at ${suspended.until}`,
      );
    }
    assert.ok(sink.stats().connections > connectionsAtSuspension, 'delivery resumed after the lift');

    const events = await stack.assertEveryRecipientTerminatedOnce();
    const attempts = Object.fromEntries(
      events.flatMap((e) => (e.type === 'delivered' ? [[e.recipient, e.attempt]] : [])),
    );
    assert.deepEqual(
      attempts,
      { 'first@busy.test': 2, 'second@busy.test': 1 },
      'waiting for the lift is not an attempt',
    );
  });
});
