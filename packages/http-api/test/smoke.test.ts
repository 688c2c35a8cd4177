import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_KEY, type ApiStack, startApi } from './helpers.js';

let stack: ApiStack;
before(async () => {
  stack = await startApi();
});
after(() => stack.stop());

test('smoke', async () => {
  const doc = await stack.call('GET', '/openapi.json');
  assert.equal(doc.status, 200);
  console.log(JSON.stringify(doc.body).slice(0, 3000));
  const sent = await stack.call('POST', '/v1/messages', {
    key: ADMIN_KEY,
    body: { from: 'a@shop.test', to: ['b@example.test'], subject: 'hi', text: 'hello' },
  });
  console.log(sent.status, sent.body);
  const none = await stack.call('POST', '/v1/messages', { body: {} });
  console.log(none.status, none.body, none.headers.get('www-authenticate'));
  const nf = await stack.call('GET', '/nope');
  console.log(nf.status, nf.body);
  const bad = await stack.call('POST', '/v1/messages', {
    key: ADMIN_KEY,
    rawBody: '{bad',
    headers: { 'content-type': 'application/json' },
  });
  console.log(bad.status, bad.body);
  const ct = await stack.call('POST', '/v1/messages', {
    key: ADMIN_KEY,
    rawBody: 'x',
    headers: { 'content-type': 'text/plain' },
  });
  console.log(ct.status, ct.body);
});
