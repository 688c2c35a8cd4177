/**
 * End to end: outbound TLS policy. Receiving domains publish MTA-STS policies (a `_mta-sts` TXT
 * record on the loopback DNS server, the policy on a local HTTPS server signed by a test CA that
 * delivery.mta_sts.ca_file trusts); sinks offer no STARTTLS, a self-signed certificate, or a
 * certificate from the test CA for their MX name. Enforce delivers only over verified TLS to
 * the MX hosts the policy names, else defers with 4.7.5 and sends nothing in clear; testing and
 * no policy deliver as before; a site's `tls: none` applies without a policy and loses to one.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AttemptEvent, RecipientEvent } from '@herald/delivery-core/events';
import { createTestCa, type SmtpSinkHandle, startSmtpSink, type Zone } from '@herald/test-harness';
import { sampleMessage } from './lib/message.js';
import { type PolicyServer, policyText, startPolicyServer } from './lib/mta-sts-server.js';
import { type Stack, startStack } from './lib/stack.js';

const SENDER = 'sender@origin.test';
const PLAIN = '127.0.0.2';
const SELF_SIGNED = '127.0.0.3';
const CA_SIGNED = '127.0.0.4';
const CA_SIGNED_UNLISTED = '127.0.0.5';

/** Each domain: its MX address, and its policy (absent: no _mta-sts record). */
const DOMAINS: Record<string, { mx: string; policy?: string; mxName?: string }> = {
  'secure.test': { mx: CA_SIGNED, policy: policyText('enforce', ['mx1.secure.test']) },
  'plain.test': { mx: PLAIN, policy: policyText('enforce', ['mx1.plain.test']) },
  'selfsigned.test': { mx: SELF_SIGNED, policy: policyText('enforce', ['*.selfsigned.test']) },
  'moved.test': {
    mx: CA_SIGNED_UNLISTED,
    mxName: 'mx9.moved.test',
    policy: policyText('enforce', ['mx1.moved.test']),
  },
  'override.test': { mx: CA_SIGNED, policy: policyText('enforce', ['mx1.override.test']) },
  'testing.test': { mx: PLAIN, policy: policyText('testing', ['mx1.testing.test']) },
  'nopolicy.test': { mx: SELF_SIGNED },
  'cleartext.test': { mx: SELF_SIGNED },
  'verify.test': { mx: SELF_SIGNED },
};

/** Per-site TLS overrides in the shaping file. */
const SHAPING = [
  'domains:',
  '  "cleartext.test": { tls: none }',
  '  "override.test": { tls: none }',
  '  "verify.test": { tls: verify }',
  '',
].join('\n');

function zoneFor(policyHost: string): Zone {
  const zone: Zone = {};
  for (const [domain, spec] of Object.entries(DOMAINS)) {
    const exchange = spec.mxName ?? `mx1.${domain}`;
    zone[domain] = { MX: [{ preference: 10, exchange }] };
    zone[exchange] = { A: [spec.mx] };
    if (!spec.policy) continue;
    zone[`_mta-sts.${domain}`] = { TXT: ['v=STSv1; id=20250101000000'] };
    zone[`mta-sts.${domain}`] = { A: [policyHost] };
  }
  return zone;
}

