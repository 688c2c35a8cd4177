/**
 * End to end: a report only speaks for the recipient its VERP token names (real Redis, the
 * bounce-processor's SMTP listener).
 * - a DSN to one recipient's return path that lists other addresses suppresses and counts only
 *   that recipient; the others are not touched and get no event;
 * - a report that names only another address (a forwarded mailbox) is recorded for the message
 *   as unverified and changes nothing;
 * - the same report sent again (or replayed after an operator lifted the suppression) changes
 *   nothing: one count, one suppression, one event per token (an unverified one too);
 * - complaints at the complaint address, found by the quoted return path, follow the same rules;
 * - a tenant whose token carries a hash of its name (too long, or not lower-case) is named
 *   from what the spool recorded, whether or not the config lists it.
 * The tests share one processor (one stack): each uses a tenant of its own (counters, suppression
 * list and events are per tenant) and its own SMTP session, so each reads only what it did.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HeraldEvent } from '@herald/delivery-core/events';
import { feedbackMarkerKey } from '@herald/delivery-core/keys';
import {
  arfFor,
  BOUNCE,
  feedbackEvents,
  NO_DELIVERY_THREADS,
  sessionFor,
  sharedProcessor,
  userUnknown,
  verpFor,
} from './lib/bounce-reports.js';
import type { Stack } from './lib/stack.js';

/** Names VERP cannot carry inline (longer than 9 characters, or upper case), listed nowhere in the config. */
const HASHED_TENANTS = ['averylongtenantname-x', 'Mixed.Case-T'];

const HOUR_MS = 3_600_000;
const DEFAULT_VERP_MAX_AGE_MS = 30 * 24 * HOUR_MS;
const UNVERIFIED_COMPLAINTS =
  /^herald_feedback_total\{type="complaint_received",reason="feedback",verified="false"\} (\d+)$/m;

/** The feedback events of one tenant (a report's events all carry its token's tenant). */
const eventsOf = (tenant: string, events: readonly HeraldEvent[]) =>
  feedbackEvents(events).filter((e) => e.tenant === tenant);

/** herald_feedback_total of unverified complaints, as /metrics shows it (0 before the first). */
async function unverifiedComplaints(stack: Stack): Promise<number> {
  return Number(UNVERIFIED_COMPLAINTS.exec((await stack.get('/metrics')).body)?.[1] ?? 0);
}

