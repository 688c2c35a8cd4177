/**
 * Property-based fuzzing of the VERP codec (fast-check, fixed seed, bounded runs): `decodeVerp`
 * never throws and always answers one of its results, whatever it is given; a token round-trips
 * tenant, message id and recipient; changing any character of a token is caught; and the time
 * to refuse an input does not grow with it (it reads a bounded prefix).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { newMessageId } from '../src/queue/index.js';
import { BASE32_ALPHABET, decodeVerp, encodeVerp, type VerpResult, verpKeys } from '../src/verp/index.js';
import { timeGrowth } from './fixtures/growth.js';

/** 8× the input: linear work takes about 8× the time, quadratic about 64×. */
const MAX_GROWTH = 24;

const SEED = 777_001;
const RUNS = 200;
const DAY_MS = 86_400_000;
const MAX_AGE_MS = 30 * DAY_MS;
const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const DOMAIN = 'bounces.example.com';
const FAILURES = new Set(['not-verp', 'malformed', 'forged', 'expired', 'unknown-key']);
const keys = verpKeys('current secret', ['old secret']);
const options = { now: NOW, maxAgeMs: MAX_AGE_MS, domain: DOMAIN, tenants: ['a-long-tenant-name', 'acme'] };

function assertWellFormed(result: VerpResult): void {
  if (!result.ok) {
    assert.ok(FAILURES.has(result.reason), `reason ${result.reason}`);
    return;
  }
  assert.match(result.messageId, /^[0-9a-z]{9}[0-9a-f]{16}$/);
  assert.match(result.recipientHash, /^[0-9a-f]{8}$/);
  assert.equal(typeof result.matchesRecipient, 'function');
}

const tenant = fc.oneof(
  fc.constantFrom('acme', 'a-long-tenant-name', 'default'),
  fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,8}$/),
);
const recipient = fc
  .tuple(
    fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,30}$/),
    fc.stringMatching(/^[a-z0-9]{1,12}\.(?:com|net|jp)$/),
  )
  .map(([local, domain]) => `${local}@${domain}`);
const messageId = fc.integer({ min: 0, max: 29 * DAY_MS }).map((age) => newMessageId(NOW - age));

describe('decodeVerp under fuzzing', () => {
  it('never throws and answers a well-formed result for any input', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => assertWellFormed(decodeVerp(value, keys, options))),
      { seed: SEED, numRuns: RUNS },
    );
    const token = fc.string({ unit: fc.constantFrom(...BASE32_ALPHABET, ...'ABZ019@+.<>-'), maxLength: 80 });
    fc.assert(
      fc.property(token, fc.constantFrom('', '<', ' '), (text, around) => {
        assertWellFormed(
          decodeVerp(`${around}bounces+${text}@${DOMAIN}${around === '<' ? '>' : around}`, keys, options),
        );
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('round-trips tenant, message id and recipient; another recipient does not match', () => {
    fc.assert(
      fc.property(tenant, messageId, recipient, recipient, (t, id, rcpt, other) => {
        const address = encodeVerp({ tenant: t, messageId: id, recipient: rcpt, now: NOW }, keys, DOMAIN);
        const decoded = decodeVerp(address.toUpperCase(), keys, { ...options, tenants: [t] });
        assert.ok(decoded.ok, JSON.stringify(decoded));
        assert.equal(decoded.tenant, t);
        assert.equal(decoded.messageId, id);
        assert.ok(decoded.matchesRecipient(`<${rcpt.toUpperCase()}>`));
        if (other.toLowerCase() !== rcpt.toLowerCase()) assert.ok(!decoded.matchesRecipient(other));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('a token with any one character changed is refused', () => {
    fc.assert(
      fc.property(tenant, messageId, recipient, fc.nat(), fc.nat(), (t, id, rcpt, where, by) => {
        const address = encodeVerp({ tenant: t, messageId: id, recipient: rcpt, now: NOW }, keys, DOMAIN);
        const at = address.indexOf('+') + 1 + (where % (address.indexOf('@') - address.indexOf('+') - 1));
        const old = address[at]!;
        const alphabet = BASE32_ALPHABET.replace(old, '');
        const changed = `${address.slice(0, at)}${alphabet[by % alphabet.length]}${address.slice(at + 1)}`;
        const decoded = decodeVerp(changed, keys, options);
        assert.ok(!decoded.ok, `${changed} decoded`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('refusing a long input takes no longer for a longer one', () => {
    const refuse = (input: string) => () => {
      for (let j = 0; j < 100; j++) decodeVerp(input, keys, options);
    };
    for (const unit of ['a', 'bounces+', '<', '@']) {
      const small = refuse(`bounces+${unit.repeat(64 * 1024)}@${DOMAIN}`);
      const big = refuse(`bounces+${unit.repeat(8 * 64 * 1024)}@${DOMAIN}`);
      const ratio = timeGrowth(small, big, MAX_GROWTH);
      assert.ok(ratio < MAX_GROWTH, `${unit}: ${ratio.toFixed(1)}× for 8× the input`);
    }
  });
});
