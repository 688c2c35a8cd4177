/**
 * `send()` names the cause of a refused message with its own code (errors/index.ts's catalogue),
 * one per cause a caller acts on differently; no two causes share one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHerald, ERROR_CODES, type Herald, HeraldError, type SendInput } from '@herald/delivery-core';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { newMessageId, Spool } from '../src/queue/index.js';

const CASES: { cause: string; code: string; input: SendInput }[] = [
  {
    cause: 'an invalid sender address',
    code: 'HERALD_SEND_BAD_SENDER',
    input: { from: 'not an address', to: 'a@example.net', text: 'x' },
  },
  {
    cause: 'a NUL in the message',
    code: 'HERALD_SEND_BAD_CONTENT',
    input: { from: 'app@shop.test', to: 'a@example.net', raw: 'From: app@shop.test\r\n\r\nbo\0dy\r\n' },
  },
  {
    cause: 'an invalid stream name',
    code: 'HERALD_SEND_BAD_INSTRUCTION',
    input: { from: 'app@shop.test', to: 'a@example.net', text: 'x', stream: 'no spaces' },
  },
  {
    cause: "a sender domain outside the tenant's sender_domains",
    code: 'HERALD_SEND_DOMAIN_NOT_ALLOWED',
    input: { from: 'ceo@bank.test', to: 'a@example.net', text: 'x', tenant: 'shop' },
  },
  {
    cause: 'DMARC would fail under refuse_dmarc_fail',
    code: 'HERALD_SEND_DMARC_FAIL',
    input: {
      from: 'app@origin.test',
      to: 'a@example.net',
      raw: 'From: ceo@bank.test\r\n\r\nx\r\n',
      tenant: 'strict',
    },
  },
  {
    cause: 'two From fields',
    code: 'HERALD_SEND_BAD_FROM',
    input: {
      from: 'app@shop.test',
      to: 'a@example.net',
      raw: 'From: app@shop.test\r\nFrom: x@evil.test\r\n\r\nx\r\n',
    },
  },
  {
    cause: 'no recipient at all',
    code: 'HERALD_SEND_NO_RECIPIENT',
    input: { from: 'app@shop.test', to: [], text: 'x' },
  },
];

/** Inputs of the wrong type (from JavaScript callers) get a code, not a bare TypeError. */
const MISTYPED: { cause: string; code: string; input: unknown }[] = [
  {
    cause: 'from: undefined',
    code: 'HERALD_SEND_BAD_SENDER',
    input: { from: undefined, to: 'a@example.net', text: 'x' },
  },
  { cause: 'from: 42', code: 'HERALD_SEND_BAD_SENDER', input: { from: 42, to: 'a@example.net', text: 'x' } },
  { cause: 'to: 42', code: 'HERALD_SEND_NO_RECIPIENT', input: { from: 'app@shop.test', to: 42, text: 'x' } },
  {
    cause: 'to: [null]',
    code: 'HERALD_SEND_NO_RECIPIENT',
    input: { from: 'app@shop.test', to: [null], text: 'x' },
  },
  { cause: 'to: undefined', code: 'HERALD_SEND_NO_RECIPIENT', input: { from: 'app@shop.test', text: 'x' } },
];

describe('send() error codes', () => {
  let redis: RedisHandle;
  let herald: Herald;
  before(async () => {
    redis = await startRedis();
    herald = await createHerald({
      redis: { url: redis.url },
      events: { log_level: 'silent' },
      tenants: { shop: { sender_domains: ['shop.test'] }, strict: { refuse_dmarc_fail: true } },
    });
  });
  after(async () => {
    await herald.close();
    await redis.stop();
  });

  for (const { cause, code, input } of CASES) {
    it(`${cause}: ${code}`, async () => {
      assert.ok(Object.hasOwn(ERROR_CODES, code), `${code} is in the catalogue`);
      await assert.rejects(herald.send(input), (err: unknown) => {
        assert.ok(err instanceof HeraldError, String(err));
        assert.equal(err.code, code, err.message);
        return true;
      });
    });
  }

  for (const { cause, code, input } of MISTYPED)
    it(`${cause}: ${code}`, async () => {
      await assert.rejects(herald.send(input as SendInput), (err: unknown) => {
        assert.ok(err instanceof HeraldError, String(err));
        assert.equal(err.code, code, err.message);
        return true;
      });
    });

  it('every cause has its own code', () => {
    assert.equal(new Set(CASES.map((c) => c.code)).size, CASES.length);
  });

  it('a spool enqueue without recipients: HERALD_SEND_NO_RECIPIENT', async () => {
    const spool = new Spool(redis.client(), 'codes');
    try {
      await assert.rejects(
        spool.enqueue({
          id: newMessageId(),
          tenant: 't',
          from: '',
          recipients: [],
          body: Buffer.from('x'),
          acceptedAt: 1,
        }),
        (err: unknown) => err instanceof HeraldError && err.code === 'HERALD_SEND_NO_RECIPIENT',
      );
    } finally {
      await spool.close();
    }
  });
});
