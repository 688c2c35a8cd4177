import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { onNode, type RedisClusterHandle, startRedisCluster, trackedChildren } from '../src/index.js';

const started: RedisClusterHandle[] = [];
after(async () => {
  await Promise.all(started.map((c) => c.stop()));
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a 3-master cluster serves keys of every slot through one Cluster client, and stop() ends every node', async () => {
  const cluster = await startRedisCluster({ masters: 3 });
  started.push(cluster);
  assert.equal(cluster.seeds.length, 3);
  const client = cluster.client();
  const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
  await Promise.all(keys.map((k, i) => client.set(k, String(i))));
  assert.deepEqual(
    await Promise.all(keys.map((k) => client.get(k))),
    keys.map((_, i) => String(i)),
  );
  const owners = new Set(await Promise.all(keys.map(async (k) => (await cluster.masterOf(k)).port)));
  assert.equal(owners.size, 3, 'thirty keys land on all three masters');
  const pids = cluster.nodes.map((n) => n.pid);
  await cluster.stop();
  assert.ok(
    pids.every((pid) => !isAlive(pid)),
    'no node outlives stop()',
  );
  assert.ok(!trackedChildren().some((c) => pids.includes(c.pid)));
});

test("killing the master of a slot hands it to its replica, the client's writes reach the new master, and the restarted node rejoins as its replica", async () => {
  const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  started.push(cluster);
  assert.equal(cluster.nodes.length, 6);
  const client = cluster.client();
  const before = await cluster.masterOf('{queue}:x');
  // WAIT answers for the connection that wrote (a cluster client would send it to any node).
  await onNode(before.port, async (master) => {
    await master.set('{queue}:before', 'kept');
    assert.equal(await master.wait(1, 5_000), 1, 'the write is on the replica before the kill');
  });
  const killed = await cluster.killMaster('{queue}:x');
  assert.equal(killed.port, before.port);
  assert.ok(!isAlive(killed.pid));
  const after = await cluster.waitForFailover('{queue}:x');
  assert.notEqual(after.port, before.port, 'another node serves the slot');
  assert.equal(await client.get('{queue}:before'), 'kept', 'a replicated write survives the failover');
  await client.set('{queue}:after', 'new');
  assert.equal(await client.get('{queue}:after'), 'new');

  const restarted = await cluster.restartNode(killed.port);
  assert.ok(restarted.alive && isAlive(restarted.pid));
  const owner = await cluster.waitForReplica('{queue}:x');
  assert.equal(owner.port, after.port, 'the restarted node did not take its slots back');
  await client.set('{queue}:replicated', 'yes');
  assert.equal(await client.wait(1, 5_000), 1, 'the new master has a replica again');
  const old = new Redis({ host: '127.0.0.1', port: killed.port, lazyConnect: true });
  try {
    await old.connect();
    assert.match(await old.info('replication'), /^role:slave$/m, 'the old master came back as a replica');
  } finally {
    old.disconnect();
  }
});
