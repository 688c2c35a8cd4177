/**
 * Redis down: a send is answered 503 HERALD_REDIS_UNAVAILABLE with Retry-After (nothing is
 * accepted, the client keeps the message), and so is authentication; never a crash or a hang.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TenantKeyStore } from '@herald/delivery-core/apikeys';
import { ADMIN_KEY, type ApiStack, startApi } from './helpers.js';

const MESSAGE = { from: 'app@shop.test', to: 'someone@example.test', subject: 'hi', text: 'hello' };

let stack: ApiStack;
let tenantKey: string;
before(async () => {
  stack = await startApi({}, { redis_timeout: '1s' });
  tenantKey = (await new TenantKeyStore(stack.redis.client(), 'apitest').create('shop')).key;
  // Warm the admin key's cache: its check needs no Redis, so the send itself meets the outage.
  assert.equal((await stack.call('POST', '/v1/messages', { key: ADMIN_KEY, body: MESSAGE })).status, 202);
});
after(() => stack.stop());

test('with Redis stopped, sends and key checks answer 503 with Retry-After', async () => {
  await stack.redis.kill();
  for (const key of [ADMIN_KEY, tenantKey]) {
    const answer = await stack.call('POST', '/v1/messages', {
      key,
      body: MESSAGE,
      headers: { 'Idempotency-Key': 'k1' },
    });
    assert.equal(answer.status, 503, JSON.stringify(answer.body));
    assert.equal(answer.body.error.code, 'HERALD_REDIS_UNAVAILABLE');
    assert.equal(answer.body.error.message, 'Redis unavailable', 'no Redis client internals');
    assert.ok(Number(answer.headers.get('retry-after')) > 0);
  }
  assert.equal((await stack.call('GET', '/openapi.json')).status, 200, 'what needs no Redis still answers');
});
