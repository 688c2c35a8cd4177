import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectionLeaseKey } from '@herald/delivery-core/keys';
import { DailyCap, LeasedSemaphore, RateLimiter } from '@herald/delivery-core/throttle';
import { type DnsServerHandle, type RedisHandle, startDnsServer, startRedis } from '@herald/test-harness';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

describe('herald shaping explain', () => {
  let redis: RedisHandle;
  let dns: DnsServerHandle;
  let dir: string;
  let configFile: string;
  before(async () => {
    redis = await startRedis();
    dns = await startDnsServer({
      zone: {
        'hosted.test': {
          MX: [
            { preference: 1, exchange: 'aspmx.l.google.com' },
            { preference: 5, exchange: 'alt1.aspmx.l.google.com' },
          ],
        },
        'aspmx.l.google.com': { A: ['127.0.0.2'] },
        'alt1.aspmx.l.google.com': { A: ['127.0.0.3'] },
      },
    });
    dir = await mkdtemp(join(tmpdir(), 'herald-explain-'));
    await writeFile(
      join(dir, 'shaping.yaml'),
      `domains:
  "hosted.test": { max_message_rate: "5/s" }
sites:
  "provider:gmail": { dane: require }
pools:
  bulk:
    max_connections: 3
    sources: [{ ip: "127.0.0.10", warmup_from: "${new Date().toISOString().slice(0, 10)}" }, { ip: "127.0.0.11" }]
    warmup: { schedule: [{ day: 1, daily_cap: 50 }] }
pool_selection:
  - { tenant: acme, stream: bulk, pool: bulk }
tenants:
  acme: { max_message_rate: "100/s" }
`,
    );
    configFile = join(dir, 'herald.yaml');
    await writeFile(
      configFile,
      `redis: { url: "${redis.url}" }\ndns: { servers: ["${dns.address}"] }\nshaping: { file: "shaping.yaml" }\n`,
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await dns.close();
    await redis.stop();
  });

  it('shows the MX hosts, the provider site and why, each limit with its layer, and the live state', async () => {
    const out = captureIo({ env: {} });
    assert.equal(
      await main(['shaping', 'explain', 'hosted.test', '--config', configFile], out.io),
      0,
      out.stderr(),
    );
    const text = out.stdout();
    assert.match(text, /aspmx\.l\.google\.com pref 1 \(127\.0\.0\.2\)/);
    assert.match(text, /site: +provider:gmail \(every MX host matches provider gmail's mx_suffixes\)/);
    // The built-in layer is named for what it is, whatever the config file is called.
    assert.match(text, /^layers: +built-in \(the config's delivery\/retry\) < /m);
    assert.match(text, /max_connections +5 +provider:gmail/);
    assert.match(text, /max_message_rate +5\/s +domain:hosted\.test/);
    assert.match(text, /^ +dane +require +site:provider:gmail$/m, 'the site overrides delivery.dane.mode');
    assert.match(text, /source: +no pool_selection rule matches/);
    assert.match(text, /live: +site not suspended/);
    assert.match(
      text,
      /connections in use on provider:gmail: 0 of 5 allowed now \(all relays\); window at its initial 5/,
    );
    assert.match(text, /next free slot at 5\/s: now/);

    const suspend = captureIo({ env: { REDIS_URL: redis.url } });
    assert.equal(
      await main(['site', 'suspend', 'provider:gmail', '--for', '10m'], suspend.io),
      0,
      suspend.stderr(),
    );
    const again = captureIo({ env: {} });
    assert.equal(await main(['shaping', 'explain', 'hosted.test', '--config', configFile], again.io), 0);
    // The seconds left count down while the test runs: any value up to the 600 given.
    const left = Number(/live: +site suspended, (\d+) s left/.exec(again.stdout())?.[1]);
    assert.ok(left > 0 && left <= 600, again.stdout());
    const resume = captureIo({ env: { REDIS_URL: redis.url } });
    assert.equal(await main(['site', 'resume', 'provider:gmail'], resume.io), 0, resume.stderr());
  });

  it('shows a window that concurrency feedback has shrunk', async () => {
    const client = redis.client();
    try {
      await client.set('herald:site:{provider:gmail}:window', '2.5', 'PX', 60_000);
      const out = captureIo({ env: {} });
      assert.equal(await main(['shaping', 'explain', 'hosted.test', '--config', configFile], out.io), 0);
      assert.match(
        out.stdout(),
        /connections in use on provider:gmail: 0 of 2 allowed now \(all relays\); window 2\.50 \(concurrency feedback\), max_connections 5/,
      );
    } finally {
      await client.del('herald:site:{provider:gmail}:window');
      client.disconnect();
    }
  });

  it('with --tenant/--stream and --ip: the pool, the pool and source layers, leases, slots and warm-up', async () => {
    const client = redis.client();
    try {
      const lane = 'provider:gmail@127.0.0.10';
      const lease = await new LeasedSemaphore(client, { keyPrefix: 'herald' }).acquire(
        connectionLeaseKey(lane),
        3,
      );
      assert.ok(lease.acquired);
      const limiter = new RateLimiter(client, { keyPrefix: 'herald' });
      for (let i = 0; i < 5; i++) await limiter.reserve(`site:${lane}`, { count: 5, periodMs: 1000 });
      await new DailyCap(client, { keyPrefix: 'herald' }).take(
        `warmup:127.0.0.10:provider:gmail:${new Date().toISOString().slice(0, 10)}`,
        7,
        50,
      );

      const pool = captureIo({ env: {} });
      const args = ['shaping', 'explain', 'hosted.test', '--config', configFile];
      assert.equal(await main([...args, '--tenant', 'acme', '--stream', 'bulk'], pool.io), 0, pool.stderr());
      assert.match(
        pool.stdout(),
        /source: +pool bulk \(pool_selection for tenant acme, stream bulk\): 127\.0\.0\.10 weight 1, 127\.0\.0\.11 weight 1/,
      );
      assert.match(pool.stdout(), /max_connections +3 +pool:bulk/);
      assert.match(pool.stdout(), /tenant acme next free slot: now/);

      const ip = captureIo({ env: {} });
      assert.equal(
        await main([...args, '--tenant', 'acme', '--stream', 'bulk', '--ip', '127.0.0.10'], ip.io),
        0,
      );
      const text = ip.stdout();
      assert.match(text, /source: +127\.0\.0\.10 in pool bulk/);
      assert.match(text, /layers: .* < pool:bulk/);
      assert.match(text, /connections in use on provider:gmail@127\.0\.0\.10: 1 of 3/);
      assert.match(text, /next free slot at 5\/s: in \d+ ms/);
      assert.match(text, /127\.0\.0\.10 warming up: 7 of 50 sent to this site today/);
      await lease.release();
    } finally {
      client.disconnect();
    }
  });

  it("a static route's tls (none) is the tls shown, with the route as its layer; its dane is off", async () => {
    const routed = join(dir, 'routed.yaml');
    await writeFile(
      routed,
      `redis: { url: "${redis.url}" }\nroutes:\n  - { match: "routed.test", via: "127.0.0.1:2599", tls: none }\n`,
    );
    const out = captureIo({ env: {} });
    assert.equal(
      await main(['shaping', 'explain', 'routed.test', '--config', routed], out.io),
      0,
      out.stderr(),
    );
    assert.match(out.stdout(), /route: +routed\.test → 127\.0\.0\.1:2599/);
    assert.match(out.stdout(), /^ +tls +none +route routed\.test$/m);
    assert.match(out.stdout(), /^ +dane +off +route routed\.test$/m, 'static routes are not subject to DANE');
    assert.doesNotMatch(out.stdout(), /tls +opportunistic/);
  });

  it('a domain that does not exist is reported with its DNS reason and exit 1', async () => {
    const out = captureIo({ env: {} });
    assert.equal(await main(['shaping', 'explain', 'nowhere.test', '--config', configFile], out.io), 1);
    assert.match(out.stderr(), /nowhere\.test: .*5\.1\.2/);
  });

  it('refuses a --tenant no mail can have (HERALD_INPUT_INVALID, exit 1)', async () => {
    const out = captureIo({ env: {} });
    const args = ['shaping', 'explain', 'hosted.test', '--config', configFile, '--tenant', '{queue}'];
    assert.equal(await main(args, out.io), 1);
    assert.match(out.stderr(), /^herald: HERALD_INPUT_INVALID: --tenant "\{queue\}": not a tenant name/);
  });
});
