/**
 * `herald doctor`'s dane check: judged over literal zones (secure or not), and end to end through
 * a real validating unbound serving ldns-signed zones (test-harness startValidatingResolver). With
 * a DANE probe the doctor connects to each MX host with validated usable records over STARTTLS
 * (real smtp-server sinks on 127.0.0.x with a self-signed or test-CA certificate) and says whether
 * the certificate matches: DANE-EE by SPKI SHA2-256, certificate SHA2-512 or the full key, DANE-TA
 * through the chain; a wrong record or a host without STARTTLS fails (DANE senders defer), a host
 * nobody answers at is a warning (certificate not checked). With more MX hosts than it probes, the
 * probe takes the best by preference, however the resolver orders the answer; a server that keeps
 * every step just alive is given up on at the whole-probe deadline.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  createTestCa,
  type SmtpSinkHandle,
  selfSignedCertificate,
  startSmtpSink,
  startValidatingResolver,
  type ValidatingResolverHandle,
} from '@herald/test-harness';
import { createResolver, type Resolver } from '../src/dns/index.js';
import { type CheckResult, createDaneProber, daneCheck, diagnoseDomain } from '../src/doctor/index.js';
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

const SELF_SIGNED = '127.0.0.3';
const CA_ISSUED = '127.0.0.4';
const NO_TLS = '127.0.0.5';
/** A server that greets forever, one continuation line at a time. */
const TRICKLE = '127.0.0.7';
/** Nothing listens there. */
const DOWN = '127.0.0.6';

const spkiOf = (pem: string) => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
const rawOf = (pem: string) => new X509Certificate(pem).raw;
const hex = (algorithm: string, data: Buffer) => createHash(algorithm).update(data).digest('hex');

