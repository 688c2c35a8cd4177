/**
 * End to end: content scanning through a real rspamd (Debian's, started by the harness on
 * loopback) and the quarantine. With the default thresholds GTUBE is refused 550 5.7.1 and clean
 * mail delivered untouched; a message scoring between add_header and quarantine is delivered with
 * X-Spam headers. For a tenant whose thresholds quarantine GTUBE, the message is answered 250 and
 * held (a `quarantined` event, nothing delivered); released, it is delivered; deleted, each
 * recipient ends bounced (operator delete). Every accepted recipient ends exactly once. A scanner
 * that does not answer is fail-closed (451 4.7.1) for the stack's config.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { QuarantineEvent } from '@herald/delivery-core/events';
import { GTUBE, type RspamdHandle, startRspamd, TEST_SCORE_HEADER } from '@herald/test-harness';
import { runCli } from './lib/cli.js';
import { headerValue, sampleMessage } from './lib/message.js';
import { type Stack, startStack } from './lib/stack.js';

const SENDER = 'app@origin.test';
const HOLDER = { user: 'holder', pass: 'secret' };
const ADMIN_KEY = 'admin-key-for-the-scanning-e2e-0123456789';

describe('content scanning with rspamd, and the quarantine', () => {
  let rspamd: RspamdHandle;
  let stack: Stack;
  let base: string;
  let dir: string | undefined;
  let configFile: string;
  before(async () => {
    rspamd = await startRspamd();
    stack = await startStack({
      config: {
        smtp: { users: [{ username: HOLDER.user, password: HOLDER.pass, tenant: 'holder' }] },
        api: { listen: '127.0.0.1:0', admin_keys: [{ key: ADMIN_KEY }] },
        scanning: {
          rspamd: { url: rspamd.url, timeout: '10s' },
          fail: 'closed',
          actions: {
            default: { add_header: 6, quarantine: 10, reject: 15 },
            holder: { quarantine: 10, reject: 100 },
          },
        },
      },
    });
    assert.ok(stack.api);
    base = `http://127.0.0.1:${stack.api.port}`;
    dir = await mkdtemp(join(tmpdir(), 'herald-scan-e2e-'));
    configFile = join(dir, 'herald.yaml');
    await writeFile(configFile, `redis: { url: "${stack.redis.url}" }\n`);
  });
  after(async () => {
    await stack?.stop();
    await rspamd?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const api = async (key: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { id?: string } };
  };

  const delivered = (to: string) => stack.sinks[0]!.messages.filter((m) => m.to.includes(to));

  it('refuses GTUBE with 550 5.7.1 and delivers clean mail without spam headers', async () => {
    const spam = await stack.submit({
      from: SENDER,
      to: ['victim@example.test'],
      body: sampleMessage({ subject: 'gtube', lines: ['Buy now', GTUBE] }),
    });
    assert.equal(spam.ok, false);
    assert.match(spam.response, /^550 5\.7\.1 Message rejected as spam/);
    const clean = await stack.submit({
      from: SENDER,
      to: ['reader@example.test'],
      body: sampleMessage({ subject: 'hello' }),
    });
    assert.equal(clean.code, 250, clean.response);
    assert.equal((await stack.events.terminal('reader@example.test', clean.queueId)).type, 'delivered');
    assert.equal(headerValue(delivered('reader@example.test')[0]!.raw, 'X-Spam'), undefined);
    const metrics = await stack.relay.herald.metrics.metrics();
    assert.match(metrics, /herald_scan_total\{result="reject"\} 1/);
    assert.match(metrics, /herald_scan_total\{result="accept"\} 1/);
  });

  it('adds X-Spam headers to a message scoring between add_header and quarantine, and delivers it', async () => {
    const sent = await stack.submit({
      from: SENDER,
      to: ['tagged@example.test'],
      body: sampleMessage({ subject: 'borderline', headers: [`${TEST_SCORE_HEADER}: 7.5`] }),
    });
    assert.equal(sent.code, 250, sent.response);
    assert.equal((await stack.events.terminal('tagged@example.test', sent.queueId)).type, 'delivered');
    const raw = delivered('tagged@example.test')[0]!.raw;
    assert.equal(headerValue(raw, 'X-Spam'), 'Yes');
    assert.equal(headerValue(raw, 'X-Spam-Score'), '7.50');
    assert.match(headerValue(raw, 'X-Spam-Symbols') ?? '', /HERALD_TEST_SCORE/);
  });

  it('holds GTUBE in quarantine for a tenant whose thresholds say so, and delivers it once released', async () => {
    const sent = await stack.submit({
      from: SENDER,
      to: ['held@example.test'],
      body: sampleMessage({ subject: 'held', lines: [GTUBE] }),
      auth: HOLDER,
    });
    assert.equal(sent.code, 250, sent.response);
    const held = await stack.events.waitFor<QuarantineEvent>(
      'quarantined',
      (e) => e.type === 'quarantined' && e.messageId === sent.queueId,
    );
    assert.equal(held.tenant, 'holder');
    assert.equal(held.score, 15);
    assert.ok(held.symbols?.includes('GTUBE'));
    const { quarantine } = stack.relay.herald;
    const listed = await quarantine.list({ tenant: 'holder' });
    assert.deepEqual(
      listed.messages.map((m) => [m.id, m.reason, m.recipients]),
      [[sent.queueId, 'spam', ['held@example.test']]],
    );
    assert.match((await quarantine.show(sent.queueId!))?.headers ?? '', /Subject: held/);
    assert.equal(delivered('held@example.test').length, 0);
    const released = await quarantine.release(sent.queueId!);
    assert.equal(released?.id, sent.queueId);
    assert.equal(await quarantine.release(sent.queueId!), undefined, 'a message is released once');
    assert.equal((await stack.events.terminal('held@example.test', sent.queueId)).type, 'delivered');
    assert.equal((await quarantine.list()).total, 0);
  });

  it('deletes a held message: each recipient ends bounced by the operator, nothing is delivered', async () => {
    const sent = await stack.submit({
      from: SENDER,
      to: ['doomed@example.test', 'doomed2@example.test'],
      body: sampleMessage({ subject: 'doomed', lines: [GTUBE] }),
      auth: HOLDER,
    });
    assert.equal(sent.code, 250, sent.response);
    await stack.events.waitFor(
      'quarantined',
      (e) => e.type === 'quarantined' && e.messageId === sent.queueId,
    );
    const removed = await stack.relay.herald.quarantine.remove(sent.queueId!);
    assert.deepEqual(removed?.recipients, ['doomed@example.test', 'doomed2@example.test']);
    for (const to of ['doomed@example.test', 'doomed2@example.test']) {
      const end = await stack.events.terminal(to, sent.queueId);
      assert.equal(end.type, 'bounced');
      assert.equal(end.operator, 'delete');
      assert.equal(end.reply.enhanced, '5.7.1');
    }
    await stack.assertEveryRecipientTerminatedOnce();
    assert.equal(delivered('doomed@example.test').length, 0);
  });

  it('the HTTP API and `herald quarantine`: a tenant key sees only its own, an admin releases and deletes', async () => {
    const spam = { from: SENDER, to: ['api-held@example.test'], subject: 'api', text: `hi ${GTUBE}` };
    const rejected = await api(ADMIN_KEY, 'POST', '/v1/messages', spam);
    assert.equal(rejected.status, 422, JSON.stringify(rejected.body));
    assert.equal((rejected.body.error as { code: string }).code, 'HERALD_SEND_SPAM');
    const sent = await api(ADMIN_KEY, 'POST', '/v1/messages', { ...spam, tenant: 'holder' });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const id = sent.body.id as string;
    await stack.events.waitFor('quarantined', (e) => e.type === 'quarantined' && e.messageId === id);

    const created = await runCli(['tenant', 'key', 'create', 'other', '--config', configFile]);
    assert.equal(created.code, 0, created.stderr);
    const otherKey = created.stdout.trim();
    const ownList = await api(otherKey, 'GET', '/v1/quarantine');
    assert.deepEqual(ownList.body, { total: 0, messages: [] });
    assert.equal((await api(otherKey, 'GET', `/v1/quarantine/${id}`)).status, 404);
    assert.equal((await api(otherKey, 'POST', `/v1/quarantine/${id}/release`)).status, 403);

    const listed = await api(ADMIN_KEY, 'GET', '/v1/quarantine?tenant=holder');
    assert.equal((listed.body.messages as { id: string }[])[0]?.id, id);
    const shown = await api(ADMIN_KEY, 'GET', `/v1/quarantine/${id}`);
    assert.equal(shown.status, 200);
    assert.match(shown.body.headers as string, /Subject: api/);

    const cliList = await runCli(['quarantine', 'list', '--config', configFile]);
    assert.equal(cliList.code, 0, cliList.stderr);
    assert.match(
      cliList.stdout,
      new RegExp(`^${id}  .*  holder  spam 15\\.00  <${SENDER}>  api-held@example\\.test$`, 'm'),
    );
    const released = await api(ADMIN_KEY, 'POST', `/v1/quarantine/${id}/release`);
    assert.equal(released.status, 200, JSON.stringify(released.body));
    assert.equal((await stack.events.terminal('api-held@example.test', id)).type, 'delivered');
    assert.equal((await api(ADMIN_KEY, 'POST', `/v1/quarantine/${id}/release`)).status, 404);

    const again = await api(ADMIN_KEY, 'POST', '/v1/messages', {
      ...spam,
      to: ['api-gone@example.test'],
      tenant: 'holder',
    });
    const gone = again.body.id as string;
    await stack.events.waitFor('quarantined', (e) => e.type === 'quarantined' && e.messageId === gone);
    const deleted = await runCli(['quarantine', 'delete', gone, '--config', configFile]);
    assert.equal(deleted.code, 0, deleted.stderr);
    // The CLI's events reach the Redis stream (the stack's in-process log sees only the relay's).
    const ends = (await stack.streamEvents()).filter((e) => e.type === 'bounced' && e.messageId === gone);
    assert.deepEqual(
      ends.map((e) => e.type === 'bounced' && [e.recipient, e.operator]),
      [['api-gone@example.test', 'delete']],
    );
    const missing = await runCli(['quarantine', 'show', gone, '--config', configFile]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /HERALD_QUARANTINE_NOT_FOUND/);
    await stack.assertEveryRecipientTerminatedOnce();
  });

  it('answers 451 4.7.1 while the scanner is down (fail closed)', async () => {
    await rspamd.close();
    const sent = await stack.submit({
      from: SENDER,
      to: ['later@example.test'],
      body: sampleMessage({ subject: 'scanner down' }),
    });
    assert.equal(sent.ok, false);
    assert.match(sent.response, /^451 4\.7\.1 Temporary local problem: content scanner unavailable/);
    assert.match(await stack.relay.herald.metrics.metrics(), /herald_scan_total\{result="failed_closed"\} 1/);
  });
});
