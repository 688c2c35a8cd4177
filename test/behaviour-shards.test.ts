/**
 * End to end: the domain_spread rule on a queue of 2 shards (`queue.shards: 2`), where an account's
 * messages land in both shards and each shard counts the recipient domains of its own messages
 * (a HyperLogLog per shard). The same 4 domains written to through both shards are 4 domains, not
 * 8: the account is not flagged under `max_domains: 5`; two more domains make 6 and flag it. Runs
 * on one redis-server, and on a Redis Cluster with HERALD_TEST_REDIS=cluster (scripts/test.mjs
 * runs it there too): the shards' HyperLogLogs are merged within one slot.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { masters } from '@herald/delivery-core';
import { shardOf } from '@herald/delivery-core/queue';
import { sampleMessage } from './lib/message.js';
import { mxZone, type Stack, startStack } from './lib/stack.js';

const SENDER = 'app@origin.test';
const PASS = 'secret-password';
const SHARDS = 2;
const MAX_DOMAINS = 5;
/** N domains with N ≤ max_domains < 2N: counted once per shard they would trip the rule. */
const DOMAINS = ['s1.test', 's2.test', 's3.test', 's4.test'];
const MORE_DOMAINS = ['s5.test', 's6.test'];
/** Messages sent at most before both shards must have taken one (new ids go round robin). */
const MAX_SENDS = 6;

describe('domain_spread on a queue of 2 shards', () => {
  let stack: Stack;
  before(async () => {
    const zone = Object.assign(
      {},
      ...[...DOMAINS, ...MORE_DOMAINS].map((d) => mxZone(d, [{ preference: 10, address: '127.0.0.2' }])),
    );
    stack = await startStack({
      zone,
      sinks: [{ host: '127.0.0.2' }],
      config: {
        queue: { shards: SHARDS },
        smtp: { users: [{ username: 'splitter', password: PASS, tenant: 'acme' }] },
        tenants: { acme: { dsn: false } },
        behaviour: {
          evaluate_interval: '1s',
          accounts: { splitter: { domain_spread: { window: '10m', max_domains: MAX_DOMAINS } } },
        },
      },
    });
  });
  after(async () => {
    await stack?.stop();
  });

  const send = (to: string[]) =>
    stack.submit({
      from: SENDER,
      to,
      body: sampleMessage({ subject: 'spread' }),
      auth: { user: 'splitter', pass: PASS },
    });

  it('the same domains through both shards count once: not flagged; two more domains flag it', async () => {
    const herald = stack.relay.herald;
    const behaviour = herald.behaviour!;
    const shardsTaken = new Set<number>();
    for (let i = 0; i < MAX_SENDS && shardsTaken.size < SHARDS; i++) {
      const sent = await send(DOMAINS.map((d) => `user${i}@${d}`));
      assert.equal(sent.code, 250, sent.response);
      shardsTaken.add(shardOf(sent.queueId!, herald.shards.layout));
    }
    assert.deepEqual([...shardsTaken].sort(), [0, 1], 'the messages landed in both shards');

    const status = await behaviour.status('splitter');
    assert.equal(status.figures.domains, DOMAINS.length, 'each domain counted once over the shards');
    assert.equal(await behaviour.evaluate('splitter', 'acme'), undefined, 'not flagged');
    assert.deepEqual(await behaviour.flagged(), [], 'no relay pass flagged it either');

    const more = await send(MORE_DOMAINS.map((d) => `late@${d}`));
    assert.equal(more.code, 250, more.response);
    const flag = await behaviour.evaluate('splitter', 'acme');
    assert.equal(flag?.rule, 'domain_spread');
    assert.equal(flag?.figures.domains, DOMAINS.length + MORE_DOMAINS.length);

    // The scratch keys of the counts are gone (deleted in the MULTI that used them).
    const prefix = herald.config.redis.prefix;
    for (const node of masters(stack.redisClient))
      assert.deepEqual(await node.keys(`${prefix}:*bh-tmp*`), [], 'no scratch key left');
  });
});
