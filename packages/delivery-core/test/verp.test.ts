import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '@herald/delivery-core';
import { newMessageId } from '@herald/delivery-core/queue';
import {
  BASE32_ALPHABET,
  carriesTenantInline,
  decodeVerp,
  encodeVerp,
  MAX_INLINE_TENANT_CHARS,
  MAX_LOCAL_PART_OCTETS,
  type VerpDecoded,
  type VerpResult,
  verpKeys,
  verpSettings,
} from '@herald/delivery-core/verp';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MAX_AGE_MS = 30 * DAY_MS;
const DOMAIN = 'bounces.example.com';
const ACCEPTED_AT = Date.UTC(2025, 5, 1, 12, 0, 0);
const MESSAGE_ID = newMessageId(ACCEPTED_AT);
const keys = verpKeys('current secret', ['old secret']);
const input = { tenant: 'acme', messageId: MESSAGE_ID, recipient: 'Jane.Doe@Example.NET', now: ACCEPTED_AT };
const at = (ms: number) => ({ now: ms, maxAgeMs: MAX_AGE_MS });

function ok(result: VerpResult): VerpDecoded {
  assert.ok(result.ok, `expected a valid token, got ${JSON.stringify(result)}`);
  return result;
}

function localPart(address: string): string {
  return address.slice(0, address.lastIndexOf('@'));
}

