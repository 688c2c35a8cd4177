/**
 * The metric names operators alert on: prom-client's default process metrics carry Herald's prefix
 * once (herald_process_cpu_user_seconds_total, not herald_process_process_…).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HeraldMetrics } from '@herald/delivery-core';

describe('HeraldMetrics names', () => {
  test('default process metrics are herald_process_* and herald_nodejs_*, the prefix not doubled', async () => {
    const metrics = new HeraldMetrics({ defaultMetrics: true });
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    assert.ok(names.includes('herald_process_cpu_user_seconds_total'), names.join(', '));
    assert.ok(names.includes('herald_nodejs_eventloop_lag_seconds'), names.join(', '));
    assert.deepEqual(
      names.filter((n) => n.includes('process_process') || n.includes('process_nodejs')),
      [],
    );
    for (const name of names) assert.match(name, /^herald_/);
  });
});
