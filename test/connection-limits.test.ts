/**
 * End to end: a site's connection limit holds across relays. Two relays share one Redis; the
 * shaping file allows 2 connections to limited.test. The sink never sees more than 2 at once,
 * every message is delivered on its first attempt (waiting for a slot is not an attempt), and
 * jobs waiting for a slot are woken by releases.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig, readEvents } from '@herald/delivery-core';
import { queueKeys } from '@herald/delivery-core/keys';
import { createRelay } from '@herald/relay';
import { deferrer } from './lib/cleanup.js';
import { sampleMessage } from './lib/message.js';
import { writeShapingFile } from './lib/shaping-file.js';
import { SmtpClient } from './lib/smtp-client.js';
import { mxZone, startParts } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const MAX_CONNECTIONS = 2;
const PER_RELAY = 30;
const SESSIONS_PER_RELAY = 3;

describe('site connection limit across relays', () => {
  it('two relays sharing Redis never open more than max_connections to the site', {
    timeout: 90_000,
  }, async (t) => {
    const defer = deferrer(t);
    const parts = await startParts({
      zone: mxZone('limited.test', [{ preference: 10, address: '127.0.0.2' }]),
    });
    defer(() => parts.stop());
    const shapingFile = await writeShapingFile(
      defer,
      `domains:\n  "limited.test": { max_connections: ${MAX_CONNECTIONS} }\n`,
    );
    const config = defaultConfig(
      parts.config({
        shaping: { file: shapingFile },
        delivery: { idle_timeout: '300ms' },
        http: { enabled: false },
      }),
    );
    const relays = await Promise.all([createRelay(config), createRelay(config)]);
    for (const relay of relays) defer(() => relay.stop());
    const listening = await Promise.all(relays.map((relay) => relay.start()));

    let n = 0;
    await Promise.all(
      listening.flatMap(({ smtp }) =>
        Array.from({ length: SESSIONS_PER_RELAY }, async () => {
          const client = await SmtpClient.connect({ host: smtp!.host, port: smtp!.port });
          try {
            for (let i = 0; i < PER_RELAY / SESSIONS_PER_RELAY; i++) {
              const to = `r${n++}@limited.test`;
              const sent = await client.send(
                { from: 'a@origin.test', to: [to] },
                sampleMessage({ subject: to }),
              );
              assert.equal(sent.code, 250, sent.response);
            }
          } finally {
            client.close();
          }
        }),
      ),
    );
    const sink = parts.sinks[0]!;
    await sink.waitForMessages(2 * PER_RELAY, 60_000);
    t.diagnostic(
      `sink: ${sink.stats().connections} connections, at most ${sink.stats().maxConcurrentConnections} at once`,
    );
    assert.ok(
      sink.stats().maxConcurrentConnections <= MAX_CONNECTIONS,
      'never more than the site limit at once',
    );
    assert.equal(new Set(sink.messages.flatMap((m) => m.to)).size, 2 * PER_RELAY);

    // The sink has every message; the last `delivered` events may still be on their way to Redis.
    const events = await waitUntil('a delivered event per message', async () => {
      const all = await readEvents(parts.redis.client(), queueKeys('herald').events);
      return all.filter((e) => e.type === 'delivered').length >= 2 * PER_RELAY && all;
    });
    const attempts = events.flatMap((e) => (e.type === 'delivered' ? [e.attempt] : []));
    assert.equal(attempts.length, 2 * PER_RELAY);
    const deferred = events.flatMap((e) =>
      e.type === 'deferred' ? [`${e.recipient}: ${e.reply.code} ${e.reply.text}`] : [],
    );
    assert.deepEqual(
      [...new Set(attempts)],
      [1],
      `waiting for a connection slot is not an attempt; deferrals: ${deferred.join('; ')}`,
    );
  });
});
