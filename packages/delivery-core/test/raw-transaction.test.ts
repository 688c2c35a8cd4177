/**
 * The raw MULTI/EXEC (redis/resp.ts, raw-transaction.ts, recorded-multi.ts) against ioredis' own
 * on a real redis-server: the same bytes on the wire, the same Redis state and per-command
 * results, its replies in their place among the connection's other commands (auto-pipelined,
 * sent before the connection was ready), an aborted EXEC (a full Redis) and a connection lost
 * mid-transaction and a command timeout rejected with the client usable afterwards — the contract on the installed
 * ioredis of the `ioredis-reply-queue` touchpoint.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { Command, Redis } from 'ioredis';
import {
  canRunRaw,
  isRedisFull,
  RecordedMulti,
  RespWriter,
  runRawTransaction,
  type TransactionResults,
} from '../src/redis/index.js';

/** Herald's command connection's options (herald.ts connectCommandRedis). */
const COMMAND_CONNECTION = { enableOfflineQueue: false, maxRetriesPerRequest: 0, enableAutoPipelining: true };

const withText = (results: TransactionResults | null) =>
  results?.map(([err, value]) => [err?.message ?? null, Buffer.isBuffer(value) ? value.toString() : value]);

/** Every key's type and contents, for comparing two databases. */
async function dump(client: Redis): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await client.keys('*')).sort()) {
    const type = await client.type(key);
    if (type === 'string') out[key] = await client.get(key);
    else if (type === 'hash') out[key] = await client.hgetall(key);
    else if (type === 'set') out[key] = (await client.smembers(key)).sort();
    else if (type === 'zset') out[key] = await client.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'list') out[key] = await client.lrange(key, 0, -1);
    else if (type === 'stream') out[key] = (await client.xrange(key, '-', '+')).map(([, fields]) => fields);
    out[`${key} ttl>0`] = (await client.pttl(key)) > 0;
  }
  return out;
}

/** Queues one of each command the spool and the event sink use, on either kind of MULTI. */
function queueEverything(multi: ReturnType<Redis['multi']>): void {
  multi
    .set('body', Buffer.from([0, 1, 2, 255, 13, 10]))
    .set('lease', '{"n":"é✓"}', 'PX', 60_000)
    .persist('body')
    .hset('record', { from: 'a@b.test', size: 42, at: 1.5, empty: '' })
    .sadd('jobs', 'j.0', 'j.1')
    .zadd('leases', 1_700_000_000_000, 'j.0')
    .xadd('events', 'MAXLEN', '~', '1000', '*', 'event', '{"type":"accepted"}')
    .rpush('trace', 'one', 'two')
    .rpushx('trace', 'three')
    .rpushx('missing', 'x')
    .pexpireat('trace', 4_000_000_000_000)
    .pexpireat('trace', 3_000_000_000_000, 'GT')
    .incrby('count', 3)
    .pexpire('count', 60_000)
    .hincrby('activity', 'delivered', -2)
    .lpush('replies', '550 5.1.1 no', '421 busy')
    .ltrim('replies', 0, 0)
    .pfadd('spread', 'a.test', 'b.test')
    .zrem('leases', 'nothing')
    .del('nothing', 'missing');
}

