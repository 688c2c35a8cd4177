import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyReply, deferralReason } from '../src/bounce/index.js';
import { RETRY_CLASS_BY_REASON, retryClassOf } from '../src/retry/index.js';
import { parseReply } from '../src/smtp/reply.js';

const classOf = (line: string) => retryClassOf(parseReply(line, 'rcpt'));

describe("retryClassOf: the deferral reason's class, from one table", () => {
  it('the deferral rules decide where they match', () => {
    assert.equal(
      classOf('452 4.2.2 The email account that you tried to reach is over quota'),
      'mailbox_full',
    );
    assert.equal(classOf('451 4.7.1 Service unavailable - try again later'), 'greylisted');
    assert.equal(classOf('421 4.7.0 Too many connections from your IP'), 'throttled');
  });

  it("uses the classifier's reason for replies no deferral rule matches", () => {
    // No rule knows this wording; the classifier reads it as toomanyconn: back off.
    assert.equal(classOf('452 4.5.3 Too many recipients'), 'throttled');
  });

  it('stays default when neither knows better', () => {
    assert.equal(classOf('451 4.3.0 Temporary lookup failure'), 'default');
  });

  it('the deferral rules decide where classifyReply alone would class otherwise (measured)', () => {
    // reply → [class, classifyReply's reason]: sisimai's vocabulary has no greylisting reason and
    // reads provider "try again later" throttling as a security matter; deferralReason corrects both.
    const cases: [string, string, string][] = [
      ['450 4.2.0 <bob@example.org>: Recipient address rejected: Greylisted', 'greylisted', 'onhold'],
      ['451 4.7.1 Greylisting in action, please come back in 00:05:00', 'greylisted', 'blocked'],
      ['451 4.7.1 Try again later', 'greylisted', 'blocked'],
      ['451 4.7.0 Messages from 192.0.2.1 temporarily deferred', 'throttled', 'securityerror'],
      ['451 4.7.500 Server busy. Please try again later from [192.0.2.1].', 'throttled', 'securityerror'],
      ['452 4.4.5 Insufficient disk space; try again later', 'network', 'systemfull'],
    ];
    for (const [line, cls, reason] of cases) {
      const reply = parseReply(line, 'rcpt');
      assert.equal(classifyReply(reply).reason, reason, line);
      assert.notEqual(RETRY_CLASS_BY_REASON[classifyReply(reply).reason] ?? 'default', cls, line);
      assert.equal(RETRY_CLASS_BY_REASON[deferralReason(reply)] ?? 'default', cls, line);
      assert.equal(retryClassOf(reply), cls, line);
    }
  });
});
