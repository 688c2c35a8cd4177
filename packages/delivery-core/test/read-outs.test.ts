/**
 * Herald's read-out verbs answer plain data (plain objects, arrays and primitives: no Redis or
 * BullMQ objects, no Maps): `queueStats` (exact totals, the per-site split), `tenantStatus` (counts, rates,
 * policy, pause), `explain` (static route or MX hosts, site, source pool, limits with their layer,
 * the live shaping state). Real Redis and a loopback DNS server.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHerald, type Herald, HeraldError } from '@herald/delivery-core';
import { type DnsServerHandle, type RedisHandle, startDnsServer, startRedis } from '@herald/test-harness';

const MESSAGE = { from: 'app@origin.test', subject: 's', text: 't' };

/** True when `value` holds only plain objects, arrays and primitives (no class instances, no Maps). */
function isPlain(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return typeof value !== 'function';
  if (Array.isArray(value)) return value.every(isPlain);
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && Object.values(value).every(isPlain);
}

describe('the read-out verbs', () => {
  let redis: RedisHandle;
  let dns: DnsServerHandle;
  let dir: string;
  let herald: Herald;
  before(async () => {
    redis = await startRedis();
    dns = await startDnsServer({
      zone: {
        'hosted.test': { MX: [{ preference: 1, exchange: 'aspmx.l.google.com' }] },
        'aspmx.l.google.com': { A: ['127.0.0.2'] },
      },
    });
    dir = await mkdtemp(join(tmpdir(), 'herald-read-outs-'));
    const shapingFile = join(dir, 'shaping.yaml');
    await writeFile(
      shapingFile,
      `pools:\n  bulk:\n    sources: [{ ip: "127.0.0.10" }]\npool_selection:\n  - { tenant: acme, stream: bulk, pool: bulk }\n`,
    );
    herald = await createHerald({
      redis: { url: redis.url },
      dns: { servers: [dns.address] },
      events: { log_level: 'silent' },
      shaping: { file: shapingFile },
      routes: [{ match: 'routed.test', via: '127.0.0.1:2599', tls: 'none' }],
      tenants: { acme: { reputation_window: '2h', bounce_rate_threshold: 0.2 } },
    });
  });
  after(async () => {
    await herald.close();
    await rm(dir, { recursive: true, force: true });
    await dns.close();
    await redis.stop();
  });

  it('queueStats: exact totals and the jobs per destination, as plain data', async () => {
    await herald.send({ ...MESSAGE, to: ['a@one.test', 'b@one.test', 'c@two.test'] });
    const stats = await herald.queueStats();
    assert.ok(isPlain(stats));
    assert.deepEqual(stats.totals, { ready: 2, scheduled: 0, inFlight: 0 });
    assert.deepEqual(stats.sites.map((s) => [s.site, s.ready]).sort(), [
      ['domain:one.test', 1],
      ['domain:two.test', 1],
    ]);
    const totalsOnly = await herald.queueStats({ maxJobs: 0 });
    assert.deepEqual(totalsOnly.totals, stats.totals);
    assert.equal(totalsOnly.sites.length, 0);
    assert.equal(totalsOnly.truncated, true);
  });

  it("tenantStatus: the tenant's counts over its window, its policy and its pause", async () => {
    await herald.send({ ...MESSAGE, tenant: 'acme', to: ['x@one.test', 'y@one.test'] });
    const sending = await herald.tenantStatus('acme');
    assert.ok(isPlain(sending));
    assert.equal(sending.rates.sent, 2);
    assert.equal(sending.rates.hard, 0);
    assert.equal(sending.policy.reputation_window, 2 * 3_600_000);
    assert.equal(sending.policy.bounce_rate_threshold, 0.2);
    assert.equal(sending.paused, undefined);
    await herald.pauseTenant('acme', 'by test');
    const paused = await herald.tenantStatus('acme');
    assert.equal(paused.paused?.reason, 'by test');
    await herald.resumeTenant('acme');
    assert.equal((await herald.tenantStatus('acme')).paused, undefined);
  });

  it('explain: MX hosts, the provider site, the selected pool, each limit with its layer, the live state', async () => {
    const until = await herald.suspendSite('provider:gmail', 60_000, 'by test');
    const explained = await herald.explain('hosted.test', { tenant: 'acme', stream: 'bulk' });
    assert.ok(isPlain(explained));
    assert.equal(explained.route, undefined);
    assert.deepEqual(
      explained.mx?.map((h) => [h.exchange, h.addresses]),
      [['aspmx.l.google.com', ['127.0.0.2']]],
    );
    assert.equal(explained.site, 'provider:gmail');
    assert.equal(explained.provider, 'gmail');
    assert.deepEqual(explained.source, {
      selected: { pool: 'bulk', sources: [{ ip: '127.0.0.10', weight: 1 }] },
      pool: 'bulk',
    });
    assert.ok(explained.limits.layers.includes('pool:bulk'), explained.limits.layers.join(' < '));
    assert.equal(explained.live.lane, 'provider:gmail');
    assert.equal(explained.live.suspendedUntil, until);
    assert.equal(explained.live.connections.held, 0);
    assert.equal(explained.live.connections.allowed, explained.limits.limits.initial_connections);
    await herald.resumeSite('provider:gmail');
  });

  it('explain: a static route wins (no MX lookup) and its tls is set by the route', async () => {
    const explained = await herald.explain('routed.test', { ip: '127.0.0.10' });
    assert.equal(explained.route?.via, '127.0.0.1:2599');
    assert.equal(explained.mx, undefined);
    assert.equal(explained.site, 'route:127.0.0.1:2599');
    assert.deepEqual(
      explained.limits.explain.find((o) => o.key === 'tls'),
      { key: 'tls', value: 'none', from: 'route routed.test' },
    );
    assert.equal(explained.live.lane, 'route:127.0.0.1:2599@127.0.0.10');
    assert.deepEqual(explained.live.warmup, { ip: '127.0.0.10' });
  });

  it('explain: a failed MX lookup is HERALD_DNS_FAILED naming the domain', async () => {
    await assert.rejects(
      herald.explain('nowhere.test'),
      (err: unknown) =>
        err instanceof HeraldError &&
        err.code === 'HERALD_DNS_FAILED' &&
        /^nowhere\.test: /.test(err.message),
    );
  });
});
