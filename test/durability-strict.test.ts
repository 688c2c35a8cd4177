/**
 * End to end: `redis.durability: strict`. Against a lone Redis with AOF everysec the relay refuses
 * to start and says how to fix it; with `appendfsync always` it runs as usual (Redis fsyncs before
 * it answers the EXEC), and a server reconfigured after the start (everysec, AOF off) answers 451; with a replica every 250 waits for `WAIT 1`, so the accepted message is on
 * the replica when the client hears 250 (or 202, or send() resolves) — and with the replica frozen
 * (SIGSTOP by PID) the submission is answered 451 4.3.0 within smtp.redis_timeout (503 over the
 * API, a rejected send()), never 250 and never a hang. The
 * message the client was told to retry is still delivered once the replica is back (the usual SMTP
 * duplicate). The bounce-processor's 250 waits for the same barrier, and so does the 250 of a
 * message the content scan holds in quarantine (a real rspamd, GTUBE). Every freeze is lifted
 * (SIGCONT) in `finally`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHerald, HeraldError, readEvents } from '@herald/delivery-core';
import { quarantineKeys, queueKeys, suppressionKeys } from '@herald/delivery-core/keys';
import { shardOf } from '@herald/delivery-core/queue';
import { GTUBE, type RedisHandle, type RspamdHandle, startRedis, startRspamd } from '@herald/test-harness';
import { dsnFor, verpFor, withProcessor } from './lib/bounce-reports.js';
import { sampleMessage } from './lib/message.js';
import { type Stack, startStack } from './lib/stack.js';

const SENDER = 'app@origin.test';
const STRICT = { redis: { durability: 'strict' as const } };
const ADMIN_KEY = 'strict-admin-key-0123456789';

function frozen<T>(pid: number, run: () => Promise<T>): Promise<T> {
  process.kill(pid, 'SIGSTOP');
  return run().finally(() => process.kill(pid, 'SIGCONT'));
}

describe('strict durability on a lone Redis with appendfsync everysec', () => {
  let redis: RedisHandle;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis.stop());

  it('refuses to start, saying how to fix it', async () => {
    await assert.rejects(
      createHerald({ redis: { url: redis.url, durability: 'strict' }, events: { log_level: 'silent' } }),
      (err: unknown) => {
        assert.ok(err instanceof HeraldError);
        assert.equal(err.code, 'HERALD_REDIS_NOT_DURABLE');
        assert.match(err.message, /appendfsync is everysec/);
        assert.match(err.message, /CONFIG SET appendfsync always/);
        assert.match(err.message, /replica/);
        assert.match(err.message, /redis\.durability: fast/);
        return true;
      },
    );
  });

  it('fast mode (the default) starts on the same server', async () => {
    const herald = await createHerald({ redis: { url: redis.url }, events: { log_level: 'silent' } });
    try {
      assert.equal(herald.durability, 'fast');
    } finally {
      await herald.close();
    }
  });
});

describe('strict durability with appendfsync always', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ redis: { appendfsync: 'always' }, config: STRICT });
  });
  after(() => stack.stop());

  it('plans fsync-always and delivers what it accepted', async () => {
    assert.equal(stack.relay.herald.durability, 'fsync-always');
    const to = 'always@example.test';
    const sent = await stack.submit({
      from: SENDER,
      to: [to],
      body: sampleMessage({ subject: `strict to ${to}` }),
    });
    assert.equal(sent.code, 250);
    assert.equal((await stack.events.terminal(to)).type, 'delivered');
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('a server reconfigured to everysec or AOF off after the start answers 451 4.3.0, not a silent 250; 250 again once restored', async () => {
    const submit = (to: string) =>
      stack.submit({ from: SENDER, to: [to], body: sampleMessage({ subject: `strict to ${to}` }) });
    for (const [name, value] of [
      ['appendfsync', 'everysec'],
      ['appendonly', 'no'],
    ] as const) {
      await stack.redisClient.config('SET', name, value);
      try {
        const refused = await submit(`${name}-${value}@example.test`);
        assert.equal(refused.code, 451, refused.response);
        assert.match(refused.response, /4\.3\.0/);
      } finally {
        await stack.redisClient.config('SET', name, name === 'appendonly' ? 'yes' : 'always');
      }
    }
    const to = 'restored@example.test';
    const sent = await submit(to);
    assert.equal(sent.code, 250, sent.response);
    assert.equal((await stack.events.terminal(to)).type, 'delivered');
  });
});

describe('strict durability with a replica (WAIT)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      replica: true,
      config: {
        ...STRICT,
        smtp: { redis_timeout: '1s' },
        api: { listen: '127.0.0.1:0', redis_timeout: '1s', admin_keys: [{ key: ADMIN_KEY }] },
      },
    });
  });
  after(() => stack.stop());

  const onReplica = async (messageId: string) => {
    const replica = stack.replica!.client();
    try {
      // The stream of the message's queue shard (HERALD_TEST_SHARDS runs this on several).
      const { config, shards } = stack.relay.herald;
      const shard = shardOf(messageId, shards.layout);
      const events = await readEvents(replica, queueKeys(config.redis.prefix, shard).events);
      return events.some((e) => e.type === 'accepted' && e.messageId === messageId);
    } finally {
      replica.disconnect();
    }
  };

  it('answers 250 only once the accepted message is on the replica', async () => {
    assert.equal(stack.relay.herald.durability, 'wait-replica');
    const to = 'replicated@example.test';
    const sent = await stack.submit({
      from: SENDER,
      to: [to],
      body: sampleMessage({ subject: `strict to ${to}` }),
    });
    assert.equal(sent.code, 250);
    assert.ok(sent.queueId, 'the 250 names the queue id');
    assert.equal(await onReplica(sent.queueId), true, 'the accepted event is on the replica at the 250');
    assert.equal((await stack.events.terminal(to)).type, 'delivered');
  });

  it('a master whose AOF is turned off after the start answers 451 4.3.0 (its replica no longer counts); 250 once restored', async () => {
    const submit = (to: string) =>
      stack.submit({ from: SENDER, to: [to], body: sampleMessage({ subject: `strict to ${to}` }) });
    await stack.redisClient.config('SET', 'appendonly', 'no');
    try {
      const refused = await submit('aof-off@example.test');
      assert.equal(refused.code, 451, refused.response);
      assert.match(refused.response, /^451 4\.3\.0 /);
    } finally {
      await stack.redisClient.config('SET', 'appendonly', 'yes');
    }
    const to = 'aof-restored@example.test';
    const sent = await submit(to);
    assert.equal(sent.code, 250, sent.response);
    assert.equal((await stack.events.terminal(to)).type, 'delivered');
  });

  it('with the replica frozen, DATA is answered 451 4.3.0 (not 250, not a hang); delivered after it thaws', async () => {
    const to = 'frozen-replica@example.test';
    const sent = await frozen(stack.replica!.pid, () =>
      stack.submit({ from: SENDER, to: [to], body: sampleMessage({ subject: `strict to ${to}` }) }),
    );
    assert.equal(sent.code, 451);
    assert.match(sent.response, /^451 4\.3\.0 /);
    assert.equal(sent.command, 'DATA');
    // The write is in the primary: the message the client will retry is delivered anyway.
    assert.equal((await stack.events.terminal(to)).type, 'delivered');
  });

  it('with the replica frozen, POST /v1/messages is answered 503 HERALD_REDIS_UNAVAILABLE; 202 after it thaws', async () => {
    const post = async (to: string) => {
      const res = await fetch(`http://127.0.0.1:${stack.api!.port}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ from: SENDER, to: [to], subject: 'strict', text: 'over the API' }),
      });
      return { status: res.status, body: (await res.json()) as { id?: string; error?: { code: string } } };
    };
    const refused = await frozen(stack.replica!.pid, () => post('api-frozen@example.test'));
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error?.code, 'HERALD_REDIS_UNAVAILABLE');
    const accepted = await post('api-thawed@example.test');
    assert.equal(accepted.status, 202);
    assert.ok(accepted.body.id);
    assert.equal(await onReplica(accepted.body.id), true, 'the accepted event is on the replica at the 202');
  });

  it('with the replica frozen, send() rejects with HERALD_REDIS_UNAVAILABLE; after it thaws send() resolves', async () => {
    const herald = stack.relay.herald;
    const input = (to: string) => ({
      tenant: 'default',
      from: SENDER,
      to: [to],
      raw: sampleMessage({ subject: `strict to ${to}` }),
    });
    await frozen(stack.replica!.pid, () =>
      assert.rejects(herald.send(input('send-frozen@example.test')), (err: unknown) => {
        assert.ok(err instanceof HeraldError);
        assert.equal(err.code, 'HERALD_REDIS_UNAVAILABLE');
        return true;
      }),
    );
    const result = await herald.send(input('send-thawed@example.test'));
    assert.ok(result.messageId);
    assert.equal(await onReplica(result.messageId), true);
    assert.equal((await stack.events.terminal('send-thawed@example.test')).type, 'delivered');
    await stack.assertEveryRecipientTerminatedOnce();
  });
});

describe('strict durability at the bounce-processor', () => {
  it("answers 451 4.3.0 while the replica is frozen, and 250 once the report's suppression is on the replica", async (t) => {
    const { stack, client } = await withProcessor(t, {
      stack: { replica: true },
      config: { ...STRICT, smtp: { redis_timeout: '1s' } },
    });
    assert.equal(stack.relay.herald.durability, 'wait-replica');
    const dsn = (to: string) =>
      dsnFor([{ address: to, status: '5.1.1', diagnostic: `550 5.1.1 <${to}>: User unknown` }]);
    const frozenReport = verpFor('acme', 'frozen@dest.test');
    const refused = await frozen(stack.replica!.pid, () =>
      client.send({ from: '', to: [frozenReport.address] }, dsn('frozen@dest.test')),
    );
    assert.equal(refused.code, 451, refused.response);
    assert.match(refused.response, /^451 4\.3\.0 /);
    const report = verpFor('acme', 'gone@dest.test');
    const taken = await client.send({ from: '', to: [report.address] }, dsn('gone@dest.test'));
    assert.equal(taken.code, 250, taken.response);
    const replica = stack.replica!.client();
    try {
      const entries = suppressionKeys(stack.relay.herald.config.redis.prefix).entries('acme');
      assert.ok(
        await replica.hexists(entries, 'gone@dest.test'),
        'the suppression is on the replica at the 250',
      );
    } finally {
      replica.disconnect();
    }
  });
});

describe('strict durability and the quarantine', () => {
  const HOLDER = { user: 'holder', pass: 'secret' };
  let rspamd: RspamdHandle;
  let stack: Stack;
  before(async () => {
    rspamd = await startRspamd();
    stack = await startStack({
      replica: true,
      config: {
        ...STRICT,
        smtp: {
          redis_timeout: '1s',
          users: [{ username: HOLDER.user, password: HOLDER.pass, tenant: 'holder' }],
        },
        scanning: {
          rspamd: { url: rspamd.url, timeout: '10s' },
          actions: { holder: { quarantine: 10, reject: 100 } },
        },
      },
    });
  });
  after(async () => {
    await stack?.stop();
    await rspamd?.close();
  });

  const heldOnReplica = async (messageId: string) => {
    const replica = stack.replica!.client();
    try {
      const { config, shards } = stack.relay.herald;
      const keys = quarantineKeys(config.redis.prefix, shardOf(messageId, shards.layout));
      return (await replica.hexists(keys.message(messageId), 'tenant')) === 1;
    } finally {
      replica.disconnect();
    }
  };

  it('a held message is answered 451 4.3.0 while the replica is frozen, and 250 only once the hold is on the replica', async () => {
    assert.equal(stack.relay.herald.durability, 'wait-replica');
    const submit = (to: string) =>
      stack.submit({
        from: SENDER,
        to: [to],
        body: sampleMessage({ subject: `held ${to}`, lines: [GTUBE] }),
        auth: HOLDER,
      });
    const refused = await frozen(stack.replica!.pid, () => submit('held-frozen@example.test'));
    assert.equal(refused.code, 451, refused.response);
    assert.match(refused.response, /^451 4\.3\.0 /);
    assert.equal(refused.command, 'DATA');

    const sent = await submit('held@example.test');
    assert.equal(sent.code, 250, sent.response);
    assert.ok(sent.queueId, 'the 250 names the queue id');
    assert.equal(await heldOnReplica(sent.queueId), true, 'the held record is on the replica at the 250');
    const listed = await stack.relay.herald.quarantine.list({ tenant: 'holder' });
    assert.ok(listed.messages.some((m) => m.id === sent.queueId));
    assert.equal(stack.sinks[0]!.messages.length, 0, 'nothing held is delivered');
  });
});
