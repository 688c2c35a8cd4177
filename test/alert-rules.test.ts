/**
 * docker/prometheus/herald-rules.yml: every herald_* metric its alerts (and the prometheus-adapter
 * rule of the queue-autoscaling overlay) query is served by a real relay's /metrics; every alert
 * has a unit test that makes it fire; `promtool check rules`, `promtool check config` and
 * `promtool test rules` pass. promtool comes from Debian's prometheus package (.ci/run installs
 * it); where it is absent those checks are skipped, saying so.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { readYaml, repoPath } from './lib/deploy-files.js';
import { startStack } from './lib/stack.js';

const PROMETHEUS_DIR = repoPath('docker', 'prometheus');
const RULES = join(PROMETHEUS_DIR, 'herald-rules.yml');
const RULE_TESTS = join(PROMETHEUS_DIR, 'herald-rules.test.yml');
const ADAPTER_RULES = repoPath(
  'deploy',
  'k8s',
  'overlays',
  'queue-autoscaling',
  'prometheus-adapter-rules.yaml',
);
/** Metrics the rules use that Herald does not serve, and who does. */
const OTHER_EXPORTERS: Record<string, string> = {
  up: 'Prometheus itself (one per scrape target)',
  redis_up: 'oliver006/redis_exporter (compose service redis-exporter)',
};
const PROMTOOL_TIMEOUT_MS = 60_000;

interface Rule {
  alert: string;
  expr: string;
}
const groups = (readYaml(RULES) as { groups: { name: string; rules: Rule[] }[] }).groups;
const rules = groups.flatMap((g) => g.rules);

function promtool(...args: string[]) {
  const run = spawnSync('promtool', args, {
    cwd: PROMETHEUS_DIR,
    encoding: 'utf8',
    timeout: PROMTOOL_TIMEOUT_MS,
  });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
const promtoolMissing =
  promtool('--version') === undefined
    ? 'promtool not found (.ci/run installs it from Debian’s prometheus package; or apt-get download prometheus)'
    : false;

/** Metric names in a PromQL expression: identifiers followed by `{`, `[`, `)` or an operator, not functions or labels. */
function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""');
  const names = new Set<string>();
  for (const match of withoutStrings.matchAll(/\b([a-z_][a-z0-9_]*)\b(?!\s*\()/g)) {
    const name = match[1]!;
    if (/^(herald_|redis_up$|up$)/.test(name)) names.add(name.replace(/_(bucket|sum|count)$/, ''));
  }
  return [...names];
}

test('every metric the alert rules and the autoscaling rule query is served by a real relay', async () => {
  const stack = await startStack();
  try {
    const { status, body } = await stack.get('/metrics');
    assert.equal(status, 200);
    const served = new Set([...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    assert.ok(served.has('herald_queue_depth'), 'the relay serves its metrics');
    const adapter = readYaml(ADAPTER_RULES) as { rules: { external: { seriesQuery: string }[] } };
    const queries = [
      ...rules.map((r) => ({ where: r.alert, expr: r.expr })),
      ...adapter.rules.external.map((r) => ({ where: 'prometheus-adapter', expr: r.seriesQuery })),
    ];
    const used = new Set<string>();
    for (const { where, expr } of queries) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `${where}: no metric found in ${expr}`);
      for (const name of names) {
        used.add(name);
        if (name.startsWith('herald_')) assert.ok(served.has(name), `${where}: ${name} is not on /metrics`);
        else assert.ok(OTHER_EXPORTERS[name], `${where}: ${name} is neither Herald's nor a known exporter's`);
      }
    }
    // The alerts the brief asks for are there.
    for (const name of [
      'herald_queue_depth',
      'herald_messages_deferred_total',
      'herald_messages_bounced_total',
      'herald_feedback_total',
      'redis_up',
      'up',
      'herald_webhook_outbox_depth',
      'herald_nodejs_eventloop_lag_p99_seconds',
    ]) {
      assert.ok(used.has(name), `no rule uses ${name}`);
    }
  } finally {
    await stack.stop();
  }
});

test('every alert has a unit test in which it fires', () => {
  const tests = (
    readYaml(RULE_TESTS) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] }
  ).tests;
  const fired = new Set(
    tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)),
  );
  for (const rule of rules) assert.ok(fired.has(rule.alert), `${rule.alert}: no test expects it to fire`);
  for (const rule of rules) assert.match(rule.expr, /\S/, rule.alert);
  assert.equal(new Set(rules.map((r) => r.alert)).size, rules.length, 'alert names are unique');
});

test('promtool accepts the rules and the Prometheus config', { skip: promtoolMissing }, () => {
  const rulesCheck = promtool('check', 'rules', 'herald-rules.yml')!;
  assert.equal(rulesCheck.status, 0, rulesCheck.output);
  assert.match(rulesCheck.output, new RegExp(`SUCCESS: ${rules.length} rules found`));
  const configCheck = promtool('check', 'config', 'prometheus.yml')!;
  assert.equal(configCheck.status, 0, configCheck.output);
});

test('promtool test rules: each alert fires on its story and not on the near miss', {
  skip: promtoolMissing,
}, () => {
  const run = promtool('test', 'rules', 'herald-rules.test.yml')!;
  assert.equal(run.status, 0, run.output);
  assert.match(run.output, /SUCCESS/);
});
