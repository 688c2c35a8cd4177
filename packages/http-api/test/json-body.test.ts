/**
 * Hostile JSON bodies: a nesting of millions of `[` or a `headers` object of hundreds of thousands
 * of keys is a 400 from one scan before JSON.parse (the API keeps answering), on the send route
 * and every other JSON route; the largest body a schema allows passes the scan, and a send with a
 * 24 MB body (an 18 MiB attachment) is still accepted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jsonShapeRefusal, MAX_JSON_DEPTH, MAX_JSON_TOKENS } from '../src/json-body.js';
import { MAX_ATTACHMENTS, MAX_EXTRA_HEADERS, MAX_METADATA_ENTRIES } from '../src/routes/messages.js';
import { MAX_RECIPIENTS_PER_REQUEST } from '../src/schemas.js';
import { ADMIN_KEY, type ApiStack, startApi } from './helpers.js';

const MESSAGE = { from: 'app@shop.test', to: 'someone@example.test', subject: 'hi', text: 'hello' };
/** Brackets of the deep attack (the review's was 15M; 2M shows the same). */
const DEEP_BRACKETS = 2_000_000;
/** Keys of the wide attack (the review's was 1.5M). */
const WIDE_KEYS = 300_000;
const LARGE_ATTACHMENT_BYTES = 18 * 1024 * 1024;

describe('the scan', () => {
  test('brackets, commas and colons inside strings (escaped quotes too) are not counted', () => {
    const text = JSON.stringify({ a: '[[[[[[[[{{{{{{,,,,::::', b: 'x\\"[[[[[[[[[[[["' });
    assert.equal(jsonShapeRefusal(text, { depth: 2, tokens: 4 }), undefined);
  });

  test('depth and token bounds name what was exceeded', () => {
    assert.match(jsonShapeRefusal('[[[[[[]]]]]]') ?? '', /nested deeper than 5 levels/);
    assert.match(jsonShapeRefusal(`[${'1,'.repeat(MAX_JSON_TOKENS)}1]`) ?? '', /structural tokens/);
  });

  test('the largest body the send schema allows passes', () => {
    const recipients = Array.from({ length: MAX_RECIPIENTS_PER_REQUEST }, (_, i) => `r${i}@example.test`);
    const all = [...recipients, ...recipients.map((r) => `c${r}`), ...recipients.map((r) => `b${r}`)];
    const body = {
      ...MESSAGE,
      to: recipients,
      cc: all.slice(MAX_RECIPIENTS_PER_REQUEST, 2 * MAX_RECIPIENTS_PER_REQUEST),
      bcc: all.slice(2 * MAX_RECIPIENTS_PER_REQUEST),
      html: '<p>hi</p>',
      reply_to: 'r@shop.test',
      stream: 's',
      campaign: 'c',
      tenant: 'default',
      headers: Object.fromEntries(Array.from({ length: MAX_EXTRA_HEADERS }, (_, i) => [`X-H${i}`, 'v'])),
      metadata: Object.fromEntries(Array.from({ length: MAX_METADATA_ENTRIES }, (_, i) => [`k${i}`, 'v'])),
      attachments: Array.from({ length: MAX_ATTACHMENTS }, () => ({
        filename: 'a',
        content: 'YQ==',
        content_type: 'text/plain',
      })),
      dsn: {
        notify: ['SUCCESS', 'FAILURE', 'DELAY'],
        ret: 'HDRS',
        envid: 'e',
        orcpt: Object.fromEntries(all.map((r) => [r, `rfc822;${r}`])),
      },
    };
    assert.equal(jsonShapeRefusal(JSON.stringify(body)), undefined);
  });
});

describe('hostile bodies over HTTP', () => {
  let stack: ApiStack;
  before(async () => {
    stack = await startApi();
  });
  after(() => stack.stop());

  const post = (path: string, rawBody: string) =>
    stack.call('POST', path, { key: ADMIN_KEY, rawBody, headers: { 'content-type': 'application/json' } });
  const stillAnswering = async () =>
    assert.equal((await stack.call('GET', '/openapi.json')).status, 200, 'still answering');

  test(`metadata nested ${DEEP_BRACKETS} levels deep: 400, the API still answering`, async () => {
    const body = `{"from":"app@shop.test","to":["b@example.test"],"text":"x","metadata":${'['.repeat(DEEP_BRACKETS)}${']'.repeat(DEEP_BRACKETS)}}`;
    const answer = await post('/v1/messages', body);
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.code, 'HERALD_API_BAD_REQUEST');
    assert.match(answer.body.error.message, new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`));
    await stillAnswering();
  });

  test(`${WIDE_KEYS} keys in headers: 400, the API still answering`, async () => {
    const keys = Array.from({ length: WIDE_KEYS }, (_, i) => `"X-${i}":"a"`).join(',');
    const answer = await post(
      '/v1/messages',
      `{"from":"app@shop.test","to":["b@example.test"],"text":"x","headers":{${keys}}}`,
    );
    assert.equal(answer.status, 400);
    assert.match(answer.body.error.message, /structural tokens/);
    await stillAnswering();
  });

  test('every JSON route scans: a deep body to POST /v1/suppressions is 400', async () => {
    const answer = await post('/v1/suppressions', `{"address":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
    assert.equal(answer.status, 400);
    assert.match(answer.body.error.message, /nested deeper/);
  });

  test('prototype poisoning is still refused by the parser', async () => {
    const answer = await post(
      '/v1/messages',
      '{"__proto__":{"x":1},"from":"a@shop.test","to":"b@example.test"}',
    );
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.code, 'HERALD_API_BAD_REQUEST');
    assert.match(answer.body.error.message, /may not hold a __proto__/);
  });

  test('a JSON null body is named as null', async () => {
    const answer = await post('/v1/messages', 'null');
    assert.equal(answer.status, 400);
    assert.match(answer.body.error.message, /received null/);
  });

  test('a 24 MB body (an 18 MiB attachment) is accepted', async () => {
    const content = Buffer.alloc(LARGE_ATTACHMENT_BYTES, 0x61).toString('base64');
    const answer = await stack.call('POST', '/v1/messages', {
      key: ADMIN_KEY,
      body: { ...MESSAGE, attachments: [{ filename: 'big.bin', content }] },
    });
    assert.equal(answer.status, 202, JSON.stringify(answer.body).slice(0, 300));
    assert.ok(answer.body.id);
  });
});
