/**
 * Strict durability's plan per server, as a table: what Redis says about itself (version, AOF,
 * appendfsync, replicas) → the plan (`fsync-always`, `waitaof`, `wait-replica`) or a refusal that
 * says how to fix it. The WAITAOF row can only be tested here (the Redis in CI is 7.0).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  hasWaitaof,
  inOneStretch,
  parseServerFacts,
  planDurability,
  type ServerFacts,
  sharedRounds,
} from '@herald/delivery-core/queue';

const facts = (over: Partial<ServerFacts>): ServerFacts => ({
  version: '7.0.15',
  aofEnabled: true,
  appendfsync: 'everysec',
  connectedReplicas: 0,
  clusterEnabled: false,
  ...over,
});

const CASES: { name: string; facts: ServerFacts; plan: string }[] = [
  { name: 'appendfsync always', facts: facts({ appendfsync: 'always' }), plan: 'fsync-always' },
  {
    name: 'appendfsync always wins over WAITAOF and replicas (no extra command)',
    facts: facts({ version: '7.2.4', appendfsync: 'always', connectedReplicas: 2 }),
    plan: 'fsync-always',
  },
  { name: '7.2 with AOF everysec', facts: facts({ version: '7.2.0' }), plan: 'waitaof' },
  { name: '8.0 with AOF no-fsync', facts: facts({ version: '8.0.1', appendfsync: 'no' }), plan: 'waitaof' },
  {
    name: '7.2 with AOF and replicas: the local fsync, not the replica',
    facts: facts({ version: '7.4.1', connectedReplicas: 1 }),
    plan: 'waitaof',
  },
  {
    name: '7.2 with AOF and CONFIG refused (WAITAOF needs no CONFIG)',
    facts: facts({ version: '7.2.5', appendfsync: null }),
    plan: 'waitaof',
  },
  { name: '7.0 with a replica', facts: facts({ connectedReplicas: 1 }), plan: 'wait-replica' },
  {
    name: 'without AOF, a replica does not count (a master restarted empty wipes it when it resyncs)',
    facts: facts({ aofEnabled: false, connectedReplicas: 1 }),
    plan: 'refuse:AOF is off (appendonly no): its 1 replica(s) do not protect',
  },
  {
    name: '7.2 without AOF, with a replica: refused too',
    facts: facts({ version: '7.2.4', aofEnabled: false, connectedReplicas: 2 }),
    plan: 'refuse:replicas resync from it',
  },
  {
    name: 'a cluster master without AOF, with a replica: refused (a restart before the failover wipes it)',
    facts: facts({ clusterEnabled: true, aofEnabled: false, connectedReplicas: 1 }),
    plan: 'refuse:AOF is off',
  },
  {
    name: 'always configured but AOF off is not on disk',
    facts: facts({ aofEnabled: false, appendfsync: 'always' }),
    plan: 'refuse:AOF is off',
  },
  { name: '7.0 everysec alone', facts: facts({}), plan: 'refuse:appendfsync is everysec' },
  {
    name: '6.2 no-fsync alone',
    facts: facts({ version: '6.2.14', appendfsync: 'no' }),
    plan: 'refuse:appendfsync is no',
  },
  {
    name: '7.0 with CONFIG refused, alone',
    facts: facts({ appendfsync: null }),
    plan: 'refuse:CONFIG GET appendfsync is refused',
  },
  {
    name: 'a cluster master with a replica waits for it even with appendfsync always (a failover promotes the replica)',
    facts: facts({ clusterEnabled: true, appendfsync: 'always', connectedReplicas: 1 }),
    plan: 'wait-replica',
  },
  {
    name: 'a 7.2 cluster master with a replica: the replica, not WAITAOF 1 0',
    facts: facts({ clusterEnabled: true, version: '7.2.4', connectedReplicas: 1 }),
    plan: 'wait-replica',
  },
  {
    name: 'a cluster master without a replica and appendfsync always: its own fsync',
    facts: facts({ clusterEnabled: true, appendfsync: 'always' }),
    plan: 'fsync-always',
  },
  {
    name: 'a 7.2 cluster master without a replica, AOF on: WAITAOF',
    facts: facts({ clusterEnabled: true, version: '7.2.4' }),
    plan: 'waitaof',
  },
  {
    name: 'a 7.0 cluster master alone with everysec',
    facts: facts({ clusterEnabled: true }),
    plan: 'refuse:appendfsync is everysec',
  },
];

describe('strict durability: the plan for a server', () => {
  for (const c of CASES) {
    it(`${c.name} → ${c.plan}`, () => {
      const plan = planDurability(c.facts);
      if (c.plan.startsWith('refuse:')) {
        assert.equal(plan.ok, false);
        if (plan.ok) return;
        assert.ok(plan.reason.includes(c.plan.slice('refuse:'.length)), plan.reason);
        assert.match(plan.fix, /CONFIG SET appendfsync always/);
        assert.match(plan.fix, /replica/);
        assert.match(plan.fix, /7\.2/);
        if (c.facts.clusterEnabled) assert.match(plan.fix, /redis-cli --cluster add-node .* --cluster-slave/);
      } else {
        assert.equal(plan.ok, true);
        if (plan.ok) assert.equal(plan.mode, c.plan);
      }
    });
  }

  it('a refusal asks to turn AOF on only where it is off', () => {
    const on = planDurability(facts({}));
    const off = planDurability(facts({ aofEnabled: false }));
    assert.ok(
      !on.ok && !on.fix.includes('appendonly yes') && on.fix.includes('CONFIG SET appendfsync always'),
    );
    assert.ok(!off.ok && off.fix.includes('CONFIG SET appendonly yes'));
  });

  it('a refusal on 7.0 says it has no WAITAOF; on 7.2 it does not', () => {
    const old = planDurability(facts({ aofEnabled: false }));
    const recent = planDurability(facts({ version: '7.2.0', aofEnabled: false }));
    assert.ok(!old.ok && old.reason.includes('has no WAITAOF'));
    assert.ok(!recent.ok && !recent.reason.includes('WAITAOF'));
  });

  it('reads versions the way Redis writes them', () => {
    assert.deepEqual(['7.2.0', '7.10.1', '8.0.0', '7.1.242', '7.0.15', '6.2.14', 'garbage'].map(hasWaitaof), [
      true,
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
  });

  it('parses INFO text and the CONFIG answer into facts', () => {
    const info = [
      '# Server',
      'redis_version:7.0.15',
      'redis_mode:standalone',
      '# Replication',
      'role:master',
      'connected_slaves:1',
      'slave0:ip=127.0.0.1,port=40001,state=online,offset=42,lag=0',
      '# Persistence',
      'aof_enabled:1',
      'aof_rewrite_in_progress:0',
      '# Cluster',
      'cluster_enabled:1',
    ].join('\r\n');
    assert.deepEqual(parseServerFacts(info, 'always'), {
      version: '7.0.15',
      aofEnabled: true,
      appendfsync: 'always',
      connectedReplicas: 1,
      clusterEnabled: true,
    });
    assert.deepEqual(parseServerFacts('', null), {
      version: '0.0.0',
      aofEnabled: false,
      appendfsync: null,
      connectedReplicas: 0,
      clusterEnabled: false,
    });
  });
});

describe('strict durability: group commit of barrier rounds', () => {
  /** A round the test ends by hand; counts how many were started. */
  function manualRounds() {
    const pending: { resolve(): void; reject(err: Error): void }[] = [];
    const round = () =>
      new Promise<void>((resolve, reject) => {
        pending.push({ resolve, reject });
      });
    return { pending, run: sharedRounds(round) };
  }

  it('callers arriving while a round is out share one next round', async () => {
    const { pending, run } = manualRounds();
    const first = run();
    const later = [run(), run(), run(), run()];
    assert.equal(pending.length, 1, 'one round out');
    pending[0]!.resolve();
    await first;
    await Promise.resolve();
    assert.equal(pending.length, 2, 'the four later callers started exactly one more round');
    pending[1]!.resolve();
    await Promise.all(later);
    const again = run();
    assert.equal(pending.length, 3, 'idle again: a new caller starts a round at once');
    pending[2]!.resolve();
    await again;
  });

  it("a failed round fails only its own callers; the next round's callers get the next outcome", async () => {
    const { pending, run } = manualRounds();
    const first = run();
    const second = run();
    pending[0]!.reject(new Error('no replica acknowledged'));
    await assert.rejects(first, /no replica acknowledged/);
    await Promise.resolve();
    pending[1]!.resolve();
    await second;
  });

  it('calls in one synchronous stretch share one round (the spool calls once per shard); a later turn gets its own', async () => {
    const { pending, run } = manualRounds();
    const perShard = inOneStretch(run);
    const shards = [perShard(), perShard(), perShard()];
    assert.equal(pending.length, 1, 'three shards of one turn: one round, not one running and one queued');
    assert.ok(shards.every((p) => p === shards[0]));
    await Promise.resolve();
    const nextTurn = perShard();
    assert.notEqual(nextTurn, shards[0]);
    pending[0]!.resolve();
    await Promise.all(shards);
    await Promise.resolve();
    assert.equal(pending.length, 2, 'the next turn waited for the round out, then started its own');
    pending[1]!.resolve();
    await nextTurn;
  });
});
