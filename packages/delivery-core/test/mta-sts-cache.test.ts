import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { FETCH_RETRY_MS, MtaStsPolicies, NO_POLICY_RECHECK_MS, TXT_RECHECK_MS } from '../src/auth/index.js';
import type { DnsAnswer, Resolver } from '../src/dns/index.js';
import { TransientError } from '../src/errors/index.js';
import type { CandidateHost } from '../src/smtp/index.js';

const DAY_S = 86_400;
const DOMAIN = 'example.test';

function policyText(mode: string, mx: string[], maxAgeS = DAY_S): string {
  return ['version: STSv1', `mode: ${mode}`, ...mx.map((m) => `mx: ${m}`), `max_age: ${maxAgeS}`].join(
    '\r\n',
  );
}

/**
 * The world the cache sees: TXT answers per name (or 'SERVFAIL'), policy texts per domain (or an
 * Error), a clock. Counts every TXT query and every fetch.
 */
class World {
  now = 1_000_000;
  txt = new Map<string, string[] | 'SERVFAIL'>();
  policies = new Map<string, string | Error>();
  txtQueries = 0;
  fetches: string[] = [];
  /** When set, fetches wait for it (to test single-flight). */
  gate: Promise<void> | undefined;

  readonly resolver: Resolver = {
    query: async (name, type): Promise<DnsAnswer> => {
      assert.equal(type, 'TXT');
      this.txtQueries++;
      const records = this.txt.get(name);
      if (records === 'SERVFAIL')
        throw new TransientError({ code: 451, enhanced: '4.4.3', text: 'SERVFAIL', stage: 'dns' }, 'dns');
      if (!records) return { rcode: 'NXDOMAIN', answers: [], ttlMs: 60_000 };
      return { rcode: 'NOERROR', answers: records.map((text) => ({ type: 'TXT', text })), ttlMs: 60_000 };
    },
    resolveMx: () => Promise.reject(new Error('the MTA-STS cache does not resolve MX')),
    resolveMxSet: () => Promise.reject(new Error('the MTA-STS cache does not resolve MX')),
    resolveAddresses: () => Promise.reject(new Error('fetches are faked here')),
    stats: () => ({ queries: this.txtQueries, cacheHits: 0, inflightJoins: 0 }),
    close: async () => {},
  };

  publish(domain: string, id: string, text: string | Error): void {
    this.txt.set(`_mta-sts.${domain}`, [`v=STSv1; id=${id}`]);
    this.policies.set(domain, text);
  }

  newCache(options: { cacheSize?: number } = {}): MtaStsPolicies {
    return new MtaStsPolicies({
      resolver: this.resolver,
      cacheSize: options.cacheSize ?? 100,
      now: () => this.now,
      fetchPolicy: async (domain) => {
        this.fetches.push(domain);
        await this.gate;
        const text = this.policies.get(domain);
        if (text === undefined) throw new Error('HTTP 404');
        if (text instanceof Error) throw text;
        return text;
      },
    });
  }
}

const hosts = (...names: string[]): CandidateHost[] =>
  names.map((hostname, i) => ({ hostname, addresses: [`127.0.0.${i + 2}`], port: 25 }));

