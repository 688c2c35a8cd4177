import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  aligned,
  bulkSenderChecks,
  type CheckResult,
  type DkimKeyFacts,
  dkimChecks,
  dmarcAlignmentCheck,
  dmarcRecordCheck,
  judgeDomain,
  looksGeneric,
  mtaStsCheck,
  mxCheck,
  normaliseDomain,
  organizationalDomain,
  ptrCheck,
  renderJson,
  renderTable,
  reverseName,
  type SenderSetup,
  senderSetup,
  tlsRptCheck,
  viewOfZone,
} from '@herald/delivery-core/doctor';
import { defaultConfig } from '../src/config/index.js';

const D = 'example.com';
const NOW = Date.parse('2026-01-01T00:00:00Z');

function rsaFacts(selector: string, key: KeyObject, domain = D): DkimKeyFacts {
  const pub = createPublicKey(key);
  return {
    domain,
    selector,
    keyFile: `/keys/${selector}.pem`,
    always: false,
    type: 'rsa',
    publicKey: pub.export({ type: 'spki', format: 'der' }),
    bits: pub.asymmetricKeyDetails?.modulusLength ?? 0,
  };
}
const rsaRecord = (key: KeyObject) =>
  `v=DKIM1; k=rsa; p=${createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64')}`;
const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
const ed = generateKeyPairSync('ed25519').privateKey;
const edRaw = Buffer.from(createPublicKey(ed).export({ format: 'jwk' }).x ?? '', 'base64url');

function setup(over: Partial<SenderSetup> = {}): SenderSetup {
  return { source: 'herald.yaml', dkimKeys: [], unsubscribe: [], sourceIps: [], tlsOff: [], ...over };
}