describe('VERP tokens', () => {
  it('round-trips tenant, message id, recipient and issue time', () => {
    const address = encodeVerp({ ...input, now: ACCEPTED_AT + 5.5 * HOUR_MS }, keys, DOMAIN);
    assert.match(address, /^bounces\+[a-z2-7]+@bounces\.example\.com$/);
    const decoded = ok(decodeVerp(address, keys, { ...at(ACCEPTED_AT + DAY_MS), domain: DOMAIN }));
    assert.equal(decoded.tenant, 'acme');
    assert.equal(decoded.messageId, MESSAGE_ID);
    assert.equal(decoded.issuedAt, ACCEPTED_AT + 5 * HOUR_MS, 'to the hour, rounded down');
    assert.ok(decoded.matchesRecipient('jane.doe@example.net'));
    assert.ok(
      decoded.matchesRecipient('rfc822; <JANE.DOE@example.net>'),
      'as a DSN Final-Recipient names it',
    );
    assert.ok(!decoded.matchesRecipient('john.doe@example.net'));
    assert.match(decoded.recipientHash, /^[0-9a-f]{8}$/);
  });

  it('decodes whatever case an MTA gave the address', () => {
    const address = encodeVerp(input, keys, DOMAIN);
    for (const variant of [address.toUpperCase(), `<${address.replace('bounces', 'Bounces')}>`]) {
      assert.equal(ok(decodeVerp(variant, keys, at(ACCEPTED_AT))).messageId, MESSAGE_ID);
    }
  });

  it('refuses a token with any character changed, mostly as forged', () => {
    const address = encodeVerp(input, keys, DOMAIN);
    const start = 'bounces+'.length;
    const end = address.indexOf('@');
    const reasons = new Map<string, number>();
    for (let i = start; i < end; i++) {
      const ch = address[i]!;
      const other = BASE32_ALPHABET[(BASE32_ALPHABET.indexOf(ch) + 1) % 32]!;
      const result = decodeVerp(address.slice(0, i) + other + address.slice(i + 1), keys, at(ACCEPTED_AT));
      assert.equal(result.ok, false, `position ${i}`);
      if (!result.ok) reasons.set(result.reason, (reasons.get(result.reason) ?? 0) + 1);
    }
    // The version and key id characters give malformed / unknown-key; the rest fail the MAC.
    assert.ok((reasons.get('forged') ?? 0) >= end - start - 3, JSON.stringify([...reasons]));
    const middle = Math.floor((start + end) / 2);
    const altered =
      address.slice(0, middle) + (address[middle] === 'a' ? 'b' : 'a') + address.slice(middle + 1);
    assert.deepEqual(decodeVerp(altered, keys, at(ACCEPTED_AT)), { ok: false, reason: 'forged' });
  });

  it('refuses truncated and extended tokens', () => {
    const address = encodeVerp(input, keys, DOMAIN);
    const [local, domain] = [localPart(address), DOMAIN];
    for (const cut of [1, 2, 5, 20]) {
      const result = decodeVerp(`${local.slice(0, -cut)}@${domain}`, keys, at(ACCEPTED_AT));
      assert.equal(result.ok, false, `cut ${cut}`);
      if (!result.ok) assert.ok(['malformed', 'forged'].includes(result.reason), result.reason);
    }
    assert.equal(decodeVerp(`${local}a@${domain}`, keys, at(ACCEPTED_AT)).ok, false);
    assert.deepEqual(decodeVerp(`bounces+@${domain}`, keys, at(ACCEPTED_AT)), {
      ok: false,
      reason: 'malformed',
    });
  });

  it('refuses a token older than the max age, after checking it is genuine', () => {
    const address = encodeVerp({ ...input, now: ACCEPTED_AT + 2 * HOUR_MS }, keys, DOMAIN);
    const issued = ACCEPTED_AT + 2 * HOUR_MS;
    ok(decodeVerp(address, keys, at(issued + MAX_AGE_MS)));
    assert.deepEqual(decodeVerp(address, keys, at(issued + MAX_AGE_MS + 1)), {
      ok: false,
      reason: 'expired',
    });
  });

  it('still verifies tokens signed with a previous secret after a rotation', () => {
    const before = verpKeys('old secret');
    const address = encodeVerp(input, before, DOMAIN);
    const decoded = ok(decodeVerp(address, keys, at(ACCEPTED_AT)));
    assert.equal(decoded.messageId, MESSAGE_ID);
    assert.ok(decoded.matchesRecipient(input.recipient), 'the recipient hash uses the key that signed');
  });

  it('tells a token of a retired secret (unknown key id) from a forgery', () => {
    const retired = ['retired 1', 'retired 2', 'retired 3', 'retired 4', 'retired 5']
      .map((s) => verpKeys(s))
      .find((k) => keys.all.every((known) => known.id !== k.signing.id))!;
    const address = encodeVerp(input, retired, DOMAIN);
    assert.deepEqual(decodeVerp(address, keys, at(ACCEPTED_AT)), { ok: false, reason: 'unknown-key' });
  });

  it('tries every key that shares a key id', () => {
    const secrets = Array.from({ length: 200 }, (_, i) => `secret ${i}`);
    const first = secrets.find((s, i) =>
      secrets.slice(i + 1).some((t) => verpKeys(t).signing.id === verpKeys(s).signing.id),
    )!;
    const twin = secrets.find((t) => t !== first && verpKeys(t).signing.id === verpKeys(first).signing.id)!;
    const address = encodeVerp(input, verpKeys(twin), DOMAIN);
    ok(decodeVerp(address, verpKeys(first, [twin]), at(ACCEPTED_AT)));
  });

  it('keeps the local part within 64 octets for a 254-character recipient and a long tenant', () => {
    const recipient = `${'a'.repeat(64)}@${'d'.repeat(185)}.com`;
    assert.equal(recipient.length, 254);
    const tenants = [
      'a',
      'x'.repeat(MAX_INLINE_TENANT_CHARS),
      'y'.repeat(MAX_INLINE_TENANT_CHARS + 1),
      'Upper',
      't'.repeat(300),
      'user@example.com',
    ];
    for (const tenant of tenants) {
      const address = encodeVerp({ ...input, tenant, recipient }, keys, DOMAIN);
      assert.ok(Buffer.byteLength(localPart(address)) <= MAX_LOCAL_PART_OCTETS, `${tenant}: ${address}`);
      const decoded = ok(decodeVerp(address, keys, { ...at(ACCEPTED_AT), tenants: ['other', tenant] }));
      assert.equal(decoded.tenant, tenant);
      assert.ok(decoded.matchesRecipient(recipient));
    }
  });

  it('carries a long tenant as a keyed hash that resolves only against known tenants', () => {
    const tenant = 'a-rather-long-tenant-name';
    const address = encodeVerp({ ...input, tenant }, keys, DOMAIN);
    const unknown = ok(decodeVerp(address, keys, at(ACCEPTED_AT)));
    assert.equal(unknown.tenant, undefined);
    assert.match(unknown.tenantHash ?? '', /^[0-9a-f]{8}$/);
    assert.equal(
      ok(decodeVerp(address, keys, { ...at(ACCEPTED_AT), tenants: new Set([tenant]) })).tenant,
      tenant,
    );
  });

  it('says which tenant names travel inline and whether a token carries a given tenant', () => {
    for (const tenant of ['acme', 'a', 'x'.repeat(MAX_INLINE_TENANT_CHARS)])
      assert.ok(carriesTenantInline(tenant));
    for (const tenant of ['averylongtenantname-x', 'Mixed.Case-T', 'Upper', '-lead', ''])
      assert.ok(!carriesTenantInline(tenant), tenant);
    for (const tenant of ['acme', 'averylongtenantname-x', 'Mixed.Case-T']) {
      const decoded = ok(decodeVerp(encodeVerp({ ...input, tenant }, keys, DOMAIN), keys, at(ACCEPTED_AT)));
      assert.ok(decoded.matchesTenant(tenant), tenant);
      assert.ok(!decoded.matchesTenant(`${tenant}x`), tenant);
      assert.ok(!decoded.matchesTenant(tenant.toUpperCase()), tenant);
    }
  });

  it('answers every kind of garbage without throwing', () => {
    const garbage: unknown[] = [
      undefined,
      null,
      42,
      {},
      '',
      '@',
      'bounces',
      'bounces+',
      'user@example.com',
      'bounces+!!!!@x',
      `bounces+${'a'.repeat(56)}@x`,
      `bounces+${'7'.repeat(56)}@x`,
      `bounces+${'a'.repeat(10_000)}@x`,
      'bounces+ääää@x',
      'bounces+\u0000@x',
      '<>',
    ];
    for (const value of garbage) {
      const result = decodeVerp(value, keys, at(ACCEPTED_AT));
      assert.equal(result.ok, false, String(value));
    }
    assert.deepEqual(decodeVerp('user@example.com', keys, at(ACCEPTED_AT)), {
      ok: false,
      reason: 'not-verp',
    });
    const address = encodeVerp(input, keys, DOMAIN);
    assert.deepEqual(decodeVerp(address, keys, { ...at(ACCEPTED_AT), domain: 'other.example' }), {
      ok: false,
      reason: 'not-verp',
    });
  });

  it('refuses to encode an id that is not a Herald message id', () => {
    assert.throws(() => encodeVerp({ ...input, messageId: 'not-an-id' }, keys, DOMAIN), TypeError);
  });

  it('reads its settings from the bounce section, none without it', () => {
    assert.equal(verpSettings(parseConfig({})), undefined);
    const settings = verpSettings(
      parseConfig({
        bounce: {
          domain: DOMAIN,
          verp_secret: 'current secret 0123',
          verp_previous_secrets: ['old secret 0123456'],
        },
      }),
    )!;
    assert.equal(settings.domain, DOMAIN);
    assert.equal(settings.maxAgeMs, MAX_AGE_MS);
    ok(decodeVerp(encodeVerp(input, verpKeys('old secret 0123456'), DOMAIN), settings.keys, at(ACCEPTED_AT)));
  });
});
