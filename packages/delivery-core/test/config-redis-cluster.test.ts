/**
 * `redis.cluster`: seed nodes of a Redis Cluster, exclusive with `redis.url` (and with REDIS_URL),
 * errors naming the exact key path and never a password; the target and seeds the connection
 * factory builds from it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_CLUSTER_SEEDS } from '../src/config/schema-redis.js';
import { ConfigError, clusterSeeds, describeRedisTarget, parseConfig, redisTarget } from '../src/index.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

describe('redis.cluster', () => {
  test('seed nodes give a cluster target and no url', () => {
    const config = parseConfig({ redis: { cluster: ['127.0.0.1:7001', '127.0.0.1:7002'], prefix: 'h' } });
    assert.deepEqual(config.redis.cluster, ['127.0.0.1:7001', '127.0.0.1:7002']);
    assert.equal(config.redis.url, undefined);
    assert.deepEqual(redisTarget(config.redis), { cluster: ['127.0.0.1:7001', '127.0.0.1:7002'] });
    assert.equal(config.redis.prefix, 'h');
  });

  test('without either, the url is the local default (single server, as before)', () => {
    assert.deepEqual(redisTarget(parseConfig({}).redis), { url: 'redis://127.0.0.1:6379' });
  });

  test('url and cluster together are refused at redis.cluster, without echoing the password', () => {
    const err = configError(() =>
      parseConfig({ redis: { url: 'redis://:s3cretpw@127.0.0.1:6379', cluster: ['127.0.0.1:7001'] } }),
    );
    assert.match(err.message, /redis\.cluster: redis\.cluster and redis\.url are exclusive/);
    assert.doesNotMatch(err.message, /s3cretpw/);
  });

  test('REDIS_URL with a cluster config is refused at redis.cluster, naming REDIS_URL', () => {
    const err = configError(() =>
      parseConfig(
        { redis: { cluster: ['127.0.0.1:7001'] } },
        { env: { REDIS_URL: 'redis://127.0.0.1:6390' } },
      ),
    );
    assert.match(err.message, /redis\.cluster: .*exclusive.*\(redis\.url from REDIS_URL\)/);
  });

  test('a bad seed is named by its index; an empty list is refused', () => {
    const bad = configError(() => parseConfig({ redis: { cluster: ['127.0.0.1:7001', 'http://x:1'] } }));
    assert.match(bad.message, /redis\.cluster\[1\]: expected a seed node as host:port/);
    const withPassword = configError(() =>
      parseConfig({
        redis: { cluster: ['redis://:hiddenpassword@127.0.0.1:7001', 'redis://:hiddenpassword@:x'] },
      }),
    );
    assert.match(withPassword.message, /redis\.cluster\[1\]: expected a seed node/);
    assert.doesNotMatch(withPassword.message, /hiddenpassword/);
    // A password too short for the message-wide scrubber is masked by where it stands: a seed URL.
    const shortPasswords = configError(() =>
      parseConfig({ redis: { cluster: ['redis://:ddPW4@127.0.0.1:99999', 'http://u:eePW5@x:1'] } }),
    );
    assert.match(
      shortPasswords.message,
      /redis\.cluster\[0\]: expected a seed node.*redis:\/\/:\*\*\*@127\.0\.0\.1:99999/,
    );
    assert.doesNotMatch(shortPasswords.message, /ddPW4|eePW5/);
    const empty = configError(() => parseConfig({ redis: { cluster: [] } }));
    assert.match(empty.message, /redis\.cluster: expected at least one seed node/);
  });

  test('seed URLs with different passwords are refused, and no password is echoed', () => {
    const err = configError(() =>
      parseConfig({
        redis: {
          cluster: ['redis://:firstpassword@127.0.0.1:7001', 'redis://:otherpassword@127.0.0.1:7002'],
        },
      }),
    );
    assert.match(
      err.message,
      /redis\.cluster\[1\]: every seed URL must use the same scheme, user and password/,
    );
    assert.doesNotMatch(err.message, /firstpassword|otherpassword/);
  });

  test("a seed URL's password, user and TLS apply to every node; descriptions mask the password", () => {
    const seeds = ['rediss://herald:pa%40ss@10.0.0.1:7001', '10.0.0.2:7002', '[::1]'];
    assert.deepEqual(clusterSeeds(seeds), {
      nodes: [
        { host: '10.0.0.1', port: 7001 },
        { host: '10.0.0.2', port: 7002 },
        { host: '::1', port: 6379 },
      ],
      access: { username: 'herald', password: 'pa@ss', tls: {} },
    });
    const shown = describeRedisTarget({ cluster: seeds });
    assert.match(shown, /^cluster rediss:\/\/herald:\*\*\*@10\.0\.0\.1:7001, 10\.0\.0\.2:7002/);
    assert.doesNotMatch(shown, /pa%40ss|pa@ss/);
  });
});

describe('redis.cluster seeds: what a cluster would ignore or cannot use is refused', () => {
  test('port 0, a database, ?options and more than MAX_CLUSTER_SEEDS seeds', () => {
    const port0 = configError(() => parseConfig({ redis: { cluster: ['redis://u:pw@127.0.0.1:0'] } }));
    assert.match(port0.message, /redis\.cluster\[0\]: expected a port between 1 and 65535, got 0/);
    const plainPort0 = configError(() => parseConfig({ redis: { cluster: ['127.0.0.1:0'] } }));
    assert.match(plainPort0.message, /redis\.cluster\[0\]: expected a seed node/);
    const db = configError(() => parseConfig({ redis: { cluster: ['redis://127.0.0.1:7001/5'] } }));
    assert.match(db.message, /redis\.cluster\[0\]: a Redis Cluster has only database 0/);
    const options = configError(() =>
      parseConfig({ redis: { cluster: ['127.0.0.1:7001', 'redis://127.0.0.1:7002?tls=1'] } }),
    );
    assert.match(options.message, /redis\.cluster\[1\]: a seed URL takes no \?options/);
    const many = Array.from({ length: MAX_CLUSTER_SEEDS + 1 }, (_, i) => `127.0.0.1:${10_000 + i}`);
    const tooMany = configError(() => parseConfig({ redis: { cluster: many } }));
    assert.match(tooMany.message, /redis\.cluster: expected at most 64 seed nodes/);
    assert.ok(tooMany.message.length < 500, 'the error does not list every seed');
  });
});

describe('redis.url database', () => {
  test('a /<db> that is not a database number is refused at redis.url, password masked', () => {
    // Attack finding: `/abc` passed config check, then the relay died on `SELECT NaN` with a stack.
    for (const db of ['abc', '1.5', '-1', '%31', '01', '1/2']) {
      const err = configError(() =>
        parseConfig({ redis: { url: `redis://:s3cretpw@127.0.0.1:6379/${db}` } }),
      );
      assert.match(err.message, /redis\.url: expected a database number after the port/, db);
      assert.doesNotMatch(err.message, /s3cretpw/);
    }
    for (const db of ['', '/', '/0', '/15']) {
      assert.equal(
        parseConfig({ redis: { url: `redis://127.0.0.1:6379${db}` } }).redis.url,
        `redis://127.0.0.1:6379${db}`,
      );
    }
  });
});

describe('durations that run as timers', () => {
  test('a timeout over 24.8 days (a Node timer would fire at once) is refused at its key', () => {
    const err = configError(() => parseConfig({ delivery: { connect_timeout: '30d' } }));
    assert.match(err.message, /delivery\.connect_timeout: expected a duration of at most 24d/);
    const smtp = configError(() => parseConfig({ smtp: { redis_timeout: '25d' } }));
    assert.match(smtp.message, /smtp\.redis_timeout: expected a duration of at most 24d/);
    assert.equal(
      parseConfig({ delivery: { connect_timeout: '24d' } }).delivery.connect_timeout,
      24 * 86_400_000,
    );
    // A duration stored, not timed, may be longer (a suspension, a VERP token's age).
    const stored = parseConfig({ api: { listen: '127.0.0.1:0', idempotency_ttl: '90d' } });
    assert.equal(stored.api?.idempotency_ttl, 90 * 86_400_000);
  });

  test('a stored duration over 36500d (its end past what a Date holds) is refused at its key', () => {
    // Regression: retry.schedule ["99999999999999999999d"] and max_queue_lifetime 999999999d were
    // accepted; a deferred message's next attempt was then no Date, and `herald message show`
    // failed on it with "Invalid time value".
    const err = configError(() =>
      parseConfig({ retry: { schedule: ['99999999999999999999d'], max_queue_lifetime: '999999999d' } }),
    );
    assert.match(err.message, /retry\.schedule\[0\]: expected a duration of at most 36500d/);
    assert.match(err.message, /retry\.max_queue_lifetime: expected a duration of at most 36500d/);
    assert.equal(
      parseConfig({ retry: { max_queue_lifetime: '36500d' } }).retry.max_queue_lifetime,
      36500 * 86_400_000,
    );
  });
});
