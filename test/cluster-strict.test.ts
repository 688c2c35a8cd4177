/**
 * End to end: `redis.durability: strict` on a Redis Cluster of 3 masters + 3 replicas, the queue in
 * 6 shards spread over the three masters. The barrier runs one round per master that took a
 * turn's writes (INCR of that master's own mark, then WAIT 1 on the connection to it), so:
 * - every 250 (and the API's 202) comes once the message's accepted event is on the replica of
 *   its shard's master, and each master's mark was INCRed;
 * - with one master's replica frozen (SIGSTOP by PID; lifted in `finally`), the messages spooled
 *   on that master are answered 451 4.3.0 within smtp.redis_timeout and those on the other masters
 *   250 — the barrier waits only for the masters a message was written to; the refused ones are
 *   delivered anyway once it thaws (the write is on the master: the usual SMTP duplicate);
 * - the bounce-processor's 250 waits for every master (its writes span slots): 451 while any
 *   replica is frozen, 250 once the suppression is on the replica of the tenant's master.
 * The start refusal on masters without replicas is in test/cluster.test.ts; a master killed under
 * load in strict mode is in test/cluster-failover.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBounceProcessor } from '@herald/bounce-processor';
import { readEvents, scanKeys } from '@herald/delivery-core';
import { hashSlot, queueKeys, suppressionKeys } from '@herald/delivery-core/keys';
import { shardOf } from '@herald/delivery-core/queue';
import { onNode, type RedisClusterHandle, replicaPortOf, startRedisCluster } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { BOUNCE, dsnFor, verpFor } from './lib/bounce-reports.js';
import { sampleMessage } from './lib/message.js';
import { SmtpClient } from './lib/smtp-client.js';
import { type Stack, startStack } from './lib/stack.js';

const SENDER = 'app@origin.test';
const ADMIN_KEY = 'cluster-strict-admin-key-0123';
/** 6 shards: with redis-cli's three slot ranges, shard 4 on the first master, 1, 2, 5 on the second, 0, 3 on the third. */
const SHARDS = 6;
/** Messages per run: every shard twice (new ids go round robin over the shards). */
const MESSAGES = 2 * SHARDS;

function frozen<T>(pid: number, run: () => Promise<T>): Promise<T> {
  process.kill(pid, 'SIGSTOP');
  return run().finally(() => process.kill(pid, 'SIGCONT'));
}

/** Runs `fn` on a plain connection to the node on `port` (READONLY first: reads on a replica). */
function onReadableNode<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  return onNode(port, async (redis) => {
    await redis.call('READONLY');
    return fn(redis);
  });
}

