/**
 * POST /v1/messages on a real listener and a private Redis: structured and raw messages are really
 * spooled (body, record, accepted event), bcc only in the envelope, attachments and metadata in
 * the body; intake refusals answer through the catalogue's statuses; header injection is refused
 * field by field; bodies over the limits are 413; malformed requests 400/415/404 in the one error
 * shape; Idempotency-Key replays the first answer and enqueues nothing more.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type HeraldEvent, readEvents } from '@herald/delivery-core';
import { idempotencyScope } from '@herald/delivery-core/intake';
import { idempotencyKeys, queueKeys } from '@herald/delivery-core/keys';
import { ADMIN_KEY, type ApiStack, startApi } from './helpers.js';

const PREFIX = 'apitest';
const MAX_MESSAGE = 20_000;
const q = queueKeys(PREFIX);
const MESSAGE = { from: 'app@shop.test', to: 'someone@example.test', subject: 'hi', text: 'hello' };

let stack: ApiStack;
before(async () => {
  stack = await startApi(
    { tenants: { shop: { sender_domains: ['shop.test'] } } },
    { max_message_size: MAX_MESSAGE },
  );
});
after(() => stack.stop());

const post = (body: unknown, headers: Record<string, string> = {}) =>
  stack.call('POST', '/v1/messages', { key: ADMIN_KEY, body, headers });
const spooled = async (id: string) => (await stack.redis.client().getBuffer(q.body(id)))?.toString() ?? '';
async function acceptedEvents(): Promise<Extract<HeraldEvent, { type: 'accepted' }>[]> {
  const events = await readEvents(stack.redis.client(), q.events);
  return events.filter((e): e is Extract<HeraldEvent, { type: 'accepted' }> => e.type === 'accepted');
}

describe('structured and raw messages are spooled', () => {
  test('structured: 202 after the enqueue; cc and bcc are recipients, bcc never a header', async () => {
    const answer = await post({
      ...MESSAGE,
      to: ['a@example.test'],
      cc: 'b@example.test',
      bcc: ['hidden@example.test'],
      headers: { 'X-Campaign-Ref': 'spring' },
      attachments: [
        {
          filename: 'note.txt',
          content: Buffer.from('attached bytes').toString('base64'),
          content_type: 'text/plain',
        },
      ],
      metadata: { order: '42', name: 'Zoë' },
    });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.deepEqual(
      answer.body.recipients.map((r: { address: string; accepted: boolean }) => [r.address, r.accepted]),
      [
        ['a@example.test', true],
        ['b@example.test', true],
        ['hidden@example.test', true],
      ],
    );
    const body = await spooled(answer.body.id);
    assert.match(body, /^Subject: hi\r$/m);
    assert.match(body, /^Cc: b@example\.test\r$/m);
    assert.doesNotMatch(body, /hidden@example\.test/, 'bcc is not in the message');
    assert.match(body, /^X-Campaign-Ref: spring\r$/m);
    assert.match(body, /filename=note\.txt/);
    assert.match(body, new RegExp(Buffer.from('attached bytes').toString('base64')));
    assert.match(body, /^X-Herald-Metadata: order=42&name=Zo%C3%AB\r$/m);
    const event = (await acceptedEvents()).find((e) => e.messageId === answer.body.id);
    assert.deepEqual(event?.recipients.sort(), ['a@example.test', 'b@example.test', 'hidden@example.test']);
    assert.equal(event?.source, 'api');
  });

  test('raw, as text and as base64: the message as given (plus trace headers)', async () => {
    const raw = 'From: app@shop.test\r\nTo: someone@example.test\r\nSubject: raw one\r\n\r\nraw body\r\n';
    for (const body of [
      { from: 'app@shop.test', to: 'someone@example.test', raw },
      {
        from: 'app@shop.test',
        to: 'someone@example.test',
        raw: Buffer.from(raw).toString('base64'),
        raw_encoding: 'base64',
      },
    ]) {
      const answer = await post(body);
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      const stored = await spooled(answer.body.id);
      assert.ok(stored.endsWith(raw.slice(raw.indexOf('To:'))), stored);
    }
  });

  test('raw with subject, or raw_encoding without raw: 400 naming the field', async () => {
    const answer = await post({ ...MESSAGE, raw: 'Subject: x\r\n\r\ny' });
    assert.equal(answer.status, 400);
    assert.ok(answer.body.error.details.issues.some((i: { path: string }) => i.path === 'body.subject'));
    assert.equal((await post({ ...MESSAGE, raw_encoding: 'base64' })).status, 400);
  });
});

describe('intake refusals through the catalogue', () => {
  test('a sender domain the tenant may not use: 403 HERALD_SEND_DOMAIN_NOT_ALLOWED', async () => {
    const answer = await post({ ...MESSAGE, tenant: 'shop', from: 'app@elsewhere.test' });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error.code, 'HERALD_SEND_DOMAIN_NOT_ALLOWED');
    assert.deepEqual(answer.body.error.details, { code: 553, enhanced: '5.7.1' });
  });

  test('bad sender syntax: 400; every recipient refused: 422 with each one; some refused: 202 listing them', async () => {
    assert.equal(
      (await post({ ...MESSAGE, from: 'not an address' })).body.error.code,
      'HERALD_SEND_BAD_SENDER',
    );
    await stack.herald.suppression.add('default', {
      address: 'gone@example.test',
      reason: 'userunknown',
      source: 'bounce',
    });
    const none = await post({ ...MESSAGE, to: ['gone@example.test', 'bad@@x'] });
    assert.equal(none.status, 422);
    assert.equal(none.body.error.code, 'HERALD_API_NO_RECIPIENT_ACCEPTED');
    assert.deepEqual(
      none.body.error.details.recipients
        .map((r: { address: string; code: number }) => [r.address, r.code])
        .sort(),
      [
        ['bad@@x', 553],
        ['gone@example.test', 550],
      ],
    );
    const some = await post({ ...MESSAGE, to: ['gone@example.test', 'fine@example.test'] });
    assert.equal(some.status, 202);
    assert.deepEqual(
      some.body.recipients.map((r: { address: string; accepted: boolean }) => [r.address, r.accepted]),
      [
        ['gone@example.test', false],
        ['fine@example.test', true],
      ],
    );
  });
});

describe('header injection is refused in every header-bound field', () => {
  const attachment = { filename: 'a.txt', content: 'YQ==' };
  const cases: [string, Record<string, unknown>][] = [
    ['from', { from: 'app@shop.test\r\nBcc: victim@example.test' }],
    ['to', { to: ['ok@example.test', 'x@example.test\nBcc: victim@example.test'] }],
    ['cc', { cc: 'x@example.test\r\nBcc: v@example.test' }],
    ['bcc', { bcc: 'x@example.test\0' }],
    ['reply_to', { reply_to: 'x@example.test\rBcc: v@example.test' }],
    ['subject', { subject: 'hi\r\nBcc: victim@example.test' }],
    ['headers (value)', { headers: { 'X-A': 'v\r\nBcc: victim@example.test' } }],
    ['headers (name)', { headers: { 'X-A\r\nBcc': 'v' } }],
    [
      'attachments (filename)',
      { attachments: [{ ...attachment, filename: 'a.txt\r\nBcc: v@example.test' }] },
    ],
    [
      'attachments (content_type)',
      { attachments: [{ ...attachment, content_type: 'text/plain\r\nBcc: v@x.test' }] },
    ],
    ['metadata', { metadata: { k: 'v\nBcc: v@example.test' } }],
    ['stream', { stream: 'bulk\r\nBcc: v@example.test' }],
  ];
  for (const [field, patch] of cases)
    test(field, async () => {
      const before = (await acceptedEvents()).length;
      const answer = await post({ ...MESSAGE, ...patch });
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error.code, 'HERALD_API_BAD_REQUEST');
      assert.equal((await acceptedEvents()).length, before, 'nothing spooled');
    });
});

describe('sizes and malformed requests', () => {
  test("a message over api.max_message_size: 413, the intake catalogue's tooBig", async () => {
    const answer = await post({ ...MESSAGE, text: 'x'.repeat(MAX_MESSAGE + 1) });
    assert.equal(answer.status, 413);
    assert.equal(answer.body.error.code, 'HERALD_SEND_TOO_BIG');
    assert.deepEqual(answer.body.error.details, { code: 552, enhanced: '5.3.4' });
  });

  test('a body over the HTTP body limit: 413 in the same shape', async () => {
    const answer = await post({ ...MESSAGE, text: 'x'.repeat(MAX_MESSAGE * 2 + 128 * 1024) });
    assert.equal(answer.status, 413);
    assert.equal(answer.body.error.code, 'HERALD_API_TOO_LARGE');
  });

  test('malformed JSON, an empty body, another content type, an unknown field or route', async () => {
    const json = { 'content-type': 'application/json' };
    const bad = await stack.call('POST', '/v1/messages', {
      key: ADMIN_KEY,
      rawBody: '{"from": ',
      headers: json,
    });
    assert.deepEqual([bad.status, bad.body.error.code], [400, 'HERALD_API_BAD_REQUEST']);
    const empty = await stack.call('POST', '/v1/messages', { key: ADMIN_KEY, rawBody: '', headers: json });
    assert.deepEqual([empty.status, empty.body.error.code], [400, 'HERALD_API_BAD_REQUEST']);
    const text = await stack.call('POST', '/v1/messages', {
      key: ADMIN_KEY,
      rawBody: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    assert.deepEqual([text.status, text.body.error.code], [415, 'HERALD_API_BAD_REQUEST']);
    const unknown = await post({ ...MESSAGE, sender: 'x' });
    assert.deepEqual([unknown.status, unknown.body.error.code], [400, 'HERALD_API_BAD_REQUEST']);
    const proto = await stack.call('POST', '/v1/messages', {
      key: ADMIN_KEY,
      rawBody: '{"__proto__": {"x": 1}}',
      headers: json,
    });
    assert.equal(proto.status, 400);
    const route = await stack.call('GET', '/v1/nothing', { key: ADMIN_KEY });
    assert.deepEqual([route.status, route.body.error.code], [404, 'HERALD_API_NOT_FOUND']);
    const method = await stack.call('PUT', '/v1/messages', { key: ADMIN_KEY });
    assert.equal(method.status, 404);
  });
});

describe('Idempotency-Key', () => {
  test('the same key and body: the first answer again, one message', async () => {
    const headers = { 'Idempotency-Key': 'order-1001' };
    const body = { ...MESSAGE, to: 'idem@example.test' };
    const first = await post(body, headers);
    assert.equal(first.status, 202);
    const record = idempotencyKeys(PREFIX, idempotencyScope('default', 'order-1001')).record;
    assert.ok((await stack.redis.client().pttl(record)) > 23 * 3_600_000, 'kept for idempotency_ttl (24 h)');
    const second = await post(body, headers);
    assert.equal(second.status, 202);
    assert.deepEqual(second.body, first.body);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    const events = (await acceptedEvents()).filter((e) => e.recipients.includes('idem@example.test'));
    assert.equal(events.length, 1, 'enqueued once');
  });

  test('the same key with another body: 422; another tenant has its own keys', async () => {
    const headers = { 'Idempotency-Key': 'order-1002' };
    assert.equal((await post(MESSAGE, headers)).status, 202);
    const other = await post({ ...MESSAGE, subject: 'changed' }, headers);
    assert.equal(other.status, 422);
    assert.equal(other.body.error.code, 'HERALD_API_IDEMPOTENCY_MISMATCH');
    assert.equal((await post({ ...MESSAGE, tenant: 'globex', subject: 'changed' }, headers)).status, 202);
  });

  test('a duplicate while the first is in flight: 409', async () => {
    const { inFlight } = idempotencyKeys(PREFIX, idempotencyScope('default', 'order-1003'));
    await stack.redis.client().set(inFlight, '1', 'PX', 60_000);
    const answer = await post(MESSAGE, { 'Idempotency-Key': 'order-1003' });
    assert.equal(answer.status, 409);
    assert.equal(answer.body.error.code, 'HERALD_API_IDEMPOTENCY_CONFLICT');
  });

  test('a refusal is replayed too; a bad key is 400', async () => {
    const headers = { 'Idempotency-Key': 'order-1004' };
    const first = await post({ ...MESSAGE, from: 'bad sender' }, headers);
    const again = await post({ ...MESSAGE, from: 'bad sender' }, headers);
    assert.equal(first.status, 400);
    assert.deepEqual([again.status, again.body], [first.status, first.body]);
    assert.equal((await post(MESSAGE, { 'Idempotency-Key': 'x'.repeat(256) })).status, 400);
    assert.equal((await post(MESSAGE, { 'Idempotency-Key': 'tab\there' })).status, 400);
  });
});
