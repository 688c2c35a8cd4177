/**
 * A cluster pipeline settles when its slot's master is gone (redis/pipeline-routing.ts), on a real
 * 3-master cluster: the master of the pipeline's slot is killed (and out of the client's pool) and
 * another master is frozen behind a connection the client is re-opening (still connecting). A
 * plain ioredis Cluster then sends each command of a pipeline to a random master, refuses those
 * whose master is still connecting and holds the rest unwritten: some pipelines never settle.
 * Herald's client sends all of them to one master: every pipeline settles (with the errors the
 * cluster gives). The plain case shows the fault the guard exists for; when an ioredis upgrade
 * fixes it, that case fails and the guard can go. Also: `pipelineNode`'s choice, on fakes.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type ClusterNode, type RedisClusterHandle, startRedisCluster } from '@herald/test-harness';
import { Cluster, type Redis } from 'ioredis';
import { canGuardPipelineRouting, pipelineNode } from '../src/redis/index.js';
import { createRedisClient } from '../src/redis-connect.js';
import { until } from './fixtures/until.js';

/** Pipelines sent at once in each case: a plain client leaves some unsettled almost surely. */
const PIPELINES = 40;
/** A pipeline not settled this long after the others (milliseconds each) is taken as hung. */
const HUNG_AFTER_MS = 8_000;
/** Keys in one slot (hash tag), so each pipeline has one slot. */
const TAG = '{pipe}';

const portOf = (node: Redis) => Number(node.options.port);

/** A key served by each master, by port (asked before any node is frozen). */
async function keysByMaster(cluster: RedisClusterHandle): Promise<Map<number, string>> {
  const keys = new Map<number, string>();
  for (let i = 0; keys.size < cluster.nodes.length; i++) {
    const owner = await cluster.masterOf(`k${i}`);
    if (!keys.has(owner.port)) keys.set(owner.port, `k${i}`);
  }
  return keys;
}

/**
 * On `client`: another master frozen behind a connection the client re-opens (left connecting),
 * then the master of TAG killed and out of the pool; PIPELINES pipelines on TAG sent at once; how
 * many have not settled: with `all`, waits (bounded) until every one has; without, counts those
 * still pending HUNG_AFTER_MS after the first settled (a hung one never does).
 */
async function hungPipelines(cluster: RedisClusterHandle, client: Cluster, all: boolean): Promise<number> {
  client.on('error', () => {});
  client.on('node error', () => {});
  const owner = await cluster.masterOf(`${TAG}a`);
  const keys = await keysByMaster(cluster);
  await client.connect();
  for (const key of keys.values()) await client.get(key);
  const node = (port: number) => client.nodes('all').find((n) => portOf(n) === port);
  const frozen: ClusterNode = cluster.nodes.find((n) => n.port !== owner.port)!;
  const killed: ClusterNode = cluster.nodes.find((n) => n.port === owner.port)!;
  process.kill(frozen.pid, 'SIGSTOP');
  try {
    // Gone from the pool: a client with a periodic slot refresh (Herald's) may already hold a new one.
    const frozenBefore = node(frozen.port)!;
    frozenBefore.disconnect();
    await until('the frozen master connection out of the pool', () => node(frozen.port) !== frozenBefore);
    await new Promise((resolve) => client.refreshSlotsCache(resolve));
    void client.get(keys.get(frozen.port)!).catch(() => {});
    await until('a connection to the frozen master, connecting', () =>
      ['connect', 'connecting'].includes(node(frozen.port)?.status ?? ''),
    );
    const killedBefore = node(killed.port);
    process.kill(killed.pid, 'SIGKILL');
    await until('the killed master connection out of the pool', () => node(killed.port) !== killedBefore);
    let settled = 0;
    for (let i = 0; i < PIPELINES; i++)
      client
        .pipeline()
        .set(`${TAG}a`, String(i))
        .get(`${TAG}a`)
        .incr(`${TAG}b`)
        .exec()
        .then(
          () => settled++,
          () => settled++,
        );
    if (all) await until('every pipeline to settle', () => settled === PIPELINES);
    else {
      await until('a pipeline to settle', () => settled > 0);
      await delay(HUNG_AFTER_MS);
    }
    return PIPELINES - settled;
  } finally {
    process.kill(frozen.pid, 'SIGCONT');
    client.disconnect();
  }
}

describe('a cluster pipeline whose master is gone', () => {
  let cluster: RedisClusterHandle;
  beforeEach(async () => {
    cluster = await startRedisCluster({ masters: 3 });
  });
  afterEach(() => cluster?.stop());

  it("Herald's cluster client: every pipeline settles", async () => {
    const client = createRedisClient(
      { cluster: cluster.seeds },
      { enableOfflineQueue: false, maxRetriesPerRequest: 0 },
    ) as Cluster;
    assert.ok(canGuardPipelineRouting(client), 'the installed ioredis has what the guard relies on');
    assert.equal(await hungPipelines(cluster, client, true), 0);
  });

  it('a plain ioredis Cluster leaves some unsettled for good (the fault the guard exists for)', async () => {
    const client = new Cluster(
      cluster.seeds.map((s) => ({ host: '127.0.0.1', port: Number(s.split(':').at(-1)) })),
      { lazyConnect: true, enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 0 } },
    );
    assert.ok(
      (await hungPipelines(cluster, client, false)) > 0,
      `some of ${PIPELINES} pipelines never settle`,
    );
  });
});

describe('pipelineNode', () => {
  const node = (port: number, status: string) => ({ options: { port }, status }) as unknown as Redis;
  const internals = (slots: string[][], pool: Record<string, Redis>, masters: Redis[]) => ({
    status: 'ready',
    slots,
    connectionPool: { getInstanceByKey: (key: string) => pool[key] },
    nodes: () => masters,
    sendCommand: () => undefined,
  });

  it("is the slot's master when the pool has it", () => {
    const a = node(1, 'ready');
    const b = node(2, 'ready');
    assert.equal(pipelineNode(internals([['h:1']], { 'h:1': a, 'h:2': b }, [b, a]), 0), a);
  });

  it('else a connected master, else any master, else none', () => {
    const connecting = node(2, 'connect');
    const ready = node(3, 'ready');
    assert.equal(pipelineNode(internals([['h:1']], {}, [connecting, ready]), 0), ready);
    assert.equal(pipelineNode(internals([['h:1']], {}, [connecting]), 0), connecting);
    assert.equal(pipelineNode(internals([], {}, []), 5), undefined);
  });
});