describe('names', () => {
  it('builds reverse names for IPv4 and IPv6 (nibbles)', () => {
    assert.equal(reverseName('192.0.2.10'), '10.2.0.192.in-addr.arpa');
    assert.equal(
      reverseName('2001:db8::567:89ab'),
      'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    );
    assert.equal(
      reverseName('::ffff:192.0.2.1'),
      '1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa',
    );
    assert.equal(reverseName('mail.example.com'), undefined);
  });

  it('takes the organizational domain as the last two labels, three under co.uk-like suffixes', () => {
    assert.equal(organizationalDomain('a.b.example.com'), 'example.com');
    assert.equal(organizationalDomain('news.shop.co.uk'), 'shop.co.uk');
    assert.ok(aligned('bounces.example.com', 'example.com', 'r'));
    assert.ok(!aligned('bounces.example.com', 'example.com', 's'));
    assert.ok(!aligned('a.co.uk', 'b.co.uk', 'r'));
  });

  it('normalises domains and refuses what is not one', () => {
    assert.equal(normaliseDomain('Example.COM.'), 'example.com');
    assert.equal(normaliseDomain('bücher.example'), 'xn--bcher-kva.example');
    for (const bad of ['localhost', '-x.example', 'a..b', 'foo bar.com'])
      assert.equal(normaliseDomain(bad), undefined, bad);
  });
});

describe('DKIM', () => {
  const key = rsaFacts('s1', rsa2048);
  const run = (records: string[] | undefined, facts: DkimKeyFacts = key) =>
    dkimChecks(
      viewOfZone(records ? { [`${facts.selector}._domainkey.${facts.domain}`]: { TXT: records } } : {}),
      D,
      setup({ dkimKeys: [facts] }),
      NOW,
    );

  it('passes a published key equal to our key, and gives the record to publish otherwise', () => {
    const [ok] = run([rsaRecord(rsa2048)]);
    assert.deepEqual([ok!.id, ok!.status, ok!.details?.bits], ['dkim.s1', 'pass', 2048]);
    const [missing] = run(undefined);
    assert.equal(missing!.status, 'fail');
    assert.ok(missing!.fix.includes(rsaRecord(rsa2048)), 'the fix is the exact record');
  });

  it('fails another key, a revoked key, the wrong k=, two records and an h= without sha256', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    assert.match(run([rsaRecord(other)])[0]!.reason, /not the public half/);
    assert.match(run(['v=DKIM1; k=rsa; p='])[0]!.reason, /revoked/);
    assert.match(run([`v=DKIM1; k=ed25519; p=${edRaw.toString('base64')}`])[0]!.reason, /k=ed25519/);
    assert.equal(run([rsaRecord(rsa2048), rsaRecord(rsa2048)])[0]!.status, 'fail');
    assert.match(run([`${rsaRecord(rsa2048)}; h=sha1`])[0]!.reason, /sha256/);
  });

  it('warns a 1024-bit key and testing mode; checks Ed25519 keys as raw 32 bytes', () => {
    const weak = rsaFacts('s1', rsa1024);
    const [w] = run([rsaRecord(rsa1024)], weak);
    assert.deepEqual([w!.status, w!.details?.bits], ['warn', 1024]);
    assert.equal(run([`${rsaRecord(rsa2048)}; t=y`])[0]!.status, 'warn');
    const edFacts: DkimKeyFacts = {
      domain: D,
      selector: 'ed1',
      keyFile: '/k',
      always: false,
      type: 'ed25519',
      publicKey: edRaw,
    };
    assert.equal(run([`v=DKIM1; k=ed25519; p=${edRaw.toString('base64')}`], edFacts)[0]!.status, 'pass');
  });

  it('accepts a PKCS#1 p= (some tools publish it) and folds whitespace in p=', () => {
    const pkcs1 = createPublicKey(rsa2048).export({ type: 'pkcs1', format: 'der' }).toString('base64');
    const spaced = rsaRecord(rsa2048).replace(/(.{60})/g, '$1 ');
    assert.equal(run([`v=DKIM1; p=${pkcs1}`])[0]!.status, 'pass');
    assert.equal(run([spaced])[0]!.status, 'pass');
  });

  it('reads config keys as the signer does: the raw Ed25519 key, and a key the start refuses is unusable', () => {
    const pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();
    const rsa512 = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey;
    const config = defaultConfig({
      dkim: [
        { domain: D, selector: 'ed', private_key: pem(ed) },
        { domain: D, selector: 'big', private_key: pem(rsa2048) },
        { domain: D, selector: 'tiny', private_key: pem(rsa512) },
      ],
    });
    const [edKey, bigKey, tinyKey] = senderSetup(config, '/etc/herald/herald.yaml').dkimKeys;
    assert.deepEqual([edKey!.type, edKey!.publicKey], ['ed25519', edRaw]);
    assert.deepEqual(
      [bigKey!.type, bigKey!.bits, bigKey!.publicKey],
      ['rsa', 2048, createPublicKey(rsa2048).export({ type: 'spki', format: 'der' })],
    );
    assert.equal(tinyKey!.publicKey, undefined);
    assert.match(tinyKey!.error ?? '', /512 bits is too small/);
  });

  it('fails an unreadable key file and a config without a key for the domain; info without a config', () => {
    const broken: DkimKeyFacts = {
      domain: D,
      selector: 's9',
      keyFile: '/nope.pem',
      always: false,
      error: 'cannot read it (ENOENT)',
    };
    assert.match(run([], broken)[0]!.reason, /ENOENT/);
    const none = dkimChecks(
      viewOfZone({}),
      D,
      setup({ dkimKeys: [rsaFacts('s1', rsa2048, 'other.test')] }),
      NOW,
    );
    assert.deepEqual(
      none.map((c) => [c.id, c.status]),
      [['dkim', 'fail']],
    );
    assert.equal(dkimChecks(viewOfZone({}), D, undefined, NOW)[0]!.status, 'info');
    const retired = { ...key, retireAt: NOW - 1 };
    assert.equal(dkimChecks(viewOfZone({}), D, setup({ dkimKeys: [retired] }), NOW)[0]!.id, 'dkim');
  });
});

