/**
 * A cluster client's `connect()` settles when the client becomes ready after a failed ready check
 * (redis/connect-settles.ts), on a real 3-master cluster: a master is killed until every live node
 * says `cluster_state:fail`; Herald's client and a plain ioredis Cluster connect then, fail their
 * ready check and reconnect on their own; the master is restarted and both become ready. Herald's
 * `connect()` has resolved; the plain one has not (BullMQ awaits it when it re-opens a blocking
 * connection, and its worker waited for good). When an ioredis upgrade fixes it, the plain case
 * fails and the guard can go.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { onNode, type RedisClusterHandle, startRedisCluster } from '@herald/test-harness';
import { Cluster } from 'ioredis';
import { createRedisClient } from '../src/redis-connect.js';
import { until } from './fixtures/until.js';

/** Event-loop turns a promise gets to settle after `ready` (it settles within one if at all). */
const TURNS = 20;

describe('connect() while the cluster is down', () => {
  let cluster: RedisClusterHandle;
  before(async () => {
    cluster = await startRedisCluster({ masters: 3 });
  });
  after(() => cluster?.stop());

  it("settles on Herald's client once it is ready; a plain ioredis Cluster's never does", async () => {
    const killed = await cluster.killMaster('{down}');
    const live = cluster.nodes.find((n) => n.port !== killed.port)!;
    await until('cluster_state:fail on a live node', async () =>
      /cluster_state:fail/.test(String(await onNode(live.port, (r) => r.cluster('INFO')))),
    );
    const herald = createRedisClient({ cluster: cluster.seeds }, { lazyConnect: true }) as Cluster;
    const plain = new Cluster(
      cluster.seeds.map((s) => ({ host: '127.0.0.1', port: Number(s.split(':').at(-1)) })),
      { lazyConnect: true },
    );
    const settled = new Map<Cluster, boolean>();
    try {
      for (const client of [herald, plain]) {
        client.on('error', () => {});
        client.on('node error', () => {});
        settled.set(client, false);
        client.connect().then(
          () => settled.set(client, true),
          () => settled.set(client, true),
        );
      }
      // Each client's first ready check fails (the cluster is down) and it reconnects on its own.
      await Promise.all([once(herald, 'reconnecting'), once(plain, 'reconnecting')]);
      await cluster.restartNode(killed.port);
      await Promise.all([once(herald, 'ready'), once(plain, 'ready')]);
      for (let i = 0; i < TURNS; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(settled.get(herald), true, "Herald's connect() resolved once the client was ready");
      assert.equal(
        settled.get(plain),
        false,
        "a plain Cluster's connect() never settles (the fault guarded)",
      );
    } finally {
      herald.disconnect();
      plain.disconnect();
    }
  });
});
