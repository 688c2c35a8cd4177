import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  canonicalHostSet,
  hostMatchesSuffix,
  matchProvider,
  PROVIDER_RULES,
  type ProviderName,
  siteForMxHosts,
  siteForRoute,
} from '../src/sites/index.js';

/** Real-world-looking MX host sets, at least one per provider rule. */
const PROVIDER_CASES: { provider: ProviderName; hosts: string[] }[] = [
  { provider: 'gmail', hosts: ['gmail-smtp-in.l.google.com', 'alt1.gmail-smtp-in.l.google.com'] },
  { provider: 'gmail', hosts: ['aspmx.l.google.com', 'alt1.aspmx.l.google.com', 'aspmx2.googlemail.com'] },
  { provider: 'gmail', hosts: ['smtp.google.com'] },
  { provider: 'microsoft', hosts: ['example-com.mail.protection.outlook.com'] },
  { provider: 'microsoft', hosts: ['hotmail-com.olc.protection.outlook.com'] },
  { provider: 'microsoft', hosts: ['mx1.hotmail.com', 'mx2.hotmail.com'] },
  { provider: 'yahoo', hosts: ['mta5.am0.yahoodns.net', 'mta6.am0.yahoodns.net', 'mta7.am0.yahoodns.net'] },
  { provider: 'yahoo', hosts: ['mx-aol.mail.gm0.yahoodns.net'] },
  { provider: 'apple', hosts: ['mx01.mail.icloud.com', 'mx02.mail.icloud.com'] },
  { provider: 'comcast', hosts: ['mx1h1.comcast.net', 'mx2c1.comcast.net'] },
  { provider: 'gmx', hosts: ['mx00.gmx.net', 'mx01.gmx.net'] },
  { provider: 'gmx', hosts: ['mx-ha02.web.de', 'mx-ha03.web.de'] },
  { provider: 'gmx', hosts: ['mx00.gmx.com', 'mx01.gmx.com'] },
  { provider: 'orange', hosts: ['smtp-in.orange.fr'] },
  { provider: 'mailru', hosts: ['mxs.mail.ru'] },
  { provider: 'yandex', hosts: ['mx.yandex.ru'] },
  { provider: 'yandex', hosts: ['mx.yandex.net'] },
  { provider: 'qq', hosts: ['mx1.qq.com', 'mx2.qq.com', 'mx3.qq.com'] },
  { provider: 'qq', hosts: ['mxbiz1.qq.com', 'mxbiz2.qq.com'] },
  { provider: 'zoho', hosts: ['mx.zoho.com', 'mx2.zoho.com', 'mx3.zoho.com'] },
  { provider: 'zoho', hosts: ['mx.zoho.eu'] },
  { provider: 'proton', hosts: ['mail.protonmail.ch', 'mailsec.protonmail.ch'] },
  { provider: 'fastmail', hosts: ['in1-smtp.messagingengine.com', 'in2-smtp.messagingengine.com'] },
];