describe('doctor: dane with the MX certificates probed', { timeout: 120_000 }, () => {
  let unbound: ValidatingResolverHandle;
  let resolver: Resolver;
  const sinks: SmtpSinkHandle[] = [];
  let port = 0;

  before(async () => {
    const self = await selfSignedCertificate();
    const ca = await createTestCa();
    const issued = await ca.issue(['mx.ta.test']);
    const zone = (name: string, address: string, tlsa: string) => ({
      name,
      records: ['@ MX 10 mx', `mx A ${address}`, `_25._tcp.mx TLSA ${tlsa}`],
    });
    unbound = await startValidatingResolver({
      zones: [
        zone('ee.test', SELF_SIGNED, `3 1 1 ${hex('sha256', spkiOf(self.cert))}`),
        zone('ee512.test', SELF_SIGNED, `3 0 2 ${hex('sha512', rawOf(self.cert))}`),
        zone('eefull.test', SELF_SIGNED, `3 1 0 ${spkiOf(self.cert).toString('hex')}`),
        zone('ta.test', CA_ISSUED, `2 0 1 ${hex('sha256', rawOf(ca.cert))}`),
        zone('wrong.test', SELF_SIGNED, `3 1 1 ${'ab'.repeat(32)}`),
        zone('notls.test', NO_TLS, `3 1 1 ${hex('sha256', spkiOf(self.cert))}`),
        zone('down.test', DOWN, `3 1 1 ${hex('sha256', spkiOf(self.cert))}`),
        {
          // 12 MX hosts: the 10 best present the matching certificate, the 2 worst answer nothing.
          // The resolver rotates the MX answer; the probe must still take the 10 best.
          name: 'many.test',
          records: Array.from({ length: 12 }, (_, i) => [
            `@ MX ${i < 10 ? 10 + i : 90 + i} mx${i}`,
            `mx${i} A ${i < 10 ? SELF_SIGNED : DOWN}`,
            `_25._tcp.mx${i} TLSA 3 1 1 ${hex('sha256', spkiOf(self.cert))}`,
          ]).flat(),
        },
      ],
    });
    resolver = createResolver({ servers: [unbound.address] });
    const ee = await startSmtpSink({ host: SELF_SIGNED, tls: self });
    sinks.push(ee);
    port = ee.port;
    // The sink presents its certificate and the CA's: DANE-TA finds the anchor in the chain.
    const chain = `${issued.cert.trim()}\n${ca.cert}`;
    sinks.push(await startSmtpSink({ host: CA_ISSUED, port, tls: { key: issued.key, cert: chain } }));
    sinks.push(await startSmtpSink({ host: NO_TLS, port }));
  });
  after(async () => {
    await resolver?.close();
    for (const sink of sinks) await sink.close();
    await unbound?.close();
  });

  const dane = async (domain: string): Promise<CheckResult> => {
    const daneProbe = createDaneProber({ port, ehloName: 'doctor.origin.test' });
    const report = await diagnoseDomain(resolver, { domain, ips: [], now: Date.now() }, { daneProbe });
    const row = report.checks.find((c) => c.id === 'dane');
    assert.ok(row, 'a dane row');
    return row;
  };

  it('a certificate matching a DANE-EE record passes, by SPKI SHA2-256, certificate SHA2-512 or the full key', async () => {
    for (const domain of ['ee.test', 'ee512.test', 'eefull.test']) {
      const row = await dane(domain);
      assert.equal(row.status, 'pass', `${domain}: ${row.reason}`);
      assert.match(
        row.reason,
        new RegExp(`mx\\.${domain.replace('.', '\\.')}: certificate matches \\(DANE-EE\\)`),
      );
    }
  });

  it('a chain leading to a DANE-TA anchor passes', async () => {
    const row = await dane('ta.test');
    assert.equal(row.status, 'pass', row.reason);
    assert.match(row.reason, /mx\.ta\.test: certificate matches \(DANE-TA\)/);
  });

  it('a certificate no record matches fails: DANE senders defer', async () => {
    const row = await dane('wrong.test');
    assert.equal(row.status, 'fail', row.reason);
    assert.match(row.reason, /mx\.wrong\.test: the certificate at 127\.0\.0\.3:\d+ matches no TLSA record/);
    assert.match(row.reason, /DANE senders defer mail to wrong\.test/);
  });

  it('an MX without STARTTLS fails; one nobody answers at is a warning (not checked)', async () => {
    const noTls = await dane('notls.test');
    assert.equal(noTls.status, 'fail', noTls.reason);
    assert.match(noTls.reason, /mx\.notls\.test: no TLS at 127\.0\.0\.5/);
    const down = await dane('down.test');
    assert.equal(down.status, 'warn', down.reason);
    assert.match(down.reason, /mx\.down\.test: certificate not checked/);
  });

  it('more MX hosts than are probed: the best by preference are, whatever order the answer has', async () => {
    // Several runs: the resolver rotates the answer, a probe taking its first 10 would hit mx10/mx11.
    for (let run = 0; run < 4; run++) {
      const row = await dane('many.test');
      assert.equal(row.status, 'pass', row.reason);
      assert.match(row.reason, /2 MX host\(s\) not probed/);
      const hosts = (row.details as { hosts: { host: string; certificate?: unknown }[] }).hosts;
      assert.deepEqual(
        hosts.filter((h) => h.certificate).map((h) => h.host),
        Array.from({ length: 10 }, (_, i) => `mx${i}.many.test`),
      );
    }
  });

  it('a server that never finishes its greeting is given up on at the whole-probe deadline', async () => {
    // A greeting of endless "220-" continuation lines, one every 50 ms: no step deadline fires.
    const open = new Set<net.Socket>();
    const trickle = net.createServer((socket) => {
      open.add(socket);
      const timer = setInterval(() => socket.write('220-still greeting\r\n'), 50);
      socket.on('close', () => clearInterval(timer));
      socket.on('error', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => trickle.listen(0, TRICKLE, resolve));
    try {
      const probe = createDaneProber({
        port: (trickle.address() as net.AddressInfo).port,
        ehloName: 'doctor.origin.test',
        totalMs: 400,
      });
      const [result] = await probe([{ host: 'mx.trickle.test', address: TRICKLE }]);
      assert.ok(result && 'error' in result, 'no certificate');
      assert.match(result.error, /took longer than 0\.4 s in all/);
    } finally {
      trickle.close();
      for (const socket of open) socket.destroy();
    }
  });

  it('without a probe the records alone are judged (no connection)', async () => {
    const before = sinks[0]!.stats().connections;
    assert.ok(before > 0, 'the probes above connected');
    const report = await diagnoseDomain(resolver, { domain: 'wrong.test', ips: [], now: Date.now() });
    const row = report.checks.find((c) => c.id === 'dane');
    assert.equal(row?.status, 'pass', row?.reason);
    assert.equal(sinks[0]!.stats().connections, before);
  });
});
