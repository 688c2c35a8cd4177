/**
 * Per-message traces on a real Redis: the sink appends every event naming a message to its trace
 * in the stream's pipeline, a trace begins only with its accepted event, expires after the
 * retention (renewed by each write), and a trace over its cap keeps its accepted event and the
 * newest events behind a `truncated` marker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type HeraldEvent, RedisEventSink, readTrace, TRACE_TRUNCATED } from '@herald/delivery-core/events';
import { queueKeys } from '@herald/delivery-core/keys';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import pino from 'pino';

const keys = queueKeys('trace');
const RETENTION_MS = 3_600_000;
const CAP = 5;

const accepted = (id: string): HeraldEvent => ({
  type: 'accepted',
  time: 1,
  messageId: id,
  tenant: 't',
  from: 'a@x.example',
  recipients: ['b@y.example'],
  size: 10,
  jobs: 1,
  source: 'api',
});
const deferred = (id: string, n: number): HeraldEvent => ({
  type: 'deferred',
  time: 100 + n,
  messageId: id,
  tenant: 't',
  domain: 'y.example',
  recipient: 'b@y.example',
  attempt: n,
  reply: { code: 451, text: `try ${n}`, stage: 'rcpt' },
  latencyMs: n,
});

describe('message traces', () => {
  let redis: RedisHandle;
  let client: Redis;
  let sink: RedisEventSink;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    sink = new RedisEventSink({
      redis: client,
      streamKey: keys.events,
      streamMaxLen: 1000,
      logger: pino({ level: 'silent' }),
      trace: { key: keys.trace, retentionMs: RETENTION_MS, maxEntries: CAP },
    });
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('appends each event naming the message to its trace, with the retention as expiry', async () => {
    sink.emit(accepted('m1'));
    sink.emit(deferred('m1', 1));
    sink.emit({ type: 'site_resumed', time: 5, site: 's', reason: 'operator' });
    await sink.flush();
    const trace = await readTrace(client, keys.trace('m1'));
    assert.deepEqual(
      trace?.events.map((e) => e.type),
      ['accepted', 'deferred'],
    );
    assert.equal(trace?.truncated, false);
    const ttl = await client.pttl(keys.trace('m1'));
    assert.ok(ttl > RETENTION_MS - 60_000 && ttl <= RETENTION_MS, `pttl ${ttl}`);
    assert.equal(await client.xlen(keys.events), 3, 'the stream still gets every event');
  });

  it('creates no trace for an event about a message whose trace does not exist', async () => {
    sink.emit(deferred('gone', 1));
    await sink.flush();
    assert.equal(await client.exists(keys.trace('gone')), 0);
    assert.equal(await readTrace(client, keys.trace('gone')), undefined);
  });

  it('keeps the accepted event and the newest events past the cap, marked truncated', async () => {
    sink.emit(accepted('m2'));
    await sink.flush();
    // One batch, then single writes: both paths trim.
    for (let n = 1; n <= 6; n++) sink.emit(deferred('m2', n));
    await sink.flush();
    for (let n = 7; n <= 9; n++) {
      sink.emit(deferred('m2', n));
      await sink.flush();
    }
    const raw = await client.lrange(keys.trace('m2'), 0, -1);
    assert.equal(raw.length, CAP);
    assert.equal(raw[1], TRACE_TRUNCATED);
    const trace = (await readTrace(client, keys.trace('m2')))!;
    assert.equal(trace.truncated, true);
    assert.deepEqual(
      trace.events.map((e) => (e.type === 'deferred' ? e.attempt : e.type)),
      ['accepted', 7, 8, 9],
    );
  });

  it('keeps a waiting message trace until its next attempt plus the retention, never shorter', async () => {
    sink.emit(accepted('m3'));
    await sink.flush();
    const later = Date.now() + 5 * RETENTION_MS;
    sink.emit({ ...deferred('m3', 1), nextAttemptAt: later } as HeraldEvent);
    await sink.flush();
    const ttl = await client.pttl(keys.trace('m3'));
    assert.ok(ttl > 5 * RETENTION_MS, `kept past the next attempt: pttl ${ttl}`);
    // Another domain's outcome right after does not shorten it.
    sink.emit(deferred('m3', 2));
    await sink.flush();
    assert.ok((await client.pttl(keys.trace('m3'))) > 5 * RETENTION_MS, 'never moved earlier');
  });
});
