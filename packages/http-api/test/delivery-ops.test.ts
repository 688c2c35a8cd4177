/**
 * Through HTTP with a real worker delivering to an smtp-server sink (a static route) and a real
 * webhook receiver: `GET /v1/messages/{id}` tells what the sink saw for a delivered and a bounced
 * recipient; queue retry and flush send a deferred recipient now, delete ends one without a word
 * to anyone, bounce sends the sender a DSN naming the operator's reason; a webhook endpoint added
 * through the API receives the events, each request signed (Standard Webhooks) with its secret.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readEvents } from '@herald/delivery-core';
import { queueKeys } from '@herald/delivery-core/keys';
import {
  type Receiver,
  type SinkReply,
  type SmtpSinkHandle,
  startReceiver,
  startSmtpSink,
  verifySignature,
} from '@herald/test-harness';
import { ADMIN_KEY, type ApiStack, PREFIX, startApi, waitUntil } from './helpers.js';

const SINK_HOST = '127.0.0.2';
const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const NO_USER: SinkReply = { code: 550, enhanced: '5.1.1', text: 'no such user here' };
const TRY_LATER: SinkReply = { code: 451, enhanced: '4.3.0', text: 'try again later' };
/** `later*` recipients are deferred until listed here. */
const open = new Set<string>();

let sink: SmtpSinkHandle;
let stack: ApiStack;
let receiver: Receiver;
let generatedReceiver: Receiver;
let generatedSecret: string;
before(async () => {
  sink = await startSmtpSink({
    host: SINK_HOST,
    script: {
      rcpt: (to) => {
        if (to.startsWith('bad')) return NO_USER;
        if (to.startsWith('later') && !open.has(to)) return TRY_LATER;
        return undefined;
      },
    },
  });
  stack = await startApi({
    routes: [{ match: '*', via: `${SINK_HOST}:${sink.port}`, tls: 'none' }],
    retry: { schedule: ['1h'], jitter: 0 },
    delivery: { idle_timeout: '1s' },
  });
  receiver = await startReceiver(SECRET);
  generatedReceiver = await startReceiver(SECRET);
  const added = await stack.call('POST', '/v1/webhooks', {
    key: ADMIN_KEY,
    body: { tenant: 'default', url: receiver.url, events: ['delivered', 'bounced'], secret: SECRET },
  });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  assert.equal(added.body.secret, undefined, 'a given secret is not echoed');
  const generated = await stack.call('POST', '/v1/webhooks', {
    key: ADMIN_KEY,
    body: { tenant: 'default', url: generatedReceiver.url, events: ['delivered'] },
  });
  generatedSecret = generated.body.secret;
  stack.herald.startWorkers();
  stack.herald.webhooks.startDispatcher();
});
after(async () => {
  await stack.stop();
  await Promise.all([sink.close(), receiver.close(), generatedReceiver.close()]);
});

const send = async (to: string[], from = 'app@origin.test') => {
  const answer = await stack.call('POST', '/v1/messages', {
    key: ADMIN_KEY,
    body: { from, to, subject: to.join(' '), text: 'hello' },
  });
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  return answer.body.id as string;
};
const story = async (id: string) => {
  const answer = await stack.call('GET', `/v1/messages/${id}`, { key: ADMIN_KEY });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
};
/** Waits until every recipient of the message is in one of `states`. */
const settled = (id: string, states: string[]) =>
  waitUntil(`${id} in ${states}`, async () => {
    const s = await story(id);
    return s.recipients.every((r: { state: string }) => states.includes(r.state)) && s;
  });
const toSink = (address: string) => sink.messages.filter((m) => m.to.includes(address));
const dsns = () => sink.messages.filter((m) => m.from === '');
/** DSNs Herald spooled (their accepted events are written with the spool write). */
const dsnEvents = async () =>
  (await readEvents(stack.redis.client(), queueKeys(PREFIX).events)).filter(
    (e) => e.type === 'accepted' && e.source === 'dsn',
  ).length;

