import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
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
    await writeFile(join(dir, 'shaping.yaml'), 'domains:\n  "hosted.test": { max_message_rate: "5/s" }\n');
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
    assert.match(text, /max_connections +5 +provider:gmail/);
    assert.match(text, /max_message_rate +5\/s +domain:hosted\.test/);
    assert.match(text, /live: +no suspension or rate cut/);

    const suspend = captureIo({ env: { REDIS_URL: redis.url } });
    assert.equal(
      await main(['site', 'suspend', 'provider:gmail', '--for', '10m'], suspend.io),
      0,
      suspend.stderr(),
    );
    const again = captureIo({ env: {} });
    assert.equal(await main(['shaping', 'explain', 'hosted.test', '--config', configFile], again.io), 0);
    assert.match(again.stdout(), /live: +suspended, (599|600) s left/);
  });

  it('a domain that does not exist is reported with its DNS reason and exit 1', async () => {
    const out = captureIo({ env: {} });
    assert.equal(await main(['shaping', 'explain', 'nowhere.test', '--config', configFile], out.io), 1);
    assert.match(out.stderr(), /nowhere\.test: .*5\.1\.2/);
  });
});
