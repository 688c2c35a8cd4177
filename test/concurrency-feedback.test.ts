/**
 * End to end: concurrency feedback. A destination that refuses every connection (421 at the
 * greeting) sees at most its initial window of connections at once, then a trickle of one: its
 * window falls to 1 while its max_connections is 20. When it recovers, deliveries succeed and the
 * window grows again. Connections are counted where Herald counts them across relays: the lease
 * set of the lane in Redis, sampled while the load runs (a sample can miss a peak, never invent
 * one), and the sink's own count.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { siteForMxHosts } from '@herald/delivery-core/sites';
import { deferrer } from './lib/cleanup.js';
import { writeShapingFile } from './lib/shaping-file.js';
import { mxZone, startStack } from './lib/stack.js';
import { submitEach } from './lib/submit.js';
import { waitUntil } from './lib/wait.js';

const DOMAIN = 'flood.test';
const MAX_CONNECTIONS = 20;
const INITIAL_CONNECTIONS = 5;
const FAILING_MESSAGES = 40;
const RECOVERED_MESSAGES = 30;
const SAMPLE_EVERY_MS = 5;

describe('concurrency feedback', () => {
  it('a site that refuses every connection gets its initial window, then one connection at a time; it grows back once it answers', {
    timeout: 120_000,
  }, async (t) => {
    const defer = deferrer(t);
    const shapingFile = await writeShapingFile(
      defer,
      `domains:\n  "${DOMAIN}": { max_connections: ${MAX_CONNECTIONS}, initial_connections: ${INITIAL_CONNECTIONS} }\n`,
    );
    const stack = await startStack({
      sinks: [
        { host: '127.0.0.2', script: { greeting: { code: 421, enhanced: '4.7.0', text: 'try later' } } },
      ],
      zone: mxZone(DOMAIN, [{ preference: 10, address: '127.0.0.2' }]),
      // One attempt per message within the test: the next would come an hour later.
      config: { shaping: { file: shapingFile }, retry: { schedule: ['1h'] }, delivery: { concurrency: 100 } },
    });
    defer(() => stack.stop());
    const sink = stack.sinks[0]!;
    const site = siteForMxHosts([`mx1.${DOMAIN}`]).site;
    const redis = stack.redis.client();
    const leases = `herald:sem:conn:{${site}}`;
    const windowKey = `herald:site:{${site}}:window`;

    // Sample the lane's leases while the load runs: [window when sampled, leases held].
    const samples: [number | undefined, number][] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [window, held] = await Promise.all([redis.get(windowKey), redis.zcard(leases)]);
        samples.push([window === null ? undefined : Number(window), held]);
        await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS));
      }
    })();
    defer(async () => {
      sampling = false;
      await sampler;
    });

    const failing = Array.from({ length: FAILING_MESSAGES }, (_, i) => `f${i}@${DOMAIN}`);
    await submitEach(stack, failing, 8);
    await waitUntil(
      `a deferral for each of the ${FAILING_MESSAGES} recipients`,
      () => stack.events.all.filter((e) => e.type === 'deferred').length >= FAILING_MESSAGES,
      { timeoutMs: 60_000 },
    );
    const peak = Math.max(...samples.map(([, held]) => held));
    // A smaller window does not cut connections already open: count from the moment the window
    // was 1 and the first burst had drained to one connection.
    const drained = samples.findIndex(([window, held]) => window !== undefined && window < 2 && held <= 1);
    const atOne =
      drained < 0 ? [] : samples.slice(drained).filter(([window]) => window !== undefined && window < 2);
    t.diagnostic(
      `sink: ${sink.stats().connections} connections, at most ${sink.stats().maxConcurrentConnections} at once; ` +
        `leases: at most ${peak} at once (${samples.length} samples), at most ` +
        `${Math.max(0, ...atOne.map(([, held]) => held))} once the window was 1`,
    );
    assert.ok(peak <= INITIAL_CONNECTIONS, `at most the initial window of leases at once: ${peak}`);
    assert.ok(atOne.length > 0, 'the window fell to 1 and the first burst drained');
    assert.ok(
      atOne.every(([, held]) => held <= 1),
      'with the window at 1, one connection at a time',
    );
    assert.equal(Number(await redis.get(windowKey)), 1);

    // The site recovers: deliveries succeed and the window grows again.
    sink.setScript({});
    const recovered = Array.from({ length: RECOVERED_MESSAGES }, (_, i) => `ok${i}@${DOMAIN}`);
    await submitEach(stack, recovered, 4);
    await sink.waitForMessages(RECOVERED_MESSAGES, 30_000);
    sampling = false;
    await sampler;
    const grown = await waitUntil('the window to grow past 1', async () => {
      const window = Number(await redis.get(windowKey));
      return window >= 2 && window;
    });
    t.diagnostic(`window after ${RECOVERED_MESSAGES} deliveries: ${grown.toFixed(2)}`);
    assert.ok(grown <= MAX_CONNECTIONS);
  });
});
