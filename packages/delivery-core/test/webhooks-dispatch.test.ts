/**
 * Webhooks on real parts: a private redis-server, real mail through a delivery worker to an SMTP
 * sink (and events written with the real RedisEventSink), and a real HTTP receiver that verifies
 * every signature with its own node:crypto code and fails on a script (500, hang past the
 * timeout, socket reset). Nothing waits on the wall clock: each step waits for a request, an
 * event or a Redis state, bounded.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createHerald, type Herald, type HeraldConfigInput, type HeraldEvent } from '@herald/delivery-core';
import { RedisEventSink } from '@herald/delivery-core/events';
import { queueKeys, webhookKeys } from '@herald/delivery-core/keys';
import {
  type ReceivedRequest,
  type Receiver,
  type RedisHandle,
  type SmtpSinkHandle,
  startReceiver,
  startRedis,
  startSmtpSink,
  verifySignature,
} from '@herald/test-harness';
import type { Redis } from 'ioredis';
import pino from 'pino';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const WAIT_MS = 20_000;
const FAST_RETRIES = { retryDelaysMs: [50], leaseTtlMs: 3_000 };
const silent = pino({ level: 'silent' });

let redis: RedisHandle;
let client: Redis;
let sink: SmtpSinkHandle;
let prefixes = 0;
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  redis = await startRedis();
  client = redis.client();
  sink = await startSmtpSink({ host: '127.0.0.2' });
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await sink.close();
  client.disconnect();
  await redis.stop();
});

async function waitUntil(what: string, done: () => Promise<boolean> | boolean, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function endpoint(receiver: Receiver, extra: Record<string, unknown> = {}) {
  return {
    tenant: 'default',
    url: receiver.url,
    events: ['delivered'],
    secret: SECRET,
    batch_wait: '50ms',
    ...extra,
  };
}

async function heraldWith(prefix: string, webhooks: unknown[], options = {}): Promise<Herald> {
  const input: HeraldConfigInput = {
    redis: { url: redis.url, prefix },
    routes: [{ match: '*', via: sink.address, tls: 'none' }],
    events: { log_level: 'silent' },
    webhooks: webhooks as HeraldConfigInput['webhooks'],
  };
  const herald = await createHerald(input, { logger: silent, ...options });
  cleanups.push(() => herald.close());
  return herald;
}

/** Waits until the dispatcher took its place in the stream (events from then on are its to send). */
async function dispatching(herald: Herald, prefix: string) {
  herald.webhooks.startDispatcher();
  await waitUntil(
    'the dispatcher cursor',
    async () => herald.webhooks.dispatching && (await client.exists(webhookKeys(prefix).cursor)) === 1,
  );
}

function sinkFor(prefix: string): RedisEventSink {
  return new RedisEventSink({
    redis: client,
    streamKey: queueKeys(prefix).events,
    streamMaxLen: 100_000,
    logger: silent,
  });
}

function delivered(messageId: string, tenant = 'default'): HeraldEvent {
  return {
    type: 'delivered',
    time: Date.now(),
    messageId,
    tenant,
    domain: 'example.net',
    recipient: `to@example.net`,
    attempt: 1,
    reply: { code: 250, enhanced: '2.0.0', text: 'ok', stage: 'data' },
    latencyMs: 1,
  } as HeraldEvent;
}

const keyOf = (e: { type: string; messageId?: string }) => `${e.type}:${e.messageId ?? ''}`;

