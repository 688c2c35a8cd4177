/**
 * A Redis that stalls (SIGSTOP) after an Idempotency-Key was claimed: the answer still comes
 * within api.redis_timeout steps, never after the outage (the key's bookkeeping has a deadline);
 * a send that timed out keeps its in-flight marker, so a retry is 409 until the record of a
 * message that did spool is there, and then replays its 202. The record the enqueue wrote is
 * never replaced by a later answer (IdempotencyStore.finish is SET NX).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { readEvents, type SendInput } from '@herald/delivery-core';
import { IdempotencyStore, idempotencyScope } from '@herald/delivery-core/intake';
import { idempotencyKeys, queueKeys } from '@herald/delivery-core/keys';
import { ADMIN_KEY, type ApiStack, PREFIX, startApi, waitUntil } from './helpers.js';

const MESSAGE = { from: 'app@shop.test', to: 'someone@example.test', subject: 'hi', text: 'hello' };
/** A hang guard: without deadlines the request waits for the outage, which never ends here. */
const HANG_GUARD_MS = 60_000;

let stack: ApiStack;
let stopped = false;
const stall = () => {
  process.kill(stack.redis.pid, 'SIGSTOP');
  stopped = true;
};
const resume = () => {
  if (stopped) process.kill(stack.redis.pid, 'SIGCONT');
  stopped = false;
};
let realSend: (input: SendInput) => Promise<unknown>;

before(async () => {
  stack = await startApi({}, { redis_timeout: '500ms' });
  realSend = stack.herald.send.bind(stack.herald);
});
afterEach(() => {
  resume();
  stack.herald.send = realSend as typeof stack.herald.send;
});
after(() => stack.stop());

/** Redis stalls right after the key is claimed, as the send starts. */
function stallOnSend(): void {
  stack.herald.send = (async (input: SendInput) => {
    stall();
    return realSend(input);
  }) as typeof stack.herald.send;
}

const post = (body: unknown, key: string) =>
  stack.call('POST', '/v1/messages', { key: ADMIN_KEY, body, headers: { 'Idempotency-Key': key } });

test('a refusal while Redis stalls: answered in time, not after the outage', {
  timeout: HANG_GUARD_MS,
}, async () => {
  stallOnSend();
  const answer = await post({ ...MESSAGE, from: 'not an address' }, 'stall-1');
  assert.equal(stopped, true, 'Redis was stalled during the request');
  assert.equal(answer.status, 400);
  assert.equal(answer.body.error.code, 'HERALD_SEND_BAD_SENDER');
});

test('a send that times out: 503 in time; the retry is 409 or the one message, never two', {
  timeout: HANG_GUARD_MS,
}, async () => {
  stallOnSend();
  const body = { ...MESSAGE, to: 'stalled@example.test' };
  const answer = await post(body, 'stall-2');
  assert.equal(answer.status, 503, JSON.stringify(answer.body));
  assert.equal(answer.body.error.code, 'HERALD_REDIS_UNAVAILABLE');
  resume();
  stack.herald.send = realSend as typeof stack.herald.send;
  const replay = await waitUntil('the replayed answer', async () => {
    const retry = await post(body, 'stall-2');
    assert.ok([409, 202].includes(retry.status), JSON.stringify(retry.body));
    return retry.status === 202 && retry;
  });
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  const events = await readEvents(stack.redis.client(), queueKeys(PREFIX).events);
  const sent = events.filter((e) => e.type === 'accepted' && e.recipients.includes('stalled@example.test'));
  assert.equal(sent.length, 1, 'enqueued once');
});

test("finish never replaces the enqueue's record", async () => {
  const store = new IdempotencyStore(stack.redis.client(), PREFIX);
  const scope = idempotencyScope('default', 'nx-1');
  const { record } = idempotencyKeys(PREFIX, scope);
  assert.equal((await store.claim(scope)).state, 'claimed');
  await stack.redis.client().set(record, 'the 202', 'PX', 60_000);
  await store.finish({ scope, ttlMs: 60_000, value: 'a later 503' });
  assert.equal(await stack.redis.client().get(record), 'the 202');
  assert.deepEqual(await store.claim(scope), { state: 'done', record: 'the 202' });
});
