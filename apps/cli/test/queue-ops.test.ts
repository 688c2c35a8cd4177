/**
 * `herald queue list|retry|flush|delete|bounce` run in-process with main(argv, io) against a
 * private Redis, with no delivery worker: jobs stay ready, so what each command prints and what
 * it leaves in the queue and the event stream is exact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHerald, type Herald, readEvents } from '@herald/delivery-core';
import type { AcceptedEvent, RecipientEvent } from '@herald/delivery-core/events';
import { queueKeys } from '@herald/delivery-core/keys';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

describe('herald queue list|retry|flush|delete|bounce', () => {
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

  const run = async (argv: string[]) => {
    const out = captureIo({ env: { REDIS_URL: redis.url } });
    const code = await main(argv, out.io);
    return { code, stdout: out.stdout(), stderr: out.stderr() };
  };
  const send = async (from: string, to: string[]) =>
    (await herald.send({ from, to, subject: 's', text: 't' })).messageId;

  it('lists a domain’s jobs page by page, acts on them and prints what changed', async () => {
    const first = await send('a@origin.test', ['x@one.test']);
    const second = await send('b@origin.test', ['y@one.test', 'z@two.test']);
    const third = await send('a@origin.test', ['w@one.test']);

    const page1 = await run(['queue', 'list', 'domain:one.test', '--limit', '2', '--json']);
    assert.equal(page1.code, 0, page1.stderr);
    const p1 = JSON.parse(page1.stdout);
    assert.deepEqual(
      p1.jobs.map((j: { messageId: string; state: string }) => [j.messageId, j.state]),
      [
        [first, 'ready'],
        [second, 'ready'],
      ],
    );
    const page2 = await run(['queue', 'list', 'domain:one.test', '--limit', '2', '--after', p1.next]);
    assert.equal(page2.code, 0, page2.stderr);
    assert.match(page2.stdout, new RegExp(`^${third}\\.0  ready  attempts 0`, 'm'));
    assert.match(page2.stdout, /^ {2}tenant default {2}from <a@origin\.test> {2}site domain:one\.test$/m);
    assert.match(page2.stdout, /^ {2}to w@one\.test$/m);
    assert.doesNotMatch(page2.stdout, /^more:/m);
    const text1 = await run(['queue', 'list', 'domain:one.test', '--limit', '2']);
    assert.match(
      text1.stdout,
      new RegExp(`^more: herald queue list domain:one\\.test --limit 2 --after ${second}\\.0$`, 'm'),
    );

    const retried = await run(['queue', 'retry', '--all']);
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(retried.stdout, '0 jobs made ready now; 4 already ready\n');
    const flushed = await run(['queue', 'flush', 'domain:two.test', '--json']);
    assert.deepEqual(JSON.parse(flushed.stdout), { woken: 0, ready: 1, inFlight: 0, held: 0 });

    const refused = await run(['queue', 'delete']);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /HERALD_CLI_USAGE: queue delete: refusing to delete without a message id or a filter/,
    );
    assert.equal((await run(['queue', 'retry', first, '--all'])).code, 2);
    assert.equal((await run(['queue', 'flush', 'domain:one.test', '--reason', 'x'])).code, 2);

    const deleted = await run(['queue', 'delete', '--from', 'a@origin.test', '--to-domain', 'one.test']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, 'deleted now: 2 jobs, 2 recipients\n');
    const bounced = await run([
      'queue',
      'bounce',
      `${second}.1`,
      '--reason',
      'asked by the customer',
      '--json',
    ]);
    assert.deepEqual(JSON.parse(bounced.stdout), {
      action: 'bounce',
      removed: { jobs: 1, recipients: 1 },
      marked: { jobs: 0, recipients: 0 },
    });
    const missing = await run(['queue', 'bounce', first]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^herald: HERALD_QUEUE_NOT_FOUND: no queued message or job /m);

    const left = JSON.parse((await run(['queue', 'list', 'domain:one.test', '--json'])).stdout);
    assert.deepEqual(
      left.jobs.map((j: { jobId: string }) => j.jobId),
      [`${second}.0`],
    );
    await herald.events.flush();
    const events = await readEvents(redis.client(), queueKeys('herald').events);
    const ended = events
      .filter((e): e is RecipientEvent => e.type === 'bounced')
      .map((e) => [e.recipient, e.operator, e.reply.text]);
    assert.deepEqual(ended, [
      ['x@one.test', 'delete', 'deleted by operator'],
      ['w@one.test', 'delete', 'deleted by operator'],
      ['z@two.test', 'bounce', 'bounced by operator: asked by the customer'],
    ]);
    const dsns = events.filter((e): e is AcceptedEvent => e.type === 'accepted' && e.source === 'dsn');
    assert.deepEqual(
      dsns.map((e) => e.recipients),
      [['b@origin.test']],
      'one DSN, for the bounce, to the sender',
    );
  });

  it('refuses a site name delivery never produces, printed escaped', async () => {
    for (const argv of [
      ['queue', 'list', 'bogus'],
      ['queue', 'list', 'mx:'],
      ['queue', 'list', 'domain:'],
      ['queue', 'list', 'provider:evil\x1b]0;x\x07'],
      ['queue', 'flush', 'bogus'],
      ['queue', 'retry', '--site', 'mx:'],
      ['queue', 'bounce', '--site', 'route:nope'],
      ['queue', 'delete', '--site', 'x\u202ey'],
    ]) {
      const r = await run(argv);
      assert.equal(r.code, 1, argv.join(' '));
      assert.match(r.stderr, /^herald: HERALD_INPUT_INVALID: unknown site "/m, argv.join(' '));
      assert.ok(!/[\x1b\x07\u202e]/.test(r.stderr), r.stderr);
      assert.equal(r.stdout, '');
    }
    const ok = await run(['queue', 'list', 'mx:mx1.nowhere.test']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'mx:mx1.nowhere.test: no queued jobs\n');
  });

  it('repeats the --config and --limit given in the next-page hint, quoted for a shell', async () => {
    const { nextPageCommand, shellWord } = await import('../src/commands/queue-list.js');
    assert.equal(shellWord("it's here"), "'it'\\''s here'");
    assert.equal(shellWord('$(rm -rf ~)'), "'$(rm -rf ~)'");
    assert.equal(
      nextPageCommand('domain:a.test', '17-0.0', '/etc/my herald.yaml', '5'),
      "herald queue list domain:a.test --config '/etc/my herald.yaml' --limit 5 --after 17-0.0",
    );
  });
});