describe('through HTTP with a worker and a sink', () => {
  test("a message's story matches what the sink saw, delivered and bounced", async () => {
    const id = await send(['ok@dest.test', 'bad@dest.test']);
    const s = await settled(id, ['delivered', 'bounced']);
    const byAddress = new Map(s.recipients.map((r: { address: string }) => [r.address, r]));
    const ok = byAddress.get('ok@dest.test') as { state: string; reply: { code: number } };
    const bad = byAddress.get('bad@dest.test') as { state: string; reply: { code: number; text: string } };
    assert.equal(ok.state, 'delivered');
    assert.equal(ok.reply.code, 250);
    assert.equal(toSink('ok@dest.test').length, 1, 'the sink has it once');
    assert.equal(toSink('ok@dest.test')[0]?.from, 'app@origin.test');
    assert.equal(bad.state, 'bounced');
    const refused = sink.rejected.find((r) => r.address === 'bad@dest.test');
    assert.equal(refused?.reply.code, 550);
    assert.equal(bad.reply.code, 550);
    assert.match(bad.reply.text, /no such user here/);
    assert.equal(toSink('bad@dest.test').length, 0);
    await waitUntil('the DSN of the bounce', () =>
      dsns().find((m) => m.to.includes('app@origin.test') && m.raw.toString().includes('bad@dest.test')),
    );
    const [attempt] = s.attempts;
    assert.deepEqual([attempt.host.address, attempt.host.port], [SINK_HOST, sink.port]);
    assert.deepEqual(
      attempt.results.map((r: { address: string; accepted: boolean }) => [r.address, r.accepted]).sort(),
      [
        ['bad@dest.test', false],
        ['ok@dest.test', true],
      ],
    );
  });

  test('retry now: a deferred recipient goes to the sink at once', async () => {
    const id = await send(['later1@dest.test']);
    await settled(id, ['deferred']);
    open.add('later1@dest.test');
    const retried = await stack.call('POST', '/v1/queue/retry', { key: ADMIN_KEY, body: { message_id: id } });
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.equal(retried.body.woken, 1);
    await settled(id, ['delivered']);
    assert.equal(toSink('later1@dest.test').length, 1);
  });

  test('flush a site (listed through GET /v1/queue): its deferred job goes out now', async () => {
    const id = await send(['later2@dest.test']);
    await settled(id, ['deferred']);
    const listed = await stack.call('GET', `/v1/queue/${encodeURIComponent('domain:dest.test')}`, {
      key: ADMIN_KEY,
    });
    const job = listed.body.jobs.find((j: { messageId: string }) => j.messageId === id);
    assert.deepEqual([job.state, job.waitingFor, job.pending], ['scheduled', 'retry', ['later2@dest.test']]);
    assert.equal(job.site, `route:${SINK_HOST}:${sink.port}`);
    open.add('later2@dest.test');
    const flushed = await stack.call('POST', `/v1/queue/${encodeURIComponent(job.site)}/flush`, {
      key: ADMIN_KEY,
    });
    assert.equal(flushed.status, 200, JSON.stringify(flushed.body));
    assert.ok(flushed.body.woken >= 1);
    await settled(id, ['delivered']);
    assert.equal(toSink('later2@dest.test').length, 1);
  });

  test('delete: the recipient ends bounced by the operator; the sink and the sender hear nothing', async () => {
    const id = await send(['later3@dest.test']);
    await settled(id, ['deferred']);
    const before = { dsns: await dsnEvents(), transactions: sink.stats().transactions };
    const deleted = await stack.call('POST', '/v1/queue/delete', {
      key: ADMIN_KEY,
      body: { message_id: id },
    });
    assert.deepEqual(deleted.body, {
      action: 'delete',
      removed: { jobs: 1, recipients: 1 },
      marked: { jobs: 0, recipients: 0 },
    });
    const s = await settled(id, ['bounced']);
    assert.equal(s.recipients[0].reply.text, 'deleted by operator');
    const events = await readEvents(stack.redis.client(), queueKeys(PREFIX).events);
    assert.ok(events.some((e) => e.type === 'bounced' && e.messageId === id && e.operator === 'delete'));
    assert.equal(await dsnEvents(), before.dsns, 'no DSN spooled');
    assert.equal(sink.stats().transactions, before.transactions, 'never sent again');
    const again = await stack.call('POST', '/v1/queue/retry', { key: ADMIN_KEY, body: { message_id: id } });
    assert.equal(again.status, 404);
  });

  test("bounce: the sender gets a DSN naming the recipient and the operator's reason", async () => {
    const id = await send(['later4@dest.test'], 'shop@origin.test');
    await settled(id, ['deferred']);
    const bounced = await stack.call('POST', '/v1/queue/bounce', {
      key: ADMIN_KEY,
      body: { message_id: id, reason: 'mailbox migration' },
    });
    assert.equal(bounced.status, 200, JSON.stringify(bounced.body));
    assert.deepEqual(bounced.body.removed, { jobs: 1, recipients: 1 });
    const dsn = await waitUntil('the DSN', () => dsns().find((m) => m.to.includes('shop@origin.test')));
    const text = dsn.raw.toString();
    assert.match(text, /later4@dest\.test/);
    assert.match(text, /mailbox migration/);
    assert.equal(toSink('later4@dest.test').length, 0);
    await settled(id, ['bounced']);
    // The DSN's own delivery is marked, so a webhook receiver can tell it from the app's mail.
    const events = () => readEvents(stack.redis.client(), queueKeys(PREFIX).events);
    const dsnDelivered = await waitUntil('the DSN delivered event', async () =>
      (await events()).find(
        (e) => e.type === 'delivered' && 'recipient' in e && e.recipient === 'shop@origin.test',
      ),
    );
    assert.equal((dsnDelivered as { source?: string }).source, 'dsn');
    assert.notEqual((dsnDelivered as { messageId: string }).messageId, id);
    const own = (await events()).filter((e) => 'recipient' in e && e.messageId === id);
    assert.ok(own.length > 0 && own.every((e) => !('source' in e)), 'the app message is not marked');
  });

  test('the webhook endpoints added through the API receive the events, signed with their secrets', async () => {
    const wanted = (events: { type: string; recipient?: unknown }[]) =>
      ['ok@dest.test', 'later1@dest.test'].every((r) =>
        events.some((e) => e.type === 'delivered' && e.recipient === r),
      ) && events.some((e) => e.type === 'bounced' && e.recipient === 'bad@dest.test');
    await receiver.waitFor(() => wanted(receiver.requests.flatMap((r) => r.events)));
    assert.ok(receiver.requests.length > 0);
    assert.ok(
      receiver.requests.every((r) => r.verified),
      'every request verifies with the secret given',
    );
    const types = new Set(receiver.requests.flatMap((r) => r.events.map((e) => e.type)));
    assert.deepEqual([...types].sort(), ['bounced', 'delivered'], 'only the types asked for');
    await generatedReceiver.waitFor(() =>
      generatedReceiver.requests.some((r) => r.events.some((e) => e.recipient === 'ok@dest.test')),
    );
    for (const r of generatedReceiver.requests)
      assert.ok(
        verifySignature(generatedSecret, r.id, r.timestamp, r.body, r.signature),
        'the generated secret signs',
      );
    assert.ok(
      generatedReceiver.requests.every((r) => !r.verified),
      'and not another one',
    );
  });
});
