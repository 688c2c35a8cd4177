import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { defaultConfig } from '../src/config/index.js';
import {
  BUILTIN_LIMITS,
  baseLimitsFromConfig,
  describeEffectiveLimits,
  effectiveLimits,
  loadProviderDefaults,
  loadShapingFile,
  parseShaping,
  ShapingGate,
} from '../src/shaping/index.js';
import { providerRules, siteForMxHosts } from '../src/sites/index.js';
import type { RateLimiter } from '../src/throttle/index.js';

const LAYERED = parseShaping({
  defaults: { max_connections: 10, data_timeout: '2m' },
  providers: {
    gmail: {
      mx_suffixes: ['.google.com'],
      max_connections: 5,
      max_messages_per_connection: 50,
      tls: 'require',
    },
  },
  sites: { gmail: { max_messages_per_connection: 40, max_message_rate: '100/s' } },
  domains: { 'Slow.Test': { max_connections: 2, max_message_rate: '5/s' } },
  pools: { bulk: { sources: [{ ip: '127.0.0.2' }], retry_schedule: ['1m'] } },
  sources: { '127.0.0.2': { max_connections: 1 } },
});

const originOf = (result: ReturnType<typeof effectiveLimits>, key: string) =>
  result.explain.find((o) => o.key === key);

describe('effective limits', () => {
  test('with nothing configured every value is built-in: 20 connections, 100 per connection, no rate limit', () => {
    const result = effectiveLimits(parseShaping({}), { domain: 'example.test' });
    assert.deepEqual(result.limits, BUILTIN_LIMITS);
    assert.equal(result.limits.max_message_rate, undefined);
    assert.ok(result.explain.every((o) => o.from === 'built-in'));
    assert.deepEqual(result.layers, ['defaults']);
  });

  test('precedence is defaults < provider < site < domain < pool < source, key by key', () => {
    const result = effectiveLimits(LAYERED, {
      domain: 'slow.test',
      site: 'gmail',
      provider: 'gmail',
      pool: 'bulk',
      sourceIp: '127.0.0.2',
    });
    assert.deepEqual(result.layers, [
      'defaults',
      'provider:gmail',
      'site:gmail',
      'domain:slow.test',
      'pool:bulk',
      'source:127.0.0.2',
    ]);
    assert.deepEqual(originOf(result, 'max_connections'), {
      key: 'max_connections',
      value: 1,
      from: 'source:127.0.0.2',
    });
    assert.deepEqual(originOf(result, 'max_message_rate'), {
      key: 'max_message_rate',
      value: { count: 5, periodMs: 1000 },
      from: 'domain:slow.test',
    });
    assert.deepEqual(originOf(result, 'max_messages_per_connection'), {
      key: 'max_messages_per_connection',
      value: 40,
      from: 'site:gmail',
    });
    assert.deepEqual(originOf(result, 'tls'), { key: 'tls', value: 'require', from: 'provider:gmail' });
    assert.deepEqual(originOf(result, 'data_timeout'), {
      key: 'data_timeout',
      value: 120_000,
      from: 'defaults',
    });
    assert.deepEqual(originOf(result, 'retry_schedule'), {
      key: 'retry_schedule',
      value: [60_000],
      from: 'pool:bulk',
    });
    assert.deepEqual(originOf(result, 'max_queue_lifetime')?.from, 'built-in');
  });

  test('without the more specific layers the provider value shows through', () => {
    const result = effectiveLimits(LAYERED, { domain: 'gmail.com', provider: 'gmail' });
    assert.equal(result.limits.max_connections, 5);
    assert.equal(originOf(result, 'max_connections')?.from, 'provider:gmail');
  });

  test('domain lookups ignore case and a trailing dot', () => {
    const result = effectiveLimits(LAYERED, { domain: 'SLOW.test.' });
    assert.equal(originOf(result, 'max_connections')?.from, 'domain:slow.test');
  });

  test('the check listing shows each key, its value with units and its layer', () => {
    const lines = describeEffectiveLimits(effectiveLimits(LAYERED, { domain: 'slow.test' }));
    assert.equal(lines.length, Object.keys(BUILTIN_LIMITS).length);
    assert.match(
      lines.find((l) => l.startsWith('max_message_rate')) ?? '',
      /^max_message_rate\s+5\/s\s+domain:slow\.test$/,
    );
    assert.match(
      lines.find((l) => l.startsWith('retry_schedule')) ?? '',
      /5m, 10m, 20m, 40m, 1h20m, 2h, 4h\s+built-in$/,
    );
    assert.match(lines.find((l) => l.startsWith('max_connection_rate')) ?? '', /unlimited\s+built-in$/);
  });
});

