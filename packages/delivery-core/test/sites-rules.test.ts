import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadProviderDefaults, mergeShaping, parseShaping } from '../src/shaping/index.js';
import {
  canonicalHostSet,
  defaultProviderRules,
  hostMatchesSuffix,
  matchProvider,
  type ProviderName,
  providerRules,
  siteForMxHosts,
  siteForRoute,
} from '../src/sites/index.js';

/** Real-world-looking MX host sets, at least one per provider of shaping/providers.yaml. */
const PROVIDER_CASES: { provider: ProviderName; hosts: string[] }[] = [
  { provider: 'gmail', hosts: ['gmail-smtp-in.l.google.com', 'alt1.gmail-smtp-in.l.google.com'] },
  { provider: 'gmail', hosts: ['aspmx.l.google.com', 'alt1.aspmx.l.google.com', 'aspmx2.googlemail.com'] },
  { provider: 'gmail', hosts: ['smtp.google.com'] },
  { provider: 'microsoft', hosts: ['hotmail-com.olc.protection.outlook.com'] },
  { provider: 'microsoft', hosts: ['outlook-com.olc.protection.outlook.com'] },
  { provider: 'microsoft', hosts: ['mx1.hotmail.com', 'mx2.hotmail.com'] },
  { provider: 'microsoft365', hosts: ['example-com.mail.protection.outlook.com'] },
  { provider: 'microsoft365', hosts: ['example-com.d-v1.mx.microsoft'] },
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
  { provider: 'zoho', hosts: ['mx.zoho.in'] },
  { provider: 'proton', hosts: ['mail.protonmail.ch', 'mailsec.protonmail.ch'] },
  { provider: 'fastmail', hosts: ['in1-smtp.messagingengine.com', 'in2-smtp.messagingengine.com'] },
];

describe('provider rules from the shipped shaping providers', () => {
  for (const { provider, hosts } of PROVIDER_CASES) {
    test(`${hosts.join(', ')} is provider:${provider}`, () => {
      assert.equal(matchProvider(hosts)?.provider, provider);
      assert.deepEqual(siteForMxHosts(hosts), { site: `provider:${provider}`, provider });
    });
  }

  test('the default rules are exactly the providers of providers.yaml, in file order', () => {
    const shipped = loadProviderDefaults();
    const rules = defaultProviderRules();
    assert.deepEqual(
      rules.map((r) => r.provider),
      Object.keys(shipped.providers),
    );
    for (const rule of rules)
      assert.deepEqual(rule.mxSuffixes, shipped.providers[rule.provider]?.mx_suffixes, rule.provider);
  });

  test('every provider of providers.yaml has a real-looking MX case above, with ".lower.case" suffixes', () => {
    const tested = new Set(PROVIDER_CASES.map((c) => c.provider));
    for (const rule of defaultProviderRules()) {
      assert.ok(tested.has(rule.provider), `no test case for ${rule.provider}`);
      assert.ok(rule.mxSuffixes.length > 0, `${rule.provider} has no suffix`);
      for (const suffix of rule.mxSuffixes) {
        assert.match(
          suffix,
          /^\.[a-z0-9.-]+[a-z0-9]$/,
          `${rule.provider} suffix ${suffix} is not ".lower.case"`,
        );
      }
    }
  });

  test('Microsoft consumer and Microsoft 365 hosts are separate providers', () => {
    assert.equal(
      matchProvider(['hotmail-com.olc.protection.outlook.com', 'example-com.mail.protection.outlook.com']),
      undefined,
    );
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

  test('rules built from a shaping file replace the shipped ones', () => {
    const rules = providerRules(
      parseShaping({ providers: { inhouse: { mx_suffixes: ['.mx.example.test'] } } }),
    );
    assert.deepEqual(rules, [{ provider: 'inhouse', mxSuffixes: ['.mx.example.test'] }]);
    assert.deepEqual(siteForMxHosts(['a.mx.example.test'], rules), {
      site: 'provider:inhouse',
      provider: 'inhouse',
    });
    assert.deepEqual(siteForMxHosts(['aspmx.l.google.com'], rules), { site: 'mx:aspmx.l.google.com' });
  });

  test('an operator provider merged over the shipped file adds a rule after the shipped ones', () => {
    const operator = parseShaping({
      providers: { inhouse: { mx_suffixes: ['.mx.example.test'] }, gmail: { max_connections: 2 } },
    });
    const rules = providerRules(mergeShaping(loadProviderDefaults(), operator));
    assert.equal(rules.at(-1)?.provider, 'inhouse');
    assert.equal(siteForMxHosts(['b.mx.example.test'], rules).site, 'provider:inhouse');
    assert.equal(
      siteForMxHosts(['gmail-smtp-in.l.google.com'], rules).site,
      'provider:gmail',
      'a provider overriding only limits keeps the shipped suffixes',
    );
  });

  test('a provider with limits but no mx_suffixes matches no host', () => {
    const rules = providerRules(parseShaping({ providers: { limitsonly: { max_connections: 1 } } }));
    assert.deepEqual(rules, []);
    assert.equal(matchProvider(['mx.limitsonly.test'], rules), undefined);
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
