/**
 * `herald doctor`'s dane check: judged over literal zones (secure or not), and end to end through
 * a real validating unbound serving ldns-signed zones (test-harness startValidatingResolver).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startValidatingResolver, type ValidatingResolverHandle } from '@herald/test-harness';
import { createResolver } from '../src/dns/index.js';
import { daneCheck } from '../src/doctor/index.js';
import { gatherDns, viewOfZone } from '../src/doctor/snapshot.js';

const EE = { usage: 3, selector: 1, matchingType: 1, data: 'ab'.repeat(32) };
const PKIX = { usage: 1, selector: 1, matchingType: 1, data: 'ab'.repeat(32) };

describe('doctor: dane', () => {
  it('validated usable TLSA for every MX host passes', () => {
    const view = viewOfZone({
      'a.test': { MX: [{ preference: 10, exchange: 'mx.a.test' }], secure: true },
      '_25._tcp.mx.a.test': { TLSA: [EE], secure: true },
    });
    assert.equal(daneCheck(view, 'a.test').status, 'pass');
  });

  it('an MX answer without AD: info, DANE does not apply', () => {
    const view = viewOfZone({ 'a.test': { MX: [{ preference: 10, exchange: 'mx.a.test' }] } });
    const result = daneCheck(view, 'a.test');
    assert.equal(result.status, 'info');
    assert.match(result.reason, /not DNSSEC-validated/);
  });

  it('only PKIX usages: warn, unusable for SMTP', () => {
    const view = viewOfZone({
      'a.test': { MX: [{ preference: 10, exchange: 'mx.a.test' }], secure: true },
      '_25._tcp.mx.a.test': { TLSA: [PKIX], secure: true },
    });
    const result = daneCheck(view, 'a.test');
    assert.equal(result.status, 'warn');
    assert.match(result.reason, /none usable for SMTP/);
  });

  it('a failing TLSA lookup fails: DANE senders would defer', () => {
    const view = viewOfZone({
      'a.test': { MX: [{ preference: 10, exchange: 'mx.a.test' }], secure: true },
      '_25._tcp.mx.a.test': { error: 'SERVFAIL' },
    });
    assert.equal(daneCheck(view, 'a.test').status, 'fail');
  });
});

describe('doctor: dane through a validating unbound', { timeout: 60_000 }, () => {
  let unbound: ValidatingResolverHandle;
  before(async () => {
    const records = ['@ MX 10 mx', 'mx A 127.0.0.3', `_25._tcp.mx TLSA 3 1 1 ${'ab'.repeat(32)}`];
    unbound = await startValidatingResolver({
      zones: [
        { name: 'signed.test', records },
        { name: 'unsigned.test', records, signed: false },
      ],
    });
  });
  after(() => unbound?.close());

  it('a signed zone with TLSA passes; the same records unsigned do not count', async () => {
    const resolver = createResolver({ servers: [unbound.address] });
    try {
      const signed = await gatherDns(resolver, (view) => daneCheck(view, 'signed.test'));
      assert.equal(signed.status, 'pass', signed.reason);
      const unsigned = await gatherDns(resolver, (view) => daneCheck(view, 'unsigned.test'));
      assert.equal(unsigned.status, 'info', unsigned.reason);
    } finally {
      await resolver.close();
    }
  });
});
