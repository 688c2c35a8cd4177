import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyReply, retryView } from '../src/bounce/index.js';
import type { SmtpReply } from '../src/errors/index.js';

function reply(
  code: number,
  enhanced: string | undefined,
  text: string,
  stage: SmtpReply['stage'],
): SmtpReply {
  return { code, text, stage, ...(enhanced ? { enhanced } : {}) };
}

describe('classifyReply', () => {
  test('an unknown user at RCPT is a hard bounce: suppress the address', () => {
    const c = classifyReply(
      reply(550, '5.1.1', '<bob@rcpt.test>: Recipient address rejected: User unknown', 'rcpt'),
      'bob@rcpt.test',
    );
    assert.deepEqual(
      [c.reason, c.hard, c.action, c.category, c.status, c.command],
      ['userunknown', true, 'suppress', 'bad-mailbox', '5.1.1', 'RCPT'],
    );
    assert.equal(c.address, 'bob@rcpt.test');
  });

  test('a full mailbox with 452 is soft and retried', () => {
    const c = classifyReply(reply(452, '4.2.2', 'Mailbox full', 'rcpt'));
    assert.deepEqual(
      [c.reason, c.hard, c.action, c.category],
      ['mailboxfull', false, 'retry', 'quota-issues'],
    );
  });

  test('too many connections at the greeting is retried, not bounced', () => {
    const c = classifyReply(reply(421, '4.7.0', 'Too many connections from your host.', 'greeting'));
    assert.deepEqual([c.reason, c.action], ['toomanyconn', 'retry']);
  });

  test('spam rejected after DATA bounces the message without suppressing the address', () => {
    const c = classifyReply(reply(554, '5.7.1', 'Message rejected as spam by Content Filtering', 'data'));
    assert.deepEqual([c.reason, c.hard, c.action], ['spamdetected', false, 'bounce']);
  });

  test("Herald's own connect failures are network errors; a refused STARTTLS is failedstarttls", () => {
    assert.equal(
      classifyReply(reply(451, '4.4.1', 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.9:25', 'connect')).reason,
      'networkerror',
    );
    assert.equal(
      classifyReply(reply(454, '4.7.0', 'TLS not available due to local problem', 'starttls')).reason,
      'failedstarttls',
    );
  });

  test('a null MX is notaccept and hard; a missing domain is hostunknown', () => {
    const nullMx = classifyReply(reply(556, '5.1.10', 'rcpt.test does not accept mail (null MX)', 'dns'));
    assert.deepEqual([nullMx.reason, nullMx.hard, nullMx.action], ['notaccept', true, 'suppress']);
    assert.equal(
      classifyReply(reply(550, '5.1.2', 'domain nowhere.test does not exist', 'dns')).reason,
      'hostunknown',
    );
  });

  test('the enhanced code is read from the text when the reply has none', () => {
    const c = classifyReply(
      reply(550, undefined, '5.7.1 Client host [192.0.2.5] blocked using zen.spamhaus.org', 'rcpt'),
    );
    assert.deepEqual([c.reason, c.status], ['blocked', '5.7.1']);
  });

  test('retryView gives the reason and the hard flag only', () => {
    assert.deepEqual(retryView(reply(550, '5.1.1', 'No such user', 'rcpt')), {
      reason: 'userunknown',
      hard: true,
    });
    assert.deepEqual(retryView(reply(451, '4.3.0', 'Temporary local problem', 'rcpt')), {
      reason: 'systemerror',
      hard: false,
    });
  });
});
