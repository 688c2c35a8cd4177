/** The refusal → HTTP status table and the error translation (pure). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HeraldError, IntakeRefusedError, REFUSALS, type RefusalKind } from '@herald/delivery-core';
import { refuse } from '@herald/delivery-core/intake';
import { REFUSAL_STATUS, toApiError } from '../src/index.js';

const noLog = () => assert.fail('nothing here is our fault');

describe('every intake refusal has one HTTP status', () => {
  test('the table has a row for each refusal of the catalogue and nothing else', () => {
    assert.deepEqual(Object.keys(REFUSAL_STATUS).sort(), Object.keys(REFUSALS).sort());
  });

  const expected: [RefusalKind, number][] = [
    ['badSender', 400],
    ['badContent', 400],
    ['badFrom', 400],
    ['badInstruction', 400],
    ['senderNotAllowed', 403],
    ['fromNotAllowed', 403],
    ['dmarcWouldFail', 403],
    ['tooBig', 413],
    ['suppressed', 422],
    ['queueUnavailable', 503],
    ['suppressionUnavailable', 503],
  ];
  for (const [kind, status] of expected)
    test(`${kind} → ${status} with the catalogue's HERALD_* code and SMTP reply in details`, () => {
      const error = toApiError(new IntakeRefusedError(refuse(kind)), noLog);
      assert.equal(error.status, status);
      assert.equal(error.code, REFUSALS[kind].error);
      assert.deepEqual(error.details, { code: REFUSALS[kind].code, enhanced: REFUSALS[kind].enhanced });
      assert.equal(error.headers['retry-after'] !== undefined, status === 503, 'Retry-After only with 503');
    });

  test('a 4xx refusal is never a server error and a temporary one never a client error', () => {
    for (const [kind, status] of Object.entries(REFUSAL_STATUS)) {
      const temporary = REFUSALS[kind as RefusalKind].code < 500 && kind !== 'tooManyRecipients';
      assert.equal(status === 503, temporary, kind);
    }
  });
});

describe('other errors', () => {
  test('Redis unavailable is 503 with Retry-After', () => {
    const error = toApiError(new HeraldError('HERALD_REDIS_UNAVAILABLE', 'down'), noLog);
    assert.equal(error.status, 503);
    assert.ok(Number(error.headers['retry-after']) > 0);
  });

  test('an unexpected error is a 500 that says nothing of its cause, and is logged', () => {
    const logged: unknown[] = [];
    const error = toApiError(new Error('secret detail'), (e) => logged.push(e));
    assert.equal(error.status, 500);
    assert.equal(error.code, 'HERALD_INTERNAL');
    assert.doesNotMatch(error.message, /secret/);
    assert.equal(logged.length, 1);
  });

  test("fastify's body too large and bad media type become 413 and 415 in our codes", () => {
    assert.equal(
      toApiError(Object.assign(new Error('x'), { statusCode: 413 }), noLog).code,
      'HERALD_API_TOO_LARGE',
    );
    const media = toApiError(Object.assign(new Error('x'), { statusCode: 415 }), noLog);
    assert.deepEqual([media.status, media.code], [415, 'HERALD_API_BAD_REQUEST']);
  });
});
