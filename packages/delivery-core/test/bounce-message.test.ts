import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { classifyMessage } from '../src/bounce/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = (name: string) => readFileSync(join(here, 'fixtures', 'bounce', name));
const brief = (raw: Buffer | string) =>
  classifyMessage(raw).recipients.map((r) => ({
    address: r.address,
    reason: r.reason,
    hard: r.hard,
    status: r.status,
    action: r.action,
  }));

describe('classifyMessage', () => {
  test('an RFC 3464 DSN gives one result per recipient, with the command from the notice', () => {
    const report = classifyMessage(fixture('postfix-dsn.eml'));
    assert.equal(report.kind, 'dsn');
    assert.equal(report.reportingMta, 'mx.sender.test');
    assert.deepEqual(brief(fixture('postfix-dsn.eml')), [
      { address: 'bob@rcpt.test', reason: 'userunknown', hard: true, status: '5.1.1', action: 'suppress' },
      { address: 'carol@rcpt.test', reason: 'mailboxfull', hard: false, status: '4.2.2', action: 'retry' },
    ]);
    assert.equal(report.recipients[0]?.command, 'RCPT');
    assert.equal(report.recipients[0]?.remoteHost, 'mx.rcpt.test');
  });

  test('a qmail notice without a DSN: recipient line, reply code and status from the text', () => {
    const [r] = classifyMessage(fixture('qmail.eml')).recipients;
    assert.deepEqual(
      [r?.address, r?.reason, r?.status, r?.replyCode, r?.category],
      ['dave@rcpt.test', 'blocked', '5.7.1', 554, 'spam-related'],
    );
  });

  test("Exim's own words: retry timeout exceeded is an expired message", () => {
    assert.deepEqual(brief(fixture('exim.eml')), [
      { address: 'erin@rcpt.test', reason: 'expired', hard: false, status: null, action: 'bounce' },
    ]);
  });

  test('an ARF complaint is reason feedback with its feedback type, and suppresses the address', () => {
    const report = classifyMessage(fixture('arf.eml'));
    assert.equal(report.kind, 'feedback');
    assert.equal(report.feedbackType, 'abuse');
    assert.deepEqual(
      report.recipients.map((r) => [r.address, r.reason, r.feedbackType, r.action]),
      [['frank@provider.test', 'feedback', 'abuse', 'suppress']],
    );
  });

  test('an out-of-office reply is vacation and needs no action', () => {
    const report = classifyMessage(fixture('vacation.eml'));
    assert.equal(report.kind, 'autoreply');
    assert.deepEqual(brief(fixture('vacation.eml')), [
      { address: 'grace@rcpt.test', reason: 'vacation', hard: false, status: null, action: 'none' },
    ]);
  });

  test('a string works as well as bytes', () => {
    assert.deepEqual(brief(fixture('qmail.eml').toString('latin1')), brief(fixture('qmail.eml')));
  });

  test('garbage, empty input and truncated MIME give reason undefined, never an exception', () => {
    const dsn = fixture('postfix-dsn.eml').toString('latin1');
    const inputs: (Buffer | string)[] = [
      '',
      Buffer.alloc(0),
      Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x1b, 0x24, 0x42, 0x80]),
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)),
      dsn.slice(0, dsn.indexOf('--B0UNDARY') + 20),
      'Content-Type: multipart/report; boundary="x"\n\n--x\nContent-Type: message/delivery-sta',
      'Subject: hello\n\njust a letter, no failure here',
    ];
    for (const raw of inputs) {
      const report = classifyMessage(raw);
      assert.equal(report.recipients.length, 1);
      assert.equal(report.recipients[0]?.reason, 'undefined', JSON.stringify(raw.toString().slice(0, 40)));
      assert.equal(report.kind, 'unknown');
    }
  });
});

const corpus = join(here, '..', '..', '..', '..', 'shared', 'corpus', 'bounces');

/** In CI the corpus must be there: a missing corpus fails the accuracy test instead of skipping it. */
const corpusMissing = !existsSync(join(corpus, 'labels.json'));

describe('the shared bounce corpus', {
  skip: corpusMissing && !process.env.CI ? `no corpus at ${corpus}` : false,
}, () => {
  test('reason accuracy stays at or above 0.95 and hard/soft at or above 0.99 on the dev set', () => {
    assert.ok(!corpusMissing, `no corpus at ${corpus} (CI is set: the accuracy test may not skip)`);
    const labels = JSON.parse(readFileSync(join(corpus, 'labels.json'), 'utf8')) as {
      file: string;
      recipients: { reason: string; hard: boolean }[];
    }[];
    let reasonOk = 0;
    let hardOk = 0;
    for (const label of labels) {
      const [first] = classifyMessage(readFileSync(join(corpus, label.file))).recipients;
      const match = label.recipients.find((r) => r.reason === first?.reason);
      if (match) reasonOk++;
      if ((match ? [match] : label.recipients).some((r) => r.hard === first?.hard)) hardOk++;
    }
    assert.ok(reasonOk / labels.length >= 0.95, `reason accuracy ${reasonOk}/${labels.length}`);
    assert.ok(hardOk / labels.length >= 0.99, `hard/soft ${hardOk}/${labels.length}`);
  });
});
