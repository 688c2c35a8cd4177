import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readEvents, type SiteEvent } from '@herald/delivery-core';
import { queueKeys, siteStateKey } from '@herald/delivery-core/keys';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

describe('herald site suspend|resume', () => {
  let redis: RedisHandle;
  let dir: string;
  /** A config with two static routes (their sites are route:smarthost.test:2525, route:[::1]:25). */
  let routed: string;
  before(async () => {
    redis = await startRedis();
    dir = await mkdtemp(join(tmpdir(), 'herald-site-'));
    routed = join(dir, 'herald.yaml');
    await writeFile(
      routed,
      `redis: { url: "${redis.url}" }\nroutes:\n  - { match: "a.test", via: "smarthost.test:2525" }\n  - { match: "b.test", via: "[::1]" }\n`,
    );
  });
  after(async () => {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  });

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

  it('refuses to suspend a site delivery never names, with the form meant; resume says nothing to resume', async () => {
    const env = { REDIS_URL: redis.url };
    const client = redis.client();
    const refused: [string, RegExp][] = [
      [
        'provider:gmial',
        /^herald: HERALD_INPUT_INVALID: unknown site "provider:gmial" \(known providers: gmail, microsoft, .*; did you mean provider:gmail\?\)$/m,
      ],
      [
        'gmail',
        /^herald: HERALD_INPUT_INVALID: unknown site "gmail" \(a site is provider:<name>, mx:<MX hosts> or route:<host>:<port>/m,
      ],
      ['mx:MX2.example.net,mx1.example.net', /did you mean mx:mx1\.example\.net,mx2\.example\.net\?\)$/m],
      ['mx:mx1.example.net,,x', /"" is not a host name/],
      ['route:smarthost.test:99999', /not route:<host>:<port>/],
      ['route:smarthost.test', /not route:<host>:<port>/],
      [
        'route:smarthost.test:2526',
        /no route produces it; routes: route:smarthost\.test:2525, route:\[::1\]:25\)$/m,
      ],
      ['route:other.test:25', /no route produces it/],
    ];
    for (const [site, expected] of refused) {
      const out = captureIo({ env });
      assert.equal(await main(['site', 'suspend', site, '--config', routed], out.io), 1, site);
      assert.match(out.stderr(), expected, site);
      assert.equal(out.stdout(), '', site);
    }
    for (const site of [
      'mx:mx1.example.net,mx2.example.net',
      'route:smarthost.test:2525',
      'route:[::1]:25',
    ]) {
      const out = captureIo({ env });
      assert.equal(
        await main(['site', 'suspend', site, '--for', '1m', '--config', routed], out.io),
        0,
        `${site}: ${out.stderr()}`,
      );
      assert.equal(await client.exists(siteStateKey('herald', site, 'suspended')), 1, site);
    }
    assert.equal(await client.exists(siteStateKey('herald', 'provider:gmial', 'suspended')), 0);

    const resume = captureIo({ env });
    assert.equal(await main(['site', 'resume', 'provider:gmial'], resume.io), 0, resume.stderr());
    assert.match(
      resume.stdout(),
      /^provider:gmial: nothing to resume: unknown site "provider:gmial" \(known providers: /,
    );
  });
});
