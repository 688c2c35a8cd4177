import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readEvents, type SiteEvent } from '@herald/delivery-core';
import { queueKeys, siteStateKey } from '@herald/delivery-core/keys';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

describe('herald site suspend|resume', () => {
  let redis: RedisHandle;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis.stop());

  it('suspends a site for the given time on the shared Redis, with an event, and resumes it', async () => {
    const env = { REDIS_URL: redis.url };
    const client = redis.client();
    const suspend = captureIo({ env });
    assert.equal(
      await main(['site', 'suspend', 'provider:gmail', '--for', '10m'], suspend.io),
      0,
      suspend.stderr(),
    );
    assert.match(suspend.stdout(), /^provider:gmail: suspended until \d{4}-/);
    const ttl = await client.pttl(siteStateKey('herald', 'provider:gmail', 'suspended'));
    assert.ok(ttl > 9 * 60_000 && ttl <= 10 * 60_000, `the suspension lifts by itself (pttl ${ttl})`);

    const resume = captureIo({ env });
    assert.equal(await main(['site', 'resume', 'provider:gmail'], resume.io), 0, resume.stderr());
    assert.equal(resume.stdout(), 'provider:gmail: resumed\n');
    assert.equal(await client.exists(siteStateKey('herald', 'provider:gmail', 'suspended')), 0);

    const events = (await readEvents(client, queueKeys('herald').events)).filter(
      (e): e is SiteEvent => 'site' in e,
    );
    assert.deepEqual(
      events.map((e) => [e.type, e.site, e.reason]),
      [
        ['site_suspended', 'provider:gmail', 'operator'],
        ['site_resumed', 'provider:gmail', 'operator'],
      ],
    );
  });

  it('refuses a bad duration and a missing site as usage errors', async () => {
    const env = { REDIS_URL: redis.url };
    assert.equal(
      await main(['site', 'suspend', 'provider:gmail', '--for', 'soon'], captureIo({ env }).io),
      2,
    );
    assert.equal(await main(['site', 'resume'], captureIo({ env }).io), 2);
  });
});
