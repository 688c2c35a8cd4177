import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { type DnsServerHandle, startDnsServer, type Zone } from '@herald/test-harness';
import { createResolver, type Resolver, type ResolverOptions } from '../src/dns/index.js';
import { PermanentError, TransientError } from '../src/errors/index.js';
import { loadProviderDefaults, mergeShaping, parseShaping } from '../src/shaping/index.js';
import { providerRules, resolveSite, SITE_CACHE_MAX_ENTRIES, SiteResolver } from '../src/sites/index.js';

/** Short enough to keep failure tests quick, long enough for a loopback answer. */
const TEST_TIMEOUT_MS = 200;
const GOOGLE_MX_TTL_S = 120;
const MS_PER_S = 1_000;
const START_MS = 1_700_000_000_000;

const zone: Zone = {
  'hosted-by-google.test': {
    ttl: GOOGLE_MX_TTL_S,
    MX: [
      { preference: 1, exchange: 'aspmx.l.google.com' },
      { preference: 5, exchange: 'alt1.aspmx.l.google.com' },
      { preference: 10, exchange: 'aspmx2.googlemail.com' },
    ],
  },
  'aspmx.l.google.com': { A: ['127.0.1.1'] },
  'alt1.aspmx.l.google.com': { A: ['127.0.1.2'] },
  'aspmx2.googlemail.com': { A: ['127.0.1.3'] },
  'one.test': {
    MX: [
      { preference: 10, exchange: 'mx1.shared.test' },
      { preference: 20, exchange: 'mx2.shared.test' },
    ],
  },
  'two.test': {
    MX: [
      { preference: 5, exchange: 'MX2.Shared.TEST' },
      { preference: 50, exchange: 'mx1.shared.test' },
    ],
  },
  'mx1.shared.test': { A: ['127.0.2.1'] },
  'mx2.shared.test': { A: ['127.0.2.2'] },
  'half-google.test': {
    MX: [
      { preference: 1, exchange: 'aspmx.l.google.com' },
      { preference: 99, exchange: 'mx1.shared.test' },
    ],
  },
  'partial.test': {
    MX: [
      { preference: 10, exchange: 'mx1.shared.test' },
      { preference: 20, exchange: 'ghost.partial.test' },
    ],
  },
  'implicit.test': { A: ['127.0.3.1'] },
  'nullmx.test': { MX: [{ preference: 0, exchange: '.' }], A: ['127.0.4.1'] },
  'broken.test': { rcode: 'SERVFAIL' },
};

