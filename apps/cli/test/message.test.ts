/**
 * `herald message show`: a message's story from Redis — queued recipients whose jobs wait for a
 * worker are "ready"; --json is the story as data; an unknown id exits 1 with
 * HERALD_MESSAGE_NOT_FOUND; a missing id is a usage error; an attempt's own host is not listed
 * again when its error is the reply its recipients show.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHerald, type Herald, type MessageStory } from '@herald/delivery-core';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { formatStory } from '../src/commands/message.js';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

describe('herald message show', () => {
  let redis: RedisHandle;
  let herald: Herald;
  let id: string;
  before(async () => {
    redis = await startRedis();
    herald = await createHerald({ redis: { url: redis.url }, events: { log_level: 'silent' } });
    // No workers run: both jobs stay ready.
    ({ messageId: id } = await herald.send({
      from: 'a@origin.test',
      to: ['x@one.test', 'y@two.test'],
      subject: 's',
      text: 't',
      campaign: 'spring',
    }));
  });
  after(async () => {
    await herald.close();
    await redis.stop();
  });

  it('prints the envelope, each recipient queued, no attempts yet, and why each waits', async () => {
    const out = captureIo({ env: { REDIS_URL: redis.url } });
    assert.equal(await main(['message', 'show', id], out.io), 0, out.stderr());
    const text = out.stdout();
    assert.match(text, new RegExp(`^message: +${id}$`, 'm'));
    assert.match(text, /^from: +<a@origin\.test>$/m);
    assert.match(text, /^accepted: .* via api, \d+ bytes, campaign spring$/m);
    assert.match(text, /^ {2}x@one\.test +queued +0 attempts$/m);
    assert.match(text, /^ {2}y@two\.test +queued +0 attempts$/m);
    assert.match(text, /^attempts:\n {2}none yet$/m);
    assert.match(text, /^ {2}x@one\.test: ready$/m);
    assert.match(text, /^ {2}y@two\.test: ready$/m);
  });

  it('--json prints the story as data', async () => {
    const out = captureIo({ env: { REDIS_URL: redis.url } });
    assert.equal(await main(['message', 'show', id, '--json'], out.io), 0, out.stderr());
    const story = JSON.parse(out.stdout());
    assert.equal(story.id, id);
    assert.equal(story.campaign, 'spring');
    assert.deepEqual(
      story.recipients.map((r: { address: string; state: string; waiting?: { reason: string } }) => [
        r.address,
        r.state,
        r.waiting?.reason,
      ]),
      [
        ['x@one.test', 'queued', 'ready'],
        ['y@two.test', 'queued', 'ready'],
      ],
    );
    assert.deepEqual(story.attempts, []);
    assert.equal(story.truncated, false);
  });

  it('an unknown id exits 1 with HERALD_MESSAGE_NOT_FOUND; a missing id is a usage error', async () => {
    const unknown = captureIo({ env: { REDIS_URL: redis.url } });
    assert.equal(await main(['message', 'show', 'nosuchmessage0001'], unknown.io), 1);
    assert.match(unknown.stderr(), /^herald: HERALD_MESSAGE_NOT_FOUND: no message "nosuchmessage0001"/m);
    assert.equal(unknown.stdout(), '');
    const odd = captureIo({ env: { REDIS_URL: redis.url } });
    assert.equal(await main(['message', 'show', 'x\u001b[2J{queue}'], odd.io), 1);
    assert.match(odd.stderr(), /HERALD_MESSAGE_NOT_FOUND: no message "x\\x1b\[2J\{queue\}"/);
    const missing = captureIo({ env: { REDIS_URL: redis.url } });
    assert.equal(await main(['message', 'show'], missing.io), 2);
    assert.match(missing.stderr(), /HERALD_CLI_USAGE/);
  });
});

describe('formatStory: attempt lines', () => {
  const reply = (code: number, enhanced: string, text: string) => ({
    code,
    enhanced,
    text,
    stage: 'rcpt' as const,
  });
  const story = (hostErrors: MessageStory['attempts'][number]['hostErrors']): MessageStory => ({
    id: 'm1',
    tenant: 'default',
    from: 'a@origin.test',
    acceptedAt: 0,
    size: 10,
    source: 'smtp',
    recipients: [{ address: 'later@one.test', domain: 'one.test', state: 'deferred', attempts: 1 }],
    attempts: [
      {
        time: 0,
        domain: 'one.test',
        attempt: 1,
        host: { hostname: 'mx2.one.test', address: '127.0.0.2', port: 25, tls: false },
        results: [{ address: 'later@one.test', accepted: false, reply: reply(451, '4.3.0', 'try later') }],
        hostErrors,
        durationMs: 3,
      },
    ],
    feedback: [],
    truncated: false,
  });

  it("leaves out the attempt's own host when its error is the reply its recipients show", () => {
    const text = formatStory(
      story([
        { hostname: 'mx1.one.test', address: '127.0.0.1', reply: reply(421, '4.4.2', 'busy') },
        { hostname: 'mx2.one.test', address: '127.0.0.2', reply: reply(451, '4.3.0', 'try later') },
      ]),
    );
    assert.match(text, /^ {6}mx1\.one\.test \[127\.0\.0\.1\]: 421 4\.4\.2 busy$/m);
    assert.doesNotMatch(text, /mx2\.one\.test \[127\.0\.0\.2\]: 451/);
    assert.match(text, /^ {6}later@one\.test: 451 4\.3\.0 try later$/m);
  });

  it('keeps an error of its own host that says something else', () => {
    const text = formatStory(
      story([{ hostname: 'mx2.one.test', address: '127.0.0.2', reply: reply(421, '4.4.2', 'closing') }]),
    );
    assert.match(text, /^ {6}mx2\.one\.test \[127\.0\.0\.2\]: 421 4\.4\.2 closing$/m);
  });
});
