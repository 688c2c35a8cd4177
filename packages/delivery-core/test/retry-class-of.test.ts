import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retryClassOf } from '../src/delivery/retry-class.js';
import { parseReply } from '../src/smtp/reply.js';

const classOf = (line: string) => retryClassOf(parseReply(line, 'rcpt'));

describe('retryClassOf: reply rules first, then the bounce classifier', () => {
  it('keeps the reply rules where they decide', () => {
    assert.equal(
      classOf('452 4.2.2 The email account that you tried to reach is over quota'),
      'mailbox_full',
    );
    assert.equal(classOf('451 4.7.1 Service unavailable - try again later'), 'greylisted');
    assert.equal(classOf('421 4.7.0 Too many connections from your IP'), 'throttled');
  });

  it("uses the classifier's reason for replies the rules leave at default", () => {
    // No rule knows this wording; the classifier reads it as toomanyconn: back off.
    assert.equal(classOf('452 4.5.3 Too many recipients'), 'throttled');
  });

  it('stays default when neither knows better', () => {
    assert.equal(classOf('451 4.3.0 Temporary lookup failure'), 'default');
  });
});