describe('provider rules table', () => {
  for (const { provider, hosts } of PROVIDER_CASES) {
    test(`${hosts.join(', ')} is provider:${provider}`, () => {
      assert.equal(matchProvider(hosts)?.provider, provider);
      assert.deepEqual(siteForMxHosts(hosts), { site: `provider:${provider}`, provider });
    });
  }

  test('every rule in the table has a test case above, and every rule documents itself', () => {
    const tested = new Set(PROVIDER_CASES.map((c) => c.provider));
    for (const rule of PROVIDER_RULES) {
      assert.ok(tested.has(rule.provider), `no test case for ${rule.provider}`);
      assert.ok(rule.note.length > 0, `${rule.provider} has no note`);
      assert.ok(rule.match.mxSuffix.length > 0, `${rule.provider} has no suffix`);
      for (const suffix of rule.match.mxSuffix) {
        assert.match(
          suffix,
          /^\.[a-z0-9.-]+[a-z0-9]$/,
          `${rule.provider} suffix ${suffix} is not ".lower.case"`,
        );
      }
    }
  });

  test('providers are unique in the table', () => {
    const names = PROVIDER_RULES.map((r) => r.provider);
    assert.equal(new Set(names).size, names.length);
  });

  test('suffixes match on label boundaries only', () => {
    assert.equal(hostMatchesSuffix('aspmx.l.google.com', '.google.com'), true);
    assert.equal(hostMatchesSuffix('google.com', '.google.com'), true);
    assert.equal(hostMatchesSuffix('mx.evilgoogle.com', '.google.com'), false);
    assert.equal(hostMatchesSuffix('aspmx.l.google.com.attacker.test', '.google.com'), false);
    assert.equal(matchProvider(['mx.notqq.com']), undefined);
  });

  test('host names match whatever their case or trailing dot', () => {
    assert.equal(matchProvider(['ASPMX.L.Google.COM.'])?.provider, 'gmail');
  });

  test('a domain is a provider only when ALL its MX hosts match that provider', () => {
    const mixed = ['aspmx.l.google.com', 'backup-mx.example.test'];
    assert.equal(matchProvider(mixed), undefined);
    assert.deepEqual(siteForMxHosts(mixed), { site: 'mx:aspmx.l.google.com,backup-mx.example.test' });
  });

  test('hosts split between two providers match neither', () => {
    assert.equal(matchProvider(['aspmx.l.google.com', 'example-com.mail.protection.outlook.com']), undefined);
  });

  test('an empty host set matches no provider', () => {
    assert.equal(matchProvider([]), undefined);
  });

  test('custom rules can replace the table', () => {
    const rules = [{ provider: 'gmail' as const, match: { mxSuffix: ['.mx.example.test'] }, note: 'test' }];
    assert.deepEqual(siteForMxHosts(['a.mx.example.test'], rules), {
      site: 'provider:gmail',
      provider: 'gmail',
    });
    assert.deepEqual(siteForMxHosts(['aspmx.l.google.com'], rules), { site: 'mx:aspmx.l.google.com' });
  });
});

describe('non-provider sites roll up by MX host set', () => {
  test('two domains with the same MX hosts share a site, whatever the order and case', () => {
    const a = siteForMxHosts(['mx2.example.test', 'mx1.example.test']);
    const b = siteForMxHosts(['MX1.Example.TEST.', 'mx2.example.test']);
    assert.deepEqual(a, { site: 'mx:mx1.example.test,mx2.example.test' });
    assert.deepEqual(b, a);
  });

  test('duplicate hosts count once', () => {
    assert.equal(siteForMxHosts(['mx1.example.test', 'MX1.example.test']).site, 'mx:mx1.example.test');
    assert.deepEqual(canonicalHostSet(['b.test', 'a.test', 'B.test.', '.']), ['a.test', 'b.test']);
  });

  test('different MX host sets are different sites', () => {
    assert.notEqual(
      siteForMxHosts(['mx1.example.test']).site,
      siteForMxHosts(['mx1.example.test', 'mx2.example.test']).site,
    );
  });
});

describe('static route sites', () => {
  test('a smarthost route is route:<host>:<port>, lower-cased', () => {
    assert.equal(siteForRoute({ host: 'Relay.Example.TEST.', port: 587 }), 'route:relay.example.test:587');
  });

  test('an IPv4 smarthost keeps its address', () => {
    assert.equal(siteForRoute({ host: '127.0.0.1', port: 2525 }), 'route:127.0.0.1:2525');
  });

  test('an IPv6 smarthost is bracketed so the port stays unambiguous', () => {
    assert.equal(siteForRoute({ host: '::1', port: 25 }), 'route:[::1]:25');
    assert.equal(siteForRoute({ host: '[::1]', port: 25 }), 'route:[::1]:25');
  });
});
