/**
 * The DATA stage of the submission policy: instruction headers set the stream and campaign and
 * are taken out of the message; a user's configured stream is the default; invalid or
 * conflicting instruction headers are refused with 554 5.6.0.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig } from '@herald/delivery-core';
import { createPolicy, type PolicyReply, type SubmittedMessage } from '../src/policy.js';

const policy = createPolicy(
  defaultConfig({
    smtp: {
      users: [
        { username: 'shop', password: 'pw', stream: 'Bulk' },
        { username: 'app', password: 'pw' },
      ],
    },
  }),
);
const session = (username?: string) => ({
  remoteAddress: '127.0.0.1',
  user: username ? { username, tenant: username } : undefined,
  secure: false,
  recipients: 1,
});
const message = (...headers: string[]) =>
  Buffer.from([...headers, 'From: news@shop.test', 'Subject: hi', '', 'body', ''].join('\r\n'));

function accepted(result: PolicyReply | SubmittedMessage): SubmittedMessage {
  assert.ok(!('code' in result), `refused: ${JSON.stringify(result)}`);
  return result;
}

describe('submission policy at DATA: streams and campaigns', () => {
  it('a message without instruction headers goes unchanged in the user default stream', () => {
    const raw = message();
    assert.deepEqual(policy.onData(raw, session('shop')), { body: raw, stream: 'bulk', campaign: undefined });
    assert.deepEqual(policy.onData(raw, session('app')), {
      body: raw,
      stream: undefined,
      campaign: undefined,
    });
    assert.deepEqual(policy.onData(raw, session()), { body: raw, stream: undefined, campaign: undefined });
  });

  it('the header wins over the user default and is taken out with the campaign', () => {
    const result = accepted(
      policy.onData(message('X-Herald-Stream: Transactional', 'X-Herald-Campaign: Spring'), session('shop')),
    );
    assert.equal(result.stream, 'transactional');
    assert.equal(result.campaign, 'spring');
    assert.deepEqual(result.body, message());
  });

  it('refuses an invalid or conflicting instruction header with 554 5.6.0', () => {
    assert.deepEqual(policy.onData(message('X-Herald-Campaign: spring sale'), session('app')), {
      code: 554,
      enhanced: '5.6.0',
      text: 'invalid X-Herald-Campaign header: expected 1-64 characters of A-Z a-z 0-9 _ . -',
    });
    assert.deepEqual(policy.onData(message('X-Herald-Stream: a', 'X-Herald-Stream: b'), session('app')), {
      code: 554,
      enhanced: '5.6.0',
      text: 'conflicting X-Herald-Stream headers',
    });
  });
});
