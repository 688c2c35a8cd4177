/**
 * The activity summary from event stream entries (activity.ts), on events as the relay writes
 * them: recipients per minute by outcome (every minute present, zeros included), bounce reasons
 * by the classifier's reason (and the operator's), the top reasons per domain, and the messages
 * of a recipient with its last outcome.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HeraldEvent } from '@herald/delivery-core/events';
import { messagesOfRecipient, summarizeActivity } from '../src/activity.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 11, 3, 10, 0, 0);
const reply = (code: number, enhanced: string, text: string) => ({
  code,
  enhanced,
  text,
  stage: 'rcpt' as const,
});
const base = { tenant: 'shop', latencyMs: 10, attempt: 1 };

const events: HeraldEvent[] = [
  {
    type: 'accepted',
    time: T0 + 1_000,
    messageId: 'm1',
    tenant: 'shop',
    from: 'a@shop.test',
    recipients: ['Ann@dest.test', 'bob@dest.test', 'cy@other.test'],
    size: 100,
    jobs: 2,
    source: 'smtp',
  },
  {
    ...base,
    type: 'delivered',
    time: T0 + 2_000,
    messageId: 'm1',
    domain: 'dest.test',
    recipient: 'ann@dest.test',
    reply: reply(250, '2.0.0', 'ok'),
  },
  {
    ...base,
    type: 'bounced',
    time: T0 + MINUTE + 1,
    messageId: 'm1',
    domain: 'dest.test',
    recipient: 'bob@dest.test',
    reply: reply(550, '5.1.1', 'user unknown'),
  },
  {
    ...base,
    type: 'deferred',
    time: T0 + MINUTE + 2,
    messageId: 'm1',
    domain: 'other.test',
    recipient: 'cy@other.test',
    reply: reply(452, '4.2.2', 'mailbox full'),
  },
  {
    ...base,
    type: 'bounced',
    time: T0 + 2 * MINUTE,
    messageId: 'm1',
    domain: 'other.test',
    recipient: 'cy@other.test',
    reply: reply(550, '5.0.0', 'deleted by operator'),
    operator: 'delete',
  },
  {
    type: 'accepted',
    time: T0 + 2 * MINUTE + 5,
    messageId: 'm2',
    tenant: 'shop',
    from: 'a@shop.test',
    recipients: ['ann@dest.test'],
    size: 100,
    jobs: 1,
    source: 'api',
  },
  { type: 'site_suspended', time: T0 + 2 * MINUTE + 6, site: 'provider:gmail', reason: 'operator' },
];

describe('activity from the event stream', () => {
  test('counts recipients per minute by outcome, every minute present', () => {
    const summary = summarizeActivity(events, T0, T0 + 3 * MINUTE + 10, false);
    assert.equal(summary.from, T0);
    assert.equal(summary.since, T0 + 1_000);
    assert.deepEqual(
      summary.minutes.map(({ minute, ...counts }) => [(minute - T0) / MINUTE, counts]),
      [
        [0, { accepted: 3, delivered: 1, deferred: 0, bounced: 0, expired: 0 }],
        [1, { accepted: 0, delivered: 0, deferred: 1, bounced: 1, expired: 0 }],
        [2, { accepted: 1, delivered: 0, deferred: 0, bounced: 1, expired: 0 }],
        [3, { accepted: 0, delivered: 0, deferred: 0, bounced: 0, expired: 0 }],
      ],
    );
    assert.equal(summary.scanned, events.length);
  });

  test("bounce reasons are the classifier's (or the operator's), per minute and per domain", () => {
    const summary = summarizeActivity(events, T0, T0 + 3 * MINUTE, false);
    assert.deepEqual(summary.bounce_reasons[1]?.reasons, { userunknown: 1 });
    assert.deepEqual(summary.bounce_reasons[2]?.reasons, { operator_delete: 1 });
    assert.deepEqual(summary.top_reasons_by_domain, [
      { domain: 'dest.test', bounced: 1, reasons: [{ reason: 'userunknown', count: 1 }] },
      { domain: 'other.test', bounced: 1, reasons: [{ reason: 'operator_delete', count: 1 }] },
    ]);
  });

  test('events before the first minute asked for are not counted', () => {
    const summary = summarizeActivity(events, T0 + 2 * MINUTE, T0 + 2 * MINUTE + 10, true);
    assert.equal(summary.minutes.length, 1);
    assert.equal(summary.minutes[0]?.accepted, 1);
    assert.equal(summary.truncated, true);
  });

  test("a recipient's messages, newest first, with its last outcome (case-insensitive)", () => {
    assert.deepEqual(messagesOfRecipient(events, 'ANN@dest.test'), [
      { id: 'm2', tenant: 'shop', from: 'a@shop.test', accepted_at: T0 + 2 * MINUTE + 5, state: null },
      { id: 'm1', tenant: 'shop', from: 'a@shop.test', accepted_at: T0 + 1_000, state: 'delivered' },
    ]);
    assert.deepEqual(
      messagesOfRecipient(events, 'cy@other.test').map((m) => m.state),
      ['bounced'],
    );
    assert.deepEqual(messagesOfRecipient(events, 'nobody@dest.test'), []);
  });
});
