import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyMessage } from '../src/bounce/index.js';
import { parseHeaderLines } from '../src/bounce/mime.js';
import { MTA_WORDINGS, mtaOf, mtaStatement } from '../src/bounce/mta-wordings.js';
import { normaliseText } from '../src/bounce/phrases.js';

const qmailBounce = (line: string) =>
  [
    'From: MAILER-DAEMON@mx.sender.test',
    'To: alice@sender.test',
    'Subject: failure notice',
    '',
    'Hi. This is the qmail-send program at mx.sender.test.',
    "I'm afraid I wasn't able to deliver your message to the following addresses.",
    '',
    '<bob@rcpt.test>:',
    line,
    '',
    '--- Below this line is a copy of the message.',
  ].join('\n');

describe('MTA wordings', () => {
  test('every listed wording states its reason, or its command, on its own', () => {
    for (const mta of MTA_WORDINGS) {
      for (const [reason, words] of mta.reasons ?? []) {
        for (const word of words) {
          assert.equal(word.toLowerCase(), word, `${mta.name}: "${word}" has upper case`);
          const stated = mtaStatement(mta, word);
          assert.ok(stated.reason, `${mta.name}: "${word}" states no reason (wanted ${reason})`);
        }
      }
      for (const [command, words] of mta.commands ?? []) {
        for (const word of words) assert.equal(mtaStatement(mta, word).command, command, word);
      }
    }
  });

  test('qmail is recognised by its subject; "my name was rejected" is a HELO block', () => {
    const headers = parseHeaderLines(['Subject: failure notice']);
    assert.equal(mtaOf(headers, '')?.name, 'qmail');
    const [r] = classifyMessage(
      qmailBounce(
        'Connected to 192.0.2.1 but my name was rejected./Remote host said: 501 5.0.0 Invalid domain name',
      ),
    ).recipients;
    assert.deepEqual([r?.address, r?.reason, r?.command], ['bob@rcpt.test', 'blocked', 'EHLO']);
  });

  test("qmail's own sentences: no MX is notaccept, an unreachable host a network error", () => {
    const nullMx = classifyMessage(
      qmailBounce("Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)"),
    ).recipients[0];
    assert.deepEqual([nullMx?.reason, nullMx?.hard], ['notaccept', true]);
    const unreachable = classifyMessage(
      qmailBounce(
        "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)\nI'm not going to try again; this message has been in the queue too long.",
      ),
    ).recipients[0];
    assert.equal(unreachable?.reason, 'networkerror');
  });

  test('"does not like recipient" with an expired queue is left to the decision table', () => {
    const qmail = MTA_WORDINGS.find((m) => m.name === 'qmail')!;
    const text = normaliseText(
      "192.0.2.1 does not like recipient. Remote host said: 550 unknown user. I'm not going to try again; this message has been in the queue too long.",
    );
    assert.deepEqual(mtaStatement(qmail, text), { command: 'RCPT' });
  });

  test('Gmail notices: the "(state N)" stage names command and reason, a specific status wins', () => {
    const gmail = (line: string) =>
      [
        'From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>',
        'Subject: Delivery Status Notification (Failure)',
        '',
        'Delivery to the following recipient failed permanently:',
        '',
        '     bob@rcpt.test',
        '',
        'Technical details of permanent failure:',
        `The error that the other server returned was: ${line}`,
      ].join('\n');
    const header = classifyMessage(gmail('554 554 5.7.0 Header error (state 18).')).recipients[0];
    assert.deepEqual([header?.reason, header?.command], ['filtered', 'DATA']);
    const full = classifyMessage(gmail('550 550 5.2.2 <bob@rcpt.test>... Mailbox Full (state 14).'))
      .recipients[0];
    assert.equal(full?.reason, 'mailboxfull');
  });

  test('a notice sentence "Your message could not be delivered" does not end the notice', () => {
    const raw = [
      'From: MAILER-DAEMON@mx.sender.test (Mail Delivery System)',
      'Subject: Delayed Mail (still being retried)',
      '',
      'Your message could not be delivered for more than 2 hour(s).',
      '',
      '<bob@rcpt.test>: connect to mx.rcpt.test[192.0.2.2]:25: No route to host',
      '',
      'Final-Recipient: rfc822; bob@rcpt.test',
      'Action: delayed',
      'Status: 4.4.1',
      'Diagnostic-Code: X-Postfix; connect to mx.rcpt.test[192.0.2.2]:25: No route to host',
    ].join('\n');
    const report = classifyMessage(raw);
    assert.equal(report.kind, 'dsn');
    assert.deepEqual([report.recipients[0]?.reason, report.recipients[0]?.action], ['networkerror', 'retry']);
  });

  test('InterScan MSS: "Unable to deliver message to" is its unknown-recipient notice', () => {
    const raw = [
      'From: "InterScan MSS" <postmaster@sender.test>',
      'Subject: Mail could not be delivered',
      '',
      '****** Message from InterScan Messaging Security Suite ******',
      'Unable to deliver message to <bob@rcpt.test>.',
    ].join('\n');
    const [r] = classifyMessage(raw).recipients;
    assert.deepEqual([r?.address, r?.reason, r?.hard], ['bob@rcpt.test', 'userunknown', true]);
  });
});

describe('Japanese notices', () => {
  test('8-bit EUC-JP text labelled ISO-2022-JP is decoded as EUC-JP', async () => {
    const { decodeCharset } = await import('../src/bounce/mime.js');
    const eucJp = Buffer.from([0xa5, 0xe1, 0xa1, 0xbc, 0xa5, 0xeb]).toString('latin1');
    assert.equal(decodeCharset(eucJp, 'ISO-2022-JP'), 'メール');
    const jis = Buffer.from('\x1b$B%a!<%k\x1b(B', 'latin1').toString('latin1');
    assert.equal(decodeCharset(jis, 'iso-2022-jp'), 'メール');
  });
});