describe('raw MULTI/EXEC on a real redis-server', () => {
  let redis: RedisHandle;
  let client: Redis;
  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, COMMAND_CONNECTION);
    await new Promise((ready) => client.once('ready', ready));
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('encodes each command as ioredis does', () => {
    const cases: (string | number | Buffer)[][] = [
      ['set', 'k', 'plain'],
      ['set', 'k', 'ünïcødé ✓', 'PX', 60_000],
      ['zadd', 'z', 1.25, 'm', -3, 'n'],
      ['set', 'k', Buffer.alloc(0)],
      ['set', 'k', Buffer.from('\r\n$3\r\n')],
      ['hset', 'h', 'a', '', 'b', Buffer.from('x'), 'c', 0],
    ];
    for (const [name, ...args] of cases) {
      const ours = new RespWriter().command(name as string, args).toBuffer();
      const command = new Command(name as string, args);
      const theirs = command.toWritable(null as never);
      assert.deepEqual(ours, Buffer.isBuffer(theirs) ? theirs : Buffer.from(theirs), String(name));
    }
    const tx = new RespWriter(true).command('incr', ['k']);
    assert.equal(tx.commands, 1);
    assert.equal(
      tx.toBuffer().toString(),
      '*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nincr\r\n$1\r\nk\r\n*1\r\n$4\r\nEXEC\r\n',
    );
  });

  it('writes what ioredis’ MULTI writes and answers the same per command', async () => {
    assert.equal(canRunRaw(client), true);
    const recorded = new RecordedMulti();
    queueEverything(recorded.asCommander() as never);
    await client.select(1);
    const raw = await recorded.exec(client, () => client.multi());
    const rawState = await dump(client);
    await client.select(0);
    const multi = client.multi();
    queueEverything(multi);
    const theirs = await multi.exec();
    const theirState = await dump(client);
    // Stream ids differ (time); everything else is equal.
    const ids = (results: TransactionResults | null) =>
      withText(results)?.map(([err, value], i) => (i === 6 ? [err, typeof value] : [err, value]));
    assert.deepEqual(ids(raw), ids(theirs));
    assert.deepEqual(rawState, theirState);
    assert.equal(recorded.length, 20);
  });

  it('replays onto ioredis’ MULTI when a command only it can queue is among them', async () => {
    const recorded = new RecordedMulti();
    recorded.asCommander().set('first', '1');
    assert.equal(
      recorded.queueOn((multi) => {
        multi.incrby('opaque', 5);
        return 1;
      }),
      1,
    );
    recorded.asCommander().persist('first');
    let opened = 0;
    const results = await recorded.exec(client, () => {
      opened += 1;
      return client.multi();
    });
    assert.equal(opened, 1);
    assert.deepEqual(withText(results), [
      [null, 'OK'],
      [null, 5],
      [null, 0],
    ]);
  });

  it('keeps its place among auto-pipelined commands and a command error stays that command’s', async () => {
    await client.set('text', 'not a number');
    const writer = new RespWriter(true).command('incrby', ['text', 1]).command('incrby', ['n', 2]);
    const before = client.get('text');
    const tx = runRawTransaction(client, writer);
    const afterIt = client.incrby('n', 10);
    const [b, results, a] = await Promise.all([before, tx, afterIt]);
    assert.equal(b, 'not a number');
    assert.match(results[0]![0]?.message ?? '', /not an integer/);
    assert.deepEqual(results[1], [null, 2]);
    assert.equal(a, 12);
  });

  it('works sent before the connection is ready (queued offline by ioredis)', async () => {
    const fresh = new Redis(redis.url, { enableOfflineQueue: true, lazyConnect: true });
    try {
      const results = await runRawTransaction(fresh, new RespWriter(true).command('incrby', ['offline', 7]));
      assert.deepEqual(results, [[null, 7]]);
      assert.equal(await fresh.get('offline'), '7');
    } finally {
      fresh.disconnect();
    }
  });

  it('an EXEC a full Redis aborts rejects as ioredis’ does (isRedisFull), and the connection goes on', async () => {
    const admin = redis.client();
    try {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '1');
      await assert.rejects(
        runRawTransaction(client, new RespWriter(true).command('set', ['full', 'x']).command('incr', ['c'])),
        (err: Error) => err.message.startsWith('EXECABORT') && isRedisFull(err),
      );
      await admin.config('SET', 'maxmemory', '0');
      assert.deepEqual(await runRawTransaction(client, new RespWriter(true).command('incr', ['c'])), [
        [null, 1],
      ]);
      assert.equal(await client.ping(), 'PONG');
    } finally {
      await admin.config('SET', 'maxmemory', '0');
      admin.disconnect();
    }
  });

  it('an EXEC Redis refuses for memory at EXEC time (every command QUEUED) is isRedisFull too', async () => {
    // Redis 7 checks maxmemory again at EXEC: commands queued while under it, then the limit met
    // (another client's write, or the batch's own query buffer under load), abort the whole
    // transaction with `EXECABORT Transaction discarded because of: OOM …` and no queue error.
    // Seen under load: the event sink took it for a permanent failure and dropped the batch,
    // recipients delivered with no terminal event in the stream.
    const conn = redis.client();
    const admin = redis.client();
    try {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      assert.equal(await conn.call('MULTI'), 'OK');
      assert.equal(await conn.call('SET', 'late-full', 'x'), 'QUEUED');
      await admin.config('SET', 'maxmemory', '1');
      await assert.rejects(conn.call('EXEC'), (err: Error) => {
        assert.match(err.message, /^EXECABORT .*OOM/);
        assert.ok(isRedisFull(err), `a full Redis, to be written again: ${err.message}`);
        return true;
      });
    } finally {
      await admin.config('SET', 'maxmemory', '0');
      admin.disconnect();
      conn.disconnect();
    }
  });

  it('a command timeout rejects it, and its replies coming later are still taken as its own', async () => {
    const timed = new Redis(redis.url, { ...COMMAND_CONNECTION, commandTimeout: 100 });
    const admin = redis.client();
    try {
      await new Promise((ready) => timed.once('ready', ready));
      // Every client's commands are held by the server for a while (the pause answers at once).
      await admin.client('PAUSE', 600, 'ALL');
      const tx = runRawTransaction(
        timed,
        new RespWriter(true).command('incr', ['late']).command('incr', ['late']),
      );
      await assert.rejects(tx, /timed out/);
      // Sent behind the transaction: answered with its own reply once the server goes on.
      let answer: number | undefined;
      for (;;) {
        try {
          answer = await timed.incrby('behind', 5);
          break;
        } catch (err) {
          assert.match((err as Error).message, /timed out/);
        }
      }
      assert.equal(Number(await timed.get('late')), 2, 'the transaction ran');
      assert.ok(
        answer !== undefined && answer % 5 === 0,
        `INCRBY got its own reply, not the transaction's: ${answer}`,
      );
    } finally {
      timed.disconnect();
      admin.disconnect();
    }
  });

  it('a connection lost before the replies rejects, and the client answers right after it reconnects', async () => {
    const tx = runRawTransaction(client, new RespWriter(true).command('incr', ['lost']));
    // The socket closes with the transaction's replies outstanding (whether or not Redis ran it).
    (client as unknown as { stream: { destroy(): void } }).stream.destroy();
    await assert.rejects(tx);
    for (;;) {
      try {
        assert.equal(await client.incrby('after', 1), 1);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50)); // reconnecting: refused without an offline queue
      }
    }
    assert.deepEqual(await runRawTransaction(client, new RespWriter(true).command('incr', ['after'])), [
      [null, 2],
    ]);
  });
});
