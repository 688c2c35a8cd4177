import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyMessage } from '../src/bounce/index.js';

const mail = (body: string) =>
  ['From: no-reply@sns.amazonaws.com', 'Subject: Amazon SES Email Event Notification', '', body].join('\n');

describe('Amazon SES notifications', () => {
  test('a Bounce notification is read per bounced recipient through the decision table', () => {
    const body = JSON.stringify({
      notificationType: 'Bounce',
      bounce: {
        bounceType: 'Permanent',
        bouncedRecipients: [
          {
            emailAddress: 'Bob@rcpt.test',
            action: 'failed',
            status: '5.1.1',
            diagnosticCode: 'smtp; 550 5.1.1 user unknown',
          },
        ],
        reportingMTA: 'dsn; a1.smtp-out.amazonses.com',
      },
    });
    const report = classifyMessage(mail(body));
    assert.equal(report.kind, 'dsn');
    assert.equal(report.reportingMta, 'a1.smtp-out.amazonses.com');
    assert.deepEqual(
      report.recipients.map((r) => [r.address, r.reason, r.hard, r.status]),
      [['bob@rcpt.test', 'userunknown', true, '5.1.1']],
    );
  });

  test('a Complaint inside an SNS envelope, folded by mail transport, is feedback with its type', () => {
    const inner = JSON.stringify({
      notificationType: 'Complaint',
      complaint: {
        complainedRecipients: [{ emailAddress: 'carol@rcpt.test' }],
        complaintFeedbackType: 'abuse',
      },
    });
    const envelope = JSON.stringify({ Type: 'Notification', Message: inner });
    const folded = `${envelope.slice(0, 60)}\n ${envelope.slice(60)}`;
    const report = classifyMessage(mail(folded));
    assert.equal(report.kind, 'feedback');
    assert.equal(report.feedbackType, 'abuse');
    assert.deepEqual(
      report.recipients.map((r) => [r.address, r.reason, r.action]),
      [['carol@rcpt.test', 'feedback', 'suppress']],
    );
  });

  test('a Delivery notification is delivered; broken JSON is not mistaken for one', () => {
    const body = JSON.stringify({
      notificationType: 'Delivery',
      delivery: { recipients: ['dave@rcpt.test'], smtpResponse: '250 2.6.0 Message received' },
    });
    assert.deepEqual(
      classifyMessage(mail(body)).recipients.map((r) => [r.address, r.reason, r.action]),
      [['dave@rcpt.test', 'delivered', 'none']],
    );
    assert.equal(
      classifyMessage(mail('{"notificationType": "Bounce", broken')).recipients[0]?.reason,
      'undefined',
    );
  });
});
