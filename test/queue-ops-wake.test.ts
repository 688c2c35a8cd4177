/**
 * End to end: an operator's retry and flush. Every message is answered 451 at its first attempt
 * and the retry backoff is an hour, so only the operator's verb can explain a delivery within the
 * test: `retryQueued` (one message, a site, all) and `flushSite` make the waiting jobs ready now,
 * and a flushed site still gets no more connections at once than its max_connections. The queue
 * listing pages through every waiting job exactly once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { QueuedJob } from '@herald/delivery-core';
import { siteForMxHosts } from '@herald/delivery-core/sites';
import type { SinkMessage, SinkReply } from '@herald/test-harness';
import { deferrer } from './lib/cleanup.js';
import { sampleMessage } from './lib/message.js';
import { writeShapingFile } from './lib/shaping-file.js';
import { mxZone, type Stack, startStack } from './lib/stack.js';
import { submitEach } from './lib/submit.js';
import { waitUntil } from './lib/wait.js';

const TRY_LATER: SinkReply = { code: 451, enhanced: '4.3.0', text: 'try again later' };
/** Far beyond the test: a delivery within it was made ready by the operator. */
const LONG_BACKOFF = '1h';
const MAX_CONNECTIONS = 2;

/** A sink script answering 451 to the first transaction of each recipient list, 250 after. */
function firstTryDeferred() {
  const seen = new Set<string>();
  return {
    data: (msg: SinkMessage) => {
      const key = msg.to.join(',');
      if (seen.has(key)) return undefined;
      seen.add(key);
      return TRY_LATER;
    },
  };
}

/** Waits until `count` jobs listed under `site` wait for their retry; returns them. */
async function waitScheduled(stack: Stack, site: string, count: number): Promise<QueuedJob[]> {
  return waitUntil(`${count} jobs of ${site} waiting for a retry`, async () => {
    const page = await stack.relay.herald.listQueue(site, { limit: 1000 });
    const waiting = page.jobs.filter((j) => j.state === 'scheduled' && j.waitingFor === 'retry');
    return waiting.length === count ? waiting : undefined;
  });
}

async function submitOne(stack: Stack, to: string): Promise<string> {
  const sent = await stack.submit({
    from: 'app@origin.test',
    to: [to],
    body: sampleMessage({ subject: to }),
  });
  assert.equal(sent.code, 250, sent.response);
  return sent.queueId!;
}

describe('queue retry and flush', () => {
  it('retry (one message, a site, all) delivers deferred mail without waiting for the backoff', {
    timeout: 60_000,
  }, async (t) => {
    const defer = deferrer(t);
    const stack = await startStack({
      sinks: [{ host: '127.0.0.2', script: firstTryDeferred() }],
      zone: {
        ...mxZone('dest.test', [{ preference: 10, address: '127.0.0.2' }]),
        ...mxZone('other.test', [{ preference: 10, address: '127.0.0.2' }]),
      },
      config: { retry: { schedule: [LONG_BACKOFF] } },
    });
    defer(() => stack.stop());
    const herald = stack.relay.herald;
    const site = siteForMxHosts(['mx1.dest.test']).site;

    const one = await submitOne(stack, 'one@dest.test');
    const [waiting] = await waitScheduled(stack, 'domain:dest.test', 1);
    assert.equal(waiting!.messageId, one);
    assert.equal(waiting!.site, site);
    assert.deepEqual(waiting!.pending, ['one@dest.test']);
    assert.equal(waiting!.attempts, 1);
    assert.match(waiting!.lastError ?? '', /^451 4\.3\.0 try again later/);
    assert.ok(waiting!.nextAttemptAt! > Date.now() + 30 * 60_000, 'the backoff is about an hour');
    assert.deepEqual(await herald.retryQueued({ messageId: one }), {
      woken: 1,
      ready: 0,
      inFlight: 0,
      held: 0,
    });
    assert.equal((await stack.events.terminal('one@dest.test', one)).type, 'delivered');

    await submitOne(stack, 'two@dest.test');
    await waitScheduled(stack, site, 1);
    assert.equal((await herald.retryQueued({ site })).woken, 1);
    assert.equal((await stack.events.terminal('two@dest.test')).type, 'delivered');

    await submitOne(stack, 'three@dest.test');
    await submitOne(stack, 'four@other.test');
    await waitScheduled(stack, 'domain:dest.test', 1);
    await waitScheduled(stack, 'domain:other.test', 1);
    assert.equal((await herald.retryQueued({ all: true })).woken, 2);
    assert.equal((await stack.events.terminal('three@dest.test')).type, 'delivered');
    assert.equal((await stack.events.terminal('four@other.test')).type, 'delivered');

    await assert.rejects(herald.retryQueued({ messageId: one }), { code: 'HERALD_QUEUE_NOT_FOUND' });
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('flush delivers a site’s deferred mail at once, within its max_connections; the listing pages through every job once', {
    timeout: 60_000,
  }, async (t) => {
    const defer = deferrer(t);
    const shapingFile = await writeShapingFile(
      defer,
      `domains:\n  "busy.test": { max_connections: ${MAX_CONNECTIONS} }\n`,
    );
    const stack = await startStack({
      sinks: [{ host: '127.0.0.2', script: firstTryDeferred() }],
      zone: mxZone('busy.test', [{ preference: 10, address: '127.0.0.2' }]),
      config: { retry: { schedule: [LONG_BACKOFF] }, shaping: { file: shapingFile } },
    });
    defer(() => stack.stop());
    const herald = stack.relay.herald;
    const site = siteForMxHosts(['mx1.busy.test']).site;
    const recipients = Array.from({ length: 7 }, (_, i) => `r${i}@busy.test`);
    await submitEach(stack, recipients, 2);
    const waiting = await waitScheduled(stack, site, recipients.length);

    const listed: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < recipients.length; page++) {
      const result = await herald.listQueue(site, { limit: 3, ...(after ? { after } : {}) });
      listed.push(...result.jobs.map((j) => j.jobId));
      if (!result.next) break;
      after = result.next;
    }
    assert.deepEqual(listed, waiting.map((j) => j.jobId).sort(), 'every job once, in job id order');

    const flushed = await herald.flushSite(site);
    assert.equal(flushed.woken, recipients.length);
    await stack.sinks[0]!.waitForMessages(recipients.length);
    const stats = stack.sinks[0]!.stats();
    t.diagnostic(`sink: at most ${stats.maxConcurrentConnections} connections at once`);
    assert.ok(stats.maxConcurrentConnections <= MAX_CONNECTIONS, 'the site limit holds through the flush');
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