describe('dane per destination', () => {
  const DANE = parseShaping({
    sites: { 'mx:mx.bank.test': { dane: 'require' }, 'mx:mx.broken.test': { dane: 'off' } },
    domains: { 'partner.test': { dane: 'opportunistic' } },
  });
  const base = { ...BUILTIN_LIMITS, dane: 'opportunistic' as const };

  test("a site's dane overrides delivery.dane.mode (the built-in layer); other sites keep it", () => {
    const bank = effectiveLimits(DANE, { domain: 'bank.test', site: 'mx:mx.bank.test' }, base);
    assert.deepEqual(originOf(bank, 'dane'), { key: 'dane', value: 'require', from: 'site:mx:mx.bank.test' });
    const broken = effectiveLimits(DANE, { domain: 'broken.test', site: 'mx:mx.broken.test' }, base);
    assert.equal(broken.limits.dane, 'off');
    const other = effectiveLimits(DANE, { domain: 'other.test', site: 'mx:mx.other.test' }, base);
    assert.deepEqual(originOf(other, 'dane'), { key: 'dane', value: 'opportunistic', from: 'built-in' });
  });

  test('a domain layer beats its site, and the config mode is the built-in value', () => {
    const partner = effectiveLimits(DANE, { domain: 'partner.test', site: 'mx:mx.bank.test' }, base);
    assert.deepEqual(originOf(partner, 'dane'), {
      key: 'dane',
      value: 'opportunistic',
      from: 'domain:partner.test',
    });
    const config = defaultConfig({
      redis: { url: 'redis://127.0.0.1:1' },
      delivery: { dane: { mode: 'require' } },
    });
    assert.equal(baseLimitsFromConfig(config).dane, 'require');
    assert.equal(BUILTIN_LIMITS.dane, 'off');
  });

  test("the gate gives delivery the destination's dane, and a reloaded shaping file's at the next call", () => {
    const siteOf = (hostnames: readonly string[]) => ({ site: `mx:${[...hostnames].sort().join(',')}` });
    // daneMode reads the limits only: no rate is ever asked of this limiter.
    const gate = new ShapingGate({ shaping: DANE, base, siteOf, limiter: {} as RateLimiter, now: Date.now });
    const to = (domain: string, mx: string) => ({
      domain,
      hosts: [{ hostname: mx, addresses: ['127.0.0.2'], port: 25 }],
    });
    assert.equal(gate.daneMode(to('bank.test', 'mx.bank.test')), 'require');
    assert.equal(gate.daneMode(to('broken.test', 'mx.broken.test')), 'off');
    assert.equal(gate.daneMode(to('other.test', 'mx.other.test')), 'opportunistic');
    gate.useShaping({
      shaping: parseShaping({ sites: { 'mx:mx.other.test': { dane: 'off' } } }),
      siteOf,
      base,
    });
    assert.equal(gate.daneMode(to('bank.test', 'mx.bank.test')), 'opportunistic');
    assert.equal(gate.daneMode(to('other.test', 'mx.other.test')), 'off');
  });
});

