import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  analyseSpf,
  checkHost,
  expandMacros,
  inCidr,
  parseSpfRecord,
  spfIpsCheck,
  spfLookupsCheck,
  spfRecordCheck,
  viewOfZone,
  type ZoneRecords,
} from '@herald/delivery-core/doctor';
import { spf } from 'mailauth';

const D = 'example.com';
const zone = (records: Record<string, ZoneRecords>) => viewOfZone(records);

describe('SPF records', () => {
  it('parses qualifiers, mechanisms with prefixes and the redirect/exp modifiers', () => {
    const r = parseSpfRecord(
      'v=spf1 -ip4:192.0.2.0/24 ~a:mail.example.com/28//64 ?mx ip6:2001:db8::/32 redirect=_spf.example.com exp=x.example.com foo=bar',
    );
    assert.ok(typeof r !== 'string');
    assert.deepEqual(
      r.mechanisms.map((m) => [m.qualifier, m.kind, m.domain ?? m.ip, m.cidr4, m.cidr6]),
      [
        ['-', 'ip4', '192.0.2.0', 24, undefined],
        ['~', 'a', 'mail.example.com', 28, 64],
        ['?', 'mx', undefined, undefined, undefined],
        ['+', 'ip6', '2001:db8::', undefined, 32],
      ],
    );
    assert.equal(r.redirect, '_spf.example.com');
  });

  it('calls unknown terms, bad addresses and repeated redirects permanent errors', () => {
    assert.match(String(parseSpfRecord('v=spf1 ipv4:192.0.2.1 -all')), /unknown term/);
    assert.match(String(parseSpfRecord('v=spf1 ip4:2001:db8::1 -all')), /not an ip4 address/);
    assert.match(String(parseSpfRecord('v=spf1 redirect=a.test redirect=b.test')), /twice/);
    assert.match(String(parseSpfRecord('v=spf1 include -all')), /needs a value/);
  });

  it('expands macros (RFC 7208 §7.4 examples)', () => {
    const ctx = {
      sender: 'strong-bad@email.example.com',
      domain: 'email.example.com',
      ip: '192.0.2.3',
      helo: 'h.test',
    };
    assert.equal(expandMacros('%{s}', ctx), 'strong-bad@email.example.com');
    assert.equal(expandMacros('%{d4}', ctx), 'email.example.com');
    assert.equal(expandMacros('%{d2}', ctx), 'example.com');
    assert.equal(expandMacros('%{ir}.%{v}._spf.%{d2}', ctx), '3.2.0.192.in-addr._spf.example.com');
    assert.equal(expandMacros('%{l-}.%{lr-}', ctx), 'strong.bad.bad.strong');
    const v6 = { ...ctx, ip: '2001:db8::cb01' };
    assert.equal(
      expandMacros('%{ir}.%{v}._spf.%{d2}', v6),
      '1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com',
    );
    assert.match(expandMacros('%{z}', ctx), /^!/);
  });

  it('matches CIDRs of either family and never across families', () => {
    assert.ok(inCidr('192.0.2.77', '192.0.2.0', 24));
    assert.ok(!inCidr('192.0.3.1', '192.0.2.0', 24));
    assert.ok(inCidr('2001:db8::1', '2001:db8::', 32));
    assert.ok(!inCidr('192.0.2.1', '2001:db8::', 0));
    assert.ok(inCidr('192.0.2.1', '192.0.2.1', undefined));
  });
});

