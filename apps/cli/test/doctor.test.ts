import assert from 'node:assert/strict';
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  X509Certificate,
} from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type DnsServerHandle,
  type SmtpSinkHandle,
  selfSignedCertificate,
  startDnsServer,
  startSmtpSink,
  startValidatingResolver,
  type ValidatingResolverHandle,
  type Zone,
} from '@herald/test-harness';
import { main } from '../src/main.js';
import { captureIo } from './capture.js';

const DOMAIN = 'sender.test';
const IP4 = '192.0.2.10';
const IP6 = '2001:db8::10';
/** 2001:0db8:0000:0000:0000:0000:0000:0010, nibbles reversed. */
const IP6_PTR = '0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa';

type Status = 'pass' | 'warn' | 'fail' | 'info';
interface JsonReport {
  domain: string;
  checks: { id: string; status: Status; reason: string; fix: string; details: Record<string, unknown> }[];
}

function rsa(bits: number): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: bits }).privateKey;
}
const pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();
const rsaRecord = (key: KeyObject) =>
  `v=DKIM1; k=rsa; p=${createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64')}`;

const s1 = rsa(2048);
const s1Weak = rsa(1024);
const other = rsa(2048);
const ed1 = generateKeyPairSync('ed25519').privateKey;
const edRecord = `v=DKIM1; k=ed25519; p=${Buffer.from(createPublicKey(ed1).export({ format: 'jwk' }).x ?? '', 'base64url').toString('base64')}`;

function healthyZone(): Zone {
  const spfIps = `ip4:${IP4} ip6:${IP6}`;
  return {
    [DOMAIN]: {
      TXT: [`v=spf1 ${spfIps} include:_spf.${DOMAIN} -all`, 'google-site-verification=abc'],
      MX: [{ preference: 10, exchange: `mx.${DOMAIN}` }],
    },
    [`_spf.${DOMAIN}`]: { TXT: ['v=spf1 ip4:198.51.100.0/24 -all'] },
    [`bounces.${DOMAIN}`]: {
      TXT: [`v=spf1 ${spfIps} -all`],
      MX: [{ preference: 10, exchange: `mx.${DOMAIN}` }],
    },
    'bounces.other.test': {
      TXT: [`v=spf1 ${spfIps} -all`],
      MX: [{ preference: 10, exchange: `mx.${DOMAIN}` }],
    },
    [`mx.${DOMAIN}`]: { A: ['192.0.2.25'] },
    [`s1._domainkey.${DOMAIN}`]: { TXT: [rsaRecord(s1)] },
    [`ed1._domainkey.${DOMAIN}`]: { TXT: [edRecord] },
    [`_dmarc.${DOMAIN}`]: { TXT: [`v=DMARC1; p=reject; rua=mailto:dmarc@${DOMAIN}`] },
    '10.2.0.192.in-addr.arpa': { PTR: [`mail.${DOMAIN}`] },
    [IP6_PTR]: { PTR: [`mail.${DOMAIN}`] },
    [`mail.${DOMAIN}`]: { A: [IP4], AAAA: [IP6] },
    [`_mta-sts.${DOMAIN}`]: { TXT: ['v=STSv1; id=20240601'] },
    [`mta-sts.${DOMAIN}`]: { A: ['192.0.2.80'] },
    [`_smtp._tls.${DOMAIN}`]: { TXT: [`v=TLSRPTv1; rua=mailto:tls-reports@${DOMAIN}`] },
  };
}

function withChange(change: (zone: Zone) => void): Zone {
  const zone = healthyZone();
  change(zone);
  return zone;
}

