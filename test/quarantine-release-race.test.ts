/**
 * End to end: releases of the same held message racing each other on a relay with a private Redis
 * and an SMTP sink. Messages are held for a flagged account (behaviour `domain_spread`). Several
 * `POST /v1/quarantine/{id}/release` at once, with `herald.quarantine.release` in process and
 * `herald quarantine release` from the CLI beside them: exactly one succeeds, every other answer
 * is a clear "not held" (404 HERALD_QUARANTINE_NOT_FOUND, the CLI's exit 1 with that code), never
 * a 5xx, and the message is queued and delivered exactly once. The same for releases by account
 * (`POST /v1/accounts/{account}/release` several at once): each held message released by one of
 * them. A release while Redis is down answers 503 and leaves the message held; once Redis is back
 * it is released and delivered once.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { QuarantineEvent } from '@herald/delivery-core/events';
import { runCli } from './lib/cli.js';
import { sampleMessage } from './lib/message.js';
import { mxZone, type Stack, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const SENDER = 'app@origin.test';
const PASS = 'secret-password';
const ADMIN_KEY = 'admin-key-for-the-release-race-e2e-0123456789';
/** Concurrent API releases of one message. */
const API_RACERS = 6;
/** Concurrent in-process releases beside them. */
const LOCAL_RACERS = 2;

