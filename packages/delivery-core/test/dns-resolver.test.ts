import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { type DnsServerHandle, startDnsServer, type Zone } from '@herald/test-harness';
import { createResolver, type MxHost, type Resolver, type ResolverOptions } from '../src/dns/index.js';
import { PermanentError, TransientError } from '../src/errors/index.js';

/** Short enough to keep timeout tests quick, long enough for a loopback answer. */
const TEST_TIMEOUT_MS = 200;

const zone: Zone = {
  'example.test': {
    MX: [
      { preference: 30, exchange: 'mx3.example.test' },
      { preference: 10, exchange: 'mx1.example.test.' },
      { preference: 20, exchange: 'mx2.example.test' },
    ],
  },
  'mx1.example.test': { A: ['127.0.0.11'], AAAA: ['::1'] },
  'mx2.example.test': { A: ['127.0.0.12'] },
  'mx3.example.test': { AAAA: ['::3'] },
  'implicit.test': { A: ['127.0.0.20'], TXT: ['no mx here'] },
  'bare.test': { TXT: ['no mx, no address'] },
  'nullmx.test': { MX: [{ preference: 0, exchange: '.' }], A: ['127.0.0.30'] },
  'broken.test': { rcode: 'SERVFAIL' },
  'refused.test': { rcode: 'REFUSED' },
  'silent.test': { drop: true },
  'big.test': { truncate: true, MX: [{ preference: 5, exchange: 'mx2.example.test' }] },
  'ghosts.test': {
    MX: [
      { preference: 10, exchange: 'ghost1.test' },
      { preference: 20, exchange: 'ghost2.test' },
    ],
  },
  'halfdead.test': {
    MX: [
      { preference: 10, exchange: 'ghost1.test' },
      { preference: 20, exchange: 'mx2.example.test' },
    ],
  },
  'flaky.test': {
    MX: [
      { preference: 10, exchange: 'broken.test' },
      { preference: 20, exchange: 'ghost1.test' },
    ],
  },
  'alias.test': { CNAME: 'mx2.example.test' },
  'dangling.test': { CNAME: 'gone.test' },
};