describe('check_host', () => {
  const view = zone({
    [D]: {
      TXT: ['v=spf1 ip4:192.0.2.10 include:_spf.example.com a:web.example.com mx ~all'],
      MX: [{ preference: 10, exchange: 'mx.example.com' }],
    },
    '_spf.example.com': { TXT: ['v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:1::/48 -all'] },
    'web.example.com': { A: ['203.0.113.5'] },
    'mx.example.com': { A: ['203.0.113.25'] },
    'redir.test': { TXT: ['v=spf1 redirect=example.com'] },
    'ptr.test': { TXT: ['v=spf1 ptr -all'] },
    '10.2.0.192.in-addr.arpa': { PTR: ['mail.ptr.test'] },
    'mail.ptr.test': { A: ['192.0.2.10'] },
    'exists.test': { TXT: ['v=spf1 exists:%{ir}.allow.exists.test -all'] },
    '10.2.0.192.allow.exists.test': { A: ['127.0.0.2'] },
    'voids.test': { TXT: ['v=spf1 a:n1.test a:n2.test a:n3.test ip4:192.0.2.10 -all'] },
    'broken-include.test': { TXT: ['v=spf1 include:nothing.test -all'] },
    'dns-trouble.test': { error: 'SERVFAIL' },
  });

  it('passes on ip4, include, a and mx terms and soft-fails the rest', () => {
    assert.equal(checkHost(view, '192.0.2.10', D).result, 'pass');
    assert.deepEqual(checkHost(view, '198.51.100.7', D), {
      result: 'pass',
      why: `${D}: include:_spf.example.com`,
    });
    assert.equal(checkHost(view, '2001:db8:1::9', D).result, 'pass');
    assert.equal(checkHost(view, '203.0.113.5', D).result, 'pass');
    assert.equal(checkHost(view, '203.0.113.25', D).result, 'pass');
    assert.deepEqual(checkHost(view, '203.0.113.99', D), { result: 'softfail', why: `${D}: ~all` });
  });

  it('follows redirect=, ptr (validated names only) and exists with macros', () => {
    assert.equal(checkHost(view, '198.51.100.7', 'redir.test').result, 'pass');
    assert.equal(checkHost(view, '192.0.2.10', 'ptr.test').result, 'pass');
    assert.equal(checkHost(view, '192.0.2.11', 'ptr.test').result, 'fail');
    assert.equal(checkHost(view, '192.0.2.10', 'exists.test').result, 'pass');
    assert.equal(checkHost(view, '192.0.2.11', 'exists.test').result, 'fail');
  });

  it('gives none, permerror and temperror where RFC 7208 says so', () => {
    assert.equal(checkHost(view, '192.0.2.10', 'unknown.test').result, 'none');
    assert.equal(checkHost(view, '192.0.2.10', 'voids.test').result, 'permerror', 'a third void lookup');
    assert.equal(checkHost(view, '192.0.2.10', 'broken-include.test').result, 'permerror');
    assert.equal(checkHost(view, '192.0.2.10', 'dns-trouble.test').result, 'temperror');
  });

  it('stops at the 11th lookup during evaluation, but not when an earlier term matched', () => {
    const includes: Record<string, ZoneRecords> = {};
    for (let i = 0; i < 11; i++) includes[`i${i}.test`] = { TXT: ['v=spf1 -all'] };
    const terms = Object.keys(includes)
      .map((n) => `include:${n}`)
      .join(' ');
    const many = zone({ ...includes, [D]: { TXT: [`v=spf1 ip4:192.0.2.10 ${terms} -all`] } });
    assert.equal(checkHost(many, '192.0.2.10', D).result, 'pass');
    assert.deepEqual(checkHost(many, '192.0.2.99', D), {
      result: 'permerror',
      why: 'more than 10 DNS lookups',
    });
  });
});

describe('the SPF checks', () => {
  it('counts every lookup of the tree, void terms and loops', () => {
    const view = zone({
      [D]: { TXT: ['v=spf1 include:a.test include:b.test mx a:none.test -all'] },
      'a.test': { TXT: ['v=spf1 include:c.test -all'] },
      'b.test': { TXT: ['v=spf1 redirect=a.test'] },
      'c.test': { TXT: ['v=spf1 include:a.test ip4:192.0.2.1 -all'] },
    });
    const a = analyseSpf(view, D);
    assert.equal(a.lookups, 9, 'include a → c → (a: loop), include b → redirect a → c → (a: loop), mx, a');
    assert.deepEqual(a.voids, [`${D}: mx`, `${D}: a:none.test`]);
    assert.ok(a.problems.some((p) => p.startsWith('loop:')));
    assert.equal(spfLookupsCheck(view, D).status, 'fail');
  });

  it('warns over two void terms and passes a small tree with its count', () => {
    const voids = zone({ [D]: { TXT: ['v=spf1 a:x.test a:y.test a:z.test -all'] } });
    assert.equal(spfLookupsCheck(voids, D).status, 'warn');
    const small = zone({ [D]: { TXT: ['v=spf1 mx -all'], MX: [{ preference: 1, exchange: 'mx.test' }] } });
    assert.deepEqual(
      [spfLookupsCheck(small, D).status, spfLookupsCheck(small, D).reason],
      ['pass', '1 of 10 DNS lookups'],
    );
  });

  it('judges the record: none and two fail with the record to publish, +all and ?all warn', () => {
    const none = spfRecordCheck(zone({ [D]: { TXT: ['hello'] } }), D, ['192.0.2.10', '2001:db8::1']);
    assert.equal(none.status, 'fail');
    assert.match(none.fix, /"v=spf1 ip4:192\.0\.2\.10 ip6:2001:db8::1 -all"/);
    assert.equal(
      spfRecordCheck(zone({ [D]: { TXT: ['v=spf1 -all', 'v=spf1 mx -all'] } }), D, []).status,
      'fail',
    );
    assert.equal(spfRecordCheck(zone({ [D]: { TXT: ['v=spf1 +all'] } }), D, []).status, 'warn');
    assert.equal(spfRecordCheck(zone({ [D]: { TXT: ['v=spf1 ip4:192.0.2.1 ?all'] } }), D, []).status, 'warn');
    assert.equal(spfRecordCheck(zone({ [D]: { TXT: ['v=spf1 ip4:192.0.2.1'] } }), D, []).status, 'warn');
    assert.equal(spfRecordCheck(zone({ [D]: { TXT: ['v=spf1 ip4:192.0.2.1 ~all'] } }), D, []).status, 'pass');
    assert.equal(spfRecordCheck(zone({ [D]: { error: 'timeout' } }), D, []).status, 'fail');
  });

  it('fails source IPs that do not pass, naming the terms to add', () => {
    const view = zone({ [D]: { TXT: ['v=spf1 ip4:192.0.2.10 ~all'] } });
    assert.equal(spfIpsCheck(view, D, ['192.0.2.10']).status, 'pass');
    const bad = spfIpsCheck(view, D, ['192.0.2.10', '192.0.2.11']);
    assert.equal(bad.status, 'fail');
    assert.match(bad.reason, /192\.0\.2\.11: softfail/);
    assert.match(bad.fix, /ip4:192\.0\.2\.11/);
    assert.equal(spfIpsCheck(view, D, []).status, 'info');
  });
});

