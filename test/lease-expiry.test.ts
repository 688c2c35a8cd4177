/**
 * End to end: a relay killed while it holds connection leases does not keep the site's slots.
 * A relay in a child process opens both of a site's 2 connections (the site greets so slowly that
 * they stay open) and is SIGKILLed; nobody releases its leases, they expire within the lease TTL
 * (delivery.connection_lease_ttl, 3 s here) of the kill, a second relay then takes both slots,
 * never while the dead relay's leases were live, and delivers every message the killed relay had
 * accepted, each exactly once.
 * Times are read from the lease ZSET's scores (expiry on the Redis clock), not from test sleeps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig, readEvents } from '@herald/delivery-core';
import { PARK_SAFETY_MS } from '@herald/delivery-core/delivery';
import { queueKeys } from '@herald/delivery-core/keys';
import { Spool } from '@herald/delivery-core/queue';
import { siteForMxHosts } from '@herald/delivery-core/sites';
import type { RedisHandle } from '@herald/test-harness';
import { deferrer } from './lib/cleanup.js';
import { isTerminal, terminalEventProblems } from './lib/events.js';
import { sampleMessage } from './lib/message.js';
import { spawnRelay } from './lib/relay-process.js';
import { writeShapingFile } from './lib/shaping-file.js';
import { SmtpClient } from './lib/smtp-client.js';
import { mxZone, startParts } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const DOMAIN = 'held.test';
/** delivery.connection_lease_ttl for both relays (default 30 s): short, so the test is quick. */
const LEASE_TTL_MS = 3_000;
const MAX_CONNECTIONS = 2;
const MESSAGES = 6;
/** Before the kill the site never greets within the test: its connections (and leases) stay held. */
const HANG_MS = 120_000;
/** After the kill it greets after this: long enough that the second relay holds both slots at once. */
const SLOW_GREETING_MS = 500;
/** A renewal already on the wire when the child died may land just after the kill is observed. */
const RENEWAL_IN_FLIGHT_MS = 500;
/** A job refused a slot looks again when the earliest lease expires, at most PARK_SAFETY_MS later. */
const PICKUP_WITHIN_MS = PARK_SAFETY_MS;
const LEASE_POLL_MS = 20;
/** Generous: a loaded CI machine takes seconds to start the second relay; order is asserted, not speed. */
const SLOTS_TAKEN_WITHIN_MS = LEASE_TTL_MS + PARK_SAFETY_MS + 40_000;
/** Once both slots are taken, the backlog is out and the queue idle within these. */
const DELIVERED_WITHIN_MS = 30_000;
const IDLE_WITHIN_MS = 30_000;

type Redis = ReturnType<RedisHandle['client']>;

interface LeaseEntry {
  id: string;
  expiresAt: number;
}

async function leasesIn(redis: Redis, key: string): Promise<LeaseEntry[]> {
  const flat = await redis.zrange(key, 0, -1, 'WITHSCORES');
  const entries: LeaseEntry[] = [];
  for (let i = 0; i < flat.length; i += 2) entries.push({ id: flat[i]!, expiresAt: Number(flat[i + 1]) });
  return entries;
}

