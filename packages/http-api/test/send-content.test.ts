/**
 * What POST /v1/messages takes in its fields, attacked: base64 checked in linear time (1 MB of
 * newlines and one bad character is a quick 400), control characters in header-bound fields,
 * extra headers capped in number and counted in the message size, headers the structured fields
 * own refused by name, recipients answered in request order, a 422 that names no message, clear
 * messages for a missing field; and the docs' corners: a bad tenant on /v1/keys, 415 in OpenAPI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readEvents } from '@herald/delivery-core';
import { queueKeys } from '@herald/delivery-core/keys';
import { ADMIN_KEY, type ApiStack, PREFIX, startApi } from './helpers.js';

const MAX_MESSAGE = 2_000_000;
const MESSAGE = { from: 'app@shop.test', to: 'someone@example.test', subject: 'hi', text: 'hello' };
/** A hang guard for the request an O(N²) check would freeze (not a timed assertion). */
const HANG_GUARD_MS = 60_000;

let stack: ApiStack;
before(async () => {
  stack = await startApi({}, { max_message_size: MAX_MESSAGE });
});
after(() => stack.stop());

const post = (body: unknown) => stack.call('POST', '/v1/messages', { key: ADMIN_KEY, body });
const acceptedCount = async () =>
  (await readEvents(stack.redis.client(), queueKeys(PREFIX).events)).filter((e) => e.type === 'accepted')
    .length;
const issuePaths = (answer: { body: { error: { details?: { issues?: { path: string }[] } } } }) =>
  (answer.body.error.details?.issues ?? []).map((i) => i.path);

describe('attachment content', () => {
  test('1 MB of newlines and one bad character: a 400, the relay not frozen', {
    timeout: HANG_GUARD_MS,
  }, async () => {
    const content = `${'\n'.repeat(1024 * 1024)}!`;
    const answer = await post({ ...MESSAGE, attachments: [{ filename: 'a.bin', content }] });
    assert.equal(answer.status, 400, JSON.stringify(answer.body).slice(0, 300));
    assert.deepEqual(issuePaths(answer), ['body.attachments.0.content']);
    assert.equal((await stack.call('GET', '/openapi.json')).status, 200, 'still answering');
  });

  test('wrapped, padded base64 passes; unpadded, over-padded or = inside is a 400', async () => {
    const ok = `${Buffer.from('attached bytes!')
      .toString('base64')
      .replace(/(.{8})/g, '$1\r\n')}\r\n`;
    assert.equal((await post({ ...MESSAGE, attachments: [{ filename: 'a', content: ok }] })).status, 202);
    for (const content of ['YWJ', 'YQ===', 'YQ==YQ==', 'YW=J'])
      assert.equal(
        (await post({ ...MESSAGE, attachments: [{ filename: 'a', content }] })).status,
        400,
        content,
      );
    const raw = await post({
      ...MESSAGE,
      subject: undefined,
      text: undefined,
      raw: '!!!',
      raw_encoding: 'base64',
    });
    assert.deepEqual([raw.status, issuePaths(raw)], [400, ['body.raw']]);
  });
});

describe('control characters in header-bound fields', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['subject (VT)', { subject: 'hi\vthere' }],
    ['subject (FF)', { subject: 'hi\fthere' }],
    ['subject (ESC)', { subject: 'hi\x1b[31m' }],
    ['subject (DEL)', { subject: 'hi\x7f' }],
    ['to (BEL)', { to: 'x\x07@example.test' }],
    ['headers (value, BS)', { headers: { 'X-A': 'v\bw' } }],
    ['attachments (filename, US)', { attachments: [{ filename: 'a\x1f.txt', content: 'YQ==' }] }],
    ['metadata (SOH)', { metadata: { k: 'v\x01' } }],
  ];
  for (const [field, patch] of cases)
    test(field, async () => {
      const before = await acceptedCount();
      const answer = await post({ ...MESSAGE, ...patch });
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error.code, 'HERALD_API_BAD_REQUEST');
      assert.match(answer.body.error.message, /header injection/);
      assert.equal(await acceptedCount(), before, 'nothing spooled');
    });

  test('a TAB is still allowed', async () => {
    assert.equal((await post({ ...MESSAGE, subject: 'a\tb' })).status, 202);
  });
});