describe('MTA-STS policy cache', () => {
  let world: World;
  let sts: MtaStsPolicies;
  beforeEach(() => {
    world = new World();
    sts = world.newCache();
  });

  test('a policy is fetched once and then answered from the cache without DNS or HTTPS', async () => {
    world.publish(DOMAIN, '1', policyText('enforce', ['mx1.example.test']));
    assert.equal((await sts.policyFor(DOMAIN))?.mode, 'enforce');
    for (let i = 0; i < 100; i++) await sts.policyFor(DOMAIN);
    assert.deepEqual(world.fetches, [DOMAIN]);
    assert.equal(world.txtQueries, 1);
    assert.deepEqual(sts.stats, { hits: 100, misses: 1, fetches: 1, fetchFailures: 0 });
  });

  test('concurrent first lookups of a domain share one TXT query and one fetch', async () => {
    world.publish(DOMAIN, '1', policyText('enforce', ['mx1.example.test']));
    let open!: () => void;
    world.gate = new Promise((resolve) => {
      open = resolve;
    });
    const lookups = Array.from({ length: 20 }, () => sts.policyFor(DOMAIN));
    open();
    const found = await Promise.all(lookups);
    assert.ok(found.every((p) => p?.mode === 'enforce'));
    assert.deepEqual(world.fetches, [DOMAIN]);
    assert.equal(world.txtQueries, 1);
  });

  test('a changed TXT id is noticed by the background re-check and the new policy fetched', async () => {
    world.publish(DOMAIN, '1', policyText('testing', ['mx1.example.test']));
    assert.equal((await sts.policyFor(DOMAIN))?.mode, 'testing');
    world.publish(DOMAIN, '2', policyText('enforce', ['mx1.example.test']));
    world.now += TXT_RECHECK_MS - 1;
    assert.equal((await sts.policyFor(DOMAIN))?.mode, 'testing', 'not re-checked before TXT_RECHECK_MS');
    await sts.idle();
    assert.equal(world.txtQueries, 1);
    world.now += 1;
    assert.equal((await sts.policyFor(DOMAIN))?.mode, 'testing', 'the cached policy answers at once');
    await sts.idle();
    assert.equal((await sts.policyFor(DOMAIN))?.mode, 'enforce');
    assert.deepEqual(world.fetches, [DOMAIN, DOMAIN]);
  });

  test('an unchanged TXT id does not fetch again', async () => {
    world.publish(DOMAIN, '1', policyText('enforce', ['mx1.example.test']));
    await sts.policyFor(DOMAIN);
    world.now += TXT_RECHECK_MS;
    await sts.policyFor(DOMAIN);
    await sts.idle();
    assert.equal(world.txtQueries, 2);
    assert.deepEqual(world.fetches, [DOMAIN]);
  });

  test('once max_age has passed the policy is fetched again, even with the same id', async () => {
    world.publish(DOMAIN, '1', policyText('enforce', ['mx1.example.test'], 3600));
    await sts.policyFor(DOMAIN);
    world.now += 3600 * 1000;
    world.publish(DOMAIN, '1', policyText('testing', ['mx1.example.test'], 3600));
    assert.equal((await sts.policyFor(DOMAIN))?.mode, 'testing');
    assert.deepEqual(world.fetches, [DOMAIN, DOMAIN]);
  });

  test('a failed refresh keeps the cached unexpired policy (RFC 8461 §5.1)', async () => {
    world.publish(DOMAIN, '1', policyText('enforce', ['mx1.example.test']));
    await sts.policyFor(DOMAIN);
    // New id, but the HTTPS server is down.
    world.publish(DOMAIN, '2', new Error('connect ECONNREFUSED'));
    world.now += TXT_RECHECK_MS;
    await sts.policyFor(DOMAIN);
    await sts.idle();
    assert.equal((await sts.policyFor(DOMAIN))?.mode, 'enforce');
    // The record vanished, then DNS fails: still the cached policy.
    world.txt.delete(`_mta-sts.${DOMAIN}`);
    world.now += TXT_RECHECK_MS;
    await sts.policyFor(DOMAIN);
    await sts.idle();
    world.txt.set(`_mta-sts.${DOMAIN}`, 'SERVFAIL');
    world.now += TXT_RECHECK_MS;
    await sts.policyFor(DOMAIN);
    await sts.idle();
    assert.equal((await sts.policyFor(DOMAIN))?.mode, 'enforce');
    assert.equal(sts.stats.fetchFailures, 1);
    // ...until it expires: then there is no policy.
    world.now += DAY_S * 1000;
    assert.equal(await sts.policyFor(DOMAIN), undefined);
  });

  test('a failed first fetch means no policy, and the next fetch waits FETCH_RETRY_MS', async () => {
    world.publish(DOMAIN, '1', new Error('HTTP 500'));
    assert.equal(await sts.policyFor(DOMAIN), undefined);
    world.publish(DOMAIN, '1', policyText('enforce', ['mx1.example.test']));
    world.now += FETCH_RETRY_MS - 1;
    assert.equal(await sts.policyFor(DOMAIN), undefined);
    world.now += 1;
    assert.equal((await sts.policyFor(DOMAIN))?.mode, 'enforce');
    assert.deepEqual(world.fetches, [DOMAIN, DOMAIN]);
  });

  test('an invalid policy file counts as a failed fetch', async () => {
    world.publish(DOMAIN, '1', 'version: STSv1\nmode: enforce\nmax_age: 60\n');
    assert.equal(await sts.policyFor(DOMAIN), undefined);
    assert.equal(sts.stats.fetchFailures, 1);
  });

  test('a domain without a record is asked again only after NO_POLICY_RECHECK_MS', async () => {
    assert.equal(await sts.policyFor(DOMAIN), undefined);
    assert.equal(await sts.policyFor(DOMAIN), undefined);
    assert.equal(world.txtQueries, 1);
    world.publish(DOMAIN, '1', policyText('enforce', ['mx1.example.test']));
    world.now += NO_POLICY_RECHECK_MS;
    assert.equal((await sts.policyFor(DOMAIN))?.mode, 'enforce');
    assert.equal(world.txtQueries, 2);
  });

  test('two v=STSv1 records: no policy, nothing fetched', async () => {
    world.txt.set(`_mta-sts.${DOMAIN}`, ['v=STSv1; id=1', 'v=STSv1; id=2']);
    world.policies.set(DOMAIN, policyText('enforce', ['mx1.example.test']));
    assert.equal(await sts.policyFor(DOMAIN), undefined);
    assert.deepEqual(world.fetches, []);
  });

  test('the cache keeps cache_size domains, evicting the least recently used', async () => {
    const small = world.newCache({ cacheSize: 2 });
    for (const d of ['a.test', 'b.test', 'c.test']) world.publish(d, '1', policyText('enforce', [`mx.${d}`]));
    await small.policyFor('a.test');
    await small.policyFor('b.test');
    await small.policyFor('a.test');
    await small.policyFor('c.test'); // evicts b.test
    await small.policyFor('a.test');
    await small.policyFor('b.test');
    assert.deepEqual(world.fetches, ['a.test', 'b.test', 'c.test', 'b.test']);
  });
});

