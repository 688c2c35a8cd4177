/**
 * A cluster client's periodic slot refresh stops when the client is closed (redis/slots-refresh.ts),
 * on a real 3-master cluster: every node is frozen (SIGSTOP) so that a refresh is in flight, the
 * client is disconnected, the nodes thawed; once that refresh has ended, no timer is armed. The
 * same steps on a plain ioredis Cluster show the leak the guard exists for (a timer re-armed for
 * good): when an ioredis upgrade fixes it, that case fails and the guard can go.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisClusterHandle, startRedisCluster } from '@herald/test-harness';
import { Cluster } from 'ioredis';
import { canGuardSlotsRefresh } from '../src/redis/index.js';
import { createRedisClient } from '../src/redis-connect.js';
import { until } from './fixtures/until.js';

const REFRESH_MS = 200;

/** The ioredis internals the test looks at. */
interface Internals {
  isRefreshing: boolean;
  slotsTimer: NodeJS.Timeout | null;
}

describe('cluster slot refresh after close', () => {
  let cluster: RedisClusterHandle;
  before(async () => {
    cluster = await startRedisCluster({ masters: 3 });
  });
  after(() => cluster?.stop());

  /** Connects `client`, closes it while a refresh waits on frozen nodes; the timer armed after. */
  async function closeMidRefresh(client: Cluster): Promise<NodeJS.Timeout | null> {
    client.on('error', () => {});
    client.on('node error', () => {});
    await client.connect();
    const internals = client as unknown as Internals;
    assert.ok(internals.slotsTimer, 'a ready client has its refresh timer armed');
    const pids = cluster.nodes.map((n) => n.pid);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      await until('a refresh in flight', () => internals.isRefreshing);
      client.disconnect();
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    await until('the refresh in flight to end', () => !internals.isRefreshing);
    const armed = internals.slotsTimer;
    if (armed) clearTimeout(armed);
    return armed;
  }

  it("Herald's cluster client (and its duplicates) arm no timer once closed", async () => {
    const client = createRedisClient({ cluster: cluster.seeds }, { lazyConnect: true }) as Cluster;
    assert.ok(canGuardSlotsRefresh(client), 'the installed ioredis has what the guard replaces');
    // Herald's clients refresh every CLUSTER_SLOTS_REFRESH_MS; faster here, same code.
    client.options.slotsRefreshInterval = REFRESH_MS;
    const duplicate = client.duplicate();
    assert.notEqual(
      (duplicate as unknown as { resetNodesRefreshInterval: unknown }).resetNodesRefreshInterval,
      (Cluster.prototype as unknown as { resetNodesRefreshInterval: unknown }).resetNodesRefreshInterval,
      'a duplicate (BullMQ blocking connection) is guarded too',
    );
    duplicate.disconnect();
    assert.equal(await closeMidRefresh(client), null);
  });

  it('a plain ioredis Cluster re-arms it (the leak the guard exists for)', async () => {
    const client = new Cluster(
      cluster.seeds.map((s) => ({ host: '127.0.0.1', port: Number(s.split(':').at(-1)) })),
      { lazyConnect: true, slotsRefreshInterval: REFRESH_MS },
    );
    assert.notEqual(await closeMidRefresh(client), null);
  });
});
