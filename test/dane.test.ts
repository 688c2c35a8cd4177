/**
 * End to end: DANE for SMTP (RFC 7672) on real parts. Zones are signed with ldns and served
 * through a real validating unbound on loopback (test-harness startValidatingResolver), which is
 * both dns.servers and delivery.dane.resolver; sinks offer STARTTLS with a self-signed certificate
 * (DANE-EE) or one issued by a test CA (DANE-TA). A matching TLSA record delivers with the event
 * saying `dane: verified`; a wrong one, or a TLSA lookup the resolver finds bogus, defers with
 * 4.7.5 and nothing reaches the sink; a signed zone without TLSA and an unsigned zone with TLSA
 * take the usual path. DANE wins over MTA-STS where it applies. With `mode: require` (Postfix's
 * dane-only) an unsigned zone or one without TLSA is refused 451 4.7.5 naming why.
 * Per site (the shaping file's `dane`, Postfix's per-destination policy): the same relay has a
 * site on `require` (its signed zone without TLSA deferred 4.7.5 while an identical domain of
 * another site is delivered) and one on `off` (its wrong TLSA ignored); a second relay with
 * `delivery.dane.mode: off` turns DANE on for one site only (verified there, absent elsewhere).
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '@herald/delivery-core';
import { daneTlsPolicy } from '@herald/delivery-core/dane';
import { createResolver } from '@herald/delivery-core/dns';
import type { AttemptEvent, RecipientEvent } from '@herald/delivery-core/events';
import { buildTlsReport, readDay, utcDay } from '@herald/delivery-core/tlsrpt';
import {
  createTestCa,
  type SmtpSinkHandle,
  selfSignedCertificate,
  startSmtpSink,
  startValidatingResolver,
  type TestZone,
  type ValidatingResolverHandle,
} from '@herald/test-harness';
import { sampleMessage } from './lib/message.js';
import { writeShapingFile } from './lib/shaping-file.js';
import { type Stack, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const SENDER = 'sender@origin.test';
const PLAIN = '127.0.0.2';
const SELF_SIGNED = '127.0.0.3';
const CA_ISSUED = '127.0.0.4';

function spkiSha256(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex');
}

function certSha256(certPem: string): string {
  return createHash('sha256').update(new X509Certificate(certPem).raw).digest('hex');
}

function zone(name: string, address: string, tlsa?: string, extra: Partial<TestZone> = {}): TestZone {
  const records = ['@ MX 10 mx', `mx A ${address}`];
  if (tlsa) records.push(`_25._tcp.mx TLSA ${tlsa}`);
  return { name, records, ...extra };
}

/** Per-site DANE on the opportunistic relay: a bank partner's site required, a broken one off. */
const SITE_SHAPING = `sites:
  "mx:mx.bank.test": { dane: require }
  "mx:mx.broken.test": { dane: "off" }
`;
/** On the relay whose delivery.dane.mode is off: DANE for good.test's site only. */
const SITE_ON_SHAPING = `sites:
  "mx:mx.good.test": { dane: opportunistic }
`;