/** Every event is in exactly one accepted batch, and a repeated event only ever repeats its batch's webhook-id. */
function assertAtLeastOnceByBatch(requests: ReceivedRequest[], expected: string[]) {
  const bodyById = new Map<string, string>();
  for (const r of requests) {
    assert.ok(r.verified, `request ${r.id} verifies`);
    const seen = bodyById.get(r.id);
    if (seen !== undefined)
      assert.equal(r.body, seen, 'a retry sends the same body under the same webhook-id');
    bodyById.set(r.id, r.body);
  }
  const idsOfEvent = new Map<string, Set<string>>();
  for (const r of requests)
    for (const e of r.events) idsOfEvent.set(keyOf(e), (idsOfEvent.get(keyOf(e)) ?? new Set()).add(r.id));
  for (const [event, ids] of idsOfEvent)
    assert.equal(ids.size, 1, `${event} was sent in one batch only (${[...ids].join(', ')})`);
  const acceptedEvents = new Set(
    requests.filter((r) => r.answer === 'ok').flatMap((r) => r.events.map(keyOf)),
  );
  assert.deepEqual([...acceptedEvents].sort(), [...expected].sort(), 'every event arrived, none lost');
}

describe('webhooks', () => {
  it('mail sent through a worker: every event arrives signed, once, in order per message', async () => {
    const prefix = `wh${++prefixes}`;
    const receiver = await startReceiver(SECRET);
    cleanups.push(() => receiver.close());
    const herald = await heraldWith(prefix, [
      endpoint(receiver, { events: ['accepted', 'attempt', 'delivered'], batch_size: 5 }),
    ]);
    await dispatching(herald, prefix);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const sent = await herald.send({
        from: 'app@example.com',
        to: [`user${i}@example.net`],
        subject: `m${i}`,
        text: 'hi',
      });
      ids.push(sent.messageId);
    }
    herald.startWorkers();
    const deliveredCount = () =>
      receiver
        .accepted()
        .flatMap((r) => r.events)
        .filter((e) => e.type === 'delivered').length;
    await receiver.waitFor(() => deliveredCount() === 12);

    const requests = receiver.requests;
    assert.ok(requests.every((r) => r.contentType === 'application/json'));
    assert.ok(
      requests.every((r) => r.events.length >= 1 && r.events.length <= 5),
      'batches of at most batch_size',
    );
    assertAtLeastOnceByBatch(
      requests,
      ids.flatMap((id) => [`accepted:${id}`, `attempt:${id}`, `delivered:${id}`]),
    );
    const order = requests.flatMap((r) => r.events);
    for (const id of ids) {
      const at = (type: string) => order.findIndex((e) => e.type === type && e.messageId === id);
      assert.ok(
        at('accepted') < at('attempt') && at('attempt') < at('delivered'),
        `events of ${id} in order`,
      );
    }
    // The body is exactly the stream's records, and tampering breaks the signature.
    const first = requests[0]!;
    assert.deepEqual(first.events[0], JSON.parse(JSON.stringify(first.events[0])));
    assert.equal(
      verifySignature(
        SECRET,
        first.id,
        first.timestamp,
        first.body.replace('accepted', 'bounced'),
        first.signature,
      ),
      false,
    );
    assert.equal(
      verifySignature(SECRET, first.id, String(Number(first.timestamp) + 1), first.body, first.signature),
      false,
    );
  });

  it('a 500, a hang past the timeout and a reset are retried under the same webhook-id; nothing lost', async () => {
    const prefix = `wh${++prefixes}`;
    const receiver = await startReceiver(SECRET, ['fail500', 'hang', 'reset', 'ok', 'fail500']);
    cleanups.push(() => receiver.close());
    const herald = await heraldWith(prefix, [endpoint(receiver, { timeout: '300ms', batch_size: 4 })], {
      webhooks: FAST_RETRIES,
    });
    await dispatching(herald, prefix);
    const events = sinkFor(prefix);
    const expected: string[] = [];
    for (let i = 0; i < 20; i++) {
      events.emit(delivered(`m${i}`));
      expected.push(`delivered:m${i}`);
    }
    await events.flush();
    await receiver.waitFor(
      () => new Set(receiver.accepted().flatMap((r) => r.events.map(keyOf))).size === 20,
    );
    const [r1, r2, r3, r4] = receiver.requests;
    assert.deepEqual([r1!.answer, r2!.answer, r3!.answer, r4!.answer], ['fail500', 'hang', 'reset', 'ok']);
    assert.ok(
      [r2, r3, r4].every((r) => r!.id === r1!.id),
      'the failed batch kept its webhook-id until it was accepted',
    );
    assertAtLeastOnceByBatch(receiver.requests, expected);
    const metrics = await herald.metrics.metrics();
    assert.match(metrics, /herald_webhook_requests_total\{result="http_error"\} 2/);
    assert.match(metrics, /herald_webhook_requests_total\{result="timeout"\} 1/);
    assert.match(metrics, /herald_webhook_requests_total\{result="connection_error"\} 1/);
  });

  it('a dispatcher stopped mid-way and a new one started neither lose nor duplicate beyond a retried batch', async () => {
    const prefix = `wh${++prefixes}`;
    const receiver = await startReceiver(SECRET);
    cleanups.push(() => receiver.close());
    const config = [endpoint(receiver, { batch_size: 3, batch_wait: '200ms' })];
    const first = await heraldWith(prefix, config);
    await dispatching(first, prefix);
    const events = sinkFor(prefix);
    const expected: string[] = [];
    const write = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        events.emit(delivered(`m${i}`));
        expected.push(`delivered:m${i}`);
      }
      await events.flush();
    };
    await write(0, 10);
    await receiver.waitFor(() => receiver.accepted().length >= 1);
    await write(10, 20); // some of these are read but not committed when it stops
    await first.webhooks.stopDispatcher();
    await write(20, 30);
    const second = await heraldWith(prefix, config);
    second.webhooks.startDispatcher();
    await write(30, 40);
    await receiver.waitFor(
      () => new Set(receiver.accepted().flatMap((r) => r.events.map(keyOf))).size === 40,
    );
    assertAtLeastOnceByBatch(receiver.requests, expected);
    assert.equal(
      await client.llen(webhookKeys(prefix).outbox((await second.webhooks.listEndpoints())[0]!.id)),
      0,
    );
  });

  it('an endpoint failing longer than retry_for dead-letters its batch; replay delivers it under the same id', async () => {
    const prefix = `wh${++prefixes}`;
    const receiver = await startReceiver(SECRET);
    receiver.fallback = 'fail500';
    cleanups.push(() => receiver.close());
    const herald = await heraldWith(
      prefix,
      [endpoint(receiver, { id: 'ops', retry_for: '200ms', batch_size: 10 })],
      {
        webhooks: FAST_RETRIES,
      },
    );
    await dispatching(herald, prefix);
    const events = sinkFor(prefix);
    for (let i = 0; i < 3; i++) events.emit(delivered(`d${i}`));
    await events.flush();
    await waitUntil('a dead letter', async () => (await herald.webhooks.deadLetters()).length === 1);
    const [dead] = await herald.webhooks.deadLetters({ endpoint: 'ops' });
    assert.equal(dead!.endpoint, 'ops');
    assert.equal(dead!.tenant, 'default');
    assert.equal(dead!.events, 3);
    assert.equal(dead!.lastError, 'HTTP 500');
    assert.ok(dead!.attempts >= 2 && dead!.firstAttemptAt! <= dead!.lastAttemptAt!);
    assert.ok(receiver.requests.every((r) => r.id === dead!.id && r.answer === 'fail500'));
    assert.match(
      await herald.metrics.metrics(),
      /herald_webhook_batches_dead_lettered_total\{reason="retry_expired"\} 1/,
    );

    receiver.fallback = 'ok';
    assert.equal(await herald.webhooks.replay({ batch: dead!.id }), 1);
    await receiver.waitFor(() => receiver.accepted().length === 1);
    assert.equal(receiver.accepted()[0]!.id, dead!.id);
    assert.deepEqual(receiver.accepted()[0]!.events.map(keyOf), [
      'delivered:d0',
      'delivered:d1',
      'delivered:d2',
    ]);
    assert.deepEqual(await herald.webhooks.deadLetters(), []);
  });

  it("a hanging endpoint does not delay another tenant's endpoint", async () => {
    const prefix = `wh${++prefixes}`;
    const stuck = await startReceiver(SECRET);
    stuck.fallback = 'hang';
    const healthy = await startReceiver(SECRET);
    cleanups.push(
      () => stuck.close(),
      () => healthy.close(),
    );
    const herald = await heraldWith(prefix, [
      endpoint(stuck, { tenant: 'slow', timeout: '60s' }),
      endpoint(healthy, { tenant: 'fast' }),
    ]);
    await dispatching(herald, prefix);
    const events = sinkFor(prefix);
    events.emit(delivered('s0', 'slow'));
    await events.flush();
    await stuck.waitFor(() => stuck.hanging === 1);
    for (let i = 0; i < 5; i++) events.emit(delivered(`f${i}`, 'fast'));
    events.emit(delivered('s1', 'slow'));
    await events.flush();
    await healthy.waitFor(() => healthy.accepted().flatMap((r) => r.events).length === 5);
    assert.equal(stuck.hanging, 1, "the slow tenant's first request is still hanging");
    assert.ok(
      healthy.requests[0]!.seq > stuck.requests[0]!.seq,
      'the fast endpoint was served while the slow one hung',
    );
    assert.equal(stuck.requests.length, 1, 'one request in flight per endpoint: s1 waits behind s0');
    assert.deepEqual(
      (await herald.webhooks.outboxDepths()).get((await herald.webhooks.listEndpoints())[0]!.id),
      2,
      "the slow endpoint's batches wait in its outbox",
    );
  });

  it('one dispatcher across relays: the second takes over when the first stops', async () => {
    const prefix = `wh${++prefixes}`;
    const receiver = await startReceiver(SECRET);
    cleanups.push(() => receiver.close());
    const config = [endpoint(receiver)];
    const a = await heraldWith(prefix, config);
    const b = await heraldWith(prefix, config);
    await dispatching(a, prefix);
    b.webhooks.startDispatcher();
    const events = sinkFor(prefix);
    events.emit(delivered('x0'));
    await events.flush();
    await receiver.waitFor(() => receiver.accepted().length === 1);
    assert.equal(b.webhooks.dispatching, false, 'the lease is held by the first');
    await a.webhooks.stopDispatcher();
    await waitUntil('the second relay to take over', () => b.webhooks.dispatching);
    events.emit(delivered('x1'));
    await events.flush();
    // x0's batch may come again (same webhook-id) if the stop caught its answer in flight.
    await receiver.waitFor(() =>
      receiver.accepted().some((r) => r.events.some((e) => keyOf(e) === 'delivered:x1')),
    );
    assertAtLeastOnceByBatch(receiver.requests, ['delivered:x0', 'delivered:x1']);
  });

  it('a stream trimmed past the cursor is reported as a gap', async () => {
    const prefix = `wh${++prefixes}`;
    const receiver = await startReceiver(SECRET);
    cleanups.push(() => receiver.close());
    const stream = queueKeys(prefix).events;
    const ids: string[] = [];
    for (let i = 0; i < 30; i++)
      ids.push((await client.xadd(stream, '*', 'event', JSON.stringify(delivered(`g${i}`))))!);
    await client.set(webhookKeys(prefix).cursor, ids[2]!);
    await client.xtrim(stream, 'MAXLEN', 10);
    const herald = await heraldWith(prefix, [endpoint(receiver)]);
    herald.webhooks.startDispatcher();
    await receiver.waitFor(
      () => new Set(receiver.accepted().flatMap((r) => r.events.map(keyOf))).size === 10,
    );
    assert.match(await herald.metrics.metrics(), /herald_webhook_stream_gaps_total 1/);
  });
});
