/**
 * Label cardinality stays capped: more sites and tenants than MAX_SITE_LABELS / MAX_TENANT_LABELS
 * appear, and every per-site and per-tenant family keeps at most the cap plus `other`, with the
 * counts of the rest summed into `other` (nothing lost). Shaping-file providers stay named past the
 * cap. Also: the shaping-wait layers table, and a delivery thread's counts surviving its restart.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type HeraldEvent, HeraldMetrics } from '@herald/delivery-core';
import {
  DeliveryMeter,
  DeliverySnapshotBoard,
  MAX_SITE_LABELS,
  MAX_TENANT_LABELS,
  OTHER_LABEL,
  SITE_QUEUE_SCAN_MAX_JOBS,
  throttleLayer,
} from '@herald/delivery-core/metrics';

const OVER = 3;

type Series = { labels: Record<string, string | number>; value: number; metricName?: string };

async function series(metrics: HeraldMetrics, name: string): Promise<Series[]> {
  const all = await metrics.registry.getMetricsAsJSON();
  const found = all.find((m) => m.name === name);
  assert.ok(found, `${name} is registered`);
  return (found as unknown as { values: Series[] }).values;
}

function distinct(values: Series[], label: string): Set<string> {
  return new Set(values.map((v) => String(v.labels[label])));
}

function sum(values: Series[]): number {
  return values.reduce((total, v) => total + v.value, 0);
}

function delivered(site: string, tenant: string): HeraldEvent {
  return {
    type: 'delivered',
    time: 0,
    messageId: `m-${site}`,
    tenant,
    domain: 'example.test',
    recipient: 'r@example.test',
    attempt: 1,
    reply: { code: 250, enhanced: '2.0.0', text: 'ok', stage: 'data' },
    latencyMs: 10,
    site,
  };
}

describe('metric label caps', () => {
  test('more sites and tenants than the caps: at most cap + other series each, no count lost', async () => {
    const metrics = new HeraldMetrics();
    const sites = Array.from({ length: MAX_SITE_LABELS * OVER }, (_, i) => `mx:mx${i}.example.test`);
    const tenants = Array.from({ length: MAX_TENANT_LABELS * OVER }, (_, i) => `tenant-${i}`);
    for (const [i, site] of sites.entries()) {
      metrics.observe(delivered(site, tenants[i % tenants.length]!));
      metrics.observe({
        type: 'attempt',
        time: 0,
        messageId: `m${i}`,
        tenant: 't',
        domain: 'example.test',
        attempt: 1,
        hostErrors: [],
        results: [],
        durationMs: 120,
        site,
      });
      metrics.observe({ type: 'site_suspended', time: 0, site, reason: 'operator' });
    }
    for (const tenant of tenants) {
      metrics.observe({
        type: 'accepted',
        time: 0,
        messageId: `a-${tenant}`,
        tenant,
        from: 's@example.test',
        recipients: ['r@example.test'],
        size: 1,
        jobs: 1,
        source: 'api',
      });
      metrics.observe({
        type: 'complaint_received',
        time: 0,
        tenant,
        recipient: 'r@example.test',
        reason: 'feedback',
        hard: false,
        action: 'failed',
        suppressed: true,
      });
    }
    // A provider of the shaping file, seen after the cap filled, keeps its own series.
    metrics.observe(delivered('provider:gmail', 'tenant-0'));

    for (const name of ['herald_deliveries_total', 'herald_site_transitions_total']) {
      const values = await series(metrics, name);
      const labels = distinct(values, 'site');
      assert.ok(labels.size <= MAX_SITE_LABELS + 2, `${name}: ${labels.size} site labels`);
      assert.ok(labels.has(OTHER_LABEL), `${name} counts the rest under other`);
    }
    const deliveries = await series(metrics, 'herald_deliveries_total');
    assert.equal(sum(deliveries), sites.length + 1, 'every delivery counted once');
    assert.ok(distinct(deliveries, 'site').has('provider:gmail'));
    const durations = (await series(metrics, 'herald_delivery_attempt_duration_seconds')).filter(
      (v) => v.metricName === 'herald_delivery_attempt_duration_seconds_count',
    );
    assert.ok(distinct(durations, 'site').size <= MAX_SITE_LABELS + 1);
    assert.equal(sum(durations), sites.length);

    for (const name of [
      'herald_tenant_messages_accepted_total',
      'herald_tenant_recipients_total',
      'herald_tenant_feedback_total',
    ]) {
      const values = await series(metrics, name);
      const labels = distinct(values, 'tenant');
      assert.ok(labels.size <= MAX_TENANT_LABELS + 1, `${name}: ${labels.size} tenant labels`);
      assert.ok(labels.has(OTHER_LABEL), `${name} counts the rest under other`);
    }
    assert.equal(sum(await series(metrics, 'herald_tenant_feedback_total')), tenants.length);
  });

  test('per-site queue gauges keep the deepest sites and sum the rest into other', async () => {
    const sites = Array.from({ length: MAX_SITE_LABELS * OVER }, (_, i) => ({
      site: `mx:mx${i}.example.test`,
      ready: i,
      scheduled: 1,
      inFlight: 0,
      oldestAgeMs: i * 1000,
    }));
    const scans: number[] = [];
    const reads: string[] = [];
    const metrics = new HeraldMetrics({
      siteQueues: {
        queueStats: async ({ maxJobs }) => {
          scans.push(maxJobs);
          return { sites, truncated: false };
        },
        // Every site is suspended; only the most queued get read (and a series).
        suspendedUntil: async (site) => {
          reads.push(site);
          return Date.now() + 60_000;
        },
      },
    });
    const depth = await series(metrics, 'herald_site_queue_depth');
    const labels = distinct(depth, 'site');
    assert.equal(labels.size, MAX_SITE_LABELS + 1);
    assert.ok(labels.has(`mx:mx${sites.length - 1}.example.test`), 'the deepest site is named');
    assert.ok(!labels.has('mx:mx0.example.test'), 'the shallowest is in other');
    const ready = depth.filter((v) => v.labels.state === 'ready');
    assert.equal(
      sum(ready),
      sites.reduce((t, s) => t + s.ready, 0),
      'other keeps the rest',
    );
    const oldest = await series(metrics, 'herald_site_queue_oldest_age_seconds');
    assert.equal(
      oldest.find((v) => v.labels.site === OTHER_LABEL)?.value,
      sites.length - MAX_SITE_LABELS - 1,
    );
    const suspended = await series(metrics, 'herald_site_suspended_seconds');
    assert.equal(suspended.length, MAX_SITE_LABELS);
    assert.ok(suspended.every((v) => v.value > 0 && v.value <= 60));
    // A second scrape within the refresh interval reads the cache: one bounded scan in all.
    await metrics.metrics();
    assert.deepEqual(scans, [SITE_QUEUE_SCAN_MAX_JOBS]);
    assert.equal(reads.length, MAX_SITE_LABELS, 'suspensions read for the top sites only, once');
  });

  test('connections and shaping waits from delivery snapshots are capped per site too', async () => {
    const metrics = new HeraldMetrics();
    const connections: Record<string, number> = {};
    const waits: Record<string, number> = {};
    for (let i = 0; i < MAX_SITE_LABELS * OVER; i++) {
      connections[`mx:c${i}`] = 1;
      waits[`mx:c${i}\u0000site_rate`] = 2;
    }
    metrics.addDeliverySource(() => [
      { thread: 0, snapshot: { connections, waits, eventLoopLagSeconds: 0.01 } },
    ]);
    const open = await series(metrics, 'herald_site_connections_open');
    assert.ok(distinct(open, 'site').size <= MAX_SITE_LABELS + 1);
    assert.equal(sum(open), MAX_SITE_LABELS * OVER);
    const waited = await series(metrics, 'herald_shaping_waits_total');
    assert.ok(distinct(waited, 'site').size <= MAX_SITE_LABELS + 1);
    assert.equal(sum(waited), 2 * MAX_SITE_LABELS * OVER);
    const lag = await series(metrics, 'herald_delivery_thread_eventloop_lag_seconds');
    assert.deepEqual(
      lag.map((v) => [v.labels.thread, v.value]),
      [['0', 0.01]],
    );
  });
});

describe('shaping waits', () => {
  test("a delivery thread's snapshot keeps at most the site cap plus other, all waits counted", () => {
    const meter = new DeliveryMeter();
    for (let i = 0; i < MAX_SITE_LABELS * OVER; i++) meter.throttled(`mx:w${i}`, 'site mx:w suspended');
    const { waits } = meter.snapshot(new Map());
    assert.equal(Object.keys(waits).length, MAX_SITE_LABELS + 1);
    assert.equal(waits[`${OTHER_LABEL}\u0000site_suspended`], MAX_SITE_LABELS * (OVER - 1));
  });

  test('each gate and lease reason falls in its layer', () => {
    const table: [string, string][] = [
      ['site provider:gmail suspended', 'site_suspended'],
      ['tenant acme paused', 'tenant_paused'],
      ['max_message_rate tenant:acme', 'tenant_rate'],
      ['max_message_rate campaign:acme:spring', 'campaign_rate'],
      ['max_message_rate site:provider:gmail@192.0.2.1', 'site_rate'],
      ['provider:gmail has 4 attempts in flight', 'site_concurrency'],
      ['pool bulk: every source IP is suspended or at its warm-up cap at provider:gmail', 'source_pool'],
      ['warm-up cap of 192.0.2.1 at provider:gmail reached today', 'warmup_cap'],
      ['site provider:gmail is at its connection rate', 'connection_rate'],
      ['site provider:gmail is at its limit of 10 connections', 'connection_limit'],
      ['something new', 'other'],
    ];
    for (const [reason, layer] of table) assert.equal(throttleLayer(reason), layer, reason);
  });

  test("a delivery thread's waits stay counted after it ends; its connections do not", () => {
    const board = new DeliverySnapshotBoard();
    board.update(0, { waits: { 'a\u0000site_rate': 3 }, connections: { a: 2 } });
    board.retire(0);
    board.update(0, { waits: { 'a\u0000site_rate': 1 }, connections: { a: 1 } });
    const all = board.snapshots();
    const waits = all.reduce((t, s) => t + (s.snapshot.waits['a\u0000site_rate'] ?? 0), 0);
    const open = all.reduce((t, s) => t + (s.snapshot.connections.a ?? 0), 0);
    assert.equal(waits, 4);
    assert.equal(open, 1);
  });
});
