import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { queueKeys } from '@herald/delivery-core/keys';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

const KEY = queueKeys('herald').events;
const WAIT_MS = 15_000;
const TIME = Date.parse('2026-05-04T10:00:00Z');

function delivered(n: number) {
  return {
    type: 'delivered',
    time: TIME + n,
    messageId: `m${n}`,
    tenant: 'acme',
    domain: 'dest.test',
    recipient: `r${n}@dest.test`,
    attempt: 1,
    reply: { code: 250, enhanced: '2.0.0', text: 'ok, queued', stage: 'data' },
    latencyMs: 5,
  };
}

describe('herald accounting', () => {
  let redis: RedisHandle;
  let client: Redis;
  let dir: string;
  let configFile: string;
  let bareConfig: string;
  const ids: string[] = [];

  before(async () => {
    redis = await startRedis();
    client = redis.client();
    dir = await mkdtemp(join(tmpdir(), 'herald-cli-acct-'));
    configFile = join(dir, 'herald.yaml');
    bareConfig = join(dir, 'bare.yaml');
    await writeFile(
      configFile,
      `redis: { url: "${redis.url}" }\naccounting: { directory: "${join(dir, 'acct')}", name: cli }\n`,
    );
    await writeFile(bareConfig, `redis: { url: "${redis.url}" }\n`);
    for (let n = 1; n <= 5; n++)
      ids.push((await client.xadd(KEY, '*', 'event', JSON.stringify(delivered(n))))!);
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('run writes the log until stopped; status then shows the cursor at the head, no lag', async () => {
    const before = captureIo({ env: {} });
    assert.equal(await main(['accounting', 'status', '--config', configFile, '--json'], before.io), 0);
    const initial = JSON.parse(before.stdout());
    assert.equal(initial.cursor, undefined);
    assert.equal(initial.lagEntries, 5);

    const controller = new AbortController();
    const c = captureIo({ env: {} });
    c.io.signal = controller.signal;
    const running = main(['accounting', 'run', '--config', configFile], c.io);
    const file = join(dir, 'acct', 'herald-acct-2026-05-04.csv');
    const deadline = Date.now() + WAIT_MS;
    let text = '';
    while ((text.match(/\r\n/g) ?? []).length < 6) {
      assert.ok(Date.now() < deadline, `waited for 5 records, have:\n${text}`);
      await delay(20);
      text = await readFile(file, 'utf8').catch(() => '');
    }
    controller.abort();
    assert.equal(await running, 0, c.stderr());
    assert.match(c.stdout(), /accounting log following the event stream/);
    const lines = text.split('\r\n');
    assert.match(lines[0]!, /^type,time,stream_id,message_id,/);
    assert.match(lines[1]!, new RegExp(`^delivered,2026-05-04T10:00:00.001Z,${ids[0]},m1,acme,`));
    assert.match(lines[1]!, /,"ok, queued",/);

    const s = captureIo({ env: {} });
    assert.equal(await main(['accounting', 'status', '--config', configFile], s.io), 0, s.stderr());
    assert.match(s.stdout(), /consumer {3}accounting:cli/);
    assert.match(s.stdout(), new RegExp(`cursor {5}${ids[4]}`));
    assert.match(s.stdout(), /lag {8}0 entries, 0\.0 s/);
    assert.match(s.stdout(), /gap {8}no/);
  });

  it('refuses a config without an accounting section, and an unknown subcommand', async () => {
    const c = captureIo({ env: {} });
    assert.equal(await main(['accounting', 'status', '--config', bareConfig], c.io), 1);
    assert.match(c.stderr(), /HERALD_CONFIG_INVALID: accounting: the config has no accounting section/);
    const u = captureIo({ env: {} });
    assert.equal(await main(['accounting', 'tail'], u.io), 2);
    assert.match(u.stderr(), /unknown subcommand "tail"/);
    const h = captureIo({ env: {} });
    assert.equal(await main(['--help'], h.io), 0);
    assert.match(h.stdout(), /accounting +write the accounting log/);
  });
});
