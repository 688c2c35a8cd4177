/**
 * A `redis.url` naming a database the server does not have (`/99999`, over its `databases`) must
 * refuse to start, not run on database 0: ioredis reports the failed SELECT only as an 'error'
 * event and keeps the connection on database 0, beside whatever queue lives there (attack finding).
 * A database the server has is used.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectRedis, HeraldError } from '@herald/delivery-core';
import { type RedisHandle, startRedis } from '@herald/test-harness';

const CONNECT_TIMEOUT_MS = 5_000;

describe('redis.url database number', () => {
  let redis: RedisHandle;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis.stop());

  it('refuses a database the server lacks, naming its reply', async () => {
    await assert.rejects(
      connectRedis(`${redis.url}/99999`, { timeoutMs: CONNECT_TIMEOUT_MS }),
      (err: unknown) => {
        assert.ok(err instanceof HeraldError);
        assert.equal(err.code, 'HERALD_REDIS_UNAVAILABLE');
        assert.match(err.message, /DB index is out of range/);
        return true;
      },
    );
  });

  it('uses a database the server has', async () => {
    const conn = await connectRedis(`${redis.url}/3`, { timeoutMs: CONNECT_TIMEOUT_MS });
    try {
      await conn.set('herald-db-select-probe', '1');
      assert.match(await conn.client('INFO'), / db=3 /);
    } finally {
      conn.disconnect();
    }
  });
});
