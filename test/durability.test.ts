/**
 * End to end: what the relay promises when things break. A message is answered 250 only once it
 * is safely in Redis (451 4.3.0 while Redis is down, so the client keeps it), and a relay killed
 * with SIGKILL loses nothing: after a restart every accepted message is delivered, and the only
 * duplicates are jobs that were in flight at the kill.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readEvents } from '@herald/delivery-core';
import { eventStreamKeys, ShardRegistry, Spool } from '@herald/delivery-core/queue';
import { deferrer } from './lib/cleanup.js';
import { TEST_SHARDS } from './lib/config.js';
import { sampleMessage } from './lib/message.js';
import { spawnRelay } from './lib/relay-process.js';
import { SmtpClient } from './lib/smtp-client.js';
import { startParts, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const SENDER = 'sender@origin.test';
const MESSAGES = 200;
const CRASH_CONCURRENCY = 10;
const SUBMIT_SESSIONS = 10;
/** The sink greets this late before the crash, so that most messages are still queued at the kill. */
const SLOW_GREETING_MS = 2_000;
const ALL_DELIVERED_WITHIN_MS = 60_000;
/** Once every recipient arrived, the last jobs complete (and any duplicate shows up) within this. */
const IDLE_AFTER_DELIVERY_MS = 15_000;
/**
 * delivery.connection_lease_ttl (default 30 s): the killed relay's connection slots free
 * themselves after this, and until then the restarted relay has none for the sink's site. Short,
 * as the job locks are; the wait itself is test/lease-expiry.test.ts's subject.
 */
const CONNECTION_LEASE_TTL = '3s';
const PREFIX = 'herald';

describe('Redis outage', () => {
  it('answers 451 4.3.0 while Redis is down, and 250 after it is back', async (t) => {
    const stack = await startStack();
    t.after(() => stack.stop());
    const message = { from: SENDER, to: ['outage@example.test'], body: sampleMessage({ subject: 'outage' }) };

    await stack.redis.kill();
    const refused = await stack.submit(message);
    assert.equal(refused.ok, false);
    // The first Redis read of a transaction is the suppression lookup at RCPT: refused there,
    // before any data is sent (the end-of-DATA enqueue answers the same when Redis dies later).
    assert.equal(refused.command, 'RCPT TO', 'refused at RCPT, where Redis is first needed');
    assert.match(refused.response, /^451 4\.3\.0 /);

    await stack.redis.restart();
    await waitUntil('the relay reaching Redis again', () => stack.relay.herald.ping());
    const sent = await stack.submit(message);
    assert.equal(sent.code, 250, sent.response);
    assert.equal((await stack.events.terminal('outage@example.test')).type, 'delivered');
    const events = await stack.assertEveryRecipientTerminatedOnce();
    assert.equal(
      events.filter((e) => e.type === 'accepted').length,
      1,
      'only the second submission was accepted',
    );
    assert.equal(stack.sinks[0]!.messages.length, 1);
  });
  it('shuts down while Redis is unreachable instead of waiting for it forever', {
    timeout: 30_000,
  }, async (t) => {
    const stack = await startStack();
    t.after(() => stack.stop());
    const sent = await stack.submit({
      from: SENDER,
      to: ['before-outage@example.test'],
      body: sampleMessage({ subject: 'x' }),
    });
    assert.equal(sent.code, 250, sent.response);
    await stack.events.terminal('before-outage@example.test');
    await stack.redis.kill();
    await stack.relay.stop();
    assert.equal(await stack.relay.herald.ping(), false);
  });
});

