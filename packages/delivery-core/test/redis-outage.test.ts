/**
 * Riding out a Redis outage (redis/outage.ts): which errors mean "Redis did not answer now" — the
 * errors ioredis really gives when a redis-server dies under a command, on a connection with and
 * without retries, and a table of the cluster's — and which mean "Redis refused this" (a reply
 * error from a live server); `rideOutage` retrying an operation through a real server's restart,
 * backing off, bounded by its window and by an abort, never retrying a refusal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { Redis } from 'ioredis';
import { isRedisOutage, OUTAGE_FIRST_RETRY_MS, OUTAGE_MAX_RETRY_MS, rideOutage } from '../src/redis/index.js';

/** Errors as ioredis words them, and whether each is an outage (policy as data). */
const CLASSIFIED: [string, Error, boolean][] = [
  ['a closed connection', new Error('Connection is closed.'), true],
  [
    'a cluster that ran out of redirections in a failover',
    new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'),
    true,
  ],
  ['a cluster without a master for the slot', new Error('CLUSTERDOWN The cluster is down'), true],
  ['a demoted master', new Error("READONLY You can't write against a read only replica."), true],
  ['a server replaying its AOF', new Error('LOADING Redis is loading the dataset in memory'), true],
  [
    'a cluster not ready, offline queue off',
    new Error("Cluster isn't ready and enableOfflineQueue options is false"),
    true,
  ],
  [
    'a refused connection',
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    true,
  ],
  [
    'an outage as the cause',
    new Error('enqueue failed', { cause: new Error('Connection is closed.') }),
    true,
  ],
  ['a wrong type', new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), false],
  ['a script error', new Error('ERR Error running script (call to f_1): user_script:1: boom'), false],
  ['BullMQ refusing a move', new Error('Missing lock for job 1.0. moveToDelayed'), false],
  ['the client closed by us', new Error('Cluster is ended.'), false],
];

describe('isRedisOutage', () => {
  for (const [what, err, outage] of CLASSIFIED) {
    it(`${what}: ${outage ? 'an outage' : 'not an outage'}`, () => {
      assert.equal(isRedisOutage(err), outage);
    });
  }
  it('is false for what is not an Error', () => {
    assert.equal(isRedisOutage('Connection is closed.'), false);
    assert.equal(isRedisOutage(undefined), false);
  });
});

describe('isRedisOutage on a real redis-server', () => {
  let redis: RedisHandle;
  before(async () => {
    redis = await startRedis({ appendonly: false });
  });
  after(() => redis?.stop());

  it('a reply error from a live server is not an outage', async () => {
    const client = redis.client();
    await client.set('a-string', 'x');
    const err = await client.hget('a-string', 'field').catch((e: unknown) => e);
    assert.ok(err instanceof Error && err.message.startsWith('WRONGTYPE'), String(err));
    assert.equal(isRedisOutage(err), false);
  });

  it('a command in flight when the server is killed is an outage, with and without retries per request', async () => {
    const failFast = new Redis(redis.url, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    const patient = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    for (const c of [failFast, patient]) c.on('error', () => {});
    try {
      await Promise.all([failFast.connect(), patient.connect()]);
      // Blocked server side, so both are in flight at the kill.
      const inFlight = [failFast, patient].map((c) => c.blpop('never-filled', 0).catch((e: unknown) => e));
      await redis.kill();
      for (const err of await Promise.all(inFlight)) {
        assert.ok(err instanceof Error, `rejected: ${String(err)}`);
        assert.equal(isRedisOutage(err), true, `${err.name}: ${err.message}`);
      }
      // While it is down, a new command on the fail-fast connection is refused at once.
      const refused = await failFast.ping().catch((e: unknown) => e);
      assert.equal(isRedisOutage(refused), true, String(refused));
    } finally {
      failFast.disconnect();
      patient.disconnect();
      await redis.restart();
    }
  });

  it('rideOutage carries an operation through a restart of the server', async () => {
    const client = new Redis(redis.url, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.set('k', 'before');
      await redis.kill();
      let outages = 0;
      let restarted: Promise<void> | undefined;
      const written = rideOutage(() => client.set('k', 'after'), {
        windowMs: 30_000,
        onOutage: () => {
          outages += 1;
          // The server comes back only once the operation has failed on it.
          restarted ??= redis.restart();
        },
      });
      assert.equal(await written, 'OK');
      await restarted;
      assert.ok(outages >= 1, 'the first try failed on the dead server');
      assert.equal(await client.get('k'), 'after');
    } finally {
      client.disconnect();
    }
  });
});

describe('rideOutage', () => {
  const closed = () => new Error('Connection is closed.');
  /** A fake clock that sleeping advances. */
  function clock() {
    let t = 0;
    const slept: number[] = [];
    return {
      now: () => t,
      sleep: async (ms: number) => {
        slept.push(ms);
        t += ms;
      },
      slept,
    };
  }

  it('retries outage errors with a doubling delay up to its cap, then returns the result', async () => {
    const c = clock();
    let tries = 0;
    const result = await rideOutage(
      async () => {
        if (++tries < 7) throw closed();
        return 'done';
      },
      { windowMs: 60_000, now: c.now, sleep: c.sleep },
    );
    assert.equal(result, 'done');
    assert.deepEqual(c.slept, [
      OUTAGE_FIRST_RETRY_MS,
      OUTAGE_FIRST_RETRY_MS * 2,
      OUTAGE_FIRST_RETRY_MS * 4,
      OUTAGE_FIRST_RETRY_MS * 8,
      OUTAGE_MAX_RETRY_MS,
      OUTAGE_MAX_RETRY_MS,
    ]);
  });

  it('throws a refusal at once, without retrying', async () => {
    const c = clock();
    let tries = 0;
    const refusal = new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
    await assert.rejects(
      rideOutage(
        async () => {
          tries++;
          throw refusal;
        },
        { windowMs: 60_000, now: c.now, sleep: c.sleep },
      ),
      refusal,
    );
    assert.equal(tries, 1);
  });

  it('gives up with the last outage error once its window has passed', async () => {
    const c = clock();
    let tries = 0;
    await assert.rejects(
      rideOutage(
        async () => {
          tries++;
          throw closed();
        },
        { windowMs: 5_000, now: c.now, sleep: c.sleep },
      ),
      /Connection is closed/,
    );
    assert.equal(
      c.slept.reduce((a, b) => a + b, 0),
      5_000,
      'slept exactly to the end of the window',
    );
    assert.ok(tries > 1);
  });

  it('stops retrying when aborted', async () => {
    const c = clock();
    const stop = new AbortController();
    let tries = 0;
    await assert.rejects(
      rideOutage(
        async () => {
          if (++tries === 3) stop.abort();
          throw closed();
        },
        { windowMs: 60_000, now: c.now, sleep: c.sleep, signal: stop.signal },
      ),
      /Connection is closed/,
    );
    assert.equal(tries, 3);
  });
});