/** The Redis server's clock in ms: the semaphore scores leases on it. */
async function redisNow(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** Lease ids are `<hostname>:<pid>:<uuid>`: the holder's pid names the relay. */
const heldBy = (pid: number) => (lease: LeaseEntry) => lease.id.includes(`:${pid}:`);

describe('connection leases of a killed relay', () => {
  it('a relay killed holding both connection slots of a site frees them within the lease TTL', {
    timeout: 180_000,
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
      shaping: { file: shapingFile },
      // The killed relay's active jobs come back to the second one within seconds.
      delivery: {
        greeting_timeout: '5m',
        lock_duration: '2s',
        stalled_interval: '1s',
        connection_lease_ttl: `${LEASE_TTL_MS}ms`,
      },
      http: { enabled: false },
    });
    const prefix = defaultConfig(config).redis.prefix;
    // SiteConnectionLeases: one lease per connection in `<prefix>:sem:conn:{<site>}`.
    const leasesKey = `${prefix}:sem:conn:{${siteForMxHosts([`mx1.${DOMAIN}`]).site}}`;
    const redis = parts.redis.client();
    const spool = new Spool(parts.redis.client(), prefix);
    defer(() => spool.close());

    const first = await spawnRelay(config);
    defer(() => first.stop());
    const recipients = Array.from({ length: MESSAGES }, (_, i) => `r${i}@${DOMAIN}`);
    const client = await SmtpClient.connect({ host: first.smtp.host, port: first.smtp.port });
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

    await first.kill('SIGKILL');
    const killedAt = await redisNow(redis);
    const dead = await leasesIn(redis, leasesKey);
    assert.equal(dead.length, MAX_CONNECTIONS, 'nobody released the killed relay’s leases');
    assert.ok(dead.every(heldBy(first.pid)), `the leases are the killed relay's: ${dead.map((l) => l.id)}`);
    const deadExpiries = dead.map((l) => l.expiresAt).sort((a, b) => a - b);
    const freedAt = deadExpiries.at(-1)!;
    assert.ok(deadExpiries[0]! > killedAt, 'the leases were still live at the kill');
    assert.ok(
      freedAt - killedAt <= LEASE_TTL_MS + RENEWAL_IN_FLIGHT_MS,
      `the last lease expires ${freedAt - killedAt} ms after the kill (TTL ${LEASE_TTL_MS} ms)`,
    );

    sink.setScript({ greetingDelayMs: SLOW_GREETING_MS });
    const second = await spawnRelay(config);
    defer(() => second.stop());
    // Acquisition time of each of the second relay's leases: its first score minus the TTL (polled
    // far more often than the renewal interval, so the first score seen is the acquire's).
    const acquiredAt = new Map<string, number>();
    const both = await waitUntil(
      `the second relay holding ${MAX_CONNECTIONS} leases at once`,
      async () => {
        const held = await leasesIn(redis, leasesKey);
        for (const lease of held.filter(heldBy(second.pid)))
          if (!acquiredAt.has(lease.id)) acquiredAt.set(lease.id, lease.expiresAt - LEASE_TTL_MS);
        return held.filter(heldBy(second.pid)).length === MAX_CONNECTIONS && held;
      },
      { timeoutMs: SLOTS_TAKEN_WITHIN_MS, intervalMs: LEASE_POLL_MS },
    );
    assert.equal(both.length, MAX_CONNECTIONS, 'the killed relay’s leases are gone from the set');
    const taken = both.map((l) => acquiredAt.get(l.id)!).sort((a, b) => a - b);
    t.diagnostic(
      `leases of the killed relay expired ${deadExpiries.map((e) => e - killedAt).join(' and ')} ms after ` +
        `the kill; the second relay took the slots ${taken.map((a) => a - killedAt).join(' and ')} ms after it`,
    );
    // Both leases overlap, so each slot went only once a dead lease had expired: never over the limit.
    assert.ok(
      taken[0]! >= deadExpiries[0]! && taken[1]! >= deadExpiries[1]!,
      `slots taken at ${taken} only after the dead leases expired at ${deadExpiries}`,
    );
    // How soon after it was free the slot was taken (a parked job looks again when the earliest
    // lease expires, PARK_SAFETY_MS at most on an idle machine) depends on the machine's speed: a
    // figure to read, not an assertion. The bound that holds anywhere is the waitUntil above.
    t.diagnostic(
      `the second slot was taken ${taken[1]! - freedAt} ms after it was free (${PICKUP_WITHIN_MS} ms on an idle machine)`,
    );

    await sink.waitForMessages(MESSAGES, DELIVERED_WITHIN_MS);
    await waitUntil(
      'an idle delivery queue',
      async () => {
        const c = await spool.counts();
        return c.waiting + c.active + c.delayed + c.prioritized === 0;
      },
      { timeoutMs: IDLE_WITHIN_MS },
    );
    const deliveries = sink.messages.flatMap((m) => m.to);
    assert.deepEqual(deliveries.sort(), [...recipients].sort(), 'every recipient delivered exactly once');
    const events = await readEvents(redis, queueKeys(prefix).events);
    assert.equal(events.filter((e) => e.type === 'accepted').length, MESSAGES);
    assert.deepEqual(terminalEventProblems(events), [], 'every accepted recipient has one terminal event');
    assert.deepEqual(
      [...new Set(events.filter(isTerminal).map((e) => e.type))],
      ['delivered'],
      'every terminal event is a delivery',
    );
  });
});
