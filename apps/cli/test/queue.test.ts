import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHerald, type Herald } from '@herald/delivery-core';
import { Spool } from '@herald/delivery-core/queue';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';
import { npmStartCheckout } from './npm-start-checkout.js';

describe('herald queue stats', () => {
  let redis: RedisHandle;
  let herald: Herald;
  before(async () => {
    redis = await startRedis();
    herald = await createHerald({ redis: { url: redis.url }, events: { log_level: 'silent' } });
  });
  after(async () => {
    await herald.close();
    await redis.stop();
  });

  it('counts ready and scheduled jobs per site with exact totals', async () => {
    // No workers run: the two jobs of this message stay ready, grouped by domain.
    await herald.send({ from: 'a@origin.test', to: ['x@one.test', 'y@two.test'], subject: 's', text: 't' });
    const data = {
      messageId: 'm-scheduled',
      tenant: 't',
      from: '',
      domain: 'hosted.test',
      recipients: [{ address: 'z@hosted.test', state: 'pending' as const }],
      attempts: 1,
      acceptedAt: Date.now() - 90_000,
      size: 10,
      site: 'provider:gmail',
    };
    const spool = new Spool(redis.client(), 'herald');
    await spool.queueFor(data.messageId).add('hosted.test', data, { delay: 3_600_000 });
    await spool.close();

    const json = captureIo({ env: { REDIS_URL: redis.url } });
    assert.equal(await main(['queue', 'stats', '--json'], json.io), 0, json.stderr());
    const stats = JSON.parse(json.stdout());
    assert.deepEqual(stats.totals, { ready: 2, scheduled: 1, inFlight: 0 });
    const bySite = Object.fromEntries(stats.sites.map((s: { site: string }) => [s.site, s]));
    assert.equal(bySite['domain:one.test'].ready, 1);
    assert.equal(bySite['domain:two.test'].ready, 1);
    assert.equal(bySite['provider:gmail'].scheduled, 1);
    assert.ok(bySite['provider:gmail'].oldestAgeMs >= 90_000);
    assert.equal(stats.truncated, false);

    const table = captureIo({ env: { REDIS_URL: redis.url } });
    assert.equal(await main(['queue', 'stats'], table.io), 0);
    assert.match(table.stdout(), /^site +ready +scheduled +in flight +oldest$/m);
    assert.match(table.stdout(), /^provider:gmail +0 +1 +0 +\d+m?s?$/m);
    assert.match(table.stdout(), /^total +2 +1 +0$/m);

    const capped = captureIo({ env: { REDIS_URL: redis.url } });
    assert.equal(await main(['queue', 'stats', '--max-jobs', '1'], capped.io), 0);
    assert.match(capped.stdout(), /per-site split from the first 1 jobs; totals are exact/);
  });

  it('a config with redis.durability: strict: commands that spool nothing read a Redis strict mode refuses', async () => {
    // The test Redis runs AOF everysec without a replica (Redis < 7.2 has no WAITAOF): a relay on
    // this config refuses to start with HERALD_REDIS_NOT_DURABLE. The operator looking into why
    // must still be able to read the queue, a message, a tenant, its suppressions, and lift a
    // site suspension; a command that may spool (a queue bounce's DSN) keeps the check.
    const { messageId } = await herald.send({
      from: 'a@origin.test',
      to: ['s@strict.test'],
      subject: 's',
      text: 't',
    });
    const dir = await mkdtemp(join(tmpdir(), 'herald-strict-cli-'));
    try {
      const file = join(dir, 'herald.yaml');
      await writeFile(file, `redis: { url: "${redis.url}", durability: strict }\n`);
      const reads = [
        ['queue', 'stats'],
        ['queue', 'list', 'domain:strict.test'],
        ['message', 'show', messageId],
        ['tenant', 'status', 'default'],
        ['suppression', 'list', '--tenant', 'default'],
        ['site', 'resume', 'provider:gmail'],
      ];
      for (const args of reads) {
        const run = captureIo({ env: {} });
        assert.equal(
          await main([...args, '--config', file], run.io),
          0,
          `${args.join(' ')}: ${run.stderr()}`,
        );
        assert.doesNotMatch(run.stderr(), /HERALD_REDIS_NOT_DURABLE/);
      }
      const listed = captureIo({ env: {} });
      await main(['queue', 'list', 'domain:strict.test', '--config', file], listed.io);
      assert.match(listed.stdout(), new RegExp(messageId));
      const retry = captureIo({ env: {} });
      assert.equal(await main(['queue', 'retry', '--all', '--config', file], retry.io), 1);
      assert.match(retry.stderr(), /HERALD_REDIS_NOT_DURABLE/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("inside a checkout where npm start ran, every maintenance command reads npm start's Redis and says so", async () => {
    // What scripts/start.mjs writes: the effective config naming the Redis it runs.
    const made = await npmStartCheckout(
      redis.url,
      'routes:\n  - { match: "*", via: "127.0.0.1:2526", tls: none }\n',
    );
    const checkout = made.dir;
    try {
      const cwd = join(checkout, 'apps', 'cli');
      await mkdir(cwd, { recursive: true });
      const expected = captureIo({ env: { REDIS_URL: redis.url } });
      assert.equal(await main(['queue', 'stats', '--json'], expected.io), 0, expected.stderr());
      assert.match(expected.stderr(), new RegExp(`^redis: ${redis.url} \\(REDIS_URL\\)\n$`));

      const said = new RegExp(
        `^redis: ${redis.url} \\(\\.\\./\\.\\./\\.herald/herald\\.yaml, this checkout's npm start config`,
        'm',
      );
      const stats = captureIo({ env: {}, cwd, checkout });
      assert.equal(await main(['queue', 'stats', '--json'], stats.io), 0, stats.stderr());
      assert.deepEqual(
        JSON.parse(stats.stdout()).totals,
        JSON.parse(expected.stdout()).totals,
        'the same Redis',
      );
      assert.match(stats.stderr(), said);
      for (const argv of [
        ['site', 'resume', 'route:127.0.0.1:2526'],
        ['tenant', 'status', 'acme'],
        ['suppression', 'list', '--tenant', 'acme'],
        ['shaping', 'explain', 'example.com'],
      ]) {
        const out = captureIo({ env: {}, cwd, checkout });
        assert.equal(await main(argv, out.io), 0, `${argv.join(' ')}: ${out.stderr()}`);
        assert.match(out.stderr(), said, argv.join(' '));
      }
    } finally {
      await made.remove();
    }
  });
});
