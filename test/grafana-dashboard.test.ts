/**
 * The Grafana dashboard (docker/grafana/herald.json) queries only metrics a real relay exports:
 * a relay (one delivery thread) delivers, bounces and defers mail to a sink, a site is suspended
 * and a tenant paused, then every metric name each panel's PromQL selects (a small tokenizer,
 * test/lib/promql.ts) must be a family in the relay's /metrics, and have samples unless it is
 * one this traffic cannot produce (listed, with why). The per-site series carry the site the
 * attempt rolled up to, and what the delivery thread measures outside events (shaping waits,
 * connections open, its event-loop lag) reaches the main thread's /metrics.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { exposedNames, familyOf, metricNames } from './lib/promql.js';
import { type Stack, startStack } from './lib/stack.js';
import { waitUntil } from './lib/wait.js';

const DASHBOARD = new URL('../docker/grafana/herald.json', import.meta.url);
const ROWS = ['Intake', 'Delivery', 'Sites', 'Tenants', 'Bounces', 'Redis', 'Process'];
const SUSPEND_MS = 10 * 60_000;

/** Families the dashboard queries that this relay's traffic leaves without samples, and why. */
const NOT_PRODUCED_HERE: Record<string, string> = {
  herald_smtp_refusals_total: 'no client hits a door limit',
  herald_smtp_redis_timeouts_total: 'Redis answers in time',
  herald_webhook_outbox_depth: 'no webhook endpoint is configured',
  herald_webhook_requests_total: 'no webhook endpoint is configured',
  herald_webhook_batches_dead_lettered_total: 'no webhook endpoint is configured',
  herald_tenant_feedback_total: "fed by the bounce-processor's reports (bounce-processor-http.test.ts)",
};

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
  datasource?: { uid: string };
}

const sender = 'app@sender.test';

function message(to: string[]): string {
  return `From: ${sender}\r\nTo: ${to.join(', ')}\r\nSubject: metrics\r\nMessage-ID: <metrics@sender.test>\r\n\r\nHello.\r\n`;
}

describe('PromQL metric names', () => {
  it('reads names, not functions, labels, keywords, variables or durations', () => {
    assert.deepEqual(
      metricNames(
        'histogram_quantile(0.95, sum by (le, site) (rate(a_bucket{site=~"x|y", q="{b}"}[$__rate_interval])))',
      ),
      ['a_bucket'],
    );
    assert.deepEqual(
      metricNames('sum without (instance) (rate(b_total[5m] offset 1h)) / on (tenant) group_left c and d'),
      ['b_total', 'c', 'd'],
    );
    assert.deepEqual(metricNames('topk(10, max by (site) (e{instance=~"$instance"})) > bool 0.5'), ['e']);
  });
});

