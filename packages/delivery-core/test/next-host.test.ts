/**
 * judgeHost (smtp/next-host.ts), run as a table: after one host's transactions, which recipients
 * an attempt takes on to the next MX host, and the errors it records for the host it leaves.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type SmtpReply, TransientError } from '../src/errors/index.js';
import { judgeHost } from '../src/smtp/next-host.js';
import type { TransactionResult } from '../src/smtp/session-types.js';

const OK: SmtpReply = { code: 250, enhanced: '2.0.0', text: 'queued', stage: 'data' };
const MAIL_451: SmtpReply = { code: 451, enhanced: '4.3.0', text: 'try later', stage: 'mail' };
const RCPT_452: SmtpReply = { code: 452, enhanced: '4.2.2', text: 'mailbox busy', stage: 'rcpt' };
const RCPT_450: SmtpReply = { code: 450, enhanced: '4.2.1', text: 'greylisted', stage: 'rcpt' };
const RCPT_550: SmtpReply = { code: 550, enhanced: '5.1.1', text: 'no such user', stage: 'rcpt' };
const END_421: SmtpReply = { code: 421, enhanced: '4.7.0', text: 'try again later, closing', stage: 'data' };
const LOST: SmtpReply = { code: 451, enhanced: '4.4.2', text: 'connection closed', stage: 'data' };
const NO_SLOT: SmtpReply = { code: 451, enhanced: '4.4.5', text: 'no message free in time', stage: 'rcpt' };

const to = (address: string, reply: SmtpReply) => ({ address, accepted: reply.code < 300, reply });

interface Case {
  name: string;
  result: TransactionResult;
  heldBack?: string[];
  onward: string[];
  errors: SmtpReply[];
}

const CASES: Case[] = [
  {
    name: 'every recipient delivered: the attempt ends here',
    result: { recipients: [to('a', OK), to('b', OK)] },
    onward: [],
    errors: [],
  },
  {
    name: 'a 5xx is final: never tried at another host',
    result: { recipients: [to('a', OK), to('b', RCPT_550)] },
    onward: [],
    errors: [],
  },
  {
    name: 'a 451 to MAIL sends everyone on, with the MAIL reply as the host error',
    result: {
      recipients: [to('a', MAIL_451), to('b', MAIL_451)],
      error: new TransientError(MAIL_451, 'remote'),
    },
    onward: ['a', 'b'],
    errors: [MAIL_451],
  },
  {
    name: 'RCPTs deferred while others were delivered: only they go on, one error per distinct reply',
    result: {
      recipients: [to('a', RCPT_452), to('b', OK), to('c', RCPT_450), to('d', RCPT_452), to('e', RCPT_550)],
    },
    onward: ['a', 'c', 'd'],
    errors: [RCPT_452, RCPT_450],
  },
  {
    name: 'a 421 to the end of data sends the accepted on; a RCPT deferred there goes too',
    result: {
      recipients: [to('a', END_421), to('b', RCPT_452)],
      error: new TransientError(END_421, 'remote'),
    },
    onward: ['a', 'b'],
    errors: [END_421, RCPT_452],
  },
  {
    name: 'a connection lost before the final dot sends them on',
    result: { recipients: [to('a', LOST)], error: new TransientError(LOST, 'network') },
    onward: ['a'],
    errors: [LOST],
  },
  {
    name: 'a connection lost after the final dot ends the attempt (the server may have it)',
    result: {
      recipients: [to('a', LOST), to('b', RCPT_452)],
      error: new TransientError(LOST, 'network'),
      dotUnanswered: true,
    },
    onward: [],
    errors: [],
  },
  {
    name: 'recipients Herald held back (no message of the rate) wait for the next attempt',
    result: { recipients: [to('a', OK), to('b', NO_SLOT), to('c', RCPT_452)] },
    heldBack: ['b'],
    onward: ['c'],
    errors: [RCPT_452],
  },
];

describe('judgeHost: after one host, who goes on to the next', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const verdict = judgeHost(c.result, new Set(c.heldBack ?? []));
      assert.deepEqual(verdict.onward, c.onward);
      assert.deepEqual(verdict.errors, c.errors);
    });
  }
});