describe('relay crash', () => {
  it('delivers all 200 accepted messages after a SIGKILL and restart, duplicating only jobs in flight', async (t) => {
    const defer = deferrer(t);
    const parts = await startParts({
      sinks: [{ host: '127.0.0.2', script: { greetingDelayMs: SLOW_GREETING_MS } }],
    });
    defer(() => parts.stop());
    const sink = parts.sinks[0]!;
    const config = parts.config({
      delivery: {
        concurrency: CRASH_CONCURRENCY,
        max_messages_per_connection: 1,
        lock_duration: '2s',
        stalled_interval: '1s',
        connection_lease_ttl: CONNECTION_LEASE_TTL,
      },
    });
    // Every shard the relay uses (HERALD_TEST_SHARDS), counted together.
    const client = parts.redis.client();
    const spool = new Spool(client, PREFIX, {
      shards: await ShardRegistry.open(client, PREFIX, TEST_SHARDS),
    });
    defer(() => spool.close());

    const first = await spawnRelay(config);
    defer(() => first.stop());
    const recipients = Array.from({ length: MESSAGES }, (_, i) => `user${i}@example.test`);
    // Several sessions in parallel: one message per session round trip is ~50 ms on loopback.
    await Promise.all(
      Array.from({ length: SUBMIT_SESSIONS }, async (_, session) => {
        const client = await SmtpClient.connect({ host: first.smtp.host, port: first.smtp.port });
        try {
          for (let i = session; i < MESSAGES; i += SUBMIT_SESSIONS) {
            const sent = await client.send(
              { from: SENDER, to: [recipients[i]!] },
              sampleMessage({ subject: `crash ${i}` }),
            );
            assert.equal(sent.code, 250, `message ${i}: ${sent.response}`);
          }
        } finally {
          client.close();
        }
      }),
    );
    // Killed right after the 200th 250: every message was acknowledged, most are not delivered yet.
    await first.kill('SIGKILL');

    const deliveredAtKill = sink.messages.length;
    const atKill = await spool.counts();
    const queuedAtKill = atKill.waiting + atKill.active + atKill.delayed + atKill.prioritized;
    assert.ok(
      queuedAtKill >= MESSAGES / 2,
      `most messages still queued at the kill (queued ${queuedAtKill}, delivered ${deliveredAtKill})`,
    );
    assert.ok(atKill.active <= CRASH_CONCURRENCY, `active jobs at the kill (${atKill.active}) ≤ concurrency`);

    t.diagnostic(`at the kill: ${deliveredAtKill} delivered, queue ${JSON.stringify(atKill)}`);
    sink.setScript({});
    const second = await spawnRelay(config);
    defer(() => second.stop());
    const uniqueDelivered = () => new Set(sink.messages.flatMap((m) => m.to)).size;
    await waitUntil('every recipient delivered once', () => uniqueDelivered() === MESSAGES, {
      timeoutMs: ALL_DELIVERED_WITHIN_MS,
    });
    await waitUntil(
      'an idle delivery queue',
      async () => {
        const c = await spool.counts();
        return c.waiting + c.active + c.delayed + c.prioritized === 0;
      },
      { timeoutMs: IDLE_AFTER_DELIVERY_MS },
    );

    const deliveries = sink.messages.flatMap((m) => m.to);
    assert.deepEqual([...new Set(deliveries)].sort(), [...recipients].sort());
    const duplicates = deliveries.length - MESSAGES;
    t.diagnostic(`after the restart: ${deliveries.length} deliveries, ${duplicates} duplicate(s)`);
    assert.ok(
      duplicates <= atKill.active,
      `duplicates (${duplicates}) ≤ jobs active at the kill (${atKill.active})`,
    );

    const events = (
      await Promise.all(eventStreamKeys(PREFIX, spool.layout).map((key) => readEvents(client, key)))
    ).flat();
    assert.equal(events.filter((e) => e.type === 'accepted').length, MESSAGES);
    assert.equal(events.filter((e) => e.type === 'bounced' || e.type === 'expired').length, 0);
    // A job redone after the crash may record its outcome twice; no recipient may be left without one.
    const deliveredEvents = new Set(events.flatMap((e) => (e.type === 'delivered' ? [e.recipient] : [])));
    assert.deepEqual([...deliveredEvents].sort(), [...recipients].sort());
  });
});