describe('extra headers', () => {
  test('more than 100: 400; a name over 76 characters or with a space: 400', async () => {
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`X-H${i}`, 'v']));
    const answer = await post({ ...MESSAGE, headers: many });
    assert.deepEqual([answer.status, issuePaths(answer)], [400, ['body.headers']]);
    const hundred = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`X-H${i}`, 'v']));
    assert.equal((await post({ ...MESSAGE, headers: hundred })).status, 202);
    assert.equal((await post({ ...MESSAGE, headers: { [`X-${'a'.repeat(75)}`]: 'v' } })).status, 400);
    assert.equal((await post({ ...MESSAGE, headers: { 'X A': 'v' } })).status, 400);
  });

  test('headers and subject count in api.max_message_size: 413', async () => {
    const headers = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`X-H${i}`, 'v'.repeat(998)]));
    const text = 'x'.repeat(MAX_MESSAGE - 50_000);
    const answer = await post({ ...MESSAGE, subject: 's'.repeat(998), text, headers });
    assert.equal(answer.status, 413, JSON.stringify(answer.body).slice(0, 300));
    assert.equal(answer.body.error.code, 'HERALD_SEND_TOO_BIG');
  });

  test('a header the structured fields own: 400 naming it, never dropped', async () => {
    for (const name of ['Bcc', 'From', 'message-id', 'Content-Type', 'DKIM-Signature', 'X-Herald-Stream']) {
      const answer = await post({ ...MESSAGE, headers: { 'X-Fine': 'ok', [name]: 'evil@attacker.test' } });
      assert.equal(answer.status, 400, name);
      assert.deepEqual(issuePaths(answer), [`body.headers.${name}`]);
      assert.match(answer.body.error.message, new RegExp(name));
    }
  });

  test("Herald's own X-Herald-* fields, Authentication-Results and ARC sets: 400 by name", async () => {
    for (const name of [
      'X-Herald-Tenant',
      'x-herald-metadata',
      'X-Herald-Anything',
      'Authentication-Results',
      'ARC-Seal',
      'ARC-Authentication-Results',
      'arc-message-signature',
    ]) {
      const answer = await post({ ...MESSAGE, headers: { [name]: 'spf=pass smtp.mailfrom=bank.example' } });
      assert.equal(answer.status, 400, name);
      assert.deepEqual(issuePaths(answer), [`body.headers.${name}`]);
    }
    const sender = await post({
      ...MESSAGE,
      headers: { Sender: 'app@shop.test', 'Resent-From': 'app@shop.test' },
    });
    assert.equal(sender.status, 202, 'Sender and Resent-From stay allowed');
  });
});

describe('answers', () => {
  test('the 202 lists recipients in request order, refused ones in place', async () => {
    const to = ['first@example.test', 'bad@@x', 'third@example.test'];
    const answer = await post({ ...MESSAGE, to, cc: 'also-bad@@y', bcc: 'last@example.test' });
    assert.equal(answer.status, 202);
    assert.deepEqual(
      answer.body.recipients.map((r: { address: string; accepted: boolean }) => [r.address, r.accepted]),
      [
        ['first@example.test', true],
        ['bad@@x', false],
        ['third@example.test', true],
        ['also-bad@@y', false],
        ['last@example.test', true],
      ],
    );
  });

  test('every recipient refused: 422 with the recipients, no message id', async () => {
    const answer = await post({ ...MESSAGE, to: ['bad@@x', 'worse@@y'] });
    assert.equal(answer.status, 422);
    assert.equal(answer.body.error.code, 'HERALD_API_NO_RECIPIENT_ACCEPTED');
    assert.deepEqual(Object.keys(answer.body.error.details), ['recipients']);
    assert.deepEqual(
      answer.body.error.details.recipients.map((r: { address: string }) => r.address),
      ['bad@@x', 'worse@@y'],
    );
  });

  test('a missing `to` says what is expected', async () => {
    const { to: _to, ...noTo } = MESSAGE;
    const answer = await post(noTo);
    assert.equal(answer.status, 400);
    assert.match(answer.body.error.message, /body\.to: required: one address or a list/);
  });

  test('too many addresses, or a number or mapping where addresses belong, says so (not "Invalid input")', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => `r${i}@example.test`);
    const over = await post({ ...MESSAGE, to: many });
    assert.equal(over.status, 400);
    assert.match(over.body.error.message, /body\.to: at most 1000 addresses per request, got 1001/);
    for (const to of [1, {}, [1]]) {
      const answer = await post({ ...MESSAGE, cc: to });
      assert.equal(answer.status, 400, JSON.stringify(to));
      assert.doesNotMatch(answer.body.error.message, /Invalid input/, JSON.stringify(to));
      assert.match(answer.body.error.message, /body\.cc(\.0)?: expected/, JSON.stringify(to));
    }
  });
});

describe('docs corners', () => {
  test('GET and POST /v1/keys with an impossible tenant name: 400 HERALD_INPUT_INVALID', async () => {
    const list = await stack.call('GET', '/v1/keys?tenant=bad%20x', { key: ADMIN_KEY });
    assert.deepEqual([list.status, list.body.error?.code], [400, 'HERALD_INPUT_INVALID']);
    const create = await stack.call('POST', '/v1/keys', { key: ADMIN_KEY, body: { tenant: 'bad x' } });
    assert.deepEqual([create.status, create.body.error?.code], [400, 'HERALD_INPUT_INVALID']);
    assert.equal((await stack.call('GET', '/v1/keys?tenant=shop', { key: ADMIN_KEY })).status, 200);
  });

  test('/openapi.json lists 415 for POST /v1/messages', async () => {
    const doc = (await stack.call('GET', '/openapi.json')).body;
    assert.ok(doc.paths['/v1/messages'].post.responses['415']);
  });
});