describe('DMARC', () => {
  const record = (text: string, name = `_dmarc.${D}`) => viewOfZone({ [name]: { TXT: [text] } });

  it('passes reject/quarantine with rua, warns p=none, missing rua and pct<100, fails bad or absent records', () => {
    assert.equal(dmarcRecordCheck(record('v=DMARC1; p=reject; rua=mailto:d@example.com'), D).status, 'pass');
    assert.equal(dmarcRecordCheck(record('v=DMARC1; p=none; rua=mailto:d@example.com'), D).status, 'warn');
    assert.equal(dmarcRecordCheck(record('v=DMARC1; p=quarantine'), D).status, 'warn');
    assert.equal(dmarcRecordCheck(record('v=DMARC1; p=reject; rua=mailto:d@x; pct=50'), D).status, 'warn');
    assert.equal(dmarcRecordCheck(record('v=DMARC1; p=bogus; rua=mailto:d@x'), D).status, 'fail');
    assert.equal(dmarcRecordCheck(viewOfZone({}), D).status, 'fail');
    const two = viewOfZone({ [`_dmarc.${D}`]: { TXT: ['v=DMARC1; p=none', 'v=DMARC1; p=reject'] } });
    assert.match(dmarcRecordCheck(two, D).reason, /2 DMARC records/);
  });

  it("uses the organizational domain's record and its sp= for a subdomain", () => {
    const view = record('v=DMARC1; p=reject; sp=none; rua=mailto:d@example.com');
    const sub = dmarcRecordCheck(view, 'news.example.com');
    assert.equal(sub.status, 'warn');
    assert.match(sub.reason, /p=none \(inherited from _dmarc\.example\.com\)/);
  });

  it('aligns the return path and DKIM domains: both pass, one warns, none fails', () => {
    const view = record('v=DMARC1; p=reject; rua=mailto:d@example.com');
    const check = (bounceDomain: string | undefined, dkim: string[]) =>
      dmarcAlignmentCheck(view, D, setup(bounceDomain ? { bounceDomain } : {}), dkim).status;
    assert.equal(check('bounces.example.com', [D]), 'pass');
    assert.equal(check('bounces.other.test', [D]), 'warn');
    assert.equal(check(undefined, []), 'warn');
    assert.equal(check('bounces.other.test', ['platform.test']), 'fail');
    const strict = record('v=DMARC1; p=reject; aspf=s; rua=mailto:d@example.com');
    assert.equal(
      dmarcAlignmentCheck(strict, D, setup({ bounceDomain: 'bounces.example.com' }), [D]).status,
      'warn',
    );
    assert.equal(dmarcAlignmentCheck(view, D, undefined, []).status, 'info');
  });
});

describe('MX, reverse DNS, MTA-STS and TLS-RPT', () => {
  it('passes MX hosts with addresses and an implicit MX; warns null MX and no MX without address', () => {
    const mx = [{ preference: 10, exchange: 'mx.example.com' }];
    assert.equal(
      mxCheck(viewOfZone({ [D]: { MX: mx }, 'mx.example.com': { A: ['192.0.2.25'] } }), D).status,
      'pass',
    );
    assert.equal(mxCheck(viewOfZone({ [D]: { MX: mx } }), D).status, 'warn');
    assert.match(
      mxCheck(viewOfZone({ [D]: { MX: [{ preference: 0, exchange: '.' }] } }), D).reason,
      /null MX/,
    );
    assert.equal(mxCheck(viewOfZone({ [D]: { A: ['192.0.2.1'] } }), D).status, 'pass');
    assert.equal(mxCheck(viewOfZone({ [D]: {} }), D).status, 'warn');
    assert.equal(mxCheck(viewOfZone({}), D).status, 'fail');
  });

  it('requires a PTR that resolves back to the IP, and warns generic names', () => {
    const ip = '192.0.2.10';
    const base = {
      '10.2.0.192.in-addr.arpa': { PTR: ['mail.example.com'] },
      'mail.example.com': { A: [ip] },
    };
    assert.equal(ptrCheck(viewOfZone(base), ip).status, 'pass');
    assert.match(ptrCheck(viewOfZone({}), ip).reason, /no PTR/);
    assert.match(
      ptrCheck(viewOfZone({ ...base, 'mail.example.com': { A: ['192.0.2.11'] } }), ip).reason,
      /does not resolve back/,
    );
    const generic = {
      '10.2.0.192.in-addr.arpa': { PTR: ['ip-192-0-2-10.isp.test'] },
      'ip-192-0-2-10.isp.test': { A: [ip] },
    };
    assert.equal(ptrCheck(viewOfZone(generic), ip).status, 'warn');
    assert.ok(looksGeneric('10.2.0.192.dyn.isp.test', ip));
    assert.ok(looksGeneric('dhcp-77.pool.isp.test', ip));
    assert.ok(!looksGeneric('mta1.mail.example.com', ip));
  });

  it('checks MTA-STS and TLS-RPT records', () => {
    const sts = (txt: string[], host = true) =>
      mtaStsCheck(
        viewOfZone({
          [`_mta-sts.${D}`]: { TXT: txt },
          ...(host ? { [`mta-sts.${D}`]: { A: ['192.0.2.80'] } } : {}),
        }),
        D,
      ).status;
    assert.equal(sts(['v=STSv1; id=2024a']), 'pass');
    assert.equal(sts([]), 'warn');
    assert.equal(sts(['v=STSv1; id=bad-id!']), 'fail');
    assert.equal(sts(['v=STSv1; id=1', 'v=STSv1; id=2']), 'fail');
    assert.equal(sts(['v=STSv1; id=1'], false), 'fail');
    // Delivery's parser discards a record with a malformed extension field, so the doctor fails it.
    assert.equal(sts(['v=STSv1; id=1; not an extension']), 'fail');
    assert.equal(sts(['v=STSv1; id=1; ext=ok']), 'pass');
    assert.equal(sts(['v=STSv1; ext=ok']), 'fail');
    const rpt = (txt: string[]) => tlsRptCheck(viewOfZone({ [`_smtp._tls.${D}`]: { TXT: txt } }), D).status;
    assert.equal(rpt(['v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example.com/tls']), 'pass');
    assert.equal(rpt([]), 'warn');
    assert.equal(rpt(['v=TLSRPTv1; rua=ftp://x']), 'fail');
  });
});

