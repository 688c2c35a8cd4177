/**
 * End to end: the bounce-processor daemon (`herald bounce-processor --config FILE`, i.e.
 * runBounceProcessor) serves /healthz, /readyz and /metrics on `bounce.http_listen`, and a bounce
 * it takes shows in its herald_feedback_total and herald_tenant_feedback_total, so its counters
 * reach Prometheus; its Redis probe reports too.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runBounceProcessor } from '@herald/bounce-processor';
import { startRedis } from '@herald/test-harness';
import { BOUNCE, userUnknown, verpFor } from './lib/bounce-reports.js';
import { deferrer } from './lib/cleanup.js';
import { SmtpClient } from './lib/smtp-client.js';

type Address = { host: string; port: number };

describe('bounce-processor HTTP endpoints', () => {
  it('serves /healthz, /readyz and /metrics on bounce.http_listen; a bounce it takes is counted there', {
    timeout: 60_000,
  }, async (t) => {
    const defer = deferrer(t);
    const redis = await startRedis();
    defer(() => redis.stop());
    const dir = await mkdtemp(join(tmpdir(), 'herald-bp-http-'));
    defer(() => rm(dir, { recursive: true, force: true }));
    const config = join(dir, 'herald.yaml');
    await writeFile(
      config,
      `redis: { url: "${redis.url}" }
events: { log_level: silent }
bounce:
  listen: "127.0.0.1:0"
  http_listen: "127.0.0.1:0"
  domain: "${BOUNCE.domain}"
  verp_secret: "${BOUNCE.verp_secret}"
`,
    );
    const stop = new AbortController();
    let stderr = '';
    let exited: Promise<number> | undefined;
    const started = new Promise<Address & { http: Address }>((resolve, reject) => {
      exited = runBounceProcessor({
        config,
        env: {},
        stderr: { write: (text: string) => (stderr += text) },
        onStarted: resolve,
        stop: stop.signal,
      });
      void exited.then(() => reject(new Error(`exited before listening: ${stderr}`)));
    });
    defer(async () => {
      stop.abort();
      assert.equal(await exited, 0, stderr);
    });
    const { http, ...smtp } = await started;
    const base = `http://${http.host}:${http.port}`;

    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok\n');
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    const { config: version, ...readiness } = (await ready.json()) as {
      config: { hash: string; reloads: number };
    };
    assert.deepEqual(readiness, { ready: true, redis: true, listening: true });
    // The config version it runs (it does not reload: reloads stays 0).
    assert.match(version.hash, /^[0-9a-f]{12}$/);
    assert.equal(version.reloads, 0);

    const recipient = 'gone@dest.test';
    const client = await SmtpClient.connect(smtp);
    try {
      const sent = await client.send(
        { from: '', to: [verpFor('acme', recipient).address] },
        userUnknown(recipient),
      );
      assert.equal(sent.code, 250, sent.response);
    } finally {
      client.close();
    }
    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    assert.match(
      text,
      /^herald_feedback_total\{type="bounce_received",reason="userunknown",verified="true"\} 1$/m,
    );
    // Per tenant (capped), and the Redis probe every process serving /metrics runs.
    assert.match(text, /^herald_tenant_feedback_total\{tenant="acme",type="bounce_received"\} 1$/m);
    assert.match(text, /^herald_redis_up 1$/m);
    assert.match(text, /^herald_redis_ping_duration_seconds_count [1-9]/m);
    assert.ok(
      text.includes(`herald_config_info{hash="${version.hash}"} 1`),
      'the config version on /metrics',
    );
  });
});
