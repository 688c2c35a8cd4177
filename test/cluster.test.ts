/**
 * End to end on a 3-master Redis Cluster (`redis.cluster`): the relay's main paths — SMTP accept →
 * delivered, a 5xx bounce, a 4xx deferral then delivery on the retry, the suppression list's
 * refusal at RCPT, `herald.send()` — with the usual audit (queue idle, every accepted recipient
 * exactly one terminal event, nothing left in the spool), and Herald's keys spread over more than
 * one master; `redis.durability: strict` refused on masters without a replica (each named, with
 * the fix; strict on a replicated cluster is test/cluster-strict.test.ts), and the slot map the
 * strict barrier reads from ioredis checked against CLUSTER SLOTS. One cluster for the file. The shaping limits shared by two relays run on the
 * cluster as test/connection-limits.test.ts (scripts/test.mjs runs it again with
 * HERALD_TEST_REDIS=cluster); the failover under load is test/cluster-failover.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHerald, HeraldError, masters } from '@herald/delivery-core';
import { hashSlot, queueKeys } from '@herald/delivery-core/keys';
import { clusterNode, nodeKey, slotMaster } from '@herald/delivery-core/redis';
import { type RedisClusterHandle, startRedisCluster } from '@herald/test-harness';
import { sampleMessage } from './lib/message.js';
import { mxZone, type Stack, startStack } from './lib/stack.js';

const SENDER = 'app@origin.test';

describe('Herald on a 3-master Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  let stack: Stack;
  before(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    stack = await startStack({
      cluster,
      sinks: [
        {
          host: '127.0.0.2',
          script: { rcpt: { 'nobody@example.test': { code: 550, enhanced: '5.1.1', text: 'no such user' } } },
        },
        { host: '127.0.0.3', script: { data: { code: 451, enhanced: '4.3.0', text: 'try again later' } } },
      ],
      zone: {
        ...mxZone('example.test', [{ preference: 10, address: '127.0.0.2' }]),
        ...mxZone('retry.test', [{ preference: 10, address: '127.0.0.3' }]),
      },
    });
  });
  after(async () => {
    await stack?.stop();
    await cluster?.stop();
  });

  it('runs on the cluster: a seed list in the config, /readyz pings every master', async () => {
    assert.deepEqual(stack.relay.herald.config.redis.cluster, cluster.seeds);
    assert.equal(stack.relay.herald.config.redis.url, undefined);
    const ready = await stack.get('/readyz');
    assert.equal(ready.status, 200, ready.body);
    assert.equal(JSON.parse(ready.body).redis, true);
  });

  it('delivers, bounces a 5xx, defers a 4xx and delivers it on the retry', async () => {
    const sent = await stack.submit({
      from: SENDER,
      to: ['someone@example.test', 'nobody@example.test', 'later@retry.test'],
      body: sampleMessage({ subject: 'on a cluster' }),
    });
    assert.equal(sent.code, 250, sent.response);
    assert.equal((await stack.events.terminal('someone@example.test')).type, 'delivered');
    const bounced = await stack.events.terminal('nobody@example.test');
    assert.equal(bounced.type, 'bounced');
    assert.equal(bounced.reply.code, 550);

    const deferred = await stack.events.outcome('deferred', 'later@retry.test');
    assert.equal(deferred.reply.code, 451);
    stack.sinks[1]!.setScript({});
    const retried = await stack.events.terminal('later@retry.test');
    assert.equal(retried.type, 'delivered');
    assert.equal(retried.attempt, 2);
  });

  it('refuses a suppressed recipient at RCPT with 550 5.7.1 and delivers the other', async () => {
    await stack.relay.herald.suppression.add('default', {
      address: 'gone@example.test',
      reason: 'userunknown',
      source: 'bounce',
    });
    const sent = await stack.submit({
      from: SENDER,
      to: ['gone@example.test', 'kept@example.test'],
      body: sampleMessage({ subject: 'suppressed' }),
    });
    assert.equal(sent.code, 250, sent.response);
    assert.deepEqual(sent.rejected, ['gone@example.test']);
    assert.match(sent.rejectedResponses[0] ?? '', /^550 5\.7\.1 /);
    assert.equal((await stack.events.terminal('kept@example.test')).type, 'delivered');
  });

  it('herald.send() spools and delivers', async () => {
    const result = await stack.relay.herald.send({
      from: SENDER,
      to: ['api@example.test'],
      subject: 'send() on a cluster',
      text: 'hello',
    });
    assert.deepEqual(result.accepted, ['api@example.test']);
    assert.equal((await stack.events.terminal('api@example.test')).type, 'delivered');
  });

  it('ends with every accepted recipient terminated once, and its keys on more than one master', async () => {
    await stack.assertEveryRecipientTerminatedOnce();
    const client = stack.redisClient;
    let withKeys = 0;
    for (const node of masters(client)) if ((await node.dbsize()) > 0) withKeys++;
    assert.equal(masters(client).length, 3);
    assert.ok(withKeys >= 2, `Herald's keys are spread over the masters (${withKeys} of 3 hold keys)`);
  });

  it('refuses redis.durability: strict when a master has no replica and no appendfsync always, naming each master and the fix', async () => {
    await assert.rejects(
      createHerald({
        redis: { cluster: cluster.seeds, durability: 'strict' },
        events: { log_level: 'silent' },
      }),
      (err: unknown) => {
        assert.ok(err instanceof HeraldError);
        assert.equal(err.code, 'HERALD_REDIS_NOT_DURABLE');
        for (const node of cluster.nodes)
          assert.ok(err.message.includes(`master 127.0.0.1:${node.port}`), err.message);
        assert.match(err.message, /appendfsync is everysec, not always, no replica is connected/);
        assert.match(err.message, /redis-cli --cluster add-node .* --cluster-slave --cluster-master-id/);
        assert.match(err.message, /these 3 masters/);
        assert.equal(err.message.split('fix one of').length, 2, `the fix is given once: ${err.message}`);
        assert.match(err.message, /CONFIG SET appendfsync always/);
        assert.match(err.message, /redis\.durability: fast/);
        return true;
      },
    );
  });

  it("ioredis' slot map (Cluster#slots, read by the strict barrier) names each slot's master as CLUSTER SLOTS does", async () => {
    const client = cluster.client();
    assert.equal(await client.ping(), 'PONG');
    const slots = [0, 5460, 5461, 10922, 10923, 16383, hashSlot(queueKeys('herald').events)];
    for (const slot of slots) {
      const master = slotMaster(client, slot);
      assert.equal(master, `127.0.0.1:${(await cluster.masterOf(slot)).port}`, `slot ${slot}`);
      const node = clusterNode(client, master!);
      assert.ok(node, `the client has a connection to ${master}`);
      assert.equal(nodeKey(node), master);
    }
  });
});