/**
 * mailauth's resolver contract (dns.promises.resolve) over the same literal zone. Its typings say
 * string arrays only, but MX answers are objects as dns.promises gives them.
 */
type MailauthResolver = NonNullable<Parameters<typeof spf>[0]['resolver']>;
function mailauthResolver(records: Record<string, ZoneRecords>): MailauthResolver {
  const resolve = async (name: string, type: string): Promise<unknown[]> => {
    const entry = records[name.toLowerCase().replace(/\.$/, '')];
    const fail = (code: string) => Object.assign(new Error(`${code} ${name}`), { code });
    if (!entry) throw fail('ENOTFOUND');
    const answers: unknown[] =
      type === 'TXT'
        ? (entry.TXT ?? []).map((t) => [t])
        : type === 'MX'
          ? (entry.MX ?? []).map((m) => ({ exchange: m.exchange, priority: m.preference }))
          : type === 'A' || type === 'AAAA' || type === 'PTR'
            ? [...(entry[type] ?? [])]
            : [];
    if (answers.length === 0) throw fail('ENODATA');
    return answers;
  };
  return resolve as MailauthResolver;
}

describe('check_host agrees with mailauth (an independent SPF implementation)', () => {
  const records: Record<string, ZoneRecords> = {
    [D]: {
      TXT: ['v=spf1 ip4:192.0.2.10 include:_spf.example.com a:web.example.com mx ~all'],
      MX: [{ preference: 10, exchange: 'mx.example.com' }],
    },
    '_spf.example.com': { TXT: ['v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:1::/48 -all'] },
    'web.example.com': { A: ['203.0.113.5'] },
    'mx.example.com': { A: ['203.0.113.25'], AAAA: ['2001:db8:2::25'] },
    'redir.test': { TXT: ['v=spf1 a:gone.test redirect=example.com'] },
    'neutral.test': { TXT: ['v=spf1 ip4:192.0.2.0/28 ?all'] },
    'two.test': { TXT: ['v=spf1 -all', 'v=spf1 +all'] },
    'voids.test': { TXT: ['v=spf1 a:n1.test a:n2.test a:n3.test ip4:192.0.2.10 -all'] },
    'exists.test': { TXT: ['v=spf1 exists:%{ir}.allow.exists.test -all'] },
    '10.2.0.192.allow.exists.test': { A: ['127.0.0.2'] },
    'none.test': { TXT: ['some other text'] },
  };
  const many: Record<string, ZoneRecords> = {};
  for (let i = 0; i < 11; i++) many[`i${i}.test`] = { TXT: ['v=spf1 -all'] };
  records['many.test'] = {
    TXT: [
      `v=spf1 ${Object.keys(many)
        .map((n) => `include:${n}`)
        .join(' ')} ip4:192.0.2.10 -all`,
    ],
  };
  Object.assign(records, many);
  const view = viewOfZone(records);
  const cases: [string, string][] = [];
  for (const domain of [
    D,
    'redir.test',
    'neutral.test',
    'two.test',
    'voids.test',
    'exists.test',
    'none.test',
    'many.test',
    'missing.test',
  ])
    for (const ip of [
      '192.0.2.10',
      '198.51.100.9',
      '203.0.113.5',
      '203.0.113.25',
      '2001:db8:2::25',
      '2001:db8:1::7',
      '192.0.2.99',
    ])
      cases.push([domain, ip]);

  it(`gives the same result for ${cases.length} (domain, IP) pairs`, async () => {
    const resolver = mailauthResolver(records);
    const differ: string[] = [];
    for (const [domain, ip] of cases) {
      const theirs = await spf({
        sender: `postmaster@${domain}`,
        ip,
        helo: 'client.test',
        mta: 'doctor.test',
        resolver,
      });
      const ours = checkHost(view, ip, domain).result;
      if (theirs.status.result !== ours)
        differ.push(`${domain} ${ip}: ours ${ours}, mailauth ${theirs.status.result}`);
    }
    assert.deepEqual(differ, []);
  });
});
