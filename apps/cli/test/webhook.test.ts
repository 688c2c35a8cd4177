/**
 * `herald webhook`: endpoints listed without their secrets; a batch an endpoint kept failing
 * (retry_for 200 ms) shows in `dead list`, and `dead replay` sends it again under its webhook-id
 * once the endpoint answers — a real receiver, a private Redis, the dispatcher of a Herald in
 * this process, the command run in-process.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHerald, type Herald, type HeraldConfigInput } from '@herald/delivery-core';
import { RedisEventSink } from '@herald/delivery-core/events';
import { queueKeys, webhookKeys } from '@herald/delivery-core/keys';
import { type Receiver, type RedisHandle, startReceiver, startRedis } from '@herald/test-harness';
import { pino } from 'pino';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const WAIT_MS = 20_000;

describe('herald webhook', () => {
  let redis: RedisHandle;
  let dir: string;
  let configFile: string;
  let receiver: Receiver;
  let herald: Herald;
  before(async () => {
    redis = await startRedis();
    receiver = await startReceiver(SECRET);
    receiver.fallback = 'fail500';
    dir = await mkdtemp(join(tmpdir(), 'herald-webhook-cli-'));
    configFile = join(dir, 'herald.json');
    const config: HeraldConfigInput = {
      redis: { url: redis.url },
      events: { log_level: 'silent' },
      webhooks: [
        {
          id: 'ops',
          tenant: 'acme',
          url: receiver.url,
          events: ['bounced'],
          secret: SECRET,
          batch_wait: '20ms',
          retry_for: '200ms',
        },
      ],
    };
    await writeFile(configFile, JSON.stringify(config));
    herald = await createHerald(config, { webhooks: { retryDelaysMs: [50] } });
  });
  after(async () => {
    await herald.close();
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
    await redis.stop();
  });

  const cli = async (args: string[]) => {
    const run = captureIo({ env: {} });
    const code = await main(['webhook', ...args, '--config', configFile], run.io);
    return { code, stdout: run.stdout(), stderr: run.stderr() };
  };

  it('lists endpoints without secrets, then lists and replays a dead-lettered batch', async () => {
    const listed = await cli(['list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(
      listed.stdout,
      `ID\tTENANT\tSOURCE\tEVENTS\tOUTBOX\tURL\nops\tacme\tconfig\tbounced\t0\t${receiver.url}\n`,
    );
    assert.equal(
      (await cli(['list', '--json'])).stdout,
      `${JSON.stringify({ id: 'ops', tenant: 'acme', source: 'config', events: ['bounced'], outbox: 0, url: receiver.url })}\n`,
    );
    assert.ok(!listed.stdout.includes(SECRET.slice(6)));

    const client = redis.client();
    herald.webhooks.startDispatcher();
    const deadline = Date.now() + WAIT_MS;
    while ((await client.get(`herald:cursor:{webhooks}`)) === null) {
      assert.ok(Date.now() < deadline, 'the dispatcher starts');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const events = new RedisEventSink({
      redis: client,
      streamKey: queueKeys('herald').events,
      streamMaxLen: 1000,
      logger: herald.logger,
    });
    events.emit({
      type: 'bounced',
      time: Date.now(),
      messageId: 'm1',
      tenant: 'acme',
      domain: 'example.net',
      recipient: 'x@example.net',
      attempt: 1,
      reply: { code: 550, enhanced: '5.1.1', text: 'no such user', stage: 'rcpt' },
      latencyMs: 5,
    });
    await events.flush();
    let dead = await cli(['dead', 'list']);
    while (dead.stdout === '') {
      assert.ok(Date.now() < deadline, 'the batch is dead-lettered');
      await new Promise((resolve) => setTimeout(resolve, 20));
      dead = await cli(['dead', 'list']);
    }
    assert.equal(dead.code, 0, dead.stderr);
    const [header, row] = dead.stdout.trim().split('\n');
    assert.equal(header, 'BATCH\tENDPOINT\tTENANT\tEVENTS\tFIRST_ATTEMPT\tLAST_ATTEMPT\tLAST_ERROR');
    const [id, endpoint, tenant, count, first, last, error] = row!.split('\t');
    assert.equal(receiver.requests[0]!.id, id);
    assert.deepEqual([endpoint, tenant, count, error], ['ops', 'acme', '1', 'HTTP 500']);
    assert.ok(first! <= last! && /^\d{4}-/.test(first!));
    assert.match(dead.stderr, /1 dead-lettered batch\(es\)\n$/);
    assert.equal((await cli(['dead', 'list', '--tenant', 'other'])).stdout, '');
    const json = JSON.parse((await cli(['dead', 'list', '--json'])).stdout);
    assert.equal(json.id, id);
    assert.equal(json.body, undefined);

    const missing = await cli(['dead', 'replay', 'msg_nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /HERALD_INPUT_INVALID: msg_nope: no such dead-lettered batch/);
    receiver.fallback = 'ok';
    const replayed = await cli(['dead', 'replay', id!]);
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.equal(replayed.stdout, 'replayed 1 batch(es)\n');
    await receiver.waitFor(() => receiver.accepted().length === 1);
    assert.equal(receiver.accepted()[0]!.id, id, 'the replay keeps the webhook-id');
    assert.ok(receiver.requests.every((r) => r.verified));
    assert.equal((await cli(['dead', 'list'])).stdout, '');
    client.disconnect();
  });

  it('refuses a bad action or operand as usage', async () => {
    assert.equal((await cli(['dead', 'replay'])).code, 2);
    assert.equal((await cli(['dead', 'burn'])).code, 2);
    assert.equal((await cli(['dead', 'list', '--endpoint', 'nope'])).code, 1);
  });

  it('shows outboxes of endpoints no longer configured as orphaned, warns at dispatcher start, purges them', async () => {
    const client = redis.client();
    const keys = webhookKeys('herald');
    await client.rpush(keys.outbox('gone'), 'b-wait');
    await client.rpush(keys.dead('gone'), 'b-dead');
    await client.hset(keys.batch('b-wait'), { id: 'b-wait', endpoint: 'gone', tenant: 'acme', body: '{}' });
    await client.hset(keys.batch('b-dead'), { id: 'b-dead', endpoint: 'gone', tenant: 'acme', body: '{}' });

    const listed = await cli(['list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^ops\tacme\tconfig\t/m);
    assert.match(listed.stdout, /^gone\t-\torphaned\t-\t1 \(\+1 dead\)\t-$/m);
    assert.match(listed.stderr, /1 orphaned outbox\(es\).*herald webhook purge ID/);
    const json = (await cli(['list', '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(json[1], { id: 'gone', source: 'orphaned', outbox: 1, dead: 1 });

    // The lease holder names them in a warning when its term starts.
    await herald.webhooks.stopDispatcher();
    const logged: string[] = [];
    const watcher = await createHerald(
      {
        redis: { url: redis.url },
        webhooks: [{ id: 'ops', tenant: 'acme', url: receiver.url, events: ['bounced'], secret: SECRET }],
      },
      { logger: pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) }) },
    );
    try {
      watcher.webhooks.startDispatcher();
      const deadline = Date.now() + WAIT_MS;
      while (!logged.some((l) => l.includes('no longer configured'))) {
        assert.ok(Date.now() < deadline, 'the dispatcher warns about the orphaned outbox');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const warning = JSON.parse(logged.find((l) => l.includes('no longer configured'))!);
      assert.deepEqual(warning.orphans, [{ id: 'gone', outbox: 1, dead: 1 }]);
    } finally {
      await watcher.close();
    }

    const refused = await cli(['purge', 'ops']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /HERALD_INPUT_INVALID: ops is a live endpoint/);
    assert.equal((await cli(['purge', 'nothing'])).code, 1);
    assert.equal((await cli(['purge'])).code, 2);
    const purged = await cli(['purge', 'gone']);
    assert.equal(purged.code, 0, purged.stderr);
    assert.equal(purged.stdout, 'purged gone: 2 batch(es)\n');
    assert.equal(
      await client.exists(keys.outbox('gone'), keys.dead('gone'), keys.batch('b-wait'), keys.batch('b-dead')),
      0,
    );
    assert.doesNotMatch((await cli(['list'])).stdout, /orphaned/);
    client.disconnect();
  });
});
