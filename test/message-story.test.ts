/**
 * End to end: a message's story (`herald.messageStory`, `herald message show`) tells what the
 * receiving server saw. One message to three recipients at one MX whose sink (STARTTLS) answers
 * 250, 550 and 451: the story's states, replies and attempt (MX host, IP, port, TLS) match the
 * sink's own record; the deferred recipient shows its next attempt and why it waits (its retry
 * backoff); once it is delivered and the spool has deleted the message, the story still reads
 * from its trace; an unknown id has none. The CLI prints the same states.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { queueKeys, Spool } from '@herald/delivery-core/queue';
import { runCli } from './lib/cli.js';
import { sampleMessage } from './lib/message.js';
import { mxZone, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const OK = 'ok@dest.test';
const GONE = 'gone@dest.test';
const LATER = 'later@dest.test';
const REFUSED = { code: 550, enhanced: '5.1.1', text: 'no such mailbox here' };
const GREYLISTED = { code: 451, enhanced: '4.7.1', text: 'greylisted, come back later' };
const SINK_HOST = '127.0.0.2';
/** The schedule's delays; greylisting's retry class starts at 1 minute within it. */
const LONG_RETRY = '2h';

describe('a message story', () => {
  it('matches what the sink saw, says why a deferred recipient waits, and outlives the message', async (t) => {
    const stack = await startStack({
      sinks: [
        { host: SINK_HOST, starttls: true, script: { rcpt: { [GONE]: REFUSED, [LATER]: GREYLISTED } } },
      ],
      zone: mxZone('dest.test', [{ preference: 10, address: SINK_HOST }]),
      config: { retry: { schedule: [LONG_RETRY], jitter: 0 }, tenants: { default: { dsn: false } } },
    });
    t.after(() => stack.stop());
    const herald = stack.relay.herald;
    const sink = stack.sinks[0]!;

    const sent = await stack.submit({
      from: 'app@origin.test',
      to: [OK, GONE, LATER],
      body: sampleMessage({ subject: 'story' }),
    });
    assert.equal(sent.code, 250, sent.response);
    const id = sent.queueId!;
    assert.equal((await stack.events.terminal(OK, id)).type, 'delivered');
    assert.equal((await stack.events.terminal(GONE, id)).type, 'bounced');
    const deferred = await stack.events.outcome('deferred', LATER);
    // The worker moves the job to the delayed set after the deferred event: wait for that.
    const story = await waitUntil('the deferred recipient waiting for its retry', async () => {
      const s = await herald.messageStory(id);
      return s?.recipients.find((r) => r.address === LATER)?.waiting?.reason.startsWith('retry') && s;
    });

    // The envelope.
    assert.equal(story.id, id);
    assert.equal(story.tenant, 'default');
    assert.equal(story.from, 'app@origin.test');
    assert.equal(story.source, 'smtp');
    assert.equal(story.truncated, false);

    // Each recipient's state and reply is what the sink answered.
    const [message] = sink.messages;
    assert.deepEqual(message?.to, [OK], 'the sink took the message for the accepted recipient only');
    const refusals = new Map(
      sink.rejected.filter((r) => r.stage === 'rcpt').map((r) => [r.address, r.reply]),
    );
    const byAddress = new Map(story.recipients.map((r) => [r.address, r]));
    assert.deepEqual(
      story.recipients.map((r) => [r.address, r.state, r.attempts]),
      [
        [OK, 'delivered', 1],
        [GONE, 'bounced', 1],
        [LATER, 'deferred', 1],
      ],
    );
    assert.equal(byAddress.get(OK)!.reply?.code, 250);
    for (const address of [GONE, LATER]) {
      const reply = byAddress.get(address)!.reply!;
      const seen = refusals.get(address)!;
      assert.deepEqual([reply.code, reply.enhanced, reply.text], [seen.code, seen.enhanced, seen.text]);
    }
    assert.equal(byAddress.get(OK)!.waiting, undefined, 'a finished recipient does not wait');

    // The attempt: the MX host by name, the sink's address and port, over TLS as the sink saw.
    assert.equal(story.attempts.length, 1);
    const [attempt] = story.attempts;
    assert.deepEqual(
      [
        attempt!.domain,
        attempt!.attempt,
        attempt!.host?.hostname,
        attempt!.host?.address,
        attempt!.host?.port,
      ],
      ['dest.test', 1, 'mx1.dest.test', SINK_HOST, sink.port],
    );
    assert.equal(message!.secure, true, 'the sink received the message over TLS');
    assert.equal(attempt!.host?.tls, true);
    assert.match(attempt!.host?.tlsVersion ?? '', /^TLSv1\.[23]$/);
    assert.deepEqual(
      attempt!.results.map((r) => [r.address, r.accepted, r.reply.code]),
      [
        [OK, true, 250],
        [GONE, false, 550],
        [LATER, false, 451],
      ],
    );

    // The deferred recipient: when it comes back and why.
    const later = byAddress.get(LATER)!;
    assert.equal(later.nextAttemptAt, deferred.nextAttemptAt);
    assert.equal(later.retryClass, 'greylisted');
    assert.deepEqual(later.waiting, { reason: 'retry backoff (greylisted)', until: deferred.nextAttemptAt });
    // Greylisting's class retries first after 1 minute: far enough for what follows.
    assert.ok(later.nextAttemptAt! > Date.now() + 20_000, 'the retry waits its backoff');

    // The CLI prints the same states.
    const dir = await mkdtemp(join(tmpdir(), 'herald-story-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const configFile = join(dir, 'herald.yaml');
    await writeFile(
      configFile,
      JSON.stringify({ redis: { url: stack.redis.url }, events: { log_level: 'silent' } }),
    );
    const shown = await runCli(['message', 'show', id, '--config', configFile]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^ {2}ok@dest\.test +delivered +1 attempt +250 /m);
    assert.match(
      shown.stdout,
      /^ {2}gone@dest\.test +bounced +1 attempt +550 5\.1\.1 no such mailbox here$/m,
    );
    assert.match(
      shown.stdout,
      /^ {2}later@dest\.test +deferred +1 attempt +451 4\.7\.1 greylisted, come back later$/m,
    );
    assert.match(shown.stdout, /dest\.test #1 {2}mx1\.dest\.test \[127\.0\.0\.2\]:\d+ {2}TLS TLSv1\.[23]/);
    assert.match(shown.stdout, /^ {2}later@dest\.test: retry backoff \(greylisted\) until \S+ \(in \d+s\)$/m);

    // The sink takes it now; the job comes back at once (as `herald queue retry` would do it).
    sink.setScript({});
    const spool = new Spool(stack.redisClient, herald.config.redis.prefix, { shards: herald.shards });
    t.after(() => spool.close());
    const job = await spool.queueFor(`${id}.0`).getJob(`${id}.0`);
    await job!.promote();
    assert.equal((await stack.events.terminal(LATER, id)).type, 'delivered');
    await stack.waitForIdleQueue();
    const keys = queueKeys(herald.config.redis.prefix);
    assert.equal(await stack.redisClient.exists(keys.body(id), keys.message(id), keys.pendingJobs(id)), 0);

    const after = (await herald.messageStory(id))!;
    assert.deepEqual(
      after.recipients.map((r) => [r.address, r.state, r.attempts, r.waiting]),
      [
        [OK, 'delivered', 1, undefined],
        [GONE, 'bounced', 1, undefined],
        [LATER, 'delivered', 2, undefined],
      ],
    );
    assert.deepEqual(
      after.attempts.map((a) => [a.attempt, a.results.map((r) => r.address)]),
      [
        [1, [OK, GONE, LATER]],
        [2, [LATER]],
      ],
    );
    assert.deepEqual(
      sink.messages.map((m) => m.to),
      [[OK], [LATER]],
      'what the sink received',
    );

    assert.equal(await herald.messageStory('0nosuchmessage00'), undefined);
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
