/**
 * A destination's site is the same on every attempt while its MX RRset is the same (dns
 * resolveMxSet's `names`, delivery's hostsFor, the shaping gate), against the loopback DNS server
 * without an answer cache, so each attempt asks DNS again: more than MAX_MX_HOSTS equal-preference
 * hosts, of which each attempt tries a random MAX_MX_HOSTS, give one `mx:` site; an MX host whose
 * address lookup fails for a while does not move the domain to another site; the usual names
 * (a few hosts, a provider's) are what they were; the explanation and the site resolver agree.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DnsServerHandle, startDnsServer, type Zone } from '@herald/test-harness';
import { hostsFor } from '../src/delivery/index.js';
import { createResolver, type Resolver } from '../src/dns/index.js';
import { MAX_MX_HOSTS } from '../src/dns/mx.js';
import type { DeliveryJobData } from '../src/queue/index.js';
import { parseShaping, ShapingGate } from '../src/shaping/index.js';
import { defaultProviderRules, resolveSite, siteForMxHosts } from '../src/sites/index.js';
import type { RateLimiter } from '../src/throttle/index.js';

/** Short enough to keep failure tests quick, long enough for a loopback answer. */
const TEST_TIMEOUT_MS = 200;
const MX_PORT = 25;
/** Attempts per domain: with 12 hosts and 10 tried, 8 attempts all alike is a 1 in 66^7 chance. */
const ATTEMPTS = 8;
const WIDE_HOSTS = 12;

const wideNames = Array.from({ length: WIDE_HOSTS }, (_, i) => `mx${String(i).padStart(2, '0')}.wide.test`);
const baseZone: Zone = {
  'wide.test': { MX: wideNames.map((exchange) => ({ preference: 10, exchange })) },
  ...Object.fromEntries(wideNames.map((name, i) => [name, { A: [`127.0.5.${i + 1}`] }])),
  'flaky.test': {
    MX: [
      { preference: 10, exchange: 'mx1.flaky.test' },
      { preference: 20, exchange: 'mx2.flaky.test' },
    ],
  },
  'mx1.flaky.test': { A: ['127.0.6.1'] },
  'mx2.flaky.test': { A: ['127.0.6.2'] },
  'few.test': {
    MX: [
      { preference: 30, exchange: 'c.few.test' },
      { preference: 10, exchange: 'A.Few.Test' },
      { preference: 20, exchange: 'b.few.test' },
    ],
  },
  'a.few.test': { A: ['127.0.7.1'] },
  'b.few.test': { A: ['127.0.7.2'] },
  'c.few.test': { A: ['127.0.7.3'] },
  'hosted-by-google.test': {
    MX: [
      { preference: 1, exchange: 'aspmx.l.google.com' },
      { preference: 5, exchange: 'alt1.aspmx.l.google.com' },
    ],
  },
  'aspmx.l.google.com': { A: ['127.0.8.1'] },
  'alt1.aspmx.l.google.com': { A: ['127.0.8.2'] },
  'implicit.test': { A: ['127.0.9.1'] },
};

describe('the site of a destination is stable from attempt to attempt', () => {
  let dns: DnsServerHandle;
  let resolver: Resolver;
  const rules = defaultProviderRules();
  const gate = new ShapingGate({
    shaping: parseShaping({}),
    siteOf: (hostnames, route) => (route ? { site: 'route:unused' } : siteForMxHosts(hostnames, rules)),
    // No rate is configured: the gate never asks the limiter.
    limiter: {} as RateLimiter,
    now: Date.now,
  });

  /** One attempt's view: the hosts it would try and the site the gate admits it under. */
  async function attempt(domain: string): Promise<{ tried: string[]; site: string }> {
    const choice = await hostsFor(domain, undefined, resolver, MX_PORT);
    const data = { tenant: 'acme', recipients: [] } as unknown as DeliveryJobData;
    const admission = await gate.admit({ domain, ...choice, data });
    assert.ok(admission.admitted, 'admitted');
    admission.release();
    return { tried: choice.hosts.map((h) => h.hostname), site: data.site ?? '' };
  }

  before(async () => {
    dns = await startDnsServer({ zone: baseZone });
    resolver = createResolver({
      servers: [dns.address],
      timeoutMs: TEST_TIMEOUT_MS,
      attempts: 1,
      cacheMaxEntries: 0,
    });
  });
  after(async () => {
    await resolver.close();
    await dns.close();
  });

  it('more equal-preference MX hosts than are tried: one site, named after the first ten by name', async () => {
    const attempts = [];
    for (let i = 0; i < ATTEMPTS; i++) attempts.push(await attempt('wide.test'));
    const expected = `mx:${wideNames.slice(0, MAX_MX_HOSTS).join(',')}`;
    assert.deepEqual(new Set(attempts.map((a) => a.site)), new Set([expected]));
    for (const a of attempts) assert.equal(a.tried.length, MAX_MX_HOSTS, 'each attempt tries ten hosts');
    const subsets = new Set(attempts.map((a) => [...a.tried].sort().join(',')));
    assert.ok(subsets.size > 1, 'the attempts tried different hosts (RFC 5321 randomisation)');
    const namedByTried = new Set(attempts.map((a) => siteForMxHosts(a.tried, rules).site));
    assert.ok(namedByTried.size > 1, 'named after the hosts tried, the site would have moved');
    assert.equal(
      (await resolveSite('wide.test', { resolver, rules })).site,
      expected,
      'the site resolver agrees',
    );
  });

  it('an MX host whose address lookup fails for a while keeps the domain at its site', async () => {
    const before = await attempt('flaky.test');
    assert.deepEqual(before, {
      tried: ['mx1.flaky.test', 'mx2.flaky.test'],
      site: 'mx:mx1.flaky.test,mx2.flaky.test',
    });
    dns.setZone({ ...baseZone, 'mx2.flaky.test': { rcode: 'SERVFAIL' } });
    try {
      const during = await attempt('flaky.test');
      assert.deepEqual(during, { tried: ['mx1.flaky.test'], site: before.site });
    } finally {
      dns.setZone(baseZone);
    }
    assert.deepEqual(await attempt('flaky.test'), before);
  });

  it('a few MX hosts, a provider and an implicit MX are named as before', async () => {
    assert.equal((await attempt('few.test')).site, 'mx:a.few.test,b.few.test,c.few.test');
    assert.equal((await attempt('hosted-by-google.test')).site, 'provider:gmail');
    assert.equal((await attempt('implicit.test')).site, 'mx:implicit.test');
    const set = await resolver.resolveMxSet('few.test');
    assert.deepEqual(set.names, ['a.few.test', 'b.few.test', 'c.few.test'], 'by preference, lower-case');
  });
});
