/**
 * The cap on mail held for a flagged account: the config keys (`behaviour.max_held_messages`,
 * `max_held_bytes`: defaults, sizes, errors with the exact key path), and against a real
 * redis-server the held counts (one hash beside the flags): counted by one relay and read by
 * another's refresh, cleared at unflag and again at the next flag (a hold in flight at the unflag
 * counts into no episode), and the behaviour stage's decision — hold up to a cap, then refuse
 * (counted by the meter) — from the per-process copy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '@herald/delivery-core';
import {
  createBehaviour,
  HELD_ENVELOPE_COPIES,
  type HoldCap,
  heldBytesOf,
} from '@herald/delivery-core/behaviour';
import type { HeraldEvent } from '@herald/delivery-core/events';
import { type RedisHandle, startRedis } from '@herald/test-harness';
import { type AccountFlag, FlagStore } from '../src/behaviour/flags.js';

const flagOf = (account: string, since = 1): AccountFlag => ({
  account,
  tenant: 'acme',
  rule: 'volume_spike',
  reason: 'test',
  figures: {},
  since,
});

describe('behaviour.max_held_messages and max_held_bytes', () => {
  it('default to 1000 messages and 100 MB, and take sizes as the other size keys do', () => {
    const defaults = parseConfig({ behaviour: {} }).behaviour!;
    assert.equal(defaults.max_held_messages, 1000);
    assert.equal(defaults.max_held_bytes, 100_000_000);
    const set = parseConfig({ behaviour: { max_held_messages: 5, max_held_bytes: '50MB' } }).behaviour!;
    assert.equal(set.max_held_messages, 5);
    assert.equal(set.max_held_bytes, 50_000_000);
    assert.equal(parseConfig({ behaviour: { max_held_bytes: '1MiB' } }).behaviour!.max_held_bytes, 1_048_576);
  });

  it('a held message counts its body and every copy of its envelope, not the body alone', () => {
    // The attack: a 2-line body to 1,000 recipients of 245 characters each.
    const recipients = Array.from(
      { length: 1000 },
      (_, i) => `${String(i).padStart(4, '0')}${'r'.repeat(228)}@ex.test`,
    );
    const from = 'app@origin.test';
    const body = Buffer.from('Subject: hi\r\n\r\nhello\r\n');
    const envelope = from.length + recipients.reduce((n, r) => n + r.length, 0);
    assert.equal(recipients[0]!.length, 240);
    assert.equal(HELD_ENVELOPE_COPIES, 3, 'the record, its accepted and its quarantined events');
    assert.equal(heldBytesOf({ body, from, recipients }), body.length + 3 * envelope);
    assert.ok(heldBytesOf({ body, from, recipients }) > 700_000);
    // UTF-8 bytes, not UTF-16 code units.
    assert.equal(heldBytesOf({ body: Buffer.alloc(0), from: 'é@x', recipients: ['ü@y'] }), 3 * 8);
  });

  it('bad values fail with the exact key path', () => {
    assert.throws(
      () => parseConfig({ behaviour: { max_held_messages: 0 } }),
      /behaviour\.max_held_messages: expected integer >= 1/,
    );
    assert.throws(
      () => parseConfig({ behaviour: { max_held_messages: 2.5 } }),
      /behaviour\.max_held_messages: expected integer >= 1/,
    );
    assert.throws(
      () => parseConfig({ behaviour: { max_held_bytes: 'lots' } }),
      /behaviour\.max_held_bytes: expected a size in bytes or like 512KB, 25MB, 10MiB/,
    );
    assert.throws(
      () => parseConfig({ behaviour: { max_held_bytes: 0 } }),
      /behaviour\.max_held_bytes: expected a size/,
    );
    assert.throws(
      () => parseConfig({ behaviour: { accounts: { bulk: { max_held_messages: 5 } } } }),
      /behaviour\.accounts\.bulk.*max_held_messages/,
      'global only: an account entry is rules',
    );
  });
});

describe('held counts on Redis', () => {
  let redis: RedisHandle;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis.stop());

  it('one relay counts, another reads them at its refresh; unflag clears them, and so does the next flag', async () => {
    const a = new FlagStore(redis.client(), 'h1');
    const b = new FlagStore(redis.client(), 'h1');
    assert.equal(await a.flag(flagOf('mal:lory')), true);
    assert.deepEqual(await a.countHeld('mal:lory', 100), { messages: 1, bytes: 100 });
    assert.deepEqual(await a.countHeld('mal:lory', 250), { messages: 2, bytes: 350 });
    assert.deepEqual(a.cachedHeld('mal:lory'), { messages: 2, bytes: 350 }, 'its own holds at once');
    assert.deepEqual(b.cachedHeld('mal:lory'), { messages: 0, bytes: 0 }, 'not read yet');
    await b.refresh();
    assert.deepEqual(b.cachedHeld('mal:lory'), { messages: 2, bytes: 350 }, 'a name with a colon');
    assert.equal(b.cached('mal:lory')?.rule, 'volume_spike');

    await b.unflag('mal:lory', 2);
    assert.deepEqual(await a.readHeld('mal:lory'), { messages: 0, bytes: 0 });
    assert.deepEqual(b.cachedHeld('mal:lory'), { messages: 0, bytes: 0 });
    // A's copy was stale at the unflag: a hold in flight there still counts…
    await a.countHeld('mal:lory', 50);
    assert.deepEqual(await b.readHeld('mal:lory'), { messages: 1, bytes: 50 });
    // …into no episode: the next flag starts at zero.
    assert.equal(await b.flag(flagOf('mal:lory', 3)), true);
    assert.deepEqual(await a.readHeld('mal:lory'), { messages: 0, bytes: 0 });
    await a.refresh();
    assert.deepEqual(a.cachedHeld('mal:lory'), { messages: 0, bytes: 0 });
  });

  it('the behaviour stage holds up to a cap, then refuses (counted), and spools again after the unflag', async () => {
    const events: HeraldEvent[] = [];
    const refused: HoldCap[] = [];
    const behaviour = createBehaviour({
      redis: redis.client(),
      prefix: 'h2',
      behaviour: parseConfig({ behaviour: { max_held_messages: 3, max_held_bytes: '1KB' } }).behaviour!,
      events: { emit: (e) => void events.push(e), flush: async () => {} },
      meter: { refused: (cap) => void refused.push(cap) },
    });
    await new FlagStore(redis.client(), 'h2').flag(flagOf('mallory'));
    await new FlagStore(redis.client(), 'h2').flag(flagOf('hog', 2));
    await behaviour.start();
    try {
      assert.equal(behaviour.decide('alice').action, 'spool');
      for (let i = 0; i < 3; i++) {
        assert.equal(behaviour.decide('mallory').action, 'hold');
        await behaviour.countHeld('mallory', 10);
      }
      assert.deepEqual(behaviour.decide('mallory'), {
        action: 'refuse',
        flag: flagOf('mallory'),
        cap: 'messages',
      });
      await behaviour.countHeld('hog', 999);
      assert.equal(behaviour.decide('hog').action, 'hold', '999 bytes: under 1000');
      await behaviour.countHeld('hog', 1);
      assert.equal(behaviour.decide('hog').action, 'refuse');
      assert.deepEqual(refused, ['messages', 'bytes']);

      const listed = await behaviour.flagged();
      assert.deepEqual(
        listed.map((f) => [f.account, f.held.messages, f.held.bytes, f.held.capReached]),
        [
          ['mallory', 3, 30, 'messages'],
          ['hog', 2, 1000, 'bytes'],
        ],
      );
      const status = await behaviour.status('Mallory');
      assert.deepEqual(status.held, {
        messages: 3,
        bytes: 30,
        maxMessages: 3,
        maxBytes: 1000,
        capReached: 'messages',
      });

      await behaviour.unflag('mallory');
      assert.equal(behaviour.decide('mallory').action, 'spool');
      assert.deepEqual((await behaviour.status('mallory')).held, {
        messages: 0,
        bytes: 0,
        maxMessages: 3,
        maxBytes: 1000,
      });
    } finally {
      behaviour.stop();
    }
  });
});
