/**
 * TLSA matching (dane/tlsa.ts) against real certificates made by openssl (test-harness CA):
 * which records are usable for SMTP, DANE-EE ignoring names, DANE-TA needing a signed path to the
 * anchor and the MX name, every selector and matching type.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { createTestCa, selfSignedCertificate } from '@herald/test-harness';
import { matchDane, type TlsaRecord, usableTlsa } from '../src/dane/index.js';

const der = (pem: string) => new X509Certificate(pem).raw;
const spki = (pem: string) => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
const hash = (algorithm: string, data: Buffer) => createHash(algorithm).update(data).digest('hex');
const record = (usage: number, selector: number, matchingType: number, data: string): TlsaRecord => ({
  usage,
  selector,
  matchingType,
  data,
});

describe('TLSA records for SMTP', () => {
  let self: { key: string; cert: string };
  let ca: { cert: string };
  let otherCa: { cert: string };
  let leaf: { cert: string };

  before(async () => {
    self = await selfSignedCertificate();
    const testCa = await createTestCa();
    ca = testCa;
    leaf = await testCa.issue(['mx.example.test']);
    otherCa = await createTestCa('Another CA');
  });

  it('PKIX-TA(0) and PKIX-EE(1) and unknown selectors or matching types are unusable', () => {
    const records = [
      record(0, 0, 1, 'aa'),
      record(1, 1, 1, 'aa'),
      record(3, 2, 1, 'aa'),
      record(3, 1, 3, 'aa'),
    ];
    assert.deepEqual(usableTlsa(records), []);
    assert.deepEqual(matchDane([der(self.cert)], records, ['mx.example.test'], Date.now()), {
      ok: false,
      why: 'no usable TLSA record',
    });
  });

  it('a digest of the wrong length or data that is not hex is malformed: unusable (RFC 7671 §5.2)', () => {
    const good = hash('sha256', spki(self.cert));
    const malformed = [
      record(3, 1, 1, good.slice(0, 40)), // a SHA-1 length under SHA2-256
      record(3, 1, 1, `${good}00`),
      record(3, 1, 2, good), // a SHA2-256 digest under SHA2-512
      record(3, 0, 0, 'abc'), // half a byte
      record(3, 0, 0, ''),
      record(3, 1, 1, `${good.slice(0, 62)}zz`),
    ];
    assert.deepEqual(usableTlsa(malformed), []);
    assert.deepEqual(matchDane([der(self.cert)], malformed, ['mx.example.test'], Date.now()), {
      ok: false,
      why: 'no usable TLSA record',
    });
    // Beside a well-formed record the malformed ones are skipped and the good one decides.
    const mixed = [...malformed, record(3, 1, 1, good.toUpperCase())];
    assert.equal(usableTlsa(mixed).length, 1);
    assert.deepEqual(matchDane([der(self.cert)], mixed, ['mx.example.test'], Date.now()), {
      ok: true,
      usage: 'DANE-EE',
    });
  });

  it('DANE-EE matches the leaf by SPKI or certificate, any matching type, whatever names it carries', () => {
    const chain = [der(self.cert)];
    for (const r of [
      record(3, 1, 1, hash('sha256', spki(self.cert))),
      record(3, 1, 2, hash('sha512', spki(self.cert))),
      record(3, 0, 1, hash('sha256', der(self.cert))),
      record(3, 0, 0, der(self.cert).toString('hex')),
    ]) {
      assert.deepEqual(matchDane(chain, [r], ['mx.elsewhere.test'], Date.now()), {
        ok: true,
        usage: 'DANE-EE',
      });
    }
  });

  it('DANE-EE with another key fails', () => {
    const r = record(3, 1, 1, hash('sha256', spki(leaf.cert)));
    assert.equal(matchDane([der(self.cert)], [r], ['localhost'], Date.now()).ok, false);
  });

  it('DANE-TA: the anchor in the chain, a signed path, and the leaf names the MX host', () => {
    const chain = [der(leaf.cert), der(ca.cert)];
    const r = record(2, 0, 1, hash('sha256', der(ca.cert)));
    assert.deepEqual(matchDane(chain, [r], ['mx.example.test'], Date.now()), { ok: true, usage: 'DANE-TA' });
    assert.deepEqual(matchDane(chain, [r], ['mx.other.test'], Date.now()), {
      ok: false,
      why: 'the certificate does not name mx.other.test',
    });
  });

  it('DANE-TA: a full trust anchor in the record verifies a chain that does not carry it', () => {
    const r = record(2, 1, 0, spki(ca.cert).toString('hex'));
    assert.deepEqual(matchDane([der(leaf.cert)], [r], ['mx.example.test'], Date.now()), {
      ok: true,
      usage: 'DANE-TA',
    });
  });

  it('DANE-TA: an anchor the leaf does not chain to fails', () => {
    // The server presents another CA's certificate after its leaf: it matches, but signed nothing.
    const chain = [der(leaf.cert), der(otherCa.cert)];
    const r = record(2, 0, 1, hash('sha256', der(otherCa.cert)));
    const match = matchDane(chain, [r], ['mx.example.test'], Date.now());
    assert.equal(match.ok, false);
    assert.match(match.ok ? '' : match.why, /not signed by the next/);
  });

  it('DANE-TA: an expired leaf fails (DANE-EE would not care)', () => {
    const chain = [der(leaf.cert), der(ca.cert)];
    const r = record(2, 0, 1, hash('sha256', der(ca.cert)));
    const later = Date.now() + 30 * 24 * 3_600_000;
    assert.match(JSON.stringify(matchDane(chain, [r], ['mx.example.test'], later)), /expired/);
    const ee = record(3, 1, 1, hash('sha256', spki(leaf.cert)));
    assert.equal(matchDane(chain, [ee], ['x'], later).ok, true);
  });
});
