import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { queueKeys } from '@herald/delivery-core/keys';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

const KEY = queueKeys('herald').events;

function delivered(n: number, tenant = 'acme', recipient = `r${n}@dest.test`) {
  return {
    type: 'delivered',
    time: 1_700_000_000_000 + n,
    messageId: `m${n}`,
    tenant,
    domain: 'dest.test',
    recipient,
    attempt: 1,
    reply: { code: 250, enhanced: '2.0.0', text: 'ok', stage: 'data' },
    latencyMs: 5,
  };
}

describe('herald events tail', () => {
  let redis: RedisHandle;
  let client: Redis;
  const ids: string[] = [];
  const add = async (event: object): Promise<string> =>
    (await client.xadd(KEY, '*', 'event', JSON.stringify(event)))!;
  const tail = async (args: string[]) => {
    const c = captureIo({ env: { REDIS_URL: redis.url } });
    const code = await main(['events', 'tail', ...args], c.io);
    return { code, out: c.stdout(), err: c.stderr() };
  };
  const jsonLines = (out: string) =>
    out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));

  before(async () => {
    redis = await startRedis();
    client = redis.client();
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
  });
  beforeEach(async () => {
    await client.del(KEY);
    ids.length = 0;
    for (let n = 1; n <= 30; n += 1) ids.push(await add(delivered(n, n % 2 === 0 ? 'acme' : 'other')));
  });

  it('prints the last N events oldest first, each with its id, and names the Redis read', async () => {
    const r = await tail([]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n');
    assert.equal(lines.length, 20);
    assert.ok(lines[0]!.startsWith(`${ids[10]}  `));
    assert.ok(lines[19]!.startsWith(`${ids[29]}  `));
    assert.match(lines[19]!, /delivered {2}m30 {2}tenant=acme {2}r30@dest\.test {2}250 2\.0\.0 ok/);
    assert.match(r.err, /redis/i);
    const five = jsonLines((await tail(['--limit', '5', '--json'])).out);
    assert.deepEqual(
      five.map((e) => e.id),
      ids.slice(25),
    );
    assert.equal(five[4].messageId, 'm30');
  });

  it('filters by type and tenant', async () => {
    await add({
      type: 'accepted',
      time: 1,
      messageId: 'a1',
      tenant: 'acme',
      from: 'f@x.test',
      recipients: [],
      size: 1,
      jobs: 1,
      source: 'api',
    });
    await add({ type: 'site_resumed', time: 2, site: 'provider:gmail', reason: 'operator' });
    const accepted = jsonLines((await tail(['--type', 'accepted,site_resumed', '--json'])).out);
    assert.deepEqual(
      accepted.map((e) => e.type),
      ['accepted', 'site_resumed'],
    );
    const acme = jsonLines(
      (await tail(['--tenant', 'acme', '--type', 'delivered', '--limit', '100', '--json'])).out,
    );
    assert.equal(acme.length, 15);
    assert.ok(acme.every((e) => e.tenant === 'acme' && e.type === 'delivered'));
  });

  it('--after resumes exactly after the cursor', async () => {
    const first = jsonLines((await tail(['--after', '0', '--limit', '12', '--json'])).out);
    assert.deepEqual(
      first.map((e) => e.id),
      ids.slice(0, 12),
    );
    const rest = jsonLines((await tail(['--after', first[11].id, '--limit', '100', '--json'])).out);
    assert.deepEqual(
      rest.map((e) => e.id),
      ids.slice(12),
    );
  });

  it('--follow prints an event appended after it started and stops on abort with exit 0', async () => {
    const controller = new AbortController();
    let out = '';
    const waiters: { text: string; resolve: () => void }[] = [];
    const printed = (text: string) =>
      new Promise<void>((resolve) => {
        if (out.includes(text)) resolve();
        else waiters.push({ text, resolve });
      });
    const c = captureIo({ env: { REDIS_URL: redis.url } });
    c.io.signal = controller.signal;
    c.io.stdout = {
      write: (chunk: string) => {
        out += chunk;
        for (const w of waiters) if (out.includes(w.text)) w.resolve();
      },
    };
    const id = await add(delivered(99, 'late', 'late@dest.test'));
    const running = main(['events', 'tail', '--follow', '--json', '--tenant', 'late'], c.io);
    // The backlog is printed (its cursor fixed) before the next event is appended.
    await printed('"messageId":"m99"');
    await client.xadd(KEY, '*', 'event', JSON.stringify({ ...delivered(98, 'late'), messageId: 'm-late' }));
    await printed('"messageId":"m-late"');
    controller.abort();
    assert.equal(await running, 0, c.stderr());
    const lines = jsonLines(out);
    assert.deepEqual(
      lines.map((e) => e.messageId),
      ['m99', 'm-late'],
    );
    assert.equal(lines[0].id, id);
  });

  it('refuses a bad --type, tenant, --after or --limit', async () => {
    const type = await tail(['--type', 'delivered,nope']);
    assert.equal(type.code, 1);
    assert.match(type.err, /^herald: HERALD_INPUT_INVALID: --type "nope": not an event type/m);
    const tenant = await tail(['--tenant', '{queue}']);
    assert.equal(tenant.code, 1);
    assert.match(tenant.err, /^herald: HERALD_INPUT_INVALID: --tenant "\{queue\}": not a tenant name/m);
    for (const args of [
      ['--after', 'x'],
      ['--after', '99999999999999999999-0'],
      ['--after', '0-0,0-0,0-0'],
      ['--limit', '0'],
      ['--bogus'],
      [],
    ]) {
      const c = captureIo({ env: { REDIS_URL: redis.url } });
      const code = await main(['events', ...(args.length ? ['tail', ...args] : ['list'])], c.io);
      assert.equal(code, 2, args.join(' '));
      assert.match(c.stderr(), /^herald: HERALD_CLI_USAGE: events/m);
    }
  });

  it('says HERALD_REDIS_UNAVAILABLE when the Redis cannot be reached', async () => {
    const c = captureIo({ env: { REDIS_URL: 'redis://127.0.0.1:1' } });
    assert.equal(await main(['events', 'tail'], c.io), 1);
    assert.match(
      c.stderr(),
      /^herald: HERALD_REDIS_UNAVAILABLE: cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/m,
    );
  });

  it("escapes control characters in a person's output", async () => {
    await add(delivered(31, 'acme', 'evil\x1b[2J@dest.test'));
    const r = await tail(['--limit', '1']);
    assert.equal(r.code, 0);
    assert.ok(!r.out.includes('\x1b'));
    assert.match(r.out, /evil\\x1b\[2J@dest\.test/);
    const json = jsonLines((await tail(['--limit', '1', '--json'])).out);
    assert.equal(json[0].recipient, 'evil\x1b[2J@dest.test');
  });

  it('--follow waits out a Redis outage: a note on stderr, then resumes after the last id printed', async () => {
    const controller = new AbortController();
    let out = '';
    let err = '';
    const waiters: { seen: () => boolean; resolve: () => void }[] = [];
    const until = (seen: () => boolean) =>
      new Promise<void>((resolve) => {
        if (seen()) resolve();
        else waiters.push({ seen, resolve });
      });
    const wake = () => {
      for (const w of waiters) if (w.seen()) w.resolve();
    };
    const c = captureIo({ env: { REDIS_URL: redis.url } });
    c.io.signal = controller.signal;
    c.io.stdout = {
      write: (chunk: string) => {
        out += chunk;
        wake();
      },
    };
    c.io.stderr = {
      write: (chunk: string) => {
        err += chunk;
        wake();
      },
    };
    await add(delivered(97, 'outage', 'before@dest.test'));
    const running = main(['events', 'tail', '--follow', '--json', '--tenant', 'outage'], c.io);
    await until(() => out.includes('"messageId":"m97"'));
    await client.xadd(KEY, '*', 'event', JSON.stringify({ ...delivered(96, 'outage'), messageId: 'm-up' }));
    await until(() => out.includes('"messageId":"m-up"'));
    await redis.kill();
    await until(() => err.includes('Redis unavailable, retrying'));
    await redis.restart();
    await until(() => err.includes('Redis back, resuming after'));
    await client.xadd(
      KEY,
      '*',
      'event',
      JSON.stringify({ ...delivered(95, 'outage'), messageId: 'm-after' }),
    );
    await until(() => out.includes('"messageId":"m-after"'));
    controller.abort();
    assert.equal(await running, 0, err);
    assert.doesNotMatch(err, /HERALD_INTERNAL/);
    assert.deepEqual(
      jsonLines(out).map((e) => e.messageId),
      ['m97', 'm-up', 'm-after'],
      'no gap, no repeat',
    );
  });
});
