/**
 * The event sink when its Redis connection breaks with a batch on the wire, on a real Redis behind
 * a loopback proxy that cuts the connection at the batch's EXEC: the batch is written exactly once
 * — again when the cut try never reached Redis, not again when Redis had run it (its marker) — and
 * a batch still held when the sink stops is dropped at once, with an error log.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type HeraldEvent, RedisEventSink } from '@herald/delivery-core/events';
import { queueKeys } from '@herald/delivery-core/keys';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { Redis } from 'ioredis';
import pino from 'pino';

/** Polls `probe` until it is true; throws after `ms`. */
async function waitUntil(what: string, probe: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const keys = queueKeys('outage');

type Cut = 'none' | 'before-exec' | 'after-exec' | 'refuse';

/** A TCP proxy to Redis that cuts the first connection to send EXEC once, as `cut` says. */
async function startCutter(redisPort: number, applied: () => Promise<boolean>) {
  let cut: Cut = 'none';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (cut === 'refuse') return client.destroy();
    const upstream = net.connect(redisPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('data', (chunk: Buffer) => {
      const mode = cut;
      if (mode === 'none' || !/\r\nexec\r\n/i.test(chunk.toString('latin1')))
        return void upstream.write(chunk);
      cut = 'none';
      if (mode === 'before-exec') return close();
      // Redis runs the transaction; its reply never reaches the client.
      upstream.removeAllListeners('data');
      upstream.write(chunk);
      void waitUntil('the cut batch in the stream', applied).then(close, close);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    set(next: Cut) {
      cut = next;
      if (next === 'refuse') for (const s of sockets) s.destroy();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const delivered = (id: string, n: number): HeraldEvent => ({
  type: 'delivered',
  time: 1_000 + n,
  messageId: id,
  tenant: 't',
  domain: 'y.example',
  recipient: `r${n}@y.example`,
  attempt: 1,
  reply: { code: 250, text: 'ok', stage: 'data' },
  latencyMs: n,
});

describe('event batches through a broken connection', () => {
  let redis: RedisHandle;
  let direct: Redis;
  let client: Redis;
  let cutter: Awaited<ReturnType<typeof startCutter>>;
  let sink: RedisEventSink;
  const logs: { level: number; msg: string }[] = [];
  let expected = 0;
  before(async () => {
    redis = await startRedis();
    direct = redis.client();
    cutter = await startCutter(redis.port, async () => (await direct.xlen(keys.events)) >= expected);
    // As Herald's command connection: no offline queue, no retries per request.
    client = new Redis({
      host: '127.0.0.1',
      port: cutter.port,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    await waitUntil('the client ready', () => client.status === 'ready');
    sink = loggedSink(client, logs);
  });
  after(async () => {
    sink.stop();
    client.disconnect();
    direct.disconnect();
    await cutter.close();
    await redis.stop();
  });

  const entries = async () =>
    (await direct.xrange(keys.events, '-', '+')).map(
      ([, fields]) => JSON.parse(fields[1] ?? '{}') as HeraldEvent,
    );

  for (const cut of ['before-exec', 'after-exec'] as const) {
    it(`writes a batch cut ${cut.replace('-', ' ')} exactly once`, async () => {
      const id = `m-${cut}`;
      const batch = [0, 1, 2].map((n) => delivered(id, n));
      expected += batch.length;
      cutter.set(cut);
      for (const event of batch) sink.emit(event);
      await sink.settle();
      const ofThis = (await entries()).filter((e) => 'messageId' in e && e.messageId === id);
      assert.deepEqual(
        ofThis.map((e) => ('recipient' in e ? e.recipient : '')),
        batch.map((e) => ('recipient' in e ? e.recipient : '')),
      );
      assert.ok(logs.some((l) => l.msg.includes('written again when Redis answers')));
      // The marker is in the stream's slot and expires.
      const markers = await direct.keys(`${keys.events}:batch:*`);
      assert.ok(markers.length > 0);
      for (const marker of markers) assert.ok((await direct.pttl(marker)) > 0);
    });
  }

  it('holds more than 10 batches through an outage without a MaxListenersExceeded warning, then writes them', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      cutter.set('refuse');
      await waitUntil('the client cut off', () => client.status !== 'ready');
      const held = Array.from({ length: 15 }, (_, n) => delivered('m-held', n));
      expected += held.length;
      for (const event of held) {
        sink.emit(event);
        await sink.flush(); // one batch each
      }
      await waitUntil(
        '15 batches held',
        () =>
          logs.filter((l) => l.msg.includes('written again when Redis answers')).length >= 2 + held.length,
      );
      cutter.set('none');
      await sink.settle();
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
        [],
      );
      const ofThis = (await entries()).filter((e) => 'messageId' in e && e.messageId === 'm-held');
      assert.equal(ofThis.length, held.length);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('drops a batch still held when the sink stops, and says so', async () => {
    cutter.set('refuse');
    await waitUntil('the client cut off', () => client.status !== 'ready');
    sink.emit(delivered('m-stop', 9));
    await sink.flush();
    sink.stop();
    await sink.settle();
    assert.ok(logs.some((l) => l.level === 50 && l.msg.includes('events dropped')));
    assert.equal((await entries()).filter((e) => 'messageId' in e && e.messageId === 'm-stop').length, 0);
  });
});

describe('event batches through a full Redis (maxmemory, noeviction)', () => {
  let redis: RedisHandle;
  let direct: Redis;
  let sink: RedisEventSink;
  const logs: { level: number; msg: string }[] = [];
  before(async () => {
    redis = await startRedis();
    direct = redis.client();
    await direct.config('SET', 'maxmemory-policy', 'noeviction');
    sink = loggedSink(direct, logs);
  });
  after(async () => {
    sink.stop();
    await redis.stop();
  });

  it('holds a batch Redis refused (OOM) and writes it once when Redis takes writes again', async () => {
    await direct.config('SET', 'maxmemory', '1');
    const batch = [0, 1, 2].map((n) => delivered('m-full', n));
    for (const event of batch) sink.emit(event);
    await sink.flush();
    await waitUntil('the OOM warning', () => logs.some((l) => l.msg.includes('Redis is full (maxmemory)')));
    // Still held, not dropped: nothing in the stream yet, no error log.
    await sleep(300);
    assert.equal(await direct.xlen(keys.events), 0);
    assert.ok(!logs.some((l) => l.level === 50), JSON.stringify(logs));
    await direct.config('SET', 'maxmemory', '0');
    await sink.settle();
    const written = (await direct.xrange(keys.events, '-', '+')).map(
      ([, fields]) => (JSON.parse(fields[1] ?? '{}') as { recipient?: string }).recipient,
    );
    assert.deepEqual(
      written,
      batch.map((e) => ('recipient' in e ? e.recipient : '')),
    );
    assert.equal(await direct.llen(keys.trace('m-full')), 0, 'no trace without its accepted event (RPUSHX)');
  });
});

/** The sink under test on `redis`, its log lines parsed into `logs`. */
function loggedSink(redis: Redis, logs: { level: number; msg: string }[]): RedisEventSink {
  const logStream = new Writable({
    write(chunk, _enc, done) {
      logs.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return new RedisEventSink({
    redis,
    streamKey: keys.events,
    streamMaxLen: 10_000,
    logger: pino({ level: 'info' }, logStream),
    trace: { key: keys.trace, retentionMs: 60_000, maxEntries: 100 },
  });
}