describe('MTA-STS and per-site TLS in delivery', { timeout: 120_000 }, () => {
  let stack: Stack;
  let policies: PolicyServer;
  let caSigned: SmtpSinkHandle;
  let unlisted: SmtpSinkHandle;
  let dir: string;
  const sink = (host: string) => [...stack.sinks, caSigned, unlisted].find((s) => s.host === host)!;

  before(async () => {
    const ca = await createTestCa();
    dir = await mkdtemp(join(tmpdir(), 'herald-mta-sts-'));
    const caFile = join(dir, 'ca.pem');
    const shapingFile = join(dir, 'shaping.yaml');
    await writeFile(caFile, ca.cert);
    await writeFile(shapingFile, SHAPING);
    const withPolicy = Object.keys(DOMAINS).filter((d) => DOMAINS[d]!.policy);
    policies = await startPolicyServer({
      tls: await ca.issue(withPolicy.map((d) => `mta-sts.${d}`)),
      policies: Object.fromEntries(withPolicy.map((d) => [d, DOMAINS[d]!.policy!])),
    });
    stack = await startStack({
      sinks: [PLAIN, { host: SELF_SIGNED, starttls: true }],
      zone: zoneFor(policies.host),
      config: {
        shaping: { file: shapingFile },
        delivery: { mta_sts: { ca_file: caFile, policy_port: policies.port } },
      },
    });
    // The relay connects to delivery.port: these sinks share the stack's port.
    caSigned = await startSmtpSink({
      host: CA_SIGNED,
      port: stack.mxPort,
      tls: await ca.issue(['mx1.secure.test', 'mx1.override.test']),
    });
    unlisted = await startSmtpSink({
      host: CA_SIGNED_UNLISTED,
      port: stack.mxPort,
      tls: await ca.issue(['mx9.moved.test']),
    });
  });

  after(async () => {
    await stack?.stop();
    await caSigned?.close();
    await unlisted?.close();
    await policies?.close();
    await rm(dir, { recursive: true, force: true });
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

  const deferredOf = (recipient: string, attempt = 1) =>
    stack.events.waitFor<RecipientEvent>(
      `deferred event ${attempt} of ${recipient}`,
      (e) => e.type === 'deferred' && e.recipient === recipient && e.attempt === attempt,
    );

  it('enforce: delivered over TLS to the listed MX with a certificate the CA signed; the event shows it', async () => {
    await send('a@secure.test');
    await stack.events.outcome('delivered', 'a@secure.test');
    const attempt = await attemptOf('secure.test');
    assert.equal(attempt.host?.hostname, 'mx1.secure.test');
    assert.equal(attempt.host?.tls, true);
    assert.equal(attempt.host?.tlsVerified, true);
    assert.equal(attempt.host?.mtaSts, 'enforce');
    assert.match(attempt.host?.tlsVersion ?? '', /^TLSv1\.[23]$/);
    assert.ok(attempt.host?.tlsCipher, 'the cipher is recorded');
    const received = caSigned.messages.find((m) => m.to.includes('a@secure.test'));
    assert.equal(received?.secure, true, 'the sink received it over TLS');
    assert.ok(policies.requests.includes('mta-sts.secure.test/.well-known/mta-sts.txt'));
  });

  it('enforce: an MX without STARTTLS defers with 4.7.5 and nothing is sent in clear, attempt after attempt', async () => {
    await send('b@plain.test');
    const first = await deferredOf('b@plain.test');
    assert.equal(first.reply.code, 451);
    assert.equal(first.reply.enhanced, '4.7.5');
    assert.match(first.reply.text, /^MTA-STS: STARTTLS with mx1\.plain\.test failed/);
    await deferredOf('b@plain.test', 2);
    const plainSink = sink(PLAIN);
    assert.equal(plainSink.messages.filter((m) => m.to.includes('b@plain.test')).length, 0);
    assert.equal(
      plainSink.rejected.filter((r) => r.address === 'b@plain.test').length,
      0,
      'no RCPT for it either',
    );
  });

  it('enforce: a self-signed certificate defers with 4.7.5', async () => {
    const before = sink(SELF_SIGNED).stats().transactions;
    await send('c@selfsigned.test');
    const deferred = await deferredOf('c@selfsigned.test');
    assert.equal(deferred.reply.enhanced, '4.7.5');
    assert.match(
      deferred.reply.text,
      /^MTA-STS: STARTTLS with mx1\.selfsigned\.test failed: .*self[- ]signed/,
    );
    assert.equal(sink(SELF_SIGNED).stats().transactions, before, 'no transaction began');
  });

  it('enforce: an MX the policy does not name is never contacted', async () => {
    await send('d@moved.test');
    const deferred = await deferredOf('d@moved.test');
    assert.deepEqual(deferred.reply, {
      code: 451,
      enhanced: '4.7.5',
      text: 'MTA-STS: no MX host matches the policy of moved.test (MX: mx9.moved.test)',
      stage: 'connect',
    });
    await deferredOf('d@moved.test', 2);
    assert.equal(unlisted.stats().connections, 0);
  });

  it('no policy: opportunistic STARTTLS as before (a self-signed certificate is used, not verified)', async () => {
    await send('e@nopolicy.test');
    await stack.events.outcome('delivered', 'e@nopolicy.test');
    const attempt = await attemptOf('nopolicy.test');
    assert.equal(attempt.host?.tls, true);
    assert.equal(attempt.host?.tlsVerified, false);
    assert.equal(attempt.host?.mtaSts, undefined);
    assert.equal(sink(SELF_SIGNED).messages.find((m) => m.to.includes('e@nopolicy.test'))?.secure, true);
  });

  it('testing: delivered in clear as usual, the event names what enforce would have refused', async () => {
    await send('f@testing.test');
    await stack.events.outcome('delivered', 'f@testing.test');
    const attempt = await attemptOf('testing.test');
    assert.equal(attempt.host?.mtaSts, 'testing');
    assert.equal(attempt.host?.tls, false);
    assert.deepEqual(attempt.mtaStsProblems, ['mx1.testing.test without TLS']);
  });

  it("a site's tls: none sends in clear when the domain has no policy", async () => {
    await send('g@cleartext.test');
    await stack.events.outcome('delivered', 'g@cleartext.test');
    assert.equal((await attemptOf('cleartext.test')).host?.tls, false);
    assert.equal(sink(SELF_SIGNED).messages.find((m) => m.to.includes('g@cleartext.test'))?.secure, false);
  });

  it("an enforce policy beats a site's tls: none", async () => {
    await send('h@override.test');
    await stack.events.outcome('delivered', 'h@override.test');
    const attempt = await attemptOf('override.test');
    assert.equal(attempt.host?.tlsVerified, true);
    assert.equal(attempt.host?.mtaSts, 'enforce');
    assert.equal(caSigned.messages.find((m) => m.to.includes('h@override.test'))?.secure, true);
  });

  it("a site's tls: verify still applies without a policy: an untrusted certificate defers with 4.7.5", async () => {
    await send('i@verify.test');
    const deferred = await deferredOf('i@verify.test');
    assert.equal(deferred.reply.enhanced, '4.7.5');
    assert.match(deferred.reply.text, /^TLS required: STARTTLS with mx1\.verify\.test failed/);
  });

  it('the policy of each domain was fetched once, however many attempts used it', () => {
    const expected = Object.keys(DOMAINS)
      .filter((d) => DOMAINS[d]!.policy)
      .map((d) => `mta-sts.${d}/.well-known/mta-sts.txt`);
    assert.deepEqual(policies.requests.toSorted(), expected.toSorted());
  });
});