describe('bulk-sender rows and output', () => {
  const row = (id: string, status: CheckResult['status']): CheckResult => ({
    id,
    status,
    reason: id,
    fix: '',
  });

  it('summarise the checks behind each rule: a fail breaks it, a warn does not, unknown is info', () => {
    const base = [
      row('spf.record', 'pass'),
      row('spf.ips', 'pass'),
      row('dkim.s1', 'warn'),
      row('dmarc.record', 'warn'),
      row('dmarc.alignment', 'pass'),
      row('ptr.192.0.2.1', 'pass'),
    ];
    const ok = bulkSenderChecks(
      base,
      setup({ unsubscribe: [{ tenant: 'a', mailto: true, https: true, streams: ['bulk'] }] }),
      ['192.0.2.1'],
    );
    assert.deepEqual(
      ok.map((c) => [c.id, c.status]),
      [
        ['bulk.authentication', 'pass'],
        ['bulk.dmarc', 'pass'],
        ['bulk.ptr', 'pass'],
        ['bulk.tls', 'pass'],
        ['bulk.unsubscribe', 'pass'],
        ['bulk.spam-rate', 'info'],
      ],
    );
    const broken = bulkSenderChecks(
      [...base, row('return-path', 'fail')],
      setup({ tlsOff: ['delivery.tls'] }),
      [],
    );
    assert.deepEqual(
      broken.slice(0, 5).map((c) => c.status),
      ['fail', 'pass', 'info', 'warn', 'warn'],
    );
    const mailtoOnly = bulkSenderChecks(
      base,
      setup({ unsubscribe: [{ tenant: 'a', mailto: true, https: false, streams: ['bulk'] }] }),
      [],
    );
    assert.match(mailtoOnly[4]!.reason, /mailto: link only/);
  });

  it('renders a table with fixes under the reasons and JSON with details always present', () => {
    const view = viewOfZone({ [D]: { TXT: ['v=spf1 ip4:192.0.2.10 -all'] } });
    const report = { domain: D, checks: judgeDomain(view, { domain: D, ips: ['192.0.2.10'], now: NOW }) };
    const table = renderTable(report);
    assert.match(table, /^CHECK\s+STATUS\s+REASON \/ FIX\n/);
    assert.match(table, /\nspf\.record\s+pass\s+one SPF record/);
    assert.match(table, /\n\s+fix: Publish a TXT record at _dmarc\.example\.com/);
    assert.match(table, /\nexample\.com: \d+ pass, \d+ warn, \d+ fail, \d+ info\n$/);
    assert.ok(
      table.split('\n').every((line) => line.length <= 110),
      'lines fit the table width',
    );
    const json = JSON.parse(renderJson(report)) as { domain: string; checks: { details: unknown }[] };
    assert.equal(json.domain, D);
    assert.ok(json.checks.every((c) => typeof c.details === 'object'));
  });
});
