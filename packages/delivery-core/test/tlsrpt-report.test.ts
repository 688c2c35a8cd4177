/**
 * SMTP TLS Reporting's pure parts (tlsrpt/): attempt events → policy type and result type, the
 * RFC 8460 §4.4 JSON and its gzip, and the `_smtp._tls` record's rua.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { defaultConfig } from '../src/config/index.js';
import { REPORTED_TLSA_DATA_MAX_CHARS, REPORTED_TLSA_MAX_RECORDS, reportedTlsa } from '../src/dane/index.js';
import type { AttemptEvent } from '../src/events/index.js';
import {
  buildTlsReport,
  gzipReport,
  parseTlsRptRecord,
  reportFileName,
  tlsOutcomeOf,
} from '../src/tlsrpt/index.js';

function attempt(extra: Partial<AttemptEvent>): AttemptEvent {
  return {
    type: 'attempt',
    time: 0,
    messageId: 'm',
    tenant: 't',
    domain: 'a.test',
    attempt: 1,
    hostErrors: [],
    results: [],
    durationMs: 1,
    ...extra,
  } as AttemptEvent;
}

const host = { hostname: 'mx.a.test', address: '192.0.2.1', port: 25 };

describe('TLS reporting', () => {
  it('a DANE-verified session is a tlsa success; a DANE mismatch a tlsa-invalid failure', () => {
    assert.deepEqual(tlsOutcomeOf(attempt({ dane: 'verified', host: { ...host, tls: true } })), {
      policyType: 'tlsa',
      success: true,
      receivingMx: 'mx.a.test',
      receivingIp: '192.0.2.1',
    });
    const reply = {
      code: 451,
      enhanced: '4.7.5',
      text: 'DANE: STARTTLS with mx.a.test failed: certificate check failed: no TLSA record matches the certificate',
      stage: 'starttls' as const,
    };
    const failed = tlsOutcomeOf(
      attempt({
        dane: 'failed:no TLSA record matches the certificate',
        hostErrors: [{ hostname: 'mx.a.test', address: '192.0.2.1', reply }],
      }),
    );
    assert.equal(failed?.policyType, 'tlsa');
    assert.equal(failed?.resultType, 'tlsa-invalid');
  });

  it('a tlsa policy carries its TLSA records as policy-string and the MX host as mx-host; a failure its sending IP', () => {
    const records = ['3 1 1 '.concat('ab'.repeat(32))];
    const verified = tlsOutcomeOf(
      attempt({
        dane: 'verified',
        daneTlsa: { mxHost: 'mx.a.test', records },
        host: { ...host, tls: true, localAddress: '192.0.2.50' },
      }),
    );
    assert.deepEqual(verified, {
      policyType: 'tlsa',
      policyString: records,
      mxHosts: ['mx.a.test'],
      success: true,
      receivingMx: 'mx.a.test',
      receivingIp: '192.0.2.1',
    });
    const reply = {
      code: 451,
      enhanced: '4.7.5',
      text: 'DANE: STARTTLS with mx.a.test failed: certificate check failed: no TLSA record matches the certificate',
      stage: 'starttls' as const,
    };
    const failed = tlsOutcomeOf(
      attempt({
        dane: 'failed:no TLSA record matches the certificate',
        daneTlsa: { mxHost: 'mx.a.test', records },
        hostErrors: [{ hostname: 'mx.a.test', address: '192.0.2.1', reply, localAddress: '192.0.2.50' }],
      }),
    );
    assert.equal(failed?.sendingIp, '192.0.2.50');
    assert.deepEqual(failed?.policyString, records);
    const report = buildTlsReport({
      organization: 'O',
      contact: 'c@o.test',
      reportId: 'r',
      dayStart: 0,
      domain: 'a.test',
      tallies: [
        {
          policyType: 'tlsa',
          policyString: records,
          mxHosts: ['mx.a.test'],
          successes: 1,
          failures: [
            { resultType: 'tlsa-invalid', sendingIp: '192.0.2.50', receivingIp: '192.0.2.1', count: 1 },
          ],
        },
      ],
    }) as { policies: { policy: Record<string, unknown>; 'failure-details': Record<string, unknown>[] }[] };
    assert.deepEqual(report.policies[0]!.policy['policy-string'], records);
    assert.deepEqual(report.policies[0]!.policy['mx-host'], ['mx.a.test']);
    assert.equal(report.policies[0]!['failure-details'][0]!['sending-mta-ip'], '192.0.2.50');
  });

  it('reported TLSA records are bounded: at most 8 per host, long data cut with an ellipsis', () => {
    const many = Array.from({ length: 12 }, (_, i) => ({
      usage: 3,
      selector: 1,
      matchingType: 1,
      data: i.toString(16).padStart(2, '0').repeat(32),
    }));
    const shown = reportedTlsa(many);
    assert.equal(shown.length, REPORTED_TLSA_MAX_RECORDS);
    assert.equal(shown[0], `3 1 1 ${'00'.repeat(32)}`);
    const full = reportedTlsa([{ usage: 3, selector: 0, matchingType: 0, data: 'AB'.repeat(600) }]);
    assert.equal(full[0], `3 0 0 ${'ab'.repeat(REPORTED_TLSA_DATA_MAX_CHARS / 2)}…`);
  });

  it('an attempt over a static route (smarthost) is left out of TLS reports, success or failure', () => {
    assert.equal(tlsOutcomeOf(attempt({ routed: true, host: { ...host, tls: false } })), undefined);
    const reply = {
      code: 451,
      enhanced: '4.7.5',
      text: 'TLS required: no STARTTLS',
      stage: 'starttls' as const,
    };
    assert.equal(
      tlsOutcomeOf(
        attempt({ routed: true, hostErrors: [{ hostname: 'smarthost.test', address: '192.0.2.9', reply }] }),
      ),
      undefined,
    );
    assert.equal(tlsOutcomeOf(attempt({ host: { ...host, tls: false } }))?.policyType, 'no-policy-found');
  });

  it('MTA-STS enforce without STARTTLS is an sts starttls-not-supported failure; plaintext without a policy is no failure', () => {
    const reply = {
      code: 451,
      enhanced: '4.7.5',
      text: 'MTA-STS: STARTTLS with mx.a.test failed: mx.a.test does not offer STARTTLS',
      stage: 'starttls' as const,
    };
    const sts = tlsOutcomeOf(
      attempt({ hostErrors: [{ hostname: 'mx.a.test', address: '192.0.2.1', reply }] }),
    );
    assert.equal(sts?.policyType, 'sts');
    assert.equal(sts?.resultType, 'starttls-not-supported');
    assert.equal(tlsOutcomeOf(attempt({ host: { ...host, tls: false } }))?.policyType, 'no-policy-found');
  });

  it('the report is RFC 8460 JSON, gzip-compressed', () => {
    const report = buildTlsReport({
      organization: 'Herald at example.net',
      contact: 'tlsrpt@example.net',
      reportId: '2026-12-03_a.test@example.net',
      dayStart: Date.UTC(2026, 11, 3),
      domain: 'a.test',
      tallies: [
        {
          policyType: 'tlsa',
          successes: 3,
          failures: [{ resultType: 'tlsa-invalid', receivingMx: 'mx.a.test', count: 2 }],
        },
      ],
    });
    const parsed = JSON.parse(gunzipSync(gzipReport(report)).toString('utf8'));
    assert.deepEqual(parsed['date-range'], {
      'start-datetime': '2026-12-03T00:00:00Z',
      'end-datetime': '2026-12-03T23:59:59Z',
    });
    assert.deepEqual(parsed.policies[0].summary, {
      'total-successful-session-count': 3,
      'total-failure-session-count': 2,
    });
    assert.equal(parsed.policies[0].policy['policy-domain'], 'a.test');
    assert.equal(parsed.policies[0]['failure-details'][0]['result-type'], 'tlsa-invalid');
  });

  it('the _smtp._tls record: one TLSRPTv1 record with mailto: or https: URIs', () => {
    assert.deepEqual(parseTlsRptRecord(['v=TLSRPTv1; rua=mailto:r@a.test,https://r.a.test/v1']), {
      ok: true,
      rua: ['mailto:r@a.test', 'https://r.a.test/v1'],
    });
    assert.equal(parseTlsRptRecord(['v=TLSRPTv1; rua=http://r.a.test']).ok, false);
    assert.equal(
      parseTlsRptRecord(['v=TLSRPTv1; rua=mailto:a@a.test', 'v=TLSRPTv1; rua=mailto:b@a.test']).ok,
      false,
    );
  });

  it('an MTA-STS refusal before connecting (no MX matches) is an sts validation-failure with the policy', () => {
    const reply = {
      code: 451,
      enhanced: '4.7.5',
      text: 'MTA-STS: no MX host matches the policy of a.test (MX: mx9.a.test)',
      stage: 'connect' as const,
    };
    const policy = ['version: STSv1', 'mode: enforce', 'mx: mx1.a.test', 'max_age: 86400'];
    const refused = tlsOutcomeOf(
      attempt({ mtaStsPolicy: policy, hostErrors: [{ hostname: 'mx9.a.test', address: '', reply }] }),
    );
    assert.deepEqual(refused, {
      policyType: 'sts',
      policyString: policy,
      mxHosts: ['mx1.a.test'],
      success: false,
      resultType: 'validation-failure',
      receivingMx: 'mx9.a.test',
      reason: reply.text,
    });
  });

  it('MTA-STS testing: delivered, but counted as what enforcing would have failed', () => {
    const policy = ['version: STSv1', 'mode: testing', 'mx: mx1.a.test', 'max_age: 86400'];
    const outcome = tlsOutcomeOf(
      attempt({
        host: { ...host, hostname: 'mx1.a.test', tls: false, mtaSts: 'testing' },
        mtaStsPolicy: policy,
        mtaStsProblems: ['mx1.a.test without TLS'],
      }),
    );
    assert.equal(outcome?.policyType, 'sts');
    assert.equal(outcome?.success, false);
    assert.equal(outcome?.resultType, 'starttls-not-supported');
    const clean = tlsOutcomeOf(
      attempt({ host: { ...host, tls: true, tlsVerified: true, mtaSts: 'testing' }, mtaStsPolicy: policy }),
    );
    assert.equal(clean?.success, true);
  });

  it("the mailed report's file name: submitter!domain!begin!end!id.json.gz, epoch seconds", () => {
    assert.equal(
      reportFileName('example.net', 'a.test', Date.UTC(2026, 11, 3), '2026-12-03_a.test@example.net'),
      'example.net!a.test!1796256000!1796342399!2026-12-03_a.test@example.net.json.gz',
    );
  });

  it('config: off by default; when enabled, organization, contact and sender are required; send_at is UTC HH:MM', () => {
    assert.equal(defaultConfig().tls_reporting.enabled, false);
    assert.equal(defaultConfig().tls_reporting.send_at, 30 * 60_000);
    assert.throws(
      () => defaultConfig({ tls_reporting: { enabled: true } }),
      /tls_reporting\.organization_name: required when tls_reporting\.enabled is true/,
    );
    const on = defaultConfig({
      tls_reporting: {
        enabled: true,
        organization_name: 'O',
        contact_info: 'c@o.test',
        from: 'r@o.test',
        send_at: '02:15',
      },
    });
    assert.equal(on.tls_reporting.send_at, (2 * 60 + 15) * 60_000);
    assert.throws(() => defaultConfig({ tls_reporting: { send_at: '25:00' } }), /expected a UTC time HH:MM/);
  });
});
