/**
 * The door's pure accounting with an injected clock: client keys (IPv4, IPv4-mapped, IPv6 per
 * prefix, junk), connections at once and per time unit, exceptions, AUTH tarpit / block / per-user
 * delay, report de-duplication, bounded memory under a flood of distinct addresses, per-session
 * limits, DATA pace, and withDeadline. Properties run with fast-check (fixed seed, bounded runs).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ClientDoor,
  clientKey,
  DeadlineExceeded,
  type DoorLimits,
  dataPaceVerdict,
  SessionCounters,
  withDeadline,
} from '@herald/delivery-core/door';
import fc from 'fast-check';

const LIMITS: DoorLimits = {
  maxConnections: 2,
  maxConnectionRate: 3,
  rateWindowMs: 60_000,
  authFailureLimit: 4,
  authFailureWindowMs: 600_000,
  blockMs: 300_000,
  authDelayMs: 1_000,
  authMaxDelayMs: 4_000,
  userFailureThreshold: 3,
  ipv6PrefixBits: 64,
};

function door(limits: Partial<DoorLimits> = {}, extra: { exceptions?: string[]; max?: number } = {}) {
  const clock = { now: 1_000_000 };
  const d = new ClientDoor({
    limits: { ...LIMITS, ...limits },
    now: () => clock.now,
    ...(extra.exceptions ? { exceptions: extra.exceptions } : {}),
    ...(extra.max ? { maxTrackedClients: extra.max, maxTrackedUsers: extra.max } : {}),
  });
  return { door: d, clock };
}

describe('clientKey', () => {
  test('IPv4 as itself, IPv4-mapped unwrapped, IPv6 per prefix, junk cut short', () => {
    assert.equal(clientKey('192.0.2.7', 64), '192.0.2.7');
    assert.equal(clientKey('::ffff:192.0.2.7', 64), '192.0.2.7');
    assert.equal(clientKey('2001:db8:1:2:3:4:5:6', 64), '2001:db8:1:2:0:0:0:0/64');
    assert.equal(clientKey('2001:db8:1:2::9', 64), '2001:db8:1:2:0:0:0:0/64');
    assert.equal(clientKey('2001:db8:1:2::9', 48), '2001:db8:1:0:0:0:0:0/48');
    assert.equal(clientKey('2001:db8:1:2::9', 56), '2001:db8:1:0:0:0:0:0/56');
    assert.equal(clientKey('2001:db8:1:2ff::9', 56), '2001:db8:1:200:0:0:0:0/56');
    assert.equal(clientKey('::1', 128), '0:0:0:0:0:0:0:1/128');
    assert.equal(clientKey('64:ff9b::192.0.2.1', 128), '64:ff9b:0:0:0:0:c000:201/128');
    assert.equal(clientKey('x'.repeat(500), 64).length, 64);
  });

  test('never throws and is the same for every address of one /64 (property)', () => {
    const word = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), word, (words, low) => {
        const a = words.map((w) => w.toString(16)).join(':');
        const b = [...words.slice(0, 7), low].map((w) => w.toString(16)).join(':');
        assert.equal(clientKey(a, 64), clientKey(b, 64));
      }),
      { seed: 42, numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => void clientKey(s, 64)),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe('ClientDoor: connections', () => {
  test('at most maxConnections at once per client; leaving frees a slot; leave is idempotent', () => {
    const { door: d } = door({ maxConnectionRate: 100 });
    const a = d.admit('192.0.2.1');
    const b = d.admit('192.0.2.1');
    assert.ok(a.admitted && b.admitted);
    const c = d.admit('192.0.2.1');
    assert.equal(c.admitted, false);
    assert.equal(!c.admitted && c.reason, 'connections');
    assert.ok(d.admit('192.0.2.2').admitted, 'another client is not affected');
    d.leave(a.ticket);
    d.leave(a.ticket);
    assert.ok(d.admit('192.0.2.1').admitted);
    assert.equal(d.admit('192.0.2.1').admitted, false, 'a double leave freed only one slot');
  });

  test('one IPv6 /64 is one client', () => {
    const { door: d } = door({ maxConnectionRate: 100 });
    assert.ok(d.admit('2001:db8::1').admitted && d.admit('2001:db8::2').admitted);
    assert.equal(d.admit('2001:db8::3').admitted, false);
    assert.ok(d.admit('2001:db8:0:1::1').admitted, 'the next /64 is another client');
  });

  test('at most maxConnectionRate new connections per window, then one per window/rate', () => {
    const { door: d, clock } = door({ maxConnections: 100 });
    for (let i = 0; i < 3; i++) assert.ok(d.admit('192.0.2.9').admitted);
    const refused = d.admit('192.0.2.9');
    assert.ok(!refused.admitted && refused.reason === 'connection_rate');
    assert.equal(refused.retryAfterMs, 20_000);
    clock.now += 20_000;
    assert.ok(d.admit('192.0.2.9').admitted);
    assert.equal(d.admit('192.0.2.9').admitted, false);
  });

  test('exceptions pass uncounted', () => {
    const { door: d } = door({ maxConnections: 1 }, { exceptions: ['192.0.2.0/24'] });
    for (let i = 0; i < 10; i++) assert.ok(d.admit('192.0.2.5').admitted);
    assert.equal(d.isBlocked('192.0.2.5'), false);
    assert.equal(d.stats().live, 0);
  });

  test('a refusal is reported once per client and reason per window', () => {
    const { door: d, clock } = door({ maxConnections: 1, maxConnectionRate: 100 });
    d.admit('192.0.2.3');
    const first = d.admit('192.0.2.3');
    const second = d.admit('192.0.2.3');
    assert.ok(!first.admitted && first.report && !second.admitted && !second.report);
    clock.now += LIMITS.rateWindowMs;
    const later = d.admit('192.0.2.3');
    assert.ok(!later.admitted && later.report);
  });
});

describe('ClientDoor: AUTH failures', () => {
  test('the tarpit doubles per failure up to the cap; the limit blocks the client for blockMs', () => {
    const { door: d, clock } = door();
    assert.deepEqual(
      [1, 2, 3].map(() => d.authResult('192.0.2.4', undefined, false).delayMs),
      [1_000, 2_000, 4_000],
    );
    assert.equal(d.authResult('192.0.2.4', undefined, true).delayMs, 4_000, 'a success waits the same');
    const fourth = d.authResult('192.0.2.4', undefined, false);
    assert.equal(fourth.blockedUntil, clock.now + LIMITS.blockMs);
    assert.ok(d.isBlocked('192.0.2.4'));
    const refused = d.admit('192.0.2.4');
    assert.ok(!refused.admitted && refused.reason === 'blocked');
    clock.now += LIMITS.blockMs;
    assert.equal(d.isBlocked('192.0.2.4'), false);
    assert.ok(d.admit('192.0.2.4').admitted);
  });

  test('failures lapse after the window without one', () => {
    const { door: d, clock } = door();
    d.authResult('192.0.2.6', undefined, false);
    d.authResult('192.0.2.6', undefined, false);
    clock.now += LIMITS.authFailureWindowMs + 1;
    assert.equal(d.authResult('192.0.2.6', undefined, false).delayMs, 1_000);
  });

  test('a user guessed from many clients is slowed from the threshold on, never refused', () => {
    const { door: d } = door();
    for (let i = 1; i <= 3; i++) d.authResult(`198.51.100.${i}`, 'app', false);
    const honest = d.authResult('203.0.113.1', 'app', true);
    assert.equal(honest.delayMs, 1_000, 'the 3rd failure reached the threshold');
    assert.equal(honest.blockedUntil, undefined);
    assert.ok(d.admit('203.0.113.1').admitted);
  });

  test('a flood of distinct clients and users keeps memory bounded (property)', () => {
    const { door: d } = door({}, { max: 50 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.ipV4(), fc.string({ maxLength: 12 }), fc.boolean()), { maxLength: 200 }),
        (ops) => {
          for (const [ip, user, ok] of ops) {
            const admission = d.admit(ip);
            d.authResult(ip, user, ok);
            if (admission.admitted) d.leave(admission.ticket);
          }
          const stats = d.stats();
          assert.ok(stats.clients <= 50 && stats.users <= 50, JSON.stringify(stats));
          assert.equal(stats.live, 0, 'every admitted connection left');
        },
      ),
      { seed: 7, numRuns: 100 },
    );
  });

  test('never more than maxConnections live per client, whatever the order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.boolean()), { maxLength: 100 }),
        (ops) => {
          const { door: d } = door({ maxConnectionRate: 10_000 });
          const held: ReturnType<ClientDoor['admit']>[][] = [[], [], [], []];
          for (const [client, open] of ops) {
            const mine = held[client]!;
            if (open) {
              const admission = d.admit(`192.0.2.${client}`);
              if (admission.admitted) mine.push(admission);
            } else {
              const last = mine.pop();
              if (last?.admitted) d.leave(last.ticket);
            }
            assert.ok(mine.length <= LIMITS.maxConnections);
          }
        },
      ),
      { seed: 11, numRuns: 200 },
    );
  });
});

describe('SessionCounters', () => {
  const limits = {
    junkCommandLimit: 3,
    softErrorLimit: 2,
    hardErrorLimit: 4,
    errorSleepMs: 500,
    authFailureLimit: 2,
  };

  test('junk commands past the limit end the session; MAIL/RCPT/DATA are not junk; progress resets', () => {
    const s = new SessionCounters(limits);
    for (const name of ['EHLO', 'NOOP', 'MAIL', 'RCPT', 'DATA', 'RSET'])
      assert.deepEqual(s.command(name), { delayMs: 0 });
    assert.deepEqual(s.command('NOOP'), { limit: 'junk_commands' });
    s.progressed();
    assert.deepEqual(s.command('NOOP'), { delayMs: 0 });
  });

  test('errors sleep from the soft limit, end at the hard limit; an accepted message resets them', () => {
    const s = new SessionCounters(limits);
    assert.equal(s.error(), undefined);
    assert.deepEqual(s.command('MAIL'), { delayMs: 0 });
    assert.equal(s.error(), undefined);
    assert.deepEqual(s.command('MAIL'), { delayMs: 500 });
    s.delivered();
    assert.deepEqual(s.command('MAIL'), { delayMs: 0 });
    for (let i = 0; i < 3; i++) assert.equal(s.error(), undefined);
    assert.equal(s.error(), 'errors');
    assert.equal(s.authFailed(), undefined);
    assert.equal(s.authFailed(), 'auth_failures');
  });
});

describe('dataPaceVerdict and withDeadline', () => {
  const pace = { timeoutMs: 10_000, minBytesPerSecond: 100, graceMs: 2_000 };

  test('a slow transfer passes during the grace, fails below the rate after it, and ends at the deadline', () => {
    assert.equal(dataPaceVerdict(0, 1_500, 0, pace), undefined);
    assert.equal(dataPaceVerdict(0, 3_000, 299, pace), 'data_rate');
    assert.equal(dataPaceVerdict(0, 3_000, 300, pace), undefined);
    assert.equal(dataPaceVerdict(0, 10_000, 1e9, pace), 'data_timeout');
  });

  test('withDeadline settles like the promise, or rejects with DeadlineExceeded', async () => {
    assert.equal(await withDeadline(Promise.resolve(5), 1_000, 'fast'), 5);
    await assert.rejects(withDeadline(new Promise(() => {}), 20, 'frozen'), DeadlineExceeded);
    await assert.rejects(withDeadline(Promise.reject(new Error('down')), 1_000, 'down'), /down/);
  });
});