describe('DANE in delivery', { timeout: 180_000 }, () => {
  let stack: Stack;
  /** delivery.dane.mode off; its shaping file turns DANE on for one site. Uses `stack`'s sinks. */
  let offStack: Stack;
  const cleanups: (() => Promise<unknown>)[] = [];
  let unbound: ValidatingResolverHandle;
  let eeSink: SmtpSinkHandle;
  let taSink: SmtpSinkHandle;

  let selfCert: string;

  before(async () => {
    const self = await selfSignedCertificate();
    selfCert = self.cert;
    const ca = await createTestCa();
    const issued = await ca.issue(['mx.ta.test']);
    const wrong = 'ab'.repeat(32);
    unbound = await startValidatingResolver({
      zones: [
        zone('good.test', SELF_SIGNED, `3 1 1 ${spkiSha256(self.cert)}`),
        zone('wrong.test', SELF_SIGNED, `3 1 1 ${wrong}`),
        zone('ta.test', CA_ISSUED, `2 0 1 ${certSha256(ca.cert)}`),
        zone('notlsa.test', PLAIN),
        zone('bank.test', PLAIN),
        zone('other.test', PLAIN),
        zone('broken.test', SELF_SIGNED, `3 1 1 ${wrong}`),
        zone('plain.test', PLAIN, `3 1 1 ${wrong}`, { signed: false }),
        zone('bogus.test', SELF_SIGNED, `3 1 1 ${spkiSha256(self.cert)}`, {
          // Altered after signing: the RRSIG no longer holds, unbound answers SERVFAIL.
          tamper: (text) => text.replace(/(TLSA\s+3 1 1 )[0-9a-f]{2}/i, '$1ff'),
        }),
      ],
    });
    const defer = (cleanup: () => Promise<unknown>) => cleanups.push(cleanup);
    stack = await startStack({
      sinks: [PLAIN],
      config: {
        shaping: { file: await writeShapingFile(defer, SITE_SHAPING) },
        dns: { servers: [unbound.address] },
        delivery: { dane: { mode: 'opportunistic', resolver: unbound.address } },
        tls_reporting: {
          enabled: true,
          organization_name: 'Herald test relay',
          contact_info: 'postmaster@origin.test',
          from: 'tlsrpt@origin.test',
        },
      },
    });
    eeSink = await startSmtpSink({ host: SELF_SIGNED, port: stack.mxPort, tls: self });
    // The sink presents its certificate and the CA's: DANE-TA finds the anchor in the chain.
    taSink = await startSmtpSink({
      host: CA_ISSUED,
      port: stack.mxPort,
      tls: { key: issued.key, cert: `${issued.cert.trim()}\n${ca.cert}` },
    });
    offStack = await startStack({
      sinks: [],
      config: {
        shaping: { file: await writeShapingFile(defer, SITE_ON_SHAPING) },
        dns: { servers: [unbound.address] },
        delivery: { port: stack.mxPort, dane: { mode: 'off', resolver: unbound.address } },
      },
    });
  });

  after(async () => {
    await offStack?.stop();
    await stack?.stop();
    for (const cleanup of cleanups) await cleanup();
    await eeSink?.close();
    await taSink?.close();
    await unbound?.close();
  });

  async function send(to: string): Promise<void> {
    const sent = await stack.submit({ from: SENDER, to: [to], body: sampleMessage({ subject: to }) });
    assert.equal(sent.code, 250, sent.response);
  }

  const attemptOf = (domain: string, n = 1) =>
    stack.events.waitFor<AttemptEvent>(
      `attempt ${n} to ${domain}`,
      (e) => e.type === 'attempt' && e.domain === domain && e.attempt === n,
    );

  const deferredOf = (recipient: string) =>
    stack.events.waitFor<RecipientEvent>(
      `deferred event of ${recipient}`,
      (e) => e.type === 'deferred' && e.recipient === recipient,
    );

  it('TLSA 3 1 1 of the sink key: delivered over TLS, the event says dane verified', async () => {
    await send('a@good.test');
    await stack.events.outcome('delivered', 'a@good.test');
    const attempt = await attemptOf('good.test');
    assert.equal(attempt.dane, 'verified');
    assert.equal(attempt.host?.tls, true);
    assert.equal(attempt.host?.tlsVerified, true);
    assert.equal(attempt.host?.tlsVerifiedBy, 'DANE');
    assert.deepEqual(attempt.daneTlsa, {
      mxHost: 'mx.good.test',
      records: [`3 1 1 ${spkiSha256(selfCert)}`],
    });
    assert.equal(eeSink.messages.find((m) => m.to.includes('a@good.test'))?.secure, true);
  });

  it('DANE-TA (2 0 1 of the issuing CA): delivered, the certificate names the MX host', async () => {
    await send('b@ta.test');
    await stack.events.outcome('delivered', 'b@ta.test');
    const attempt = await attemptOf('ta.test');
    assert.equal(attempt.dane, 'verified');
    assert.equal(taSink.messages.find((m) => m.to.includes('b@ta.test'))?.secure, true);
  });

  it('a TLSA record that matches nothing: deferred with 4.7.5, nothing sent, in clear or not', async () => {
    const transactions = eeSink.stats().transactions;
    await send('c@wrong.test');
    const deferred = await deferredOf('c@wrong.test');
    assert.equal(deferred.reply.code, 451);
    assert.equal(deferred.reply.enhanced, '4.7.5');
    assert.match(
      deferred.reply.text,
      /^DANE: STARTTLS with mx\.wrong\.test failed: .*no TLSA record matches/,
    );
    const attempt = await attemptOf('wrong.test');
    assert.equal(attempt.dane, 'failed:no TLSA record matches the certificate');
    assert.deepEqual(attempt.daneTlsa, { mxHost: 'mx.wrong.test', records: [`3 1 1 ${'ab'.repeat(32)}`] });
    assert.match(attempt.hostErrors[0]?.localAddress ?? '', /^127\./, 'our end of the failed session');
    assert.equal(eeSink.stats().transactions, transactions, 'no transaction began');
    assert.equal(eeSink.messages.filter((m) => m.to.includes('c@wrong.test')).length, 0);
  });

  it('a TLSA lookup the resolver finds bogus (SERVFAIL in a signed zone): deferred, no connection', async () => {
    const connections = eeSink.stats().connections;
    await send('d@bogus.test');
    const deferred = await deferredOf('d@bogus.test');
    assert.equal(deferred.reply.enhanced, '4.7.5');
    assert.match(deferred.reply.text, /^DANE: TLSA lookup of _25\._tcp\.mx\.bogus\.test failed/);
    assert.equal((await attemptOf('bogus.test')).dane, 'failed:TLSA lookup failed');
    assert.equal(eeSink.stats().connections, connections);
  });

  it('TLS reports: tlsa policies carry the TLSA records (policy-string) and MX host (mx-host); failures the sending IP', async () => {
    const prefix = stack.relay.herald.config.redis.prefix;
    const day = utcDay(Date.now());
    const tallies = async (domain: string) => {
      let found: Awaited<ReturnType<typeof readDay>> = [];
      await waitUntil(`${domain} counted`, async () => {
        found = await readDay(stack.redisClient, prefix, day, domain);
        return found.length > 0;
      });
      return found;
    };
    const [good] = await tallies('good.test');
    assert.equal(good?.policyType, 'tlsa');
    assert.deepEqual(good?.policyString, [`3 1 1 ${spkiSha256(selfCert)}`]);
    assert.deepEqual(good?.mxHosts, ['mx.good.test']);
    assert.ok((good?.successes ?? 0) >= 1);
    const [wrong] = await tallies('wrong.test');
    assert.deepEqual(wrong?.policyString, [`3 1 1 ${'ab'.repeat(32)}`]);
    assert.deepEqual(wrong?.mxHosts, ['mx.wrong.test']);
    const failure = wrong?.failures[0];
    assert.equal(failure?.resultType, 'tlsa-invalid');
    assert.equal(failure?.receivingIp, SELF_SIGNED);
    assert.match(failure?.sendingIp ?? '', /^127\./);
    const report = buildTlsReport({
      organization: 'o',
      contact: 'c',
      reportId: 'r',
      dayStart: Date.parse(`${day}T00:00:00Z`),
      domain: 'wrong.test',
      tallies: [wrong!],
    }) as { policies: { policy: Record<string, unknown>; 'failure-details': Record<string, unknown>[] }[] };
    assert.deepEqual(report.policies[0]!.policy['policy-string'], [`3 1 1 ${'ab'.repeat(32)}`]);
    assert.equal(report.policies[0]!['failure-details'][0]!['sending-mta-ip'], failure?.sendingIp);
  });

  it('a signed zone without TLSA: the usual path (here plaintext, the sink offers no STARTTLS)', async () => {
    await send('e@notlsa.test');
    await stack.events.outcome('delivered', 'e@notlsa.test');
    const attempt = await attemptOf('notlsa.test');
    assert.equal(attempt.dane, 'none');
    assert.equal(attempt.host?.tls, false);
  });

  it('an unsigned zone: its TLSA record is ignored (no AD), delivered as usual', async () => {
    await send('f@plain.test');
    await stack.events.outcome('delivered', 'f@plain.test');
    assert.equal((await attemptOf('plain.test')).dane, 'none');
  });

  it('DANE takes precedence over MTA-STS: the MTA-STS policy is not asked where TLSA applies', async () => {
    const config = defaultConfig({
      redis: { url: 'redis://127.0.0.1:1' },
      delivery: { dane: { mode: 'opportunistic', resolver: unbound.address } },
    });
    const resolver = createResolver({ servers: [unbound.address] });
    const asked: string[] = [];
    const dane = daneTlsPolicy(config, resolver, async (domain, hosts) => {
      asked.push(domain);
      return { mode: 'enforce', hosts, tls: 'require', tlsVerify: true };
    })!;
    try {
      const host = (name: string, address: string) => [{ hostname: name, addresses: [address], port: 25 }];
      const good = await dane.tlsPolicy('good.test', host('mx.good.test', SELF_SIGNED));
      assert.equal(good?.mode, 'dane');
      assert.equal(good?.hosts[0]?.tls?.peerCheck?.by, 'DANE');
      const plain = await dane.tlsPolicy('plain.test', host('mx.plain.test', PLAIN));
      assert.equal(plain?.mode, 'enforce', 'an insecure zone falls back to MTA-STS');
      assert.equal(plain?.daneResult?.(undefined, []), 'none');
      assert.deepEqual(asked, ['plain.test']);
    } finally {
      await dane.close();
      await resolver.close();
    }
  });

  it('delivery.dane.mode require (dane-only): an unsigned zone or a signed one without TLSA is refused 451 4.7.5 naming why; usable TLSA as opportunistic', async () => {
    const config = defaultConfig({
      redis: { url: 'redis://127.0.0.1:1' },
      delivery: { dane: { mode: 'require', resolver: unbound.address } },
    });
    const resolver = createResolver({ servers: [unbound.address] });
    const asked: string[] = [];
    const dane = daneTlsPolicy(config, resolver, async (domain, hosts) => {
      asked.push(domain);
      return { mode: 'enforce', hosts, tls: 'require', tlsVerify: true };
    })!;
    try {
      const host = (name: string, address: string) => [{ hostname: name, addresses: [address], port: 25 }];
      const refusal = async (domain: string, mx: string, address: string) => {
        const decision = await dane.tlsPolicy(domain, host(mx, address));
        assert.equal(decision?.mode, 'dane', `${domain}: DANE decides, MTA-STS is not asked`);
        const refuse = decision?.hosts[0]?.tls?.refuse;
        assert.equal(refuse?.code, 451);
        assert.equal(refuse?.enhanced, '4.7.5');
        return {
          text: refuse?.text ?? '',
          dane: decision?.daneResult?.(undefined, [{ hostname: mx, reply: refuse! }]),
        };
      };
      const plain = await refusal('plain.test', 'mx.plain.test', PLAIN);
      assert.equal(
        plain.text,
        'DANE: required, but the MX records of plain.test are not DNSSEC-validated (insecure zone)',
      );
      assert.equal(plain.dane, 'failed:insecure MX');
      const notlsa = await refusal('notlsa.test', 'mx.notlsa.test', PLAIN);
      assert.equal(
        notlsa.text,
        'DANE: required, but no MX host of notlsa.test has DNSSEC-validated TLSA records',
      );
      assert.equal(notlsa.dane, 'failed:no TLSA');
      const good = await dane.tlsPolicy('good.test', host('mx.good.test', SELF_SIGNED));
      assert.equal(good?.hosts[0]?.tls?.peerCheck?.by, 'DANE');
      assert.equal(good?.hosts[0]?.tls?.refuse, undefined, 'usable TLSA: delivered as opportunistic would');
      assert.deepEqual(asked, []);
    } finally {
      await dane.close();
      await resolver.close();
    }
  });
  it("a site's dane: require (global opportunistic): its signed domain without TLSA is deferred 451 4.7.5, never sent; the same DNS under another site is delivered", async () => {
    const connections = stack.sinks[0]!.stats().connections;
    await send('g@bank.test');
    const deferred = await deferredOf('g@bank.test');
    assert.equal(deferred.reply.code, 451);
    assert.equal(deferred.reply.enhanced, '4.7.5');
    assert.equal(
      deferred.reply.text,
      'DANE: required, but no MX host of bank.test has DNSSEC-validated TLSA records',
    );
    const attempt = await attemptOf('bank.test');
    assert.equal(attempt.dane, 'failed:no TLSA');
    assert.equal(attempt.site, 'mx:mx.bank.test');
    assert.equal(stack.sinks[0]!.stats().connections, connections, 'no connection to its MX');
    await send('g@other.test');
    await stack.events.outcome('delivered', 'g@other.test');
    assert.equal((await attemptOf('other.test')).dane, 'none', 'the global opportunistic mode');
    assert.equal(stack.sinks[0]!.messages.filter((m) => m.to.includes('g@bank.test')).length, 0);
  });

  it("a site's dane: off (global opportunistic): its TLSA records that match nothing are not looked at, delivered over opportunistic TLS", async () => {
    await send('h@broken.test');
    await stack.events.outcome('delivered', 'h@broken.test');
    const attempt = await attemptOf('broken.test');
    assert.equal(attempt.dane, undefined, 'DANE is off for this site: no dane in the event');
    assert.equal(attempt.host?.tls, true);
    assert.notEqual(attempt.host?.tlsVerifiedBy, 'DANE');
    assert.equal(eeSink.messages.filter((m) => m.to.includes('h@broken.test')).length, 1);
  });

  it("delivery.dane.mode off with a site's dane: opportunistic: DANE verifies that site's domain, others get no DANE", async () => {
    const submit = async (to: string) => {
      const sent = await offStack.submit({ from: SENDER, to: [to], body: sampleMessage({ subject: to }) });
      assert.equal(sent.code, 250, sent.response);
      await offStack.events.outcome('delivered', to);
      return offStack.events.waitFor<AttemptEvent>(
        `attempt to ${to}`,
        (e) => e.type === 'attempt' && e.results.some((r) => r.address === to),
      );
    };
    const good = await submit('i@good.test');
    assert.equal(good.dane, 'verified');
    assert.equal(good.host?.tlsVerifiedBy, 'DANE');
    assert.equal(good.site, 'mx:mx.good.test');
    // wrong.test's TLSA matches nothing: with DANE it would be deferred; here DANE is off.
    const wrong = await submit('i@wrong.test');
    assert.equal(wrong.dane, undefined);
    assert.equal(wrong.host?.tls, true);
    assert.equal(eeSink.messages.filter((m) => m.to.includes('i@wrong.test')).length, 1);
  });
});