describe('site resolution against the loopback DNS server', () => {
  let dns: DnsServerHandle;
  const resolvers: Resolver[] = [];

  /** No DNS answer cache by default, so every site lookup that reaches DNS shows on the wire. */
  function resolver(options: ResolverOptions = {}): Resolver {
    const r = createResolver({
      servers: [dns.address],
      timeoutMs: TEST_TIMEOUT_MS,
      attempts: 1,
      cacheMaxEntries: 0,
      ...options,
    });
    resolvers.push(r);
    return r;
  }

  function mxQueries(name: string): number {
    return dns.queries.filter((q) => q.name === name && q.type === 'MX').length;
  }

  before(async () => {
    dns = await startDnsServer({ zone });
  });
  afterEach(async () => {
    await Promise.all(resolvers.splice(0).map((r) => r.close()));
    dns.queries.length = 0;
  });
  after(async () => {
    await dns.close();
  });

  test('a Google-hosted domain is provider:gmail, with the MX TTL', async () => {
    const info = await resolveSite('Hosted-By-Google.TEST.', { resolver: resolver(), now: () => START_MS });
    assert.deepEqual(info, {
      site: 'provider:gmail',
      provider: 'gmail',
      mxHosts: ['alt1.aspmx.l.google.com', 'aspmx.l.google.com', 'aspmx2.googlemail.com'],
      ttlMs: GOOGLE_MX_TTL_S * MS_PER_S,
      expiresAt: START_MS + GOOGLE_MX_TTL_S * MS_PER_S,
    });
    assert.equal(mxQueries('hosted-by-google.test'), 1, 'resolveMx and the TTL query share one MX lookup');
  });

  test("an operator's shaping provider groups its MX hosts into provider:<name>", async () => {
    const operator = parseShaping({ providers: { sharedhost: { mx_suffixes: ['.shared.test'] } } });
    const rules = providerRules(mergeShaping(loadProviderDefaults(), operator));
    const sites = new SiteResolver({ resolver: resolver(), rules });
    assert.equal((await sites.resolve('one.test')).site, 'provider:sharedhost');
    assert.equal((await sites.resolve('hosted-by-google.test')).site, 'provider:gmail');
    assert.equal((await sites.resolve('half-google.test')).site, 'mx:aspmx.l.google.com,mx1.shared.test');
  });

  test('two domains with the same MX hosts in another order and case share one mx: site', async () => {
    const r = resolver();
    const one = await resolveSite('one.test', { resolver: r });
    const two = await resolveSite('two.test', { resolver: r });
    assert.equal(one.site, 'mx:mx1.shared.test,mx2.shared.test');
    assert.equal(two.site, one.site);
    assert.equal(one.provider, undefined);
  });

  test('a Google primary with a non-Google backup MX is not provider:gmail', async () => {
    const info = await resolveSite('half-google.test', { resolver: resolver() });
    assert.equal(info.site, 'mx:aspmx.l.google.com,mx1.shared.test');
  });

  test('an MX host without an address still counts in the site', async () => {
    const info = await resolveSite('partial.test', { resolver: resolver() });
    assert.equal(info.site, 'mx:ghost.partial.test,mx1.shared.test');
  });

  test('a domain without MX records is the implicit site mx:<domain>', async () => {
    const info = await resolveSite('implicit.test', { resolver: resolver() });
    assert.equal(info.site, 'mx:implicit.test');
    assert.deepEqual(info.mxHosts, ['implicit.test']);
  });

  test('a null MX fails permanently with 556 5.1.10, the resolver error unchanged', async () => {
    await assert.rejects(resolveSite('nullmx.test', { resolver: resolver() }), (err: unknown) => {
      assert.ok(err instanceof PermanentError);
      assert.equal(err.reply.code, 556);
      assert.equal(err.reply.enhanced, '5.1.10');
      assert.equal(err.reply.stage, 'dns');
      return true;
    });
  });

  test('a domain that does not exist fails permanently with 5.1.2', async () => {
    await assert.rejects(resolveSite('nowhere.test', { resolver: resolver() }), (err: unknown) => {
      assert.ok(err instanceof PermanentError);
      assert.equal(err.reply.enhanced, '5.1.2');
      return true;
    });
  });

  test('SERVFAIL fails transiently with 451 4.4.3', async () => {
    await assert.rejects(resolveSite('broken.test', { resolver: resolver() }), (err: unknown) => {
      assert.ok(err instanceof TransientError);
      assert.equal(err.reply.code, 451);
      assert.equal(err.reply.enhanced, '4.4.3');
      return true;
    });
  });

  describe('SiteResolver cache', () => {
    test('a second lookup within the TTL is a cache hit: no second MX query on the wire', async () => {
      const sites = new SiteResolver({ resolver: resolver(), now: () => START_MS });
      const first = await sites.resolve('hosted-by-google.test');
      const second = await sites.resolve('HOSTED-BY-GOOGLE.test.');
      assert.equal(second.site, first.site);
      assert.equal(mxQueries('hosted-by-google.test'), 1);
      assert.deepEqual(sites.stats(), { lookups: 1, cacheHits: 1, inflightJoins: 0 });
    });

    test('an entry expires when the MX TTL runs out on the injected clock', async () => {
      let clock = START_MS;
      const sites = new SiteResolver({ resolver: resolver(), now: () => clock });
      await sites.resolve('hosted-by-google.test');
      clock += GOOGLE_MX_TTL_S * MS_PER_S - 1;
      const cached = await sites.resolve('hosted-by-google.test');
      assert.equal(cached.ttlMs, 1, 'a cache hit reports the remaining TTL');
      assert.equal(mxQueries('hosted-by-google.test'), 1);
      clock += 1;
      const fresh = await sites.resolve('hosted-by-google.test');
      assert.equal(fresh.site, 'provider:gmail');
      assert.equal(fresh.ttlMs, GOOGLE_MX_TTL_S * MS_PER_S);
      assert.equal(mxQueries('hosted-by-google.test'), 2);
    });

    test('concurrent lookups of one domain share a single resolution', async () => {
      const sites = new SiteResolver({ resolver: resolver() });
      const results = await Promise.all([
        sites.resolve('one.test'),
        sites.resolve('one.test'),
        sites.resolve('One.Test'),
      ]);
      assert.deepEqual(new Set(results.map((r) => r.site)), new Set(['mx:mx1.shared.test,mx2.shared.test']));
      assert.equal(mxQueries('one.test'), 1);
      assert.deepEqual(sites.stats(), { lookups: 1, cacheHits: 0, inflightJoins: 2 });
    });

    test('the cache is LRU-bounded: the least recently used domain is evicted', async () => {
      const sites = new SiteResolver({ resolver: resolver(), maxEntries: 2 });
      await sites.resolve('one.test');
      await sites.resolve('two.test');
      await sites.resolve('one.test'); // hit: one.test becomes most recently used
      await sites.resolve('implicit.test'); // evicts two.test
      assert.equal(sites.size, 2);
      await sites.resolve('one.test');
      await sites.resolve('two.test');
      assert.equal(mxQueries('one.test'), 1);
      assert.equal(mxQueries('two.test'), 2);
      assert.ok(SITE_CACHE_MAX_ENTRIES > 2);
    });

    test('failures are not cached and reach the caller unchanged', async () => {
      const sites = new SiteResolver({ resolver: resolver() });
      for (let i = 0; i < 2; i++) {
        await assert.rejects(sites.resolve('nullmx.test'), (err: unknown) => {
          assert.ok(err instanceof PermanentError);
          assert.equal(err.reply.enhanced, '5.1.10');
          return true;
        });
      }
      assert.equal(mxQueries('nullmx.test'), 2);
      assert.equal(sites.size, 0);
    });

    test('clear() empties the cache', async () => {
      const sites = new SiteResolver({ resolver: resolver() });
      await sites.resolve('one.test');
      sites.clear();
      assert.equal(sites.size, 0);
      await sites.resolve('one.test');
      assert.equal(mxQueries('one.test'), 2);
    });
  });
});
