/**
 * End to end: SMTP TLS Reporting (RFC 8460) on real parts. A relay with `tls_reporting` enabled
 * delivers to a sink that offers STARTTLS (no policy: a `no-policy-found` success), to a sink
 * without STARTTLS under an MTA-STS enforce policy (an `sts` starttls-not-supported failure) and
 * to a domain whose MX the policy does not name (refused before connecting: an `sts`
 * validation-failure). Each domain's `_smtp._tls` record names an https: receiver on loopback
 * (certificate from the test CA that tls_reporting.ca_file trusts) and a mailto: at a sink; the
 * day's reports are sent with the library verb behind `herald tlsrpt send`, and what the
 * receivers got is read back: the JSON, its counts and failure details, and the mail's structure.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { AttemptEvent } from '@herald/delivery-core/events';
import { tlsRptDayKeys } from '@herald/delivery-core/keys';
import { createTestCa, type SmtpSinkHandle, startSmtpSink, type Zone } from '@herald/test-harness';
import { runCli } from './lib/cli.js';
import { sampleMessage } from './lib/message.js';
import { type PolicyServer, policyText, startPolicyServer } from './lib/mta-sts-server.js';
import { type Stack, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const SENDER = 'sender@origin.test';
const PLAIN = '127.0.0.2';
const STARTTLS = '127.0.0.3';
const UNLISTED = '127.0.0.5';
const RECEIVER_NAME = 'tlsrpt.reports.test';
const MAILBOX = 'tls-reports@reports.test';
const TODAY = new Date().toISOString().slice(0, 10);

interface Posted {
  path: string;
  type: string | undefined;
  report: Record<string, unknown> & { policies: Policy[] };
}
interface Policy {
  policy: Record<string, unknown>;
  summary: Record<string, number>;
  'failure-details'?: Record<string, unknown>[];
}

/** An https: rua receiver on a loopback address; records each report (gunzipped JSON). */
async function startReceiver(tls: { key: string; cert: string }) {
  const posted: Posted[] = [];
  const server = https.createServer(tls, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posted.push({
        path: req.url ?? '',
        type: req.headers['content-type'],
        report: JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')),
      });
      res.writeHead(201).end();
    });
  });
  const host = '127.0.0.7';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    host,
    port,
    posted,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('SMTP TLS Reporting, counted and sent', { timeout: 180_000 }, () => {
  let stack: Stack;
  let policies: PolicyServer;
  let unlisted: SmtpSinkHandle;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let dir: string;
  let configFile: string;

  before(async () => {
    const ca = await createTestCa();
    dir = await mkdtemp(join(tmpdir(), 'herald-tlsrpt-'));
    const caFile = join(dir, 'ca.pem');
    await writeFile(caFile, ca.cert);
    policies = await startPolicyServer({
      tls: await ca.issue(['mta-sts.plain.test', 'mta-sts.moved.test']),
      policies: {
        'plain.test': policyText('enforce', ['mx1.plain.test']),
        'moved.test': policyText('enforce', ['mx1.moved.test']),
      },
    });
    receiver = await startReceiver(await ca.issue([RECEIVER_NAME]));
    const rua = `v=TLSRPTv1; rua=https://${RECEIVER_NAME}:${receiver.port}/v1/tlsrpt,mailto:${MAILBOX}`;
    const zone: Zone = {
      'good.test': { MX: [{ preference: 10, exchange: 'mx1.good.test' }] },
      'mx1.good.test': { A: [STARTTLS] },
      'plain.test': { MX: [{ preference: 10, exchange: 'mx1.plain.test' }] },
      'mx1.plain.test': { A: [PLAIN] },
      'moved.test': { MX: [{ preference: 10, exchange: 'mx9.moved.test' }] },
      'mx9.moved.test': { A: [UNLISTED] },
      'reports.test': { MX: [{ preference: 10, exchange: 'mx1.reports.test' }] },
      'mx1.reports.test': { A: [PLAIN] },
      [RECEIVER_NAME]: { A: [receiver.host] },
    };
    for (const domain of ['plain.test', 'moved.test']) {
      zone[`_mta-sts.${domain}`] = { TXT: ['v=STSv1; id=20260101000000'] };
      zone[`mta-sts.${domain}`] = { A: [policies.host] };
    }
    for (const domain of ['good.test', 'plain.test', 'moved.test'])
      zone[`_smtp._tls.${domain}`] = { TXT: [rua] };
    const config = {
      delivery: { mta_sts: { ca_file: caFile, policy_port: policies.port } },
      tls_reporting: {
        enabled: true,
        organization_name: 'Herald test relay',
        contact_info: 'postmaster@origin.test',
        from: 'tlsrpt@origin.test',
        ca_file: caFile,
      },
    };
    stack = await startStack({ sinks: [PLAIN, { host: STARTTLS, starttls: true }], zone, config });
    configFile = join(dir, 'herald.json');
    await writeFile(configFile, JSON.stringify(stack.config(config)));
    unlisted = await startSmtpSink({ host: UNLISTED, port: stack.mxPort });
  });

  after(async () => {
    await stack?.stop();
    await unlisted?.close();
    await policies?.close();
    await receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const attemptOf = (domain: string) =>
    stack.events.waitFor<AttemptEvent>(
      `attempt to ${domain}`,
      (e) => e.type === 'attempt' && e.domain === domain,
    );

  it('counts each attempt per domain, and sends one report per domain to its https: and mailto: rua', async () => {
    for (const to of ['a@good.test', 'b@plain.test', 'c@moved.test']) {
      const sent = await stack.submit({ from: SENDER, to: [to], body: sampleMessage({ subject: to }) });
      assert.equal(sent.code, 250, sent.response);
    }
    await stack.events.outcome('delivered', 'a@good.test');
    const refused = await attemptOf('moved.test');
    assert.match(refused.hostErrors[0]?.reply.text ?? '', /no MX host matches the policy/);
    assert.ok(refused.mtaStsPolicy?.includes('mode: enforce'), 'the refusal event carries the policy');
    await attemptOf('plain.test');
    const keys = tlsRptDayKeys(stack.relay.herald.config.redis.prefix, TODAY);
    await waitUntil('all three domains counted', async () => {
      const domains = await stack.redisClient.smembers(keys.domains);
      return ['good.test', 'plain.test', 'moved.test'].every((d) => domains.includes(d));
    });

    const herald = stack.relay.herald;
    const dry = await herald.tlsReporting!.sendDay({ day: TODAY, dryRun: true });
    assert.ok(dry.every((r) => r.status === 'dry-run' || r.domain === 'reports.test'));
    assert.equal(receiver.posted.length, 0, 'a dry run sends nothing');

    const results = await herald.tlsReporting!.sendDay({ day: TODAY });
    const byDomain = new Map(results.map((r) => [r.domain, r]));
    for (const domain of ['good.test', 'plain.test', 'moved.test']) {
      const r = byDomain.get(domain);
      assert.equal(r?.status, 'sent', JSON.stringify(r));
      assert.deepEqual(
        r.deliveries.map((d) => d.ok),
        [true, true],
      );
    }

    // The https: receiver: one gzip JSON report per domain.
    assert.equal(receiver.posted.length, 3);
    assert.ok(receiver.posted.every((p) => p.type === 'application/tlsrpt+gzip' && p.path === '/v1/tlsrpt'));
    const report = (domain: string) =>
      receiver.posted.find((p) => p.report.policies[0]?.policy['policy-domain'] === domain)!.report;
    const good = report('good.test');
    assert.equal(good['organization-name'], 'Herald test relay');
    assert.equal(good['contact-info'], 'postmaster@origin.test');
    assert.equal((good['date-range'] as Record<string, string>)['start-datetime'], `${TODAY}T00:00:00Z`);
    assert.equal(good.policies[0]!.policy['policy-type'], 'no-policy-found');
    assert.deepEqual(good.policies[0]!.summary, {
      'total-successful-session-count': 1,
      'total-failure-session-count': 0,
    });

    const plain = report('plain.test').policies[0]!;
    assert.equal(plain.policy['policy-type'], 'sts');
    assert.deepEqual(plain.policy['policy-string'], [
      'version: STSv1',
      'mode: enforce',
      'mx: mx1.plain.test',
      'max_age: 86400',
    ]);
    assert.deepEqual(plain.policy['mx-host'], ['mx1.plain.test']);
    assert.equal(plain.summary['total-successful-session-count'], 0);
    assert.ok(plain.summary['total-failure-session-count']! >= 1);
    const detail = plain['failure-details']![0]!;
    assert.equal(detail['result-type'], 'starttls-not-supported');
    assert.equal(detail['receiving-mx-hostname'], 'mx1.plain.test');
    assert.equal(detail['receiving-ip'], PLAIN);
    // Our end of the failed session: the loopback address the connection left from.
    assert.match(String(detail['sending-mta-ip']), /^127\.\d+\.\d+\.\d+$/);
    assert.equal(detail['failed-session-count'], plain.summary['total-failure-session-count']);

    const moved = report('moved.test').policies[0]!;
    assert.equal(moved.policy['policy-type'], 'sts');
    assert.equal(moved['failure-details']![0]!['result-type'], 'validation-failure');
    assert.equal(moved['failure-details']![0]!['receiving-mx-hostname'], 'mx9.moved.test');
    assert.equal(unlisted.stats().connections, 0, 'the unlisted MX was never contacted');

    // The mailto: rua: a multipart/report message per domain, queued and delivered by Herald.
    const mails = () => stack.sinks[0]!.messages.filter((m) => m.to.includes(MAILBOX));
    await waitUntil('three report mails', () => mails().length === 3);
    const mail = mails()
      .map((m) => m.raw.toString('utf8'))
      .find((raw) => /^TLS-Report-Domain: plain\.test\r?$/m.test(raw))!;
    assert.ok(mail, 'a report mail for plain.test');
    assert.match(mail, /^TLS-Report-Submitter: origin\.test\r?$/m);
    assert.match(
      mail,
      /^Subject: Report Domain: plain\.test Submitter: origin\.test Report-ID: <[^>]+>\r?$/m,
    );
    assert.match(mail, /^Content-Type: multipart\/report; report-type="tlsrpt"; boundary="[^"]+"\r?$/m);
    const start = Math.floor(Date.parse(`${TODAY}T00:00:00Z`) / 1000);
    const file = new RegExp(
      `filename="origin\\.test!plain\\.test!${start}!${start + 86_399}![^"]+\\.json\\.gz"`,
    );
    assert.match(mail, file);
    const attachment =
      /Content-Disposition: attachment;[^\n]*\r?\n\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n\r?\n--/.exec(mail)?.[1];
    const mailed = JSON.parse(gunzipSync(Buffer.from(attachment ?? '', 'base64')).toString('utf8'));
    assert.deepEqual(mailed, report('plain.test'), 'the mailed report is the posted one');

    // Once per domain and day: a second run sends nothing again.
    const again = await herald.tlsReporting!.sendDay({ day: TODAY });
    assert.ok(
      again.filter((r) => r.domain !== 'reports.test').every((r) => r.status === 'already-sent'),
      JSON.stringify(again),
    );
    assert.equal(receiver.posted.length, 3);

    // The command an operator runs: the same verb, the same markers.
    const cli = await runCli(['tlsrpt', 'send', '--config', configFile, '--day', TODAY]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^plain\.test {2}already-sent$/m);
    assert.equal(receiver.posted.length, 3);
  });
});