describe('DNS resolver against the loopback DNS server', () => {
  let server: DnsServerHandle;
  const resolvers: Resolver[] = [];

  function resolver(options: ResolverOptions = {}): Resolver {
    const r = createResolver({ servers: [server.address], timeoutMs: TEST_TIMEOUT_MS, ...options });
    resolvers.push(r);
    return r;
  }

  function seen(name: string): string[] {
    return server.queries.filter((q) => q.name === name).map((q) => `${q.type}/${q.transport}`);
  }

  before(async () => {
    server = await startDnsServer({ zone });
  });
  afterEach(async () => {
    await Promise.all(resolvers.splice(0).map((r) => r.close()));
    server.queries.length = 0;
  });
  after(async () => {
    await server.close();
  });

  test('MX hosts come out by ascending preference with A then AAAA addresses', async () => {
    const hosts = await resolver().resolveMx('Example.TEST.');
    assert.deepEqual(hosts, [
      { exchange: 'mx1.example.test', preference: 10, addresses: ['127.0.0.11', '::1'], implicit: false },
      { exchange: 'mx2.example.test', preference: 20, addresses: ['127.0.0.12'], implicit: false },
      { exchange: 'mx3.example.test', preference: 30, addresses: ['::3'], implicit: false },
    ] satisfies MxHost[]);
  });

  test('a domain without MX but with an address is its own implicit MX', async () => {
    const hosts = await resolver().resolveMx('implicit.test');
    assert.deepEqual(hosts, [
      { exchange: 'implicit.test', preference: 0, addresses: ['127.0.0.20'], implicit: true },
    ]);
  });

  test('a domain without MX and without address fails permanently with 5.1.2', async () => {
    await assert.rejects(resolver().resolveMx('bare.test'), (err: unknown) => {
      assert.ok(err instanceof PermanentError);
      assert.equal(err.reply.code, 550);
      assert.equal(err.reply.enhanced, '5.1.2');
      return true;
    });
  });

  test('a null MX fails permanently with 556 5.1.10 and asks for no address', async () => {
    await assert.rejects(resolver().resolveMx('nullmx.test'), (err: unknown) => {
      assert.ok(err instanceof PermanentError);
      assert.deepEqual(err.reply, {
        code: 556,
        enhanced: '5.1.10',
        text: 'nullmx.test does not accept mail (null MX)',
        stage: 'dns',
      });
      assert.equal(err.fault, 'dns');
      return true;
    });
    assert.deepEqual(
      server.queries.map((q) => q.type),
      ['MX'],
    );
  });

  test('a domain that does not exist fails permanently with 550 5.1.2', async () => {
    await assert.rejects(resolver().resolveMx('nowhere.test'), (err: unknown) => {
      assert.ok(err instanceof PermanentError);
      assert.equal(err.reply.code, 550);
      assert.equal(err.reply.enhanced, '5.1.2');
      assert.equal(err.reply.text, 'domain nowhere.test does not exist');
      return true;
    });
  });

  test('SERVFAIL is a transient 451 4.4.3 after every attempt', async () => {
    await assert.rejects(resolver({ attempts: 2 }).resolveMx('broken.test'), (err: unknown) => {
      assert.ok(err instanceof TransientError);
      assert.equal(err.reply.code, 451);
      assert.equal(err.reply.enhanced, '4.4.3');
      assert.equal(err.reply.stage, 'dns');
      assert.equal(err.fault, 'dns');
      return true;
    });
    assert.deepEqual(seen('broken.test'), ['MX/udp', 'MX/udp']);
  });

  test('REFUSED is transient too', async () => {
    await assert.rejects(resolver({ attempts: 1 }).query('refused.test', 'A'), TransientError);
  });

  test('a server that never answers times out into a transient error after `attempts` tries', async () => {
    await assert.rejects(resolver({ attempts: 3 }).resolveMx('silent.test'), (err: unknown) => {
      assert.ok(err instanceof TransientError);
      assert.equal(err.reply.enhanced, '4.4.3');
      assert.match(err.reply.text, /timed out/);
      return true;
    });
    assert.deepEqual(seen('silent.test'), ['MX/udp', 'MX/udp', 'MX/udp']);
  });

  test('a truncated UDP answer is asked again over TCP', async () => {
    const hosts = await resolver().resolveMx('big.test');
    assert.deepEqual(
      hosts.map((h) => h.exchange),
      ['mx2.example.test'],
    );
    assert.deepEqual(seen('big.test'), ['MX/udp', 'MX/tcp']);
  });

  test('MX hosts without addresses are dropped', async () => {
    const hosts = await resolver().resolveMx('halfdead.test');
    assert.deepEqual(
      hosts.map((h) => h.exchange),
      ['mx2.example.test'],
    );
  });

  test('when no MX host has an address the failure is permanent 550 5.4.4', async () => {
    await assert.rejects(resolver().resolveMx('ghosts.test'), (err: unknown) => {
      assert.ok(err instanceof PermanentError);
      assert.equal(err.reply.enhanced, '5.4.4');
      assert.equal(err.reply.text, 'no MX host of ghosts.test has an address');
      return true;
    });
  });

  test('when no MX host resolves and one failed transiently the failure is transient', async () => {
    await assert.rejects(resolver({ attempts: 1 }).resolveMx('flaky.test'), (err: unknown) => {
      assert.ok(err instanceof TransientError);
      assert.equal(err.reply.enhanced, '4.4.3');
      return true;
    });
  });

  test('a CNAME in the answer is followed to the records of the asked type', async () => {
    const answer = await resolver().query('alias.test', 'A');
    assert.equal(answer.rcode, 'NOERROR');
    assert.deepEqual(answer.answers, [{ type: 'A', address: '127.0.0.12' }]);
  });

  test('a CNAME whose target is not in the answer is chased with a second query', async () => {
    const answer = await resolver().query('dangling.test', 'A');
    assert.equal(answer.rcode, 'NXDOMAIN');
    assert.deepEqual(answer.answers, []);
    assert.deepEqual(seen('gone.test'), ['A/udp']);
  });

  test('TXT and PTR answers are decoded', async () => {
    server.setZone({ ...zone, '5.0.0.127.in-addr.arpa': { PTR: ['Host.Example.Test.'] } });
    try {
      const r = resolver();
      assert.deepEqual((await r.query('implicit.test', 'TXT')).answers, [
        { type: 'TXT', text: 'no mx here' },
      ]);
      assert.deepEqual((await r.query('5.0.0.127.in-addr.arpa', 'PTR')).answers, [
        { type: 'PTR', name: 'host.example.test' },
      ]);
    } finally {
      server.setZone(zone);
    }
  });

  test('resolveAddresses returns an IP literal as is and [] for a name without addresses', async () => {
    const r = resolver();
    assert.deepEqual(await r.resolveAddresses('127.0.0.99'), ['127.0.0.99']);
    assert.deepEqual(await r.resolveAddresses('bare.test'), []);
    assert.deepEqual(await r.resolveAddresses('nowhere.test'), []);
  });
});

describe('DNS resolver with several servers', () => {
  test('an attempt that times out on the first server is retried on the second', async () => {
    const dead = await startDnsServer({ zone: { 'example.test': { drop: true } } });
    const alive = await startDnsServer({ zone });
    const r = createResolver({
      servers: [dead.address, alive.address],
      timeoutMs: TEST_TIMEOUT_MS,
      attempts: 2,
    });
    try {
      const answer = await r.query('example.test', 'MX');
      assert.equal(answer.answers.length, 3);
      assert.equal(dead.queries.length, 1);
      assert.equal(alive.queries.length, 1);
    } finally {
      await r.close();
      await Promise.all([dead.close(), alive.close()]);
    }
  });
});
