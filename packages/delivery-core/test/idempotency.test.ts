/**
 * IdempotencyStore and the spool on a real redis-server: a claim sets the in-flight marker (a
 * second claim is busy); the enqueue MULTI writes the answer with the message and drops the
 * marker, so a later claim finds the answer; release frees a key without an answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import type { Redis } from 'ioredis';
import { IdempotencyStore, idempotencyScope } from '../src/intake/index.js';
import { idempotencyKeys } from '../src/keys/index.js';
import { newMessageId, Spool } from '../src/queue/index.js';

const TTL_MS = 60_000;

describe('idempotency records', () => {
  let redis: RedisHandle;
  let client: Redis;
  let spool: Spool;
  let store: IdempotencyStore;
  before(async () => {
    redis = await startRedis();
    client = redis.client();
    spool = new Spool(client, 'herald');
    store = new IdempotencyStore(client, 'herald');
  });
  after(async () => {
    await spool.close();
    await redis.stop();
  });

  it('scopes are per tenant and key, and safe key names', () => {
    assert.notEqual(idempotencyScope('a', 'k'), idempotencyScope('b', 'k'));
    assert.match(idempotencyScope('a', 'any key: with {braces}\t'), /^[0-9a-f]{64}$/);
  });

  it('claim, busy, then the answer written with the message in the enqueue MULTI', async () => {
    const scope = idempotencyScope('shop', 'order-1');
    assert.deepEqual(await store.claim(scope), { state: 'claimed' });
    assert.deepEqual(await store.claim(scope), { state: 'busy' });
    const id = newMessageId();
    await spool.enqueue({
      id,
      tenant: 'shop',
      from: 'a@shop.test',
      recipients: ['x@example.test'],
      body: Buffer.from('Subject: x\r\n\r\ny\r\n'),
      acceptedAt: Date.now(),
      idempotency: { scope, value: '{"answer":1}', ttlMs: TTL_MS },
    });
    const { record, inFlight } = idempotencyKeys('herald', scope);
    assert.equal(await client.exists(inFlight), 0, 'the marker is dropped in the same transaction');
    assert.ok((await client.pttl(record)) > TTL_MS - 5_000);
    assert.deepEqual(await store.claim(scope), { state: 'done', record: '{"answer":1}' });
  });

  it('release frees a key without an answer; finish stores one', async () => {
    const scope = idempotencyScope('shop', 'order-2');
    assert.equal((await store.claim(scope)).state, 'claimed');
    await store.release(scope);
    assert.equal((await store.claim(scope)).state, 'claimed');
    await store.finish({ scope, value: 'refused', ttlMs: TTL_MS });
    assert.deepEqual(await store.claim(scope), { state: 'done', record: 'refused' });
  });
});