describe('bounce-processor: a report speaks only for its token', () => {
  const processor = sharedProcessor({ config: NO_DELIVERY_THREADS });

  it('a DSN that lists other addresses suppresses and counts only the recipient the token names', async (t) => {
    const { stack, address: listener } = processor();
    const tenant = 'listing';
    const client = await sessionFor(t, listener);
    const herald = stack.relay.herald;
    const { address, messageId } = verpFor(tenant, 'gone@dest.test');
    const sent = await client.send(
      { from: '', to: [address] },
      userUnknown('victim1@other.test', 'Gone@Dest.test', 'victim2@other.test'),
    );
    assert.equal(sent.code, 250, sent.response);
    const listed = await herald.suppression.check(tenant, [
      'gone@dest.test',
      'victim1@other.test',
      'victim2@other.test',
    ]);
    assert.deepEqual([...listed.keys()], ['gone@dest.test']);
    assert.equal((await herald.tenantStatus(tenant)).rates.hard, 1);
    const events = eventsOf(tenant, await stack.streamEvents());
    assert.deepEqual(
      events.map((e) => [e.messageId, e.recipient, e.reason, e.suppressed, e.verified]),
      [[messageId, 'gone@dest.test', 'userunknown', true, true]],
    );
  });

  it('a bounce for a tenant the config does not list, whose token carries a hash of its name, suppresses and counts for that tenant', async (t) => {
    const { stack, address: listener } = processor();
    const client = await sessionFor(t, listener);
    const herald = stack.relay.herald;
    for (const tenant of HASHED_TENANTS) {
      const accepted = await herald.send({
        tenant,
        from: 'app@origin.test',
        to: ['gone@example.test'],
        subject: 'hello',
        text: 'hi',
      });
      const { address } = verpFor(tenant, 'gone@example.test', accepted.messageId);
      const sent = await client.send({ from: '', to: [address] }, userUnknown('gone@example.test'));
      assert.equal(sent.code, 250, sent.response);
      assert.deepEqual(
        [...(await herald.suppression.check(tenant, ['gone@example.test'])).keys()],
        ['gone@example.test'],
      );
      assert.equal((await herald.tenantStatus(tenant)).rates.hard, 1, tenant);
    }
    const events = feedbackEvents(await stack.streamEvents()).filter((e) =>
      HASHED_TENANTS.includes(e.tenant),
    );
    assert.deepEqual(
      events.map((e) => [e.type, e.tenant, e.recipient, e.suppressed, e.verified]),
      HASHED_TENANTS.map((tenant) => ['bounce_received', tenant, 'gone@example.test', true, true]),
    );
  });

  it('a report naming only another address (a forwarded mailbox) is recorded unverified and changes nothing', async (t) => {
    const { stack, address: listener } = processor();
    const tenant = 'forward';
    const client = await sessionFor(t, listener);
    const herald = stack.relay.herald;
    const { address, messageId } = verpFor(tenant, 'alice@dest.test');
    const sent = await client.send({ from: '', to: [address] }, userUnknown('alice@forward.test'));
    assert.equal(sent.code, 250, sent.response);
    const events = eventsOf(tenant, await stack.streamEvents());
    assert.deepEqual(
      events.map((e) => [e.type, e.messageId, e.recipient, e.reason, e.suppressed, e.verified]),
      [['bounce_received', messageId, 'alice@forward.test', 'userunknown', false, false]],
    );
    const listed = await herald.suppression.check(tenant, ['alice@dest.test', 'alice@forward.test']);
    assert.equal(listed.size, 0);
    assert.equal((await herald.tenantStatus(tenant)).rates.hard, 0);
  });

  it('a report naming only another address, sent again, records one event; a verified report still acts', async (t) => {
    const { stack, address: listener } = processor();
    const tenant = 'fwdagain';
    const client = await sessionFor(t, listener);
    const herald = stack.relay.herald;
    const { address, messageId } = verpFor(tenant, 'alice@dest.test');
    for (let i = 0; i < 3; i++) {
      const sent = await client.send({ from: '', to: [address] }, userUnknown('alice@forward.test'));
      assert.equal(sent.code, 250, sent.response);
    }
    const verified = await client.send({ from: '', to: [address] }, userUnknown('alice@dest.test'));
    assert.equal(verified.code, 250, verified.response);
    const events = eventsOf(tenant, await stack.streamEvents());
    assert.deepEqual(
      events.map((e) => [e.messageId, e.recipient, e.suppressed, e.verified]),
      [
        [messageId, 'alice@forward.test', false, false],
        [messageId, 'alice@dest.test', true, true],
      ],
    );
    assert.equal((await herald.tenantStatus(tenant)).rates.hard, 1);
  });

  it('the same report sent again counts once, suppresses once and records one event', async (t) => {
    const { stack, address: listener } = processor();
    const tenant = 'replay';
    const client = await sessionFor(t, listener);
    const herald = stack.relay.herald;
    const { address, messageId } = verpFor(tenant, 'gone@dest.test');
    const dsn = userUnknown('gone@dest.test');
    for (let i = 0; i < 3; i++) {
      const sent = await client.send({ from: '', to: [address] }, dsn);
      assert.equal(sent.code, 250, sent.response);
    }
    assert.equal((await herald.tenantStatus(tenant)).rates.hard, 1);
    // An operator lifts the suppression; a replay of the report does not put it back.
    assert.ok(await herald.suppression.remove(tenant, 'gone@dest.test'));
    const replay = await client.send({ from: '', to: [address] }, dsn);
    assert.equal(replay.code, 250, replay.response);
    assert.equal((await herald.suppression.check(tenant, ['gone@dest.test'])).size, 0);
    assert.equal((await herald.tenantStatus(tenant)).rates.hard, 1);
    const events = eventsOf(tenant, await stack.streamEvents());
    assert.deepEqual(
      events.map((e) => [e.messageId, e.recipient, e.verified]),
      [[messageId, 'gone@dest.test', true]],
    );
    const markers = await stack.redisClient.keys(
      feedbackMarkerKey(herald.config.redis.prefix, 'bounce', messageId, '*'),
    );
    assert.equal(markers.length, 1);
    const ttl = await stack.redisClient.pttl(markers[0]!);
    assert.ok(ttl > DEFAULT_VERP_MAX_AGE_MS - HOUR_MS && ttl <= DEFAULT_VERP_MAX_AGE_MS, `marker ttl ${ttl}`);
  });

  it('a complaint suppresses and counts only the recipient its quoted return path names, once', async (t) => {
    const { stack, address: listener } = processor();
    const tenant = 'complain';
    const client = await sessionFor(t, listener);
    const herald = stack.relay.herald;
    const { address, messageId } = verpFor(tenant, 'angry@dest.test');
    const report = arfFor(['victim@other.test', 'angry@dest.test'], address);
    for (let i = 0; i < 2; i++) {
      const sent = await client.send(
        { from: 'feedback@fbl.dest.test', to: [BOUNCE.complaint_address] },
        report,
      );
      assert.equal(sent.code, 250, sent.response);
    }
    const listed = await herald.suppression.check(tenant, ['angry@dest.test', 'victim@other.test']);
    assert.deepEqual(
      [...listed].map(([a, e]) => [a, e.source]),
      [['angry@dest.test', 'complaint']],
    );
    assert.equal((await herald.tenantStatus(tenant)).rates.complaints, 1);
    const events = eventsOf(tenant, await stack.streamEvents());
    assert.deepEqual(
      events.map((e) => [e.type, e.messageId, e.recipient, e.feedbackType, e.verified]),
      [['complaint_received', messageId, 'angry@dest.test', 'abuse', true]],
    );
  });

  it('a complaint naming no address the token confirms (redacted) counts once for the tenant and suppresses nobody', async (t) => {
    const { stack, address: listener } = processor();
    const tenant = 'redacted';
    const client = await sessionFor(t, listener);
    const herald = stack.relay.herald;
    const { address } = verpFor(tenant, 'angry@dest.test');
    const unverifiedBefore = await unverifiedComplaints(stack);
    const sent = await client.send(
      { from: 'feedback@fbl.dest.test', to: [BOUNCE.complaint_address] },
      arfFor(['redacted@fbl.test'], address),
    );
    assert.equal(sent.code, 250, sent.response);
    const [event, ...more] = eventsOf(tenant, await stack.streamEvents());
    assert.equal(more.length, 0);
    assert.deepEqual(
      [event?.type, event?.recipient, event?.suppressed, event?.verified],
      ['complaint_received', 'redacted@fbl.test', false, false],
    );
    assert.equal((await herald.suppression.check(tenant, ['redacted@fbl.test', 'angry@dest.test'])).size, 0);
    // Feedback loops redact the address: the authentic token still makes it one real complaint.
    assert.equal((await herald.tenantStatus(tenant)).rates.complaints, 1);
    const again = await client.send(
      { from: 'feedback@fbl.dest.test', to: [BOUNCE.complaint_address] },
      arfFor(['redacted@fbl.test'], address),
    );
    assert.equal(again.code, 250, again.response);
    assert.equal((await herald.tenantStatus(tenant)).rates.complaints, 1, 'the same token counts once');
    assert.equal(eventsOf(tenant, await stack.streamEvents()).length, 1);
    assert.equal(await unverifiedComplaints(stack), unverifiedBefore + 1, 'one unverified complaint counted');
  });
});