describe('strict durability on a Redis Cluster with a replica per master', () => {
  let cluster: RedisClusterHandle;
  let stack: Stack;
  before(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    stack = await startStack({
      cluster,
      config: {
        redis: { durability: 'strict' },
        queue: { shards: SHARDS },
        smtp: { redis_timeout: '1s' },
        api: { listen: '127.0.0.1:0', redis_timeout: '1s', admin_keys: [{ key: ADMIN_KEY }] },
        bounce: BOUNCE,
      },
    });
  });
  after(async () => {
    await stack?.stop();
    await cluster?.stop();
  });

  const prefix = () => stack.relay.herald.config.redis.prefix;
  const shardEvents = (messageId: string) =>
    queueKeys(prefix(), shardOf(messageId, stack.relay.herald.shards.layout)).events;
  const masterPort = async (key: string) => (await cluster.masterOf(key)).port;
  /** The port of the replica of the master on `port` (INFO replication). */
  const replicaPort = async (port: number) => {
    const replica = await replicaPortOf(port);
    assert.ok(replica, `master :${port} has a replica`);
    return replica;
  };
  const onReplicaOf = async <T>(key: string, fn: (replica: Redis) => Promise<T>) =>
    onReadableNode(await replicaPort(await masterPort(key)), fn);
  const acceptedOnReplica = (messageId: string) =>
    onReplicaOf(shardEvents(messageId), async (replica) =>
      (await readEvents(replica, shardEvents(messageId))).some(
        (e) => e.type === 'accepted' && e.messageId === messageId,
      ),
    );

  it('plans WAIT on every master; its shards are spread over all three', async () => {
    assert.equal(stack.relay.herald.durability, 'wait-replica');
    const ports = new Set(
      await Promise.all(Array.from({ length: SHARDS }, (_, s) => masterPort(queueKeys(prefix(), s).events))),
    );
    assert.equal(ports.size, 3, 'the test needs a shard on every master');
  });

  it("answers 250 only once the message is on its shard master's replica, INCRs each master's own mark, delivers", async () => {
    for (let i = 0; i < MESSAGES; i++) {
      const to = `strict${i}@example.test`;
      const sent = await stack.submit({ from: SENDER, to: [to], body: sampleMessage({ subject: to }) });
      assert.equal(sent.code, 250, sent.response);
      assert.ok(sent.queueId);
      assert.equal(await acceptedOnReplica(sent.queueId), true, `${to}: on the replica at the 250`);
    }
    const marks: string[] = [];
    for await (const keys of scanKeys(stack.redisClient, `${prefix()}:{durability-*}:mark`))
      marks.push(...keys);
    const markMasters = new Set(await Promise.all(marks.map((key) => masterPort(key))));
    assert.equal(markMasters.size, 3, `one mark per master (${marks.join(', ')})`);
    for (const key of marks) assert.ok(Number(await stack.redisClient.get(key)) >= 1, `${key} was INCRed`);
    for (let i = 0; i < MESSAGES; i++)
      assert.equal((await stack.events.terminal(`strict${i}@example.test`)).type, 'delivered');
  });

  it('answers POST /v1/messages 202 once the accepted message is on the replica', async () => {
    const res = await fetch(`http://127.0.0.1:${stack.api!.port}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        from: SENDER,
        to: ['api@example.test'],
        subject: 'strict',
        text: 'on a cluster',
      }),
    });
    const body = (await res.json()) as { id: string };
    assert.equal(res.status, 202);
    assert.equal(await acceptedOnReplica(body.id), true, 'on the replica at the 202');
    assert.equal((await stack.events.terminal('api@example.test')).type, 'delivered');
  });

  it("with one master's replica frozen, only that master's messages get 451 4.3.0; the rest 250; all delivered after", async () => {
    const victim = await masterPort(queueKeys(prefix(), 0).events);
    const port = await replicaPort(victim);
    const pid = cluster.nodes.find((n) => n.port === port)!.pid;
    const outcomes = await frozen(pid, async () => {
      const out: { to: string; code: number; response: string; queueId?: string | undefined }[] = [];
      for (let i = 0; i < MESSAGES; i++) {
        const to = `frozen${i}@example.test`;
        const sent = await stack.submit({ from: SENDER, to: [to], body: sampleMessage({ subject: to }) });
        out.push({ to, code: sent.code, response: sent.response, queueId: sent.queueId });
      }
      return out;
    });
    const refused = outcomes.filter((o) => o.code !== 250);
    const taken = outcomes.filter((o) => o.code === 250);
    assert.ok(refused.length > 0 && taken.length > 0, JSON.stringify(outcomes.map((o) => o.code)));
    for (const o of refused) assert.match(o.response, /^451 4\.3\.0 /, o.to);
    for (const o of taken)
      assert.notEqual(await masterPort(shardEvents(o.queueId!)), victim, `${o.to}: 250 from another master`);
    for (const o of refused) {
      // The write is on the master: delivered anyway, and its id names the frozen master's shard.
      const done = await stack.events.terminal(o.to);
      assert.equal(done.type, 'delivered');
      assert.equal(
        await masterPort(shardEvents(done.messageId)),
        victim,
        `${o.to}: refused on the frozen master`,
      );
    }
    for (const o of taken) assert.equal((await stack.events.terminal(o.to)).type, 'delivered');
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it("the bounce-processor's 250 waits for every master: 451 while a replica is frozen, then 250 with the suppression on the replica", async (t) => {
    const processor = createBounceProcessor(stack.relay.herald);
    const address = await processor.start();
    let client: SmtpClient | undefined;
    // One hook, the client first: a processor stopping with a session still open waits for it.
    t.after(async () => {
      client?.close();
      await processor.stop();
    });
    client = await SmtpClient.connect(address);
    const dsn = (to: string) =>
      dsnFor([{ address: to, status: '5.1.1', diagnostic: `550 5.1.1 <${to}>: User unknown` }]);
    const entries = suppressionKeys(prefix()).entries('acme');
    // Freeze a replica of a master other than the tenant's: the report still waits for it.
    const tenantMaster = await masterPort(entries);
    const other = (await Promise.all([0, 5460, 16383].map((slot) => cluster.masterOf(slot)))).find(
      (owner) => owner.port !== tenantMaster,
    )!;
    assert.notEqual(hashSlot(entries), other.slot);
    const otherReplica = await replicaPort(other.port);
    const pid = cluster.nodes.find((n) => n.port === otherReplica)!.pid;
    const refused = await frozen(pid, () =>
      client.send({ from: '', to: [verpFor('acme', 'frozen@dest.test').address] }, dsn('frozen@dest.test')),
    );
    assert.equal(refused.code, 451, refused.response);
    assert.match(refused.response, /^451 4\.3\.0 /);
    const taken = await client.send(
      { from: '', to: [verpFor('acme', 'gone@dest.test').address] },
      dsn('gone@dest.test'),
    );
    assert.equal(taken.code, 250, taken.response);
    assert.equal(
      await onReplicaOf(entries, (replica) => replica.hexists(entries, 'gone@dest.test')),
      1,
      'the suppression is on the replica at the 250',
    );
  });
});
