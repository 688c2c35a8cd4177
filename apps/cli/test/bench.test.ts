/**
 * `herald bench` end to end on loopback: a private redis-server, the counting sink and a relay
 * child process, all started and stopped by runBench itself. No assertions on speed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRedis } from '@herald/test-harness';
import { runBench } from '../src/bench/index.js';

const RESULT_FIELDS = [
  'tool',
  'params',
  'submit_s',
  'submit_msgs_per_s',
  'e2e_s',
  'e2e_msgs_per_s',
  'delivered',
  'errors',
  'cpu_busy_pct',
] as const;

function capture() {
  let text = '';
  return { write: (chunk: string) => (text += chunk), text: () => text };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a tiny run delivers every message, prints one JSON object with the rates and stops the relay', async () => {
  const stdout = capture();
  const stderr = capture();
  const code = await runBench(['--messages', '50', '--concurrency', '5', '--timeout', '120'], {
    stdout,
    stderr,
    env: {},
  });
  const lines = stdout.text().trim().split('\n');
  assert.equal(lines.length, 1, `stdout holds exactly one line; stderr:\n${stderr.text()}`);
  const result = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(code, 0, `exit 0 expected; result: ${lines[0]}`);
  for (const field of RESULT_FIELDS) assert.ok(field in result, `field ${field} present`);
  assert.equal(result['tool'], 'herald-bench');
  assert.equal(result['status'], 'ok');
  assert.equal(result['delivered'], 50);
  assert.equal(result['submitted'], 50);
  assert.equal(result['errors'], 0);
  assert.deepEqual(
    { messages: 50, concurrency: 5 },
    {
      messages: (result['params'] as { messages: number }).messages,
      concurrency: (result['params'] as { concurrency: number }).concurrency,
    },
  );
  for (const rate of ['submit_s', 'submit_msgs_per_s', 'e2e_s', 'e2e_msgs_per_s'] as const) {
    assert.equal(typeof result[rate], 'number', `${rate} is a number`);
    assert.ok((result[rate] as number) > 0, `${rate} is positive`);
  }
  assert.ok((result['relay_cpu_us_per_msg'] as number) > 0, 'relay_cpu_us_per_msg is a positive number');
  // /proc counts CPU in 10 ms ticks: a tiny run's Redis may not have used one (a CI run saw 0).
  const redisCpu = result['redis_cpu_us_per_msg'] as number;
  assert.ok(Number.isFinite(redisCpu) && redisCpu >= 0, `redis_cpu_us_per_msg is a number ≥ 0 (${redisCpu})`);
  assert.ok((result['relay_peak_rss_bytes'] as number) > 0, 'the relay child peak RSS is reported');
  assert.match(stderr.text(), /^bench: smtp: submit .*, CPU\/msg relay \d+ µs, redis \d+ µs$/m);
  assert.match(stderr.text(), /^bench: relay peak RSS [\d.]+ MiB$/m);
  const relayPid = Number(/relay pid (\d+) ready/.exec(stderr.text())?.[1]);
  assert.ok(relayPid > 0, 'the relay child reported its pid');
  assert.equal(isAlive(relayPid), false, 'the relay child was stopped');
});

test('--api runs the same load through POST /v1/messages too and reports both paths and their ratio', async () => {
  const stdout = capture();
  const stderr = capture();
  const code = await runBench(
    ['--api', '--rounds', '2', '--messages', '30', '--concurrency', '3', '--timeout', '120'],
    { stdout, stderr, env: {} },
  );
  const lines = stdout.text().trim().split('\n');
  assert.equal(lines.length, 1, `stdout holds exactly one line; stderr:\n${stderr.text()}`);
  const result = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(code, 0, `exit 0 expected; result: ${lines[0]}`);
  assert.equal(result['status'], 'ok');
  assert.deepEqual((result['params'] as { paths: string[] }).paths, ['smtp', 'api']);
  // Each path delivered its own 30 messages: the sink counted 60 in all.
  assert.deepEqual([result['submitted'], result['delivered'], result['errors']], [30, 30, 0]);
  const api = result['api'] as Record<string, unknown>;
  assert.deepEqual([api['submitted'], api['delivered'], api['errors']], [30, 30, 0]);
  for (const rate of ['submit_msgs_per_s', 'e2e_msgs_per_s'] as const) {
    assert.ok((result[rate] as number) > 0, `smtp ${rate} is positive`);
    assert.ok((api[rate] as number) > 0, `api ${rate} is positive`);
  }
  const ratios = result['api_vs_smtp'] as { submit: number; e2e: number };
  assert.ok(ratios.submit > 0 && ratios.e2e > 0, 'both ratios are given');
  assert.match(stderr.text(), /^bench: smtp: submit [\d.]+ msg\/s, end-to-end [\d.]+ msg\/s/m);
  assert.match(stderr.text(), /^bench: api: +submit [\d.]+ msg\/s, end-to-end [\d.]+ msg\/s/m);
  assert.match(stderr.text(), /^bench: api\/smtp: submit [\d.]+, end-to-end [\d.]+$/m);
  assert.doesNotMatch(stderr.text() + stdout.text(), /hk_[0-9a-f]+_/, 'the run key is never printed');
  const relayPid = Number(/relay pid (\d+) ready/.exec(stderr.text())?.[1]);
  assert.equal(isAlive(relayPid), false, 'the relay child was stopped');
});

test('an unknown option is a usage error (exit 2) and starts nothing', async () => {
  const stdout = capture();
  const stderr = capture();
  const code = await runBench(['--bogus'], { stdout, stderr, env: {} });
  assert.equal(code, 2);
  assert.equal(stdout.text(), '');
  assert.match(stderr.text(), /unknown option "--bogus"/);
});

test('--relay without --sink-port is refused', async () => {
  const stderr = capture();
  const code = await runBench(['--relay', '127.0.0.1:2525'], { stdout: capture(), stderr, env: {} });
  assert.equal(code, 2);
  assert.match(stderr.text(), /--relay needs --sink-port/);
});

test("--durability strict on a REDIS_URL that cannot keep it fails with the relay's one-line refusal, no stack", async () => {
  const redis = await startRedis(); // AOF everysec, no replica: strict refuses it
  try {
    const stdout = capture();
    const stderr = capture();
    const code = await runBench(['--messages', '10', '--durability', 'strict', '--timeout', '60'], {
      stdout,
      stderr,
      env: { REDIS_URL: redis.url },
    });
    assert.equal(code, 1);
    assert.match(
      stderr.text(),
      /^herald: HERALD_REDIS_NOT_DURABLE: redis\.durability: strict, but the Redis at /m,
    );
    assert.doesNotMatch(stderr.text(), /^\s+at /m, `no stack trace:\n${stderr.text()}`);
  } finally {
    await redis.stop();
  }
});
