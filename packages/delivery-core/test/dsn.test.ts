import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyMessage } from '../src/bounce/index.js';
import { finalRecipient } from '../src/dsn/compose.js';
import { composeDsn } from '../src/dsn/index.js';

const ORIGINAL = Buffer.from(
  'From: app@sender.test\r\nTo: gone@dest.test\r\nSubject: Your invoice\r\nMessage-ID: <m1@sender.test>\r\n\r\nsecret body\r\n',
);
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);

function dsn() {
  return composeDsn({
    reportingMta: 'relay.herald.test',
    to: 'app@sender.test',
    originalId: '0abc123',
    arrivalAt: NOW - 60_000,
    recipients: [
      {
        address: 'gone@dest.test',
        action: 'failed',
        status: '5.1.1',
        diagnostic: '550 5.1.1 <gone@dest.test>: user unknown',
        remoteMta: 'mx1.dest.test',
        lastAttemptAt: NOW - 1000,
      },
      {
        address: 'late@dest.test',
        action: 'failed',
        status: '5.4.7',
        diagnostic: '554 5.4.7 delivery time expired\r\nInjected: x',
      },
    ],
    original: ORIGINAL,
    messageId: '0abc124.dsn@relay.herald.test',
    now: NOW,
  });
}

describe('composeDsn', () => {
  it('is an RFC 3464 multipart/report from MAILER-DAEMON, auto-replied, with the original headers only', () => {
    const text = dsn().toString('utf8');
    assert.match(text, /^From: Mail Delivery System <MAILER-DAEMON@relay\.herald\.test>\r\n/);
    assert.match(text, /\r\nAuto-Submitted: auto-replied\r\n/);
    assert.match(text, /Content-Type: multipart\/report; report-type=delivery-status; boundary="/);
    assert.match(text, /Reporting-MTA: dns; relay\.herald\.test\r\n/);
    assert.match(
      text,
      /Final-Recipient: rfc822; gone@dest\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx1\.dest\.test\r\nDiagnostic-Code: smtp; 550 5\.1\.1/,
    );
    assert.match(
      text,
      /Content-Type: text\/rfc822-headers\r\n\r\nFrom: app@sender\.test\r\n.*Subject: Your invoice/s,
    );
    assert.doesNotMatch(text, /secret body/, 'the original body is never returned');
    assert.doesNotMatch(text, /\r\nInjected: x/, 'a reply cannot add header lines');
    assert.ok(!/[^\r]\n/.test(text), 'CRLF line ends only');
  });

  it('a next hop given by address is a domain literal in Remote-MTA ([IPv4], [IPv6:…])', () => {
    const report = (remoteMta: string) =>
      composeDsn({
        reportingMta: 'relay.herald.test',
        to: 'app@sender.test',
        originalId: '0abc125',
        arrivalAt: NOW - 60_000,
        recipients: [{ address: 'gone@dest.test', action: 'failed', status: '5.1.1', remoteMta }],
        original: ORIGINAL,
        messageId: '0abc126.dsn@relay.herald.test',
        now: NOW,
      }).toString('utf8');
    assert.match(report('192.0.2.7'), /\r\nRemote-MTA: dns; \[192\.0\.2\.7\]\r\n/);
    assert.match(report('2001:db8::7'), /\r\nRemote-MTA: dns; \[IPv6:2001:db8::7\]\r\n/);
    assert.match(report('mx1.dest.test'), /\r\nRemote-MTA: dns; mx1\.dest\.test\r\n/);
  });

  it('an internationalised recipient is written as RFC 6533 utf-8-addr-xtext, so the report stays ASCII', () => {
    assert.equal(finalRecipient('gone@dest.test'), 'rfc822; gone@dest.test');
    assert.equal(finalRecipient('a+b=c@dest.test'), 'rfc822; a+b=c@dest.test');
    assert.equal(finalRecipient('jörg+x@bücher.test'), 'utf-8; j\\x{F6}rg\\x{2B}x@b\\x{FC}cher.test');
    assert.equal(finalRecipient('用户@例子.test'), 'utf-8; \\x{7528}\\x{6237}@\\x{4F8B}\\x{5B50}.test');
    const text = composeDsn({
      reportingMta: 'relay.herald.test',
      to: 'app@sender.test',
      originalId: '0abc125',
      arrivalAt: NOW - 60_000,
      recipients: [
        { address: 'jörg@bücher.test', action: 'failed', status: '5.6.7', diagnostic: '553 5.6.7 x' },
      ],
      original: ORIGINAL,
      messageId: '0abc126.dsn@relay.herald.test',
      now: NOW,
    }).toString('latin1');
    assert.match(text, /Final-Recipient: utf-8; j\\x\{F6\}rg@b\\x\{FC\}cher\.test\r\n/);
  });

  it("Herald's own classifier reads it back: recipients, reasons and statuses", () => {
    const report = classifyMessage(dsn());
    const byAddress = new Map(report.recipients.map((r) => [r.address, r]));
    assert.equal(byAddress.get('gone@dest.test')?.reason, 'userunknown');
    assert.equal(byAddress.get('gone@dest.test')?.status, '5.1.1');
    assert.equal(byAddress.get('late@dest.test')?.reason, 'expired');
  });
});