describe('MTA-STS decisions for one delivery', () => {
  let world: World;
  let sts: MtaStsPolicies;
  beforeEach(() => {
    world = new World();
    sts = world.newCache();
  });

  test('enforce keeps only the MX hosts the policy names and requires verified TLS', async () => {
    world.publish(DOMAIN, '1', policyText('enforce', ['*.mail.example.test']));
    const decision = await sts.decide(
      DOMAIN,
      hosts('a.mail.example.test', 'evil.test', 'b.mail.example.test'),
    );
    assert.deepEqual(
      decision?.hosts.map((h) => h.hostname),
      ['a.mail.example.test', 'b.mail.example.test'],
    );
    assert.equal(decision?.mode, 'enforce');
    assert.equal(decision?.tls, 'require');
    assert.equal(decision?.tlsVerify, true);
    assert.equal(decision?.refuse, undefined);
  });

  test('enforce with no matching MX refuses with 451 4.7.5, after checking for a newer policy', async () => {
    world.publish(DOMAIN, '1', policyText('enforce', ['mx1.example.test']));
    await sts.policyFor(DOMAIN);
    const decision = await sts.decide(DOMAIN, hosts('mx9.example.test'));
    assert.deepEqual(decision?.hosts, []);
    assert.deepEqual(decision?.refuse, {
      code: 451,
      enhanced: '4.7.5',
      text: 'MTA-STS: no MX host matches the policy of example.test (MX: mx9.example.test)',
      stage: 'connect',
    });
    assert.equal(world.txtQueries, 2, 'the TXT id was checked again before refusing');
    // The domain moved its MX and published a new policy: the next delivery uses it at once.
    world.publish(DOMAIN, '2', policyText('enforce', ['mx9.example.test']));
    const next = await sts.decide(DOMAIN, hosts('mx9.example.test'));
    assert.deepEqual(
      next?.hosts.map((h) => h.hostname),
      ['mx9.example.test'],
    );
  });

  test('testing keeps every host and TLS as configured, and reviews what enforce would refuse', async () => {
    world.publish(DOMAIN, '1', policyText('testing', ['mx1.example.test']));
    const decision = await sts.decide(DOMAIN, hosts('mx1.example.test', 'mx2.example.test'));
    assert.equal(decision?.mode, 'testing');
    assert.equal(decision?.hosts.length, 2);
    assert.equal(decision?.tls, undefined);
    assert.equal(decision?.tlsVerify, undefined);
    assert.deepEqual(decision?.review?.({ hostname: 'mx1.example.test', tls: true, tlsVerified: true }), [
      'MX mx2.example.test not in the policy',
    ]);
    assert.deepEqual(decision?.review?.({ hostname: 'mx2.example.test', tls: false }), [
      'MX mx2.example.test not in the policy',
      'delivered to mx2.example.test, not in the policy',
      'mx2.example.test without TLS',
    ]);
    assert.deepEqual(decision?.review?.({ hostname: 'mx1.example.test', tls: true, tlsVerified: false }), [
      'MX mx2.example.test not in the policy',
      'mx1.example.test certificate not verified',
    ]);
  });

  test('mode none and no policy change nothing', async () => {
    world.publish(DOMAIN, '1', policyText('none', []));
    assert.equal(await sts.decide(DOMAIN, hosts('mx1.example.test')), undefined);
    assert.equal(await sts.decide('other.test', hosts('mx1.other.test')), undefined);
  });
});
