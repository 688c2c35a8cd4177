/**
 * One synthetic bounce per MTA or provider layout, written from the layout each vendor documents
 * (or its source prints) rather than copied from a sample: where the recipient and the diagnostic
 * stand, and the vendor's words for the reason. A layout the classifier cannot read gives
 * `onhold`, which these cases forbid.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyMessage } from '../src/bounce/index.js';

function mail(headers: Record<string, string>, body: string): string {
  const head = Object.entries({
    From: 'MAILER-DAEMON <mailer-daemon@mta.example.net>',
    To: 'sender@example.org',
    ...headers,
  })
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
  return `${head}\n\n${body}`;
}

const ORIGINAL =
  'From: sender@example.org\nTo: rcpt@example.jp\nSubject: hello\nMessage-ID: <1@example.org>\n\nhi\n';

interface Layout {
  name: string;
  raw: string;
  address: string;
  reason: string;
}

const LAYOUTS: Layout[] = [
  {
    name: 'Domino: was not delivered to / because',
    raw: mail(
      { Subject: 'DELIVERY FAILURE: User kijitora (kijitora@example.jp) not listed in Domino Directory' },
      'Your message\n\n  Subject: hello\n\nwas not delivered to:\n\n  kijitora@example.jp\n\nbecause:\n\n  User kijitora (kijitora@example.jp) not listed in Domino Directory\n',
    ),
    address: 'kijitora@example.jp',
    reason: 'userunknown',
  },
  {
    name: 'DragonFly: did not like our RCPT TO',
    raw: mail(
      {
        Subject: 'Mail delivery failed',
        Received:
          'from MAILER-DAEMON id e070f by df.example.jp (DragonFly Mail Agent v0.13); Sun, 16 Jun 2024 18:15:07 +0900',
      },
      'This is the DragonFly Mail Agent v0.13 at df.example.jp.\n\nThere was an error delivering your mail to <kijitora@example.com>.\n\nemail.example.jp [192.0.2.25] did not like our RCPT TO:\n552 5.2.2 <kijitora@example.com>: Recipient address rejected: Mailbox full\n\nOriginal message follows.\n\n' +
        ORIGINAL,
    ),
    address: 'kijitora@example.com',
    reason: 'mailboxfull',
  },
  {
    name: 'DragonFly: DNS lookup failure',
    raw: mail(
      {
        Subject: 'Mail delivery failed',
        Received: 'from MAILER-DAEMON by df.example.jp (DragonFly Mail Agent v0.13)',
      },
      'This is the DragonFly Mail Agent v0.13 at df.example.jp.\n\nThere was an error delivering your mail to <neko@nx.example.jp>.\n\nDNS lookup failure: host nx.example.jp not found\n\nOriginal message follows.\n\n' +
        ORIGINAL,
    ),
    address: 'neko@nx.example.jp',
    reason: 'hostunknown',
  },
  {
    name: 'fml: not a member',
    raw: mail(
      {
        From: 'neko-admin@example.org',
        Subject: 'NOT MEMBER article from sender@example.org (neko ML)',
        'Message-ID': '<202401010000.FML00001.neko@example.org>',
        'X-MLServer': 'fml [fml 4.0.3 release]',
      },
      'You are not a member of this mailing list <neko-meeting@example.org>.\n\nIf you know the general guide of this list, please send mail with the mail body\n\nOriginal mail as follows:\n\n' +
        ORIGINAL,
    ),
    address: 'neko-meeting@example.org',
    reason: 'rejected',
  },
  {
    name: 'IMail: Unknown user: address',
    raw: mail(
      { Subject: 'Undeliverable Mail ', 'X-Mailer': '<SMTP32 v8.22>' },
      'Unknown user: kijitora@example.com\n\nOriginal message follows.\n\n' + ORIGINAL,
    ),
    address: 'kijitora@example.com',
    reason: 'userunknown',
  },
  {
    name: 'IMail: delivery failed after attempts',
    raw: mail(
      { Subject: 'Undeliverable Mail ', 'X-Mailer': '<SMTP32 v8.22>' },
      'undeliverable to kijitora@example.com\nDelivery failed 3 attempts\n\nOriginal message follows.\n\n' +
        ORIGINAL,
    ),
    address: 'kijitora@example.com',
    reason: 'expired',
  },
  {
    name: 'OpenSMTPD: address: reply',
    raw: mail(
      {
        Subject: 'Delivery status notification: error',
        From: 'Mailer Daemon <MAILER-DAEMON@mx.example.org>',
      },
      '    Hi!\n\n    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.\n\n    An error has occurred while attempting to deliver a message for\n    the following list of recipients:\n\nkijitora@example.jp: 550 5.2.2 <kijitora@example.jp>... Mailbox Full\n\n    Below is a copy of the original message:\n\n' +
        ORIGINAL,
    ),
    address: 'kijitora@example.jp',
    reason: 'mailboxfull',
  },
  {
    name: 'OpenSMTPD: envelope expired',
    raw: mail(
      {
        Subject: 'Delivery status notification: error',
        From: 'Mailer Daemon <MAILER-DAEMON@mx.example.org>',
      },
      '    Hi!\n\n    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.\n\n    An error has occurred while attempting to deliver a message for\n    the following list of recipients:\n\nneko@example.jp: Envelope expired\n\n    Below is a copy of the original message:\n\n' +
        ORIGINAL,
    ),
    address: 'neko@example.jp',
    reason: 'expired',
  },
  {
    name: 'OpenSMTPD: domain does not exist',
    raw: mail(
      {
        Subject: 'Delivery status notification: error',
        From: 'Mailer Daemon <MAILER-DAEMON@mx.example.org>',
      },
      '    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.\n\n    An error has occurred while attempting to deliver a message for\n    the following list of recipients:\n\nneko@nx.example.jp: Domain does not exist\n\n    Below is a copy of the original message:\n\n' +
        ORIGINAL,
    ),
    address: 'neko@nx.example.jp',
    reason: 'hostunknown',
  },
  {
    name: 'PowerMTA: bounce category in the DSN',
    raw: mail(
      {
        Subject: 'Delivery report',
        'Content-Type': 'multipart/report; report-type=delivery-status; boundary="b1"',
      },
      '--b1\nContent-Type: text/plain\n\nHello, this is the mail server on pmta.example.org.\n\n <neko@example.jp>  delivery failed; will not continue trying\n\n--b1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; pmta.example.org\n\nFinal-Recipient: rfc822; neko@example.jp\nAction: failed\nStatus: 5.0.0 (undefined status)\nDiagnostic-Code: smtp;552 mailbox over limit\nX-PowerMTA-BounceCategory: quota-issues\n\n--b1--\n',
    ),
    address: 'neko@example.jp',
    reason: 'mailboxfull',
  },
  {
    name: 'Zoho: address Invalid Address, ERROR_CODE',
    raw: mail(
      {
        Subject: 'Undelivered Mail Returned to Sender',
        'X-ZohoMail': 'Si CHF_MF_NL SS_10 UW48 UB48 FMWL UW48 UB48 SGR3_1_2_0_0',
      },
      'This message was created automatically by mail delivery software.\nA message that you sent could not be delivered to one or more of its recipients. This is a permanent error.\n\nkijitora@example.co.jp Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 <kijitora@example.co.jp>... User Unknown\n\nReceived: from mail.example.org\n',
    ),
    address: 'kijitora@example.co.jp',
    reason: 'userunknown',
  },
  {
    name: 'Zoho: host not reachable',
    raw: mail(
      { Subject: 'Undelivered Mail Returned to Sender', 'X-ZohoMail': 'Si' },
      'This message was created automatically by mail delivery software.\nA message that you sent could not be delivered to one or more of its recipients. This is a temporary error.\n\n[Status: Error, Address: <kijitora@6kaku.example.co.jp>, ResponseCode 421, , Host not reachable.]\n',
    ),
    address: 'kijitora@6kaku.example.co.jp',
    reason: 'expired',
  },
  {
    name: 'Postfix: notice only, no DSN part',
    raw: mail(
      { Subject: 'Undelivered Mail Returned to Sender' },
      "This is the mail system at host mx.example.org.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n                   The mail system\n\n<kijitora@example.jp>: host mx.example.jp[192.0.2.153] said: 550 5.1.1\n    <kijitora@example.jp>... User Unknown (in reply to RCPT TO command)\n",
    ),
    address: 'kijitora@example.jp',
    reason: 'userunknown',
  },
  {
    name: 'Postfix: refused to talk to me',
    raw: mail(
      { Subject: 'Undelivered Mail Returned to Sender' },
      'This is the mail system at host mx.example.org.\n\n                   The mail system\n\n<kijitora@example.org>: host r2.example.org[198.51.100.18] refused to talk to\n    me: 554 r2.example.org ESMTP not accepting messages\n',
    ),
    address: 'kijitora@example.org',
    reason: 'blocked',
  },
  {
    name: 'Sendmail: transcript of session',
    raw: mail(
      { Subject: 'Returned mail: see transcript for details' },
      'The original message was received at Thu, 1 Jan 2024 00:00:00 +0900\nfrom localhost [127.0.0.1]\n\n   ----- The following addresses had permanent fatal errors -----\n<kijitora@example.net>\n    (reason: 550 5.1.1 <kijitora@example.net>... User Unknown)\n\n   ----- Transcript of session follows -----\n... while talking to mx.example.net.:\n>>> RCPT To:<kijitora@example.net>\n<<< 550 5.1.1 <kijitora@example.net>... User Unknown\n550 5.1.1 <kijitora@example.net>... User unknown\n',
    ),
    address: 'kijitora@example.net',
    reason: 'userunknown',
  },
  {
    name: 'qmail: does not like recipient',
    raw: mail(
      { Subject: 'failure notice' },
      "Hi. This is the qmail-send program at mx.example.org.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<kijitora@example.jp>:\n192.0.2.1 does not like recipient.\nRemote host said: 550 5.1.1 <kijitora@example.jp>... User Unknown\nGiving up on 192.0.2.1.\n\n--- Below this line is a copy of the message.\n\n" +
        ORIGINAL,
    ),
    address: 'kijitora@example.jp',
    reason: 'userunknown',
  },
  {
    name: 'plain RFC 3464 with the reason only in the status comment',
    raw: mail(
      {
        Subject: 'Delivery Status Notification (Failure)',
        'Content-Type': 'multipart/report; report-type=delivery-status; boundary="b2"',
      },
      '--b2\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n--b2\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; neko@example.jp\nAction: failed\nStatus: 5.2.2 (mailbox full)\n\n--b2--\n',
    ),
    address: 'neko@example.jp',
    reason: 'mailboxfull',
  },
  {
    name: 'a bounce forwarded inside another message',
    raw: mail(
      { Subject: 'Fwd: returned mail', 'Content-Type': 'multipart/mixed; boundary="outer"' },
      '--outer\nContent-Type: text/plain\n\nThe original message was received at Thu Oct 13 15:22:22 2015\n\n--outer\nContent-Type: message/rfc822\n\nFrom: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>\nTo: sender@example.org\nSubject: Returned mail: User unknown\nContent-Type: multipart/report; report-type=delivery-status; boundary="inner"\n\n--inner\nContent-Type: text/plain\n\nThe original message was received\n\n--inner\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\nFinal-Recipient: RFC822; shironeko@example.jp\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: SMTP; 550 5.1.1 <shironeko@example.jp>... User Unknown\n\n--inner--\n\n--outer--\n',
    ),
    address: 'shironeko@example.jp',
    reason: 'userunknown',
  },
  {
    name: 'Cox: AUP# label',
    raw: mail(
      { Subject: 'Undelivered Mail Returned to Sender' },
      'This is the mail system at host mx.example.org.\n\n<neko@cox.net>: host cxr.mx.a.cloudfilter.net[192.0.2.1] said: 554 5.7.1\n    AUP#CXBL IP 192.0.2.9 blocked (in reply to RCPT TO command)\n',
    ),
    address: 'neko@cox.net',
    reason: 'blocked',
  },
  {
    name: 'Cloudflare Email Routing: upstream error',
    raw: mail(
      {
        Subject: 'Undelivered Mail Returned to Sender',
        'Content-Type': 'multipart/report; report-type=delivery-status; boundary="b3"',
      },
      '--b3\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; neko@example.com\nAction: failed\nStatus: 5.0.0\nRemote-MTA: dns; route1.mx.cloudflare.net\nDiagnostic-Code: smtp; 550 5.0.0 Upstream error, please check https://developers.cloudflare.com/email-routing/postmaster/\n\n--b3--\n',
    ),
    address: 'neko@example.com',
    reason: 'systemerror',
  },
  {
    name: 'MessageLabs: invalid recipient',
    raw: mail(
      { Subject: 'Undelivered Mail Returned to Sender' },
      'This is the mail system at host mx.example.org.\n\n<neko@example.jp>: host cluster5.eu.messagelabs.com[192.0.2.2] said:\n    550-Invalid recipient <neko@example.jp> 550 (#5.1.1) (in reply to RCPT TO command)\n',
    ),
    address: 'neko@example.jp',
    reason: 'userunknown',
  },
  {
    name: 'Mimecast: envelope blocked',
    raw: mail(
      { Subject: 'Undelivered Mail Returned to Sender' },
      'This is the mail system at host mx.example.org.\n\n<neko@example.jp>: host us-smtp-inbound-1.mimecast.com[192.0.2.3] said:\n    550 Administrative prohibition envelope blocked - https://community.mimecast.com (in reply to RCPT TO command)\n',
    ),
    address: 'neko@example.jp',
    reason: 'rejected',
  },
];

describe('bounce layouts of MTA and provider families', () => {
  for (const layout of LAYOUTS) {
    test(layout.name, () => {
      const report = classifyMessage(layout.raw);
      const first = report.recipients[0];
      assert.equal(first?.address, layout.address, `address (rule ${first?.rule})`);
      assert.equal(
        first?.reason,
        layout.reason,
        `reason (rule ${first?.rule}, diagnostic ${first?.diagnostic.slice(0, 160)})`,
      );
    });
  }
});
