/**
 * End to end: a relay with a stable node_id that is killed while it holds a site's connection
 * leases takes them back when it restarts, instead of leaving the site idle for the lease TTL.
 * The TTL here is long (60 s) and the test waits far less for the backlog: without the reclaim
 * the restarted relay could not open a connection before the old leases expired.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig, readEvents } from '@herald/delivery-core';
import { queueKeys } from '@herald/delivery-core/keys';
import { siteForMxHosts } from '@herald/delivery-core/sites';
import { deferrer } from './lib/cleanup.js';
import { terminalEventProblems } from './lib/events.js';
import { sampleMessage } from './lib/message.js';
import { spawnRelay } from './lib/relay-process.js';
import { writeShapingFile } from './lib/shaping-file.js';
import { SmtpClient } from './lib/smtp-client.js';
import { mxZone, startParts } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const DOMAIN = 'reclaim.test';
const NODE_ID = 'relay-a';
/** Long, so only the reclaim (not expiry) can explain the slots coming back. */
const LEASE_TTL_MS = 60_000;
const MAX_CONNECTIONS = 2;
const MESSAGES = 6;
/** Before the kill the site never greets within the test: its connections (and leases) stay held. */
const HANG_MS = 120_000;
/** Well under the lease TTL: the backlog must be delivered by then. */
const DELIVERED_WITHIN_MS = 25_000;

describe('connection leases after a restart', () => {
  it('a relay restarted with the same node_id reclaims the leases its killed run held', {
    timeout: 90_000,
  }, async (t) => {
    const defer = deferrer(t);
    const parts = await startParts({
      sinks: [{ host: '127.0.0.2', script: { greetingDelayMs: HANG_MS } }],
      zone: mxZone(DOMAIN, [{ preference: 10, address: '127.0.0.2' }]),
    });
    defer(() => parts.stop());
    const sink = parts.sinks[0]!;
    const shapingFile = await writeShapingFile(
      defer,
      `domains:\n  "${DOMAIN}": { max_connections: ${MAX_CONNECTIONS} }\n`,
    );
    const config = parts.config({
      node_id: NODE_ID,
      shaping: { file: shapingFile },
      // The killed relay's active jobs come back within seconds (their locks), not its leases.
      delivery: {
        greeting_timeout: '5m',
        lock_duration: '2s',
        stalled_interval: '1s',
        connection_lease_ttl: `${LEASE_TTL_MS}ms`,
      },
      http: { enabled: false },
    });
    const prefix = defaultConfig(config).redis.prefix;
    const leasesKey = `${prefix}:sem:conn:{${siteForMxHosts([`mx1.${DOMAIN}`]).site}}`;
    const redis = parts.redis.client();

    const first = await spawnRelay(config);
    defer(() => first.stop());
    const client = await SmtpClient.connect({ host: first.smtp.host, port: first.smtp.port });
    const recipients = Array.from({ length: MESSAGES }, (_, i) => `r${i}@${DOMAIN}`);
    try {
      for (const to of recipients) {
        const sent = await client.send({ from: 'a@origin.test', to: [to] }, sampleMessage({ subject: to }));
        assert.equal(sent.code, 250, sent.response);
      }
    } finally {
      client.close();
    }
    await waitUntil(
      `${MAX_CONNECTIONS} leases held and ${MAX_CONNECTIONS} connections hanging`,
      async () =>
        (await redis.zcard(leasesKey)) === MAX_CONNECTIONS &&
        sink.stats().activeConnections === MAX_CONNECTIONS,
    );
    const dead = await redis.zrange(leasesKey, 0, -1);
    assert.ok(
      dead.every((id) => id.startsWith(`${NODE_ID}|`)),
      `leases are held in the node's name: ${dead}`,
    );
    await first.kill('SIGKILL');
    assert.deepEqual(await redis.zrange(leasesKey, 0, -1), dead, 'nobody released the killed run’s leases');

    sink.setScript({});
    const second = await spawnRelay(config);
    defer(() => second.stop());
    const left = (await redis.zrange(leasesKey, 0, -1)).filter((id) => dead.includes(id));
    assert.deepEqual(left, [], 'the restarted relay freed its previous run’s leases as it started');

    await sink.waitForMessages(MESSAGES, DELIVERED_WITHIN_MS);
    const delivered = new Set(sink.messages.flatMap((m) => m.to));
    assert.deepEqual([...delivered].sort(), [...recipients].sort());
    t.diagnostic(`${sink.messages.length} deliveries for ${MESSAGES} messages after the restart`);
    const events = await waitUntil('a terminal event for every recipient', async () => {
      const all = await readEvents(redis, queueKeys(prefix).events);
      return terminalEventProblems(all).length === 0 && all;
    });
    assert.deepEqual(terminalEventProblems(events), []);
  });
});
