/**
 * End to end: the cap on mail held for a flagged account (`behaviour.max_held_messages`,
 * `max_held_bytes`) on a relay with a private Redis and an SMTP sink. A flagged account's mail is
 * held (250) until its held messages or bytes reach a cap; then it is refused `451 4.7.1` over
 * SMTP (nothing accepted: no event, `herald_behaviour_refused_total{cap}`) and `503
 * HERALD_SEND_ACCOUNT_HELD` with Retry-After over the HTTP API. Unflagging clears the counts and
 * the account's mail is delivered again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AccountEvent, QuarantineEvent } from '@herald/delivery-core/events';
import { sampleMessage } from './lib/message.js';
import { mxZone, type Stack, startStack } from './lib/stack.js';

const SENDER = 'app@origin.test';
const PASS = 'secret-password';
const ADMIN_KEY = 'admin-key-for-the-held-cap-e2e-0123456789';
const MAX_HELD_MESSAGES = 3;
/** Two of BIG_LINES' messages pass it; three small ones do not. */
const MAX_HELD_BYTES = 6_000;
const BIG_LINES = Array.from({ length: 40 }, (_, i) => `line ${i} ${'x'.repeat(90)}`);
const user = (name: string) => ({ username: name, password: PASS, tenant: 'acme' });

describe('a cap on the mail held for a flagged account', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      zone: mxZone('example.test', [{ preference: 10, address: '127.0.0.2' }]),
      sinks: [{ host: '127.0.0.2' }],
      config: {
        smtp: { users: ['mallory', 'hog'].map(user) },
        tenants: { acme: { dsn: false }, apiapp: { dsn: false } },
        api: { listen: '127.0.0.1:0', admin_keys: [{ key: ADMIN_KEY }] },
        behaviour: {
          evaluate_interval: '1s',
          max_held_messages: MAX_HELD_MESSAGES,
          max_held_bytes: MAX_HELD_BYTES,
          // Two recipients in a minute flag any account.
          rules: { volume_spike: { window: '1m', min_count: 1, max_count: 2 } },
        },
      },
    });
  });
  after(() => stack?.stop());

  const send = (account: string, to: string, lines?: string[]) =>
    stack.submit({
      from: SENDER,
      to: [to],
      body: sampleMessage({ subject: `to ${to}`, ...(lines ? { lines } : {}) }),
      auth: { user: account, pass: PASS },
    });
  const flagged = (account: string) =>
    stack.events.waitFor<AccountEvent>(
      `account_flagged of ${account}`,
      (e) => e.type === 'account_flagged' && e.account === account,
    );
  const quarantined = (id: string | undefined) =>
    stack.events.waitFor<QuarantineEvent>(
      'quarantined',
      (e) => e.type === 'quarantined' && e.messageId === id,
    );
  const flagWith = async (account: string) => {
    for (const to of [`${account}-1@example.test`, `${account}-2@example.test`]) {
      const sent = await send(account, to);
      assert.equal(sent.code, 250, sent.response);
    }
    await flagged(account);
  };
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${stack.api!.port}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };
  const metric = async (cap: string) => {
    const text = await stack.relay.herald.metrics.metrics();
    return Number(new RegExp(`herald_behaviour_refused_total\\{cap="${cap}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  };

  it("holds a flagged account's mail up to max_held_messages, then answers 451 4.7.1; unflagged, it delivers again", async () => {
    await flagWith('mallory');
    const held: string[] = [];
    for (let i = 0; i < MAX_HELD_MESSAGES; i++) {
      const sent = await send('mallory', `held${i}@example.test`);
      assert.equal(sent.code, 250, sent.response);
      assert.equal((await quarantined(sent.queueId)).account, 'mallory');
      held.push(sent.queueId!);
    }
    const refused = await send('mallory', 'over-cap@example.test');
    assert.equal(refused.code, 451, refused.response);
    assert.match(refused.response, /^451 4\.7\.1 Account's mail is on hold; try again later/);
    assert.doesNotMatch(refused.response, /volume_spike|max_held/, 'names no rule and no cap');
    assert.equal(await metric('messages'), 1);
    assert.equal(
      (await stack.streamEvents()).some(
        (e) => 'recipients' in e && JSON.stringify(e.recipients).includes('over-cap@example.test'),
      ),
      false,
      'nothing accepted: no event of the refused message',
    );

    const behaviour = stack.relay.herald.behaviour!;
    const status = await behaviour.status('mallory');
    assert.deepEqual(
      [status.held.messages, status.held.maxMessages, status.held.capReached],
      [MAX_HELD_MESSAGES, MAX_HELD_MESSAGES, 'messages'],
    );
    assert.ok(status.held.bytes > 0 && status.held.bytes < MAX_HELD_BYTES, String(status.held.bytes));
    const shown = await api('GET', '/v1/accounts/mallory');
    assert.deepEqual(shown.body.held, {
      messages: MAX_HELD_MESSAGES,
      bytes: status.held.bytes,
      max_messages: MAX_HELD_MESSAGES,
      max_bytes: MAX_HELD_BYTES,
      cap_reached: 'messages',
    });
    const listed = (await api('GET', '/v1/accounts')).body.accounts as { account: string; held: unknown }[];
    assert.deepEqual(listed.find((a) => a.account === 'mallory')?.held, shown.body.held);

    await behaviour.unflag('mallory');
    const cleared = await behaviour.status('mallory');
    assert.deepEqual([cleared.held.messages, cleared.held.bytes, cleared.held.capReached], [0, 0, undefined]);
    const again = await send('mallory', 'after-unflag@example.test');
    assert.equal(again.code, 250, again.response);
    assert.equal((await stack.events.terminal('after-unflag@example.test', again.queueId)).type, 'delivered');
    assert.deepEqual(await stack.relay.herald.quarantine.releaseAccount('mallory'), held);
  });

  it('refuses once the held bytes reach max_held_bytes, before the message cap', async () => {
    await flagWith('hog');
    for (const to of ['big1@example.test', 'big2@example.test']) {
      const sent = await send('hog', to, BIG_LINES);
      assert.equal(sent.code, 250, sent.response);
      await quarantined(sent.queueId);
    }
    const refused = await send('hog', 'big3@example.test', BIG_LINES);
    assert.match(refused.response, /^451 4\.7\.1 /);
    assert.equal(await metric('bytes'), 1);
    const status = await stack.relay.herald.behaviour!.status('hog');
    assert.equal(status.held.messages, 2);
    assert.ok(status.held.bytes >= MAX_HELD_BYTES, String(status.held.bytes));
    assert.equal(status.held.capReached, 'bytes');
  });

  it('the HTTP API answers 503 HERALD_SEND_ACCOUNT_HELD with Retry-After past the cap', async () => {
    const post = (to: string) =>
      api('POST', '/v1/messages', {
        tenant: 'apiapp',
        from: SENDER,
        to: [to],
        subject: 'api',
        text: 'hello',
      });
    for (const to of ['api-1@example.test', 'api-2@example.test']) assert.equal((await post(to)).status, 202);
    await flagged('apiapp');
    for (let i = 0; i < MAX_HELD_MESSAGES; i++) {
      const sent = await post(`api-held${i}@example.test`);
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      await quarantined(sent.body.id as string);
    }
    const refused = await post('api-over@example.test');
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal((refused.body.error as { code: string }).code, 'HERALD_SEND_ACCOUNT_HELD');
    assert.ok(refused.headers.get('retry-after'));
  });
});
