import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { type DnsServerHandle, startDnsServer, type Zone } from '@herald/test-harness';
import { TtlLruCache } from '../src/dns/cache.js';
import { createResolver, DNS_MAX_TTL_MS, type Resolver, type ResolverOptions } from '../src/dns/index.js';
import { TransientError } from '../src/errors/index.js';

const TEST_TIMEOUT_MS = 200;
const START_MS = 1_700_000_000_000;
const RECORD_TTL_S = 60;
const SOA_MINIMUM_S = 30;
const NEGATIVE_TTL_MS = 5_000;
const CONCURRENT_LOOKUPS = 10;

const zone: Zone = {
  'cached.test': { A: ['127.0.0.50'], ttl: RECORD_TTL_S },
  'forever.test': { A: ['127.0.0.51'], ttl: 7 * 24 * 3600 },
  'zero.test': { A: ['127.0.0.52'], ttl: 0 },
  'soa.test': { A: ['127.0.0.53'], soaMinimum: SOA_MINIMUM_S },
  'example.test': {
    MX: [
      { preference: 10, exchange: 'mx1.example.test' },
      { preference: 20, exchange: 'mx2.example.test' },
    ],
  },
  'mx1.example.test': { A: ['127.0.0.11'] },
  'mx2.example.test': { A: ['127.0.0.12'] },
  'a.test': { A: ['127.0.0.61'] },
  'b.test': { A: ['127.0.0.62'] },
  'c.test': { A: ['127.0.0.63'] },
  'silent.test': { drop: true },
};

describe('DNS resolver cache and single-flight', () => {
  let server: DnsServerHandle;
  let clock = START_MS;
  const resolvers: Resolver[] = [];

  function resolver(options: ResolverOptions = {}): Resolver {
    const r = createResolver({
      servers: [server.address],
      timeoutMs: TEST_TIMEOUT_MS,
      now: () => clock,
      ...options,
    });
    resolvers.push(r);
    return r;
  }

  function wireCount(name: string, type?: string): number {
    return server.queries.filter((q) => q.name === name && (type === undefined || q.type === type)).length;
  }

  before(async () => {
    server = await startDnsServer({ zone });
  });
  afterEach(async () => {
    await Promise.all(resolvers.splice(0).map((r) => r.close()));
    server.queries.length = 0;
    clock = START_MS;
  });
  after(async () => {
    await server.close();
  });

  test('a cached answer is served without a query until its TTL runs out', async () => {
    const r = resolver();
    const first = await r.query('cached.test', 'A');
    assert.equal(first.ttlMs, RECORD_TTL_S * 1000);
    clock += 30_000;
    const second = await r.query('CACHED.test.', 'A');
    assert.deepEqual(second.answers, first.answers);
    assert.equal(second.ttlMs, 30_000);
    assert.equal(wireCount('cached.test'), 1);
    assert.deepEqual(r.stats(), { queries: 1, cacheHits: 1, inflightJoins: 0 });
    clock += 30_000;
    await r.query('cached.test', 'A');
    assert.equal(wireCount('cached.test'), 2);
  });

  test('TTLs are capped at maxTtlMs and floored at one second', async () => {
    const r = resolver();
    assert.equal((await r.query('forever.test', 'A')).ttlMs, DNS_MAX_TTL_MS);
    assert.equal((await r.query('zero.test', 'A')).ttlMs, 1_000);
    await r.query('zero.test', 'A');
    assert.equal(wireCount('zero.test'), 1);
  });

  test('NXDOMAIN is cached for negativeTtlMs when the answer has no SOA', async () => {
    const r = resolver({ negativeTtlMs: NEGATIVE_TTL_MS });
    const first = await r.query('missing.test', 'A');
    assert.equal(first.rcode, 'NXDOMAIN');
    assert.equal(first.ttlMs, NEGATIVE_TTL_MS);
    clock += NEGATIVE_TTL_MS - 1;
    assert.equal((await r.query('missing.test', 'A')).rcode, 'NXDOMAIN');
    assert.equal(wireCount('missing.test'), 1);
    clock += 1;
    await r.query('missing.test', 'A');
    assert.equal(wireCount('missing.test'), 2);
  });

  test('NODATA is cached for the SOA minimum when the answer carries an SOA', async () => {
    const r = resolver({ negativeTtlMs: NEGATIVE_TTL_MS });
    const first = await r.query('soa.test', 'MX');
    assert.equal(first.rcode, 'NOERROR');
    assert.deepEqual(first.answers, []);
    assert.equal(first.ttlMs, SOA_MINIMUM_S * 1000);
    clock += SOA_MINIMUM_S * 1000 - 1;
    await r.query('soa.test', 'MX');
    assert.equal(wireCount('soa.test', 'MX'), 1);
    clock += 1;
    await r.query('soa.test', 'MX');
    assert.equal(wireCount('soa.test', 'MX'), 2);
  });

  test('concurrent identical lookups share one query on the wire', async () => {
    const r = resolver();
    const results = await Promise.all(
      Array.from({ length: CONCURRENT_LOOKUPS }, () => r.resolveMx('example.test')),
    );
    for (const hosts of results) {
      assert.deepEqual(
        hosts.map((h) => h.exchange),
        ['mx1.example.test', 'mx2.example.test'],
      );
    }
    assert.equal(wireCount('example.test', 'MX'), 1);
    assert.equal(wireCount('mx1.example.test', 'A'), 1);
    // One MX lookup plus A and AAAA for each of the two hosts; everything else joined or hit the cache.
    const stats = r.stats();
    assert.equal(stats.queries, 5);
    assert.ok(stats.inflightJoins >= CONCURRENT_LOOKUPS - 1);
  });

  test('the cache evicts the least recently used entry beyond cacheMaxEntries', async () => {
    const r = resolver({ cacheMaxEntries: 2 });
    await r.query('a.test', 'A');
    await r.query('b.test', 'A');
    await r.query('a.test', 'A'); // a is now the most recent
    await r.query('c.test', 'A'); // evicts b
    await r.query('a.test', 'A');
    await r.query('b.test', 'A');
    assert.equal(wireCount('a.test'), 1);
    assert.equal(wireCount('b.test'), 2);
  });

  test('close aborts an in-flight lookup with a transient error', async () => {
    const r = createResolver({ servers: [server.address], timeoutMs: 60_000, attempts: 1 });
    const pending = r.query('silent.test', 'A');
    await r.close();
    await assert.rejects(pending, TransientError);
    await assert.rejects(r.query('a.test', 'A'), TransientError);
  });
});

describe('TtlLruCache', () => {
  test('an entry expires exactly at its TTL on the injected clock', () => {
    let now = 0;
    const cache = new TtlLruCache<string>(10, () => now);
    cache.set('k', 'v', 100);
    now = 99;
    assert.deepEqual(cache.get('k'), { value: 'v', remainingMs: 1 });
    now = 100;
    assert.equal(cache.get('k'), undefined);
    assert.equal(cache.size, 0);
  });

  test('reading an entry protects it from eviction', () => {
    const cache = new TtlLruCache<number>(2, () => 0);
    cache.set('a', 1, 1000);
    cache.set('b', 2, 1000);
    cache.get('a');
    cache.set('c', 3, 1000);
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('a')?.value, 1);
    assert.equal(cache.get('c')?.value, 3);
  });

  test('a zero-sized cache stores nothing', () => {
    const cache = new TtlLruCache<number>(0, () => 0);
    cache.set('a', 1, 1000);
    assert.equal(cache.get('a'), undefined);
  });
});