describe('herald doctor', () => {
  let dns: DnsServerHandle;
  let dir: string;
  let config: string;

  function writeConfig(name: string, opts: { bounceDomain?: string; s1Key?: string } = {}): string {
    const file = join(dir, name);
    writeFileSync(
      file,
      [
        'shaping: { file: shaping.yaml, provider_defaults: false }',
        `bounce: { domain: ${opts.bounceDomain ?? `bounces.${DOMAIN}`}, verp_secret: doctor-test-secret }`,
        'tenants:',
        `  acme: { list_unsubscribe: { https: "https://u.${DOMAIN}/u?r={recipient}", mailto: unsub@${DOMAIN} } }`,
        'dkim:',
        `  - { domain: ${DOMAIN}, selector: s1, key_file: ${opts.s1Key ?? 'keys/s1.pem'} }`,
        `  - { domain: ${DOMAIN}, selector: ed1, key_file: keys/ed1.pem }`,
        '',
      ].join('\n'),
    );
    return file;
  }

  async function doctor(args: string[]): Promise<{ code: number; report: JsonReport; stderr: string }> {
    const run = captureIo();
    const code = await main(['doctor', DOMAIN, '--dns', dns.address, '--json', ...args], run.io);
    assert.equal(run.stderr(), '');
    return { code, report: JSON.parse(run.stdout()) as JsonReport, stderr: run.stderr() };
  }

  const statuses = (report: JsonReport) => Object.fromEntries(report.checks.map((c) => [c.id, c.status]));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-doctor-'));
    mkdirSync(join(dir, 'keys'));
    writeFileSync(join(dir, 'keys/s1.pem'), pem(s1));
    writeFileSync(join(dir, 'keys/s1-weak.pem'), pem(s1Weak));
    writeFileSync(join(dir, 'keys/ed1.pem'), pem(ed1));
    writeFileSync(
      join(dir, 'shaping.yaml'),
      `pools:\n  main:\n    sources: [{ ip: ${IP4} }, { ip: "${IP6}" }]\n`,
    );
    config = writeConfig('herald.yaml');
    dns = await startDnsServer({ zone: healthyZone() });
  });
  after(async () => {
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes every check of a healthy domain, IPv4 and IPv6 sources, RSA and Ed25519 selectors', async () => {
    dns.setZone(healthyZone());
    const { code, report } = await doctor(['--config', config]);
    assert.equal(code, 0, JSON.stringify(report.checks.filter((c) => c.status === 'fail')));
    assert.equal(report.domain, DOMAIN);
    const notPass = report.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}=${c.status}`);
    // The loopback DNS server does not validate (no AD): DANE does not apply, which is no failure.
    assert.deepEqual(notPass, ['setup=info', 'dane=info', 'bulk.spam-rate=info']);
    assert.deepEqual(
      report.checks.map((c) => c.id),
      [
        'setup',
        'spf.record',
        'spf.lookups',
        'spf.ips',
        'return-path',
        'dkim.s1',
        'dkim.ed1',
        'dmarc.record',
        'dmarc.alignment',
        'mx',
        `ptr.${IP4}`,
        `ptr.${IP6}`,
        'mta-sts',
        'tls-rpt',
        'dane',
        'bulk.authentication',
        'bulk.dmarc',
        'bulk.ptr',
        'bulk.tls',
        'bulk.unsubscribe',
        'bulk.spam-rate',
      ],
    );
    const dkim = report.checks.find((c) => c.id === 'dkim.s1')!;
    assert.equal(dkim.details.bits, 2048);
    for (const c of report.checks)
      assert.deepEqual(Object.keys(c), ['id', 'status', 'reason', 'fix', 'details']);
  });

  it('without --config checks what DNS alone shows, says so, and prints a table', async () => {
    dns.setZone(healthyZone());
    const run = captureIo();
    const code = await main(['doctor', DOMAIN.toUpperCase(), '--dns', dns.address, '--ip', IP4], run.io);
    assert.equal(code, 0, run.stdout());
    assert.match(run.stdout(), /^CHECK\s+STATUS\s+REASON \/ FIX\n/);
    assert.match(run.stdout(), /\nsetup\s+info\s+no --config: checked what DNS alone shows/);
    assert.match(run.stdout(), /\ndkim\s+info\s+/);
    assert.match(run.stdout(), /\nptr\.192\.0\.2\.10\s+pass\s+192\.0\.2\.10 ⇄ mail\.sender\.test/);
    assert.match(run.stdout(), /\nsender\.test: \d+ pass, 0 warn, 0 fail, \d+ info\n$/);
  });

  it('reports a DNS server failure as failing checks, not a crash', async () => {
    dns.setZone(
      withChange((z) => {
        z[DOMAIN] = { rcode: 'SERVFAIL' };
      }),
    );
    const { code, report } = await doctor(['--ip', IP4]);
    assert.equal(code, 1);
    const spf = report.checks.find((c) => c.id === 'spf.record')!;
    assert.equal(spf.status, 'fail');
    assert.match(spf.reason, /SERVFAIL/);
  });

  it('refuses a missing or invalid domain, --ip and --dns as usage errors', async () => {
    for (const argv of [
      ['doctor'],
      ['doctor', 'not a domain'],
      ['doctor', DOMAIN, '--ip', 'mail.sender.test'],
      ['doctor', DOMAIN, '--dns', 'dns.example:53'],
      ['doctor', DOMAIN, 'extra'],
    ]) {
      const run = captureIo();
      assert.equal(await main(argv, run.io), 2, argv.join(' '));
      assert.match(run.stderr(), /HERALD_CLI_USAGE: doctor/);
    }
  });

  const breaks: { name: string; zone?: Zone; config?: () => string; changes: Record<string, Status> }[] = [
    {
      name: 'no SPF record',
      zone: withChange((z) => {
        z[DOMAIN]!.TXT = ['google-site-verification=abc'];
      }),
      changes: {
        'spf.record': 'fail',
        'spf.lookups': 'info',
        'spf.ips': 'fail',
        'bulk.authentication': 'fail',
      },
    },
    {
      name: 'two SPF records',
      zone: withChange((z) => {
        z[DOMAIN]!.TXT = [...z[DOMAIN]!.TXT!, 'v=spf1 mx -all'];
      }),
      changes: {
        'spf.record': 'fail',
        'spf.lookups': 'info',
        'spf.ips': 'fail',
        'bulk.authentication': 'fail',
      },
    },
    {
      name: 'an SPF tree of 11 lookups',
      zone: withChange((z) => {
        const includes = Array.from({ length: 11 }, (_, i) => `include:i${i}.${DOMAIN}`).join(' ');
        z[DOMAIN]!.TXT = [`v=spf1 ip4:${IP4} ip6:${IP6} ${includes} -all`];
        for (let i = 0; i < 11; i++) z[`i${i}.${DOMAIN}`] = { TXT: [`v=spf1 ip4:203.0.113.${i} -all`] };
      }),
      changes: { 'spf.lookups': 'fail' },
    },
    {
      name: 'a source IP the SPF record does not authorise',
      zone: withChange((z) => {
        z[DOMAIN]!.TXT = [`v=spf1 ip6:${IP6} include:_spf.${DOMAIN} ~all`];
      }),
      changes: { 'spf.ips': 'fail', 'bulk.authentication': 'fail' },
    },
    {
      name: 'a DKIM key not published',
      zone: withChange((z) => {
        delete z[`s1._domainkey.${DOMAIN}`];
      }),
      changes: { 'dkim.s1': 'fail', 'bulk.authentication': 'fail' },
    },
    {
      name: 'a DKIM record holding another key',
      zone: withChange((z) => {
        z[`s1._domainkey.${DOMAIN}`] = { TXT: [rsaRecord(other)] };
      }),
      changes: { 'dkim.s1': 'fail', 'bulk.authentication': 'fail' },
    },
    {
      name: 'a 1024-bit DKIM key',
      zone: withChange((z) => {
        z[`s1._domainkey.${DOMAIN}`] = { TXT: [rsaRecord(s1Weak)] };
      }),
      config: () => writeConfig('weak.yaml', { s1Key: 'keys/s1-weak.pem' }),
      changes: { 'dkim.s1': 'warn' },
    },
    {
      name: 'no DMARC record',
      zone: withChange((z) => {
        delete z[`_dmarc.${DOMAIN}`];
      }),
      changes: { 'dmarc.record': 'fail', 'bulk.dmarc': 'fail' },
    },
    {
      name: 'DMARC p=none',
      zone: withChange((z) => {
        z[`_dmarc.${DOMAIN}`] = { TXT: [`v=DMARC1; p=none; rua=mailto:dmarc@${DOMAIN}`] };
      }),
      changes: { 'dmarc.record': 'warn' },
    },
    {
      name: 'a return path outside the organizational domain',
      config: () => writeConfig('misaligned.yaml', { bounceDomain: 'bounces.other.test' }),
      changes: { 'dmarc.alignment': 'warn' },
    },
    {
      name: 'a null MX',
      zone: withChange((z) => {
        z[DOMAIN]!.MX = [{ preference: 0, exchange: '.' }];
      }),
      changes: { mx: 'warn' },
    },
    {
      name: 'no PTR for a source IP',
      zone: withChange((z) => {
        delete z['10.2.0.192.in-addr.arpa'];
      }),
      changes: { [`ptr.${IP4}`]: 'fail', 'bulk.ptr': 'fail' },
    },
    {
      name: 'a PTR name that does not resolve back (no FCrDNS)',
      zone: withChange((z) => {
        z[`mail.${DOMAIN}`] = { A: ['192.0.2.99'], AAAA: [IP6] };
      }),
      changes: { [`ptr.${IP4}`]: 'fail', 'bulk.ptr': 'fail' },
    },
    {
      name: 'no MTA-STS record',
      zone: withChange((z) => {
        delete z[`_mta-sts.${DOMAIN}`];
      }),
      changes: { 'mta-sts': 'warn' },
    },
    {
      name: 'no TLS-RPT record',
      zone: withChange((z) => {
        delete z[`_smtp._tls.${DOMAIN}`];
      }),
      changes: { 'tls-rpt': 'warn' },
    },
  ];

  for (const b of breaks) {
    it(`${b.name}: changes exactly ${Object.keys(b.changes).join(', ')}`, async () => {
      dns.setZone(healthyZone());
      const healthy = statuses((await doctor(['--config', config])).report);
      dns.setZone(b.zone ?? healthyZone());
      const { code, report } = await doctor(['--config', b.config ? b.config() : config]);
      const now = statuses(report);
      const changed = Object.fromEntries(Object.entries(now).filter(([id, s]) => healthy[id] !== s));
      assert.deepEqual(
        changed,
        b.changes,
        JSON.stringify(
          report.checks.filter((c) => c.id in changed),
          null,
          1,
        ),
      );
      assert.equal(code, Object.values(b.changes).includes('fail') ? 1 : 0);
      for (const id of Object.keys(b.changes)) {
        const check = report.checks.find((c) => c.id === id)!;
        assert.ok(check.reason.length > 0);
        if (check.status !== 'info') assert.ok(check.fix.length > 0, `${id} says how to fix it`);
      }
    });
  }
});

describe('herald doctor: the MX certificates against their TLSA records', { timeout: 120_000 }, () => {
  let unbound: ValidatingResolverHandle;
  let sink: SmtpSinkHandle;
  let dir: string;
  let config: string;

  before(async () => {
    const self = await selfSignedCertificate();
    const spki = new X509Certificate(self.cert).publicKey.export({ type: 'spki', format: 'der' });
    const right = createHash('sha256').update(spki).digest('hex');
    const zone = (name: string, tlsa: string) => ({
      name,
      records: ['@ MX 10 mx', 'mx A 127.0.0.3', `_25._tcp.mx TLSA 3 1 1 ${tlsa}`],
    });
    unbound = await startValidatingResolver({
      zones: [zone('right.test', right), zone('wrong.test', 'ab'.repeat(32))],
    });
    sink = await startSmtpSink({ host: '127.0.0.3', tls: self });
    dir = mkdtempSync(join(tmpdir(), 'herald-doctor-dane-'));
    config = join(dir, 'herald.yaml');
    // delivery.port: where the probe connects (the sink); the DANE resolver answers with AD.
    writeFileSync(config, `delivery: { port: ${sink.port}, dane: { resolver: "${unbound.address}" } }\n`);
  });
  after(async () => {
    await sink?.close();
    await unbound?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const daneRow = async (domain: string) => {
    const run = captureIo();
    const code = await main(['doctor', domain, '--json', '--config', config], run.io);
    const report = JSON.parse(run.stdout()) as JsonReport;
    return { code, row: report.checks.find((c) => c.id === 'dane')! };
  };

  it("connects at the config's delivery.port and says whether the certificate matches", async () => {
    const right = await daneRow('right.test');
    assert.equal(right.row.status, 'pass', right.row.reason);
    assert.match(right.row.reason, /mx\.right\.test: certificate matches \(DANE-EE\)/);
    const wrong = await daneRow('wrong.test');
    assert.equal(wrong.row.status, 'fail', wrong.row.reason);
    assert.equal(wrong.code, 1);
    assert.match(wrong.row.reason, /matches no TLSA record/);
    assert.equal(sink.stats().transactions, 0, 'the probe sends no mail');
  });
});