describe('the Grafana dashboard on a real relay', () => {
  let stack: Stack;
  let site: string;
  let scrape: string;

  before(async () => {
    stack = await startStack({
      sinks: [
        {
          host: '127.0.0.2',
          script: {
            rcpt: {
              'bounce@example.test': { code: 550, enhanced: '5.1.1', text: 'no such user' },
              'later@example.test': { code: 451, enhanced: '4.2.0', text: 'try later' },
            },
          },
        },
      ],
      // Idle connections stay open, so connections per site has something to count.
      config: { delivery: { idle_timeout: '60s' } },
    });
    const to = ['ok@example.test', 'bounce@example.test', 'later@example.test'];
    const sent = await stack.submit({ from: sender, to, body: message(to) });
    assert.equal(sent.code, 250, sent.response);
    assert.equal((await stack.events.terminal('ok@example.test')).type, 'delivered');
    assert.equal((await stack.events.terminal('bounce@example.test')).type, 'bounced');
    const deferred = await stack.events.outcome('deferred', 'later@example.test');
    assert.ok(deferred.site, 'a recipient event names its site');
    site = deferred.site;
    assert.equal(stack.events.attempts(deferred.messageId)[0]?.site, site, 'so does the attempt');
    // The retry of later@ is held back by the suspension: a shaping wait in the delivery thread.
    await stack.relay.herald.suspendSite(site, SUSPEND_MS, 'operator');
    await stack.relay.herald.pauseTenant(deferred.tenant, 'operator');
    scrape = await waitUntil(
      'the delivery thread reports a shaping wait for the suspended site, and the per-site queue scan is in',
      async () => {
        const res = await stack.get('/metrics');
        assert.equal(res.status, 200);
        const wait = new RegExp(
          `^herald_shaping_waits_total\\{site="${site}",layer="site_suspended"\\} [1-9]`,
          'm',
        );
        // The per-site queue gauges come from a cached scan a scrape waits for only briefly
        // (metrics/site-queue-cache.ts): on a busy machine the first scrapes may precede it.
        const queued = /^herald_site_queue_depth\{/m;
        return wait.test(res.body) && queued.test(res.body) && res.body;
      },
    );
  });
  after(() => stack?.stop());

  it('has the rows intake, delivery, sites, tenants, bounces, Redis, process; the datasource a variable', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8'));
    assert.ok(dashboard.schemaVersion >= 39, `schemaVersion ${dashboard.schemaVersion}`);
    const panels: Panel[] = dashboard.panels;
    assert.deepEqual(
      panels.filter((p) => p.type === 'row').map((p) => p.title),
      ROWS,
    );
    const variable = dashboard.templating.list.find((v: { type: string }) => v.type === 'datasource');
    assert.equal(variable?.query, 'prometheus');
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      assert.equal(panel.datasource?.uid, `\${${variable.name}}`, `${panel.title}: datasource variable`);
      assert.ok(panel.targets?.length, `${panel.title} queries something`);
    }
  });

  it('every metric a panel queries is in the relay /metrics', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8'));
    const { samples, families } = exposedNames(scrape);
    const queried = new Map<string, string>();
    for (const panel of dashboard.panels as Panel[])
      for (const target of panel.targets ?? [])
        for (const name of metricNames(target.expr)) queried.set(name, panel.title);
    assert.ok(queried.size >= 30, `the dashboard queries ${queried.size} metrics`);
    const missing: string[] = [];
    const empty: string[] = [];
    for (const [name, panel] of queried) {
      const family = familyOf(name, families);
      if (!families.has(family) && !samples.has(name)) missing.push(`${name} (${panel})`);
      else if (!samples.has(name) && !(family in NOT_PRODUCED_HERE)) empty.push(`${name} (${panel})`);
    }
    assert.deepEqual(missing, [], 'queried metrics absent from /metrics');
    assert.deepEqual(empty, [], 'queried metrics without samples after this traffic');
    for (const name of Object.keys(NOT_PRODUCED_HERE))
      assert.ok(queried.has(name), `${name} is listed as not produced here but no panel queries it`);
  });

  it('per-site series carry the site; thread measurements reach the main thread', () => {
    const line = (pattern: string) => assert.match(scrape, new RegExp(`^${pattern}`, 'm'), pattern);
    const s = site.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    line(`herald_deliveries_total\\{site="${s}",result="delivered",reply_class="2xx"\\} 1$`);
    line(`herald_deliveries_total\\{site="${s}",result="bounced",reply_class="5xx"\\} 1$`);
    line(`herald_deliveries_total\\{site="${s}",result="deferred",reply_class="4xx"\\} [1-9]\\d*$`);
    // A retry of later@ may come before the suspension: at least one attempt, deferral.
    line(`herald_delivery_attempt_duration_seconds_count\\{site="${s}"\\} [1-9]\\d*$`);
    line(`herald_site_transitions_total\\{type="site_suspended",site="${s}"\\} 1$`);
    line(`herald_site_connections_open\\{site="${s}"\\} [1-9]`);
    line(`herald_site_queue_depth\\{site="${s}",state="(ready|scheduled|in_flight)"\\} 1$`);
    line(`herald_site_queue_oldest_age_seconds\\{site="${s}"\\} \\d`);
    line(`herald_site_suspended_seconds\\{site="${s}"\\} [1-9]`);
    line('herald_delivery_thread_eventloop_lag_seconds\\{thread="0"\\} \\d');
    line('herald_redis_up 1$');
    line('herald_redis_ping_duration_seconds_count [1-9]');
  });
});