describe('sites from the shaping providers (via the sites module)', () => {
  const rules = providerRules(LAYERED);

  test('a domain whose MX hosts all end in a provider suffix belongs to that provider', () => {
    assert.deepEqual(siteForMxHosts(['aspmx.l.google.com.', 'ALT1.ASPMX.L.GOOGLE.COM'], rules), {
      site: 'provider:gmail',
      provider: 'gmail',
    });
  });

  test('other domains get their sorted MX set as the site, and a mixed set is no provider', () => {
    assert.deepEqual(siteForMxHosts(['mx2.example.net', 'mx1.example.net.', 'mx2.example.net'], rules), {
      site: 'mx:mx1.example.net,mx2.example.net',
    });
    assert.deepEqual(siteForMxHosts(['aspmx.l.google.com', 'mx.other.test'], rules), {
      site: 'mx:aspmx.l.google.com,mx.other.test',
    });
  });

  test("an mx: site's limits apply through the site layer", () => {
    const shaping = parseShaping({ sites: { 'mx:mx1.example.net,mx2.example.net': { max_connections: 3 } } });
    const { site } = siteForMxHosts(['mx2.example.net', 'mx1.example.net'], providerRules(shaping));
    const result = effectiveLimits(shaping, { domain: 'a.test', site });
    assert.equal(originOf(result, 'max_connections')?.from, 'site:mx:mx1.example.net,mx2.example.net');
    assert.equal(result.limits.max_connections, 3);
  });
});

describe('shipped provider defaults', () => {
  const SHIPPED_PROVIDERS: [string, string][] = [
    ['gmail', 'gmail-smtp-in.l.google.com'],
    ['microsoft', 'hotmail-com.olc.protection.outlook.com'],
    ['microsoft365', 'contoso-com.mail.protection.outlook.com'],
    ['yahoo', 'mx-aol.mail.gm0.yahoodns.net'],
    ['apple', 'mx01.mail.icloud.com'],
    ['comcast', 'mx1a1.comcast.net'],
    ['gmx', 'mx-ha03.web.de'],
    ['orange', 'smtp-in.orange.fr'],
    ['mailru', 'mxs.mail.ru'],
    ['yandex', 'mx.yandex.ru'],
    ['qq', 'mx1.qq.com'],
    ['zoho', 'mx.zoho.com'],
    ['proton', 'mail.protonmail.ch'],
    ['fastmail', 'in1-smtp.messagingengine.com'],
  ];

  test('providers.yaml validates and sets connections, messages per connection and a rate for every provider', () => {
    const shipped = loadProviderDefaults();
    const rules = providerRules(shipped);
    assert.deepEqual(
      SHIPPED_PROVIDERS.map(([name]) => name).sort(),
      Object.keys(shipped.providers).sort(),
      'every shipped provider is listed here',
    );
    for (const [name, mx] of SHIPPED_PROVIDERS) {
      const provider = shipped.providers[name];
      assert.ok(provider, `missing provider ${name}`);
      assert.ok(
        provider.max_connections && provider.max_messages_per_connection && provider.max_message_rate,
        name,
      );
      assert.equal(siteForMxHosts([mx], rules).provider, name, `MX ${mx}`);
    }
  });

  test('they go under the operator file: the operator wins key by key, and can be switched off', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-shaping-'));
    try {
      const path = join(dir, 'shaping.yaml');
      writeFileSync(path, 'providers:\n  yahoo: { max_connections: 3 }\n');
      const merged = loadShapingFile(path);
      assert.equal(merged.providers.yahoo?.max_connections, 3);
      assert.equal(merged.providers.yahoo?.max_messages_per_connection, 20);
      assert.deepEqual(merged.providers.yahoo?.mx_suffixes, ['.yahoodns.net']);
      assert.ok(merged.providers.qq);
      const alone = loadShapingFile(path, { providerDefaults: false });
      assert.deepEqual(Object.keys(alone.providers), ['yahoo']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
