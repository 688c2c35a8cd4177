/**
 * The quarantine against a real redis-server: a held message is listed per tenant, released once
 * (two racing releases: one queues it), deleted once with a `bounced` (operator delete) per
 * recipient, and the retention sweep deletes only what is older than `quarantine.retention`, under
 * a lease one sweeper takes per interval. `quarantine.notify_sender` decides which deletes send
 * the sender a failure DSN (expiry by default, an operator's delete with `always`), never for
 * NOTIFY=NEVER, the null sender or a tenant without DSNs. The clock is injected; events go to an
 * in-memory sink, DSNs to a list.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '@herald/delivery-core';
import { classifyMessage } from '@herald/delivery-core/bounce';
import type { HeraldEvent } from '@herald/delivery-core/events';
import {
  createQuarantine,
  type HeldMessage,
  type QuarantineNotify,
  STALE_CLAIM_MS,
} from '@herald/delivery-core/quarantine';
import { type RedisHandle, startRedis } from '@herald/test-harness';

const DAY_MS = 86_400_000;

function held(id: string, tenant: string, heldAt: number): HeldMessage {
  return {
    id,
    tenant,
    from: 'app@origin.test',
    recipients: [`a-${id}@example.test`, `b-${id}@example.test`],
    body: Buffer.from(`Subject: ${id}\r\nFrom: app@origin.test\r\n\r\nGTUBE\r\n`),
    reason: 'spam',
    score: 15,
    symbols: ['GTUBE'],
    heldAt,
    source: 'smtp',
  };
}

describe('quarantine on Redis', () => {
  let redis: RedisHandle;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis.stop());

  function setup(prefix: string, now: { ms: number }) {
    const events: HeraldEvent[] = [];
    const queued: HeldMessage[] = [];
    const config = parseConfig({ redis: { prefix }, quarantine: { retention: '30d' } });
    const client = redis.client();
    const quarantine = createQuarantine({
      redis: client,
      config,
      events: { emit: (e) => void events.push(e), flush: async () => {} },
      // As the spool's transaction does: queued, and the held record deleted with it.
      enqueue: async (m, { record, claims }) => {
        queued.push(m);
        await client.multi().del(record).zrem(claims, m.id).exec();
      },
      now: () => now.ms,
    });
    return { quarantine, events, queued };
  }

  it('lists per tenant, releases once even when two release at once, and deletes with one bounce per recipient', async () => {
    const now = { ms: 10 * DAY_MS };
    const { quarantine, events, queued } = setup('q1', now);
    await quarantine.store.hold(held('m1', 'acme', now.ms));
    await quarantine.store.hold(held('m2', 'other', now.ms + 1));
    assert.equal((await quarantine.list()).total, 2);
    assert.deepEqual(
      (await quarantine.list({ tenant: 'ACME' })).messages.map((m) => [m.id, m.score, m.symbols, m.size > 0]),
      [['m1', 15, ['GTUBE'], true]],
    );
    const both = await Promise.all([quarantine.release('m1'), quarantine.release('m1')]);
    assert.equal(both.filter(Boolean).length, 1, 'exactly one release wins');
    assert.equal(queued.length, 1);
    assert.match(queued[0]!.body.toString(), /Subject: m1/);
    assert.deepEqual(
      events.map((e) => e.type),
      ['released'],
    );
    assert.equal(await quarantine.show('m1'), undefined, 'released: no longer held');
    const removed = await Promise.all([quarantine.remove('m2'), quarantine.remove('m2')]);
    assert.equal(removed.filter(Boolean).length, 1);
    const bounced = events.filter((e) => e.type === 'bounced');
    assert.deepEqual(
      bounced.map((e) => e.type === 'bounced' && [e.recipient, e.operator, e.reply.code, e.reply.enhanced]),
      [
        ['a-m2@example.test', 'delete', 550, '5.7.1'],
        ['b-m2@example.test', 'delete', 550, '5.7.1'],
      ],
    );
    assert.equal((await quarantine.list()).total, 0);
  });

  it('puts a message back when its release cannot be queued', async () => {
    const now = { ms: DAY_MS };
    const { quarantine } = setup('q2', now);
    await quarantine.store.hold(held('m3', 'acme', now.ms));
    const failing = createQuarantine({
      redis: redis.client(),
      config: parseConfig({ redis: { prefix: 'q2' } }),
      events: { emit: () => {}, flush: async () => {} },
      enqueue: () => Promise.reject(new Error('queue unavailable')),
    });
    await assert.rejects(failing.release('m3'), /queue unavailable/);
    assert.equal((await quarantine.list()).messages[0]?.id, 'm3');
    assert.equal(
      (await quarantine.list({ tenant: 'acme' })).messages[0]?.id,
      'm3',
      'in its tenant index too',
    );
  });

  it('a release whose enqueue committed but whose reply was lost is released, once', async () => {
    const now = { ms: DAY_MS };
    const { quarantine } = setup('q2b', now);
    await quarantine.store.hold(held('m4', 'acme', now.ms));
    const client = redis.client();
    const events: HeraldEvent[] = [];
    const lostReply = createQuarantine({
      redis: client,
      config: parseConfig({ redis: { prefix: 'q2b' } }),
      events: { emit: (e) => void events.push(e), flush: async () => {} },
      enqueue: async (m, { record, claims }) => {
        await client.multi().del(record).zrem(claims, m.id).exec();
        throw new Error('Connection is closed.');
      },
    });
    const released = await Promise.all([lostReply.release('m4'), lostReply.release('m4')]);
    assert.deepEqual(
      released.map((r) => r?.id),
      ['m4', undefined],
      'one release, answered as done',
    );
    assert.deepEqual(
      events.map((e) => e.type),
      ['released'],
    );
    assert.equal((await quarantine.list()).total, 0, 'not held');
    assert.equal(await lostReply.release('m4'), undefined);
  });

  it('the sweep holds again a message whose release was claimed and left behind, and drops a half-done delete', async () => {
    const now = { ms: DAY_MS };
    const { quarantine, queued } = setup('q2c', now);
    await quarantine.store.hold(held('m6', 'acme', now.ms));
    await quarantine.store.hold(held('m7', 'acme', now.ms));
    // A process claims both, marks m7 deleting, and dies.
    assert.ok(await quarantine.store.claim('m6', now.ms));
    assert.ok(await quarantine.store.claim('m7', now.ms));
    await quarantine.store.markDeleting('m7');
    assert.equal(await quarantine.release('m6'), undefined, 'claimed: not held meanwhile');
    await quarantine.sweep();
    assert.equal((await quarantine.list()).total, 0, 'a fresh claim is left alone');
    now.ms += STALE_CLAIM_MS + 1;
    await quarantine.sweep();
    assert.deepEqual(
      (await quarantine.list({ tenant: 'acme' })).messages.map((m) => m.id),
      ['m6'],
      'held again; the deleting one dropped',
    );
    assert.equal(await quarantine.read('m7'), undefined);
    assert.equal((await quarantine.release('m6'))?.id, 'm6');
    assert.deepEqual(
      queued.map((m) => m.id),
      ['m6'],
    );
  });

  it('sweeps only messages held longer than the retention, and the lease lets one sweeper run per interval', async () => {
    const now = { ms: 100 * DAY_MS };
    const { quarantine, events } = setup('q3', now);
    await quarantine.store.hold(held('old', 'acme', now.ms - 31 * DAY_MS));
    await quarantine.store.hold(held('new', 'acme', now.ms - 29 * DAY_MS));
    assert.equal(await quarantine.sweep(), 1);
    assert.deepEqual(
      (await quarantine.list()).messages.map((m) => m.id),
      ['new'],
    );
    assert.ok(events.every((e) => e.type === 'bounced' && e.messageId === 'old'));
    assert.equal(
      events[0]?.type === 'bounced' ? events[0].reply.text : '',
      'message held in quarantine and deleted after 30 days',
    );
    assert.equal(await quarantine.store.takeSweepLease(60_000, 'one'), true);
    assert.equal(await quarantine.store.takeSweepLease(60_000, 'two'), false);
  });

  it('tells the sender of an expired message with one failure DSN; an operator delete only with notify_sender: always', async () => {
    const now = { ms: 100 * DAY_MS };
    const run = (prefix: string, notify: QuarantineNotify, wantsDsn = (_t: string) => true) => {
      const dsns: { tenant: string; to: string; body: Buffer }[] = [];
      const quarantine = createQuarantine({
        redis: redis.client(),
        config: parseConfig({ redis: { prefix }, quarantine: { retention: '7d', notify_sender: notify } }),
        events: { emit: () => {}, flush: async () => {} },
        enqueue: async () => {},
        notify: {
          hostname: 'relay.herald.test',
          wantsDsn,
          newId: () => `dsn-${dsns.length}`,
          enqueueDsn: async (dsn) => void dsns.push(dsn),
          onError: (err) => assert.fail(String(err)),
        },
        now: () => now.ms,
      });
      return { quarantine, dsns };
    };
    const old = now.ms - 8 * DAY_MS;
    const never: HeldMessage = {
      ...held('never', 'acme', old),
      dsn: {
        recipients: {
          'a-never@example.test': { notify: ['NEVER'] },
          'b-never@example.test': { notify: ['NEVER'] },
        },
      },
    };
    const nullSender: HeldMessage = { ...held('null', 'acme', old), from: '' };
    const quiet: HeldMessage = { ...held('quiet', 'quiet', old) };
    // RET=FULL from a (possibly forged) sender: still no content returned.
    const partial: HeldMessage = {
      ...held('partial', 'acme', old),
      reason: 'behaviour:volume_spike',
      dsn: { ret: 'FULL', envid: 'env-7', recipients: { 'b-partial@example.test': { notify: ['NEVER'] } } },
    };

    const expiry = run('qn1', 'expiry', (tenant) => tenant !== 'quiet');
    for (const m of [held('plain', 'acme', old), never, nullSender, quiet, partial])
      await expiry.quarantine.store.hold(m);
    await expiry.quarantine.store.hold(held('kept', 'acme', now.ms - DAY_MS));
    assert.equal(await expiry.quarantine.sweep(), 5);
    assert.deepEqual(
      expiry.dsns.map((d) => [d.tenant, d.to]),
      [
        ['acme', 'app@origin.test'],
        ['acme', 'app@origin.test'],
      ],
    );
    // Swept oldest first, ties by id: partial, then plain.
    const plain = expiry.dsns[1]!.body.toString('utf8');
    assert.match(plain, /^From: Mail Delivery System <MAILER-DAEMON@relay\.herald\.test>/m);
    assert.match(plain, /X-Herald-Queue-ID: plain/);
    assert.match(
      plain,
      /Diagnostic-Code: smtp; 550 5\.7\.1 message held in quarantine and deleted after 7 days\r?$/m,
    );
    assert.doesNotMatch(plain, /Subject: plain|GTUBE/, 'nothing of the held message is returned');
    assert.doesNotMatch(plain, /message\/rfc822|text\/rfc822-headers|spam/, 'no content part, no reason');
    assert.deepEqual(
      classifyMessage(expiry.dsns[1]!.body).recipients.map((r) => [r.address, r.status]),
      [
        ['a-plain@example.test', '5.7.1'],
        ['b-plain@example.test', '5.7.1'],
      ],
    );
    const part = expiry.dsns[0]!.body.toString('utf8');
    assert.match(part, /Original-Envelope-Id: env-7/);
    assert.match(part, /Final-Recipient: rfc822; a-partial@example\.test/);
    assert.doesNotMatch(part, /Final-Recipient: rfc822; b-partial/, 'NOTIFY=NEVER is left out');
    assert.doesNotMatch(
      part,
      /Subject: partial|GTUBE|message\/rfc822|text\/rfc822-headers/,
      'RET=FULL is ignored',
    );
    assert.doesNotMatch(part, /behaviour|volume_spike/, 'the rule is not named');

    await expiry.quarantine.store.hold(held('op', 'acme', now.ms));
    assert.ok(await expiry.quarantine.remove('op'));
    assert.equal(expiry.dsns.length, 2, 'expiry: an operator delete tells no one');

    const always = run('qn2', 'always');
    await always.quarantine.store.hold(held('op', 'acme', now.ms));
    assert.ok(await always.quarantine.remove('op'));
    assert.equal(always.dsns.length, 1);
    assert.match(
      always.dsns[0]!.body.toString('utf8'),
      /550 5\.7\.1 message held in quarantine and deleted by the operator/,
    );

    const silent = run('qn3', 'never');
    await silent.quarantine.store.hold(held('gone', 'acme', old));
    assert.equal(await silent.quarantine.sweep(), 1);
    assert.equal(silent.dsns.length, 0);
  });
});

describe('quarantine: a release cut by a Redis outage', () => {
  let redis: RedisHandle;
  before(async () => {
    // Every write on disk before its reply: the held record survives the kill.
    redis = await startRedis({ appendfsync: 'always' });
  });
  after(() => redis.stop());

  it('leaves the message held once Redis is back, and it is released then', async () => {
    const config = parseConfig({ redis: { prefix: 'q-outage' } });
    // As Herald's command connection: no offline queue, so a command fails while Redis is down.
    const client = redis.client({ enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    if (client.status !== 'ready') await once(client, 'ready');
    let restarted: Promise<void> | undefined;
    let down = true;
    const queued: string[] = [];
    const quarantine = createQuarantine({
      redis: client,
      config,
      events: { emit: () => {}, flush: async () => {} },
      // The first release's enqueue finds Redis gone (killed; restarting meanwhile).
      enqueue: async (m, release) => {
        if (down) {
          down = false;
          await redis.kill();
          restarted = redis.restart();
          throw new Error('Connection is closed.');
        }
        queued.push(m.id);
        await client.multi().del(release.record).zrem(release.claims, m.id).exec();
      },
    });
    await quarantine.store.hold(held('m5', 'acme', DAY_MS));
    await assert.rejects(quarantine.release('m5'), /Connection is closed/);
    await restarted;
    assert.deepEqual(
      (await quarantine.list()).messages.map((m) => m.id),
      ['m5'],
      'still held, listed',
    );
    assert.equal((await quarantine.list({ tenant: 'acme' })).total, 1);
    assert.equal((await quarantine.release('m5'))?.id, 'm5');
    assert.deepEqual(queued, ['m5']);
    assert.equal((await quarantine.list()).total, 0);
  });
});