describe('concurrent releases of held mail', () => {
  let stack: Stack;
  let dir: string | undefined;
  before(async () => {
    stack = await startStack({
      zone: {
        ...mxZone('example.test', [{ preference: 10, address: '127.0.0.2' }]),
        ...mxZone('other.test', [{ preference: 10, address: '127.0.0.2' }]),
      },
      sinks: [{ host: '127.0.0.2' }],
      // Every write on disk before its reply: the held message survives the kill below.
      redis: { appendfsync: 'always' },
      config: {
        smtp: { users: [{ username: 'holder', password: PASS, tenant: 'acme' }] },
        tenants: { acme: { dsn: false } },
        api: { listen: '127.0.0.1:0', admin_keys: [{ key: ADMIN_KEY }] },
        behaviour: { accounts: { holder: { domain_spread: { window: '1m', max_domains: 1 } } } },
      },
    });
    // Two domains in the window: flagged, from now on its mail is held.
    const first = await send(['one@example.test', 'two@other.test']);
    assert.equal(first.code, 250, first.response);
    const flag = await stack.relay.herald.behaviour!.evaluate('holder', 'acme');
    assert.equal(flag?.rule, 'domain_spread');
  });
  after(async () => {
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function send(to: string[], subject = 'hello') {
    return stack.submit({
      from: SENDER,
      to,
      body: sampleMessage({ subject }),
      auth: { user: 'holder', pass: PASS },
    });
  }
  async function hold(to: string): Promise<string> {
    const sent = await send([to], `held for ${to}`);
    assert.equal(sent.code, 250, sent.response);
    await stack.events.waitFor<QuarantineEvent>(
      `quarantined ${to}`,
      (e) => e.type === 'quarantined' && e.messageId === sent.queueId,
    );
    return sent.queueId!;
  }
  async function api(method: string, path: string) {
    const res = await fetch(`http://127.0.0.1:${stack.api!.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    const body = (await res.json()) as Record<string, unknown> & { error?: { code?: string } };
    return { status: res.status, body, code: body.error?.code };
  }
  const releasedEvents = (id: string) =>
    stack.events.all.filter((e) => e.type === 'released' && e.messageId === id).length;
  const deliveredTo = (to: string) => stack.sinks[0]!.messages.filter((m) => m.to.includes(to)).length;

  it('one release of a held message wins; the others answer 404 not held; delivered once', async () => {
    const id = await hold('race@example.test');
    dir = await mkdtemp(join(tmpdir(), 'herald-release-race-'));
    const configFile = join(dir, 'herald.yaml');
    await writeFile(configFile, `redis: { url: "${stack.redis.url}" }\n`);
    const quarantine = stack.relay.herald.quarantine;
    const [cli, apiAnswers, localAnswers] = await Promise.all([
      runCli(['quarantine', 'release', id, '--config', configFile]),
      Promise.all(Array.from({ length: API_RACERS }, () => api('POST', `/v1/quarantine/${id}/release`))),
      Promise.all(Array.from({ length: LOCAL_RACERS }, () => quarantine.release(id, 'test'))),
    ]);
    for (const answer of apiAnswers) {
      assert.ok(
        [200, 404].includes(answer.status),
        `no 5xx: ${answer.status} ${JSON.stringify(answer.body)}`,
      );
      if (answer.status === 404) assert.equal(answer.code, 'HERALD_QUARANTINE_NOT_FOUND');
    }
    assert.ok([0, 1].includes(cli.code ?? -1), cli.stderr);
    if (cli.code === 1) assert.match(cli.stderr, /HERALD_QUARANTINE_NOT_FOUND/);
    const wins =
      apiAnswers.filter((a) => a.status === 200).length +
      localAnswers.filter(Boolean).length +
      (cli.code === 0 ? 1 : 0);
    assert.equal(wins, 1, 'exactly one release succeeds');

    assert.equal((await stack.events.terminal('race@example.test', id)).type, 'delivered');
    assert.equal(releasedEvents(id), 1, 'one released event');
    assert.equal(deliveredTo('race@example.test'), 1, 'delivered once');
    const again = await api('POST', `/v1/quarantine/${id}/release`);
    assert.equal(again.status, 404);
  });

  it('releases by account at once: each held message released by exactly one of them', async () => {
    const ids = [
      await hold('bulk1@example.test'),
      await hold('bulk2@example.test'),
      await hold('bulk3@example.test'),
    ];
    const answers = await Promise.all(
      Array.from({ length: API_RACERS }, () => api('POST', '/v1/accounts/holder/release')),
    );
    for (const answer of answers) assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const released = answers.flatMap((a) => a.body.released as string[]);
    assert.deepEqual([...released].sort(), [...ids].sort(), 'each released once, by one caller');
    for (const [i, id] of ids.entries()) {
      const to = `bulk${i + 1}@example.test`;
      assert.equal((await stack.events.terminal(to, id)).type, 'delivered');
      assert.equal(releasedEvents(id), 1);
      assert.equal(deliveredTo(to), 1);
    }
  });

  it('a release while Redis is down answers 503 and leaves the message held; released once Redis is back', async () => {
    const id = await hold('outage@example.test');
    await stack.redis.kill();
    try {
      const during = await api('POST', `/v1/quarantine/${id}/release`);
      assert.equal(during.status, 503, JSON.stringify(during.body));
      assert.equal(during.code, 'HERALD_REDIS_UNAVAILABLE');
    } finally {
      await stack.redis.restart();
    }
    await waitUntil('the relay reaching Redis again', () => stack.relay.herald.ping());
    // The API's reads may ride another connection that reconnects a moment later: wait for its
    // first answer that is not Redis being unavailable, then it must say the message is held.
    const held = await waitUntil('the API reaching Redis again', async () => {
      const answer = await api('GET', `/v1/quarantine/${id}`);
      return answer.status !== 503 && answer;
    });
    assert.equal(held.status, 200, 'still held');
    const listed = await api('GET', '/v1/quarantine');
    assert.ok(
      (listed.body.messages as { id: string }[]).some((m) => m.id === id),
      'still listed as held',
    );
    // A 503 leaves the message held (asserted above), so a release refused that way is retried.
    let after = await api('POST', `/v1/quarantine/${id}/release`);
    await waitUntil('a release Redis answers', async () => {
      if (after.status === 503) after = await api('POST', `/v1/quarantine/${id}/release`);
      return after.status !== 503;
    });
    assert.equal(after.status, 200, JSON.stringify(after.body));
    assert.equal((await stack.events.terminal('outage@example.test', id)).type, 'delivered');
    assert.equal(releasedEvents(id), 1);
    await stack.assertEveryRecipientTerminatedOnce();
  });
});
