/**
 * Activity, against a real Redis: `GET /v1/activity` answers from the per-minute counters every
 * Herald writes with its events (delivery-core events/activity.ts), so its series match the events
 * in the stream — accepted recipients (through the real enqueue), delivered, deferred, bounced and
 * expired per minute, bounce reasons (the classifier's, or the operator's), top reasons per domain
 * — summed over two Heralds sharing the Redis (two relays) and over four queue shards. The
 * messages of a recipient still come from the event stream, with its last outcome.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createHerald, type Herald } from '@herald/delivery-core';
import type { HeraldEvent, RecipientEvent } from '@herald/delivery-core/events';
import { eventStreamKeys } from '@herald/delivery-core/queue';
import { messagesOfRecipient, readRecentEvents } from '../src/activity.js';
import { ADMIN_KEY, type ApiStack, PREFIX, startApi, waitUntil } from './helpers.js';

const SHARDS = 4;
const MESSAGE = { from: 'app@origin.test', subject: 's', text: 't' };
const reply = (code: number, enhanced: string, text: string) => ({
  code,
  enhanced,
  text,
  stage: 'rcpt' as const,
});

describe('activity from the per-minute counters', () => {
  let stack: ApiStack;
  let second: Herald;
  before(async () => {
    stack = await startApi({ queue: { shards: SHARDS } });
    // A second relay on the same Redis: its events count into the same minutes.
    second = await createHerald({
      redis: { url: stack.redis.url, prefix: PREFIX },
      queue: { shards: SHARDS },
      events: { log_level: 'silent' },
    });
  });
  after(async () => {
    await second.close();
    await stack.stop();
  });

  test('the series, reasons and top domains match the events written by two relays', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const herald = i % 2 === 0 ? stack.herald : second;
      const sent = await herald.send({ ...MESSAGE, to: [`a${i}@dest.test`, `b${i}@other.test`] });
      ids.push(sent.messageId);
    }
    const outcome = (
      type: RecipientEvent['type'],
      messageId: string,
      recipient: string,
      code: number,
      enhanced: string,
      extra: Partial<RecipientEvent> = {},
    ): RecipientEvent => ({
      type,
      time: Date.now(),
      messageId,
      tenant: 'default',
      domain: recipient.split('@')[1]!,
      recipient,
      attempt: 1,
      reply: reply(code, enhanced, `reply ${code}`),
      latencyMs: 5,
      site: `mx:mx.${recipient.split('@')[1]}`,
      ...extra,
    });
    const emitted: HeraldEvent[] = [
      outcome('delivered', ids[0]!, 'a0@dest.test', 250, '2.0.0'),
      outcome('delivered', ids[1]!, 'a1@dest.test', 250, '2.0.0'),
      outcome('bounced', ids[2]!, 'a2@dest.test', 550, '5.1.1'),
      outcome('bounced', ids[3]!, 'b3@other.test', 552, '5.2.2'),
      outcome('bounced', ids[4]!, 'b4@other.test', 550, '5.0.0', { operator: 'delete' }),
      outcome('deferred', ids[5]!, 'a5@dest.test', 451, '4.7.1'),
      outcome('expired', ids[5]!, 'b5@other.test', 554, '5.4.7'),
    ];
    for (const [i, event] of emitted.entries()) (i % 2 === 0 ? stack.herald : second).events.emit(event);
    await stack.herald.events.flush();
    await second.events.flush();

    // What the stream holds, counted the old way, is what the counters answer.
    const keys = eventStreamKeys(PREFIX, stack.herald.shards.layout);
    const { events } = await readRecentEvents(stack.redis.client(), keys, Date.now() - 10 * 60_000);
    const expected = { accepted: 0, delivered: 0, deferred: 0, bounced: 0, expired: 0 };
    for (const e of events) {
      if (e.type === 'accepted') expected.accepted += e.recipients.length;
      else if (e.type in expected) expected[e.type as keyof typeof expected] += 1;
    }
    assert.deepEqual(expected, { accepted: 12, delivered: 2, deferred: 1, bounced: 3, expired: 1 });

    const answer = await stack.call('GET', '/v1/activity?minutes=5', { key: ADMIN_KEY });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.minutes.length, 5);
    const sum = { accepted: 0, delivered: 0, deferred: 0, bounced: 0, expired: 0 };
    for (const m of answer.body.minutes) for (const k of Object.keys(sum)) sum[k as keyof typeof sum] += m[k];
    assert.deepEqual(sum, expected);
    const reasons: Record<string, number> = {};
    for (const m of answer.body.bounce_reasons)
      for (const [r, n] of Object.entries(m.reasons as Record<string, number>))
        reasons[r] = (reasons[r] ?? 0) + n;
    assert.deepEqual(reasons, { userunknown: 1, mailboxfull: 1, operator_delete: 1 });
    assert.deepEqual(answer.body.top_reasons_by_domain, [
      {
        domain: 'other.test',
        bounced: 2,
        reasons: [
          { reason: 'mailboxfull', count: 1 },
          { reason: 'operator_delete', count: 1 },
        ],
      },
      { domain: 'dest.test', bounced: 1, reasons: [{ reason: 'userunknown', count: 1 }] },
    ]);
    assert.ok(answer.body.kept_since < answer.body.from);

    // Beyond the counters' two hours: refused, not silently zero.
    assert.equal((await stack.call('GET', '/v1/activity?minutes=1440', { key: ADMIN_KEY })).status, 400);
    // A site with recent traffic is on the sites page even with nothing queued for it.
    const sites = await stack.call('GET', '/v1/sites', { key: ADMIN_KEY });
    assert.equal(sites.status, 200);
    const names = (sites.body.sites as { site: string; queue: { ready: number } }[]).map((s) => s.site);
    for (const site of ['mx:mx.dest.test', 'mx:mx.other.test'])
      assert.ok(names.includes(site), `${site} listed for its recent outcomes: ${names.join(' ')}`);
  });

  test("a recipient's messages, newest first, with its last outcome (case-insensitive), from the stream", async () => {
    const first = await stack.herald.send({ ...MESSAGE, to: ['Ann@find.test'] });
    const second2 = await stack.herald.send({ ...MESSAGE, to: ['ann@find.test', 'cy@find.test'] });
    stack.herald.events.emit({
      type: 'delivered',
      time: Date.now(),
      messageId: first.messageId,
      tenant: 'default',
      domain: 'find.test',
      recipient: 'ann@find.test',
      attempt: 1,
      reply: reply(250, '2.0.0', 'ok'),
      latencyMs: 3,
    });
    await stack.herald.events.flush();
    const keys = eventStreamKeys(PREFIX, stack.herald.shards.layout);
    const { events } = await readRecentEvents(stack.redis.client(), keys, Date.now() - 60_000);
    const found = messagesOfRecipient(events, 'ANN@find.test');
    assert.deepEqual(
      found.map((m) => [m.id, m.state]),
      [
        [second2.messageId, null],
        [first.messageId, 'delivered'],
      ],
    );
    const answer = await waitUntil('the API lists both', async () => {
      const res = await stack.call('GET', '/v1/activity/messages?recipient=ann%40find.test', {
        key: ADMIN_KEY,
      });
      return res.body.messages?.length === 2 ? res.body : undefined;
    });
    assert.equal(answer.messages[0].id, second2.messageId);
  });
});
