/**
 * `herald bench --backlog N` on loopback: a private redis-server, the counting sink and a relay
 * child, all started and stopped by runBench. The backlog's delayed jobs must survive the run
 * untouched. No assertions on speed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBenchArgs } from '../src/bench/args.js';
import { backlogBody, parseInfoField } from '../src/bench/backlog.js';
import { runBench } from '../src/bench/index.js';

const BACKLOG = 200;
const BODY_BYTES = 2048;

function capture() {
  let text = '';
  return { write: (chunk: string) => (text += chunk), text: () => text };
}

test('a run over 200 scheduled messages delivers every new message and leaves the 200 delayed jobs queued', async () => {
  const stdout = capture();
  const stderr = capture();
  const code = await runBench(
    ['--backlog', String(BACKLOG), '--messages', '50', '--concurrency', '5', '--timeout', '120'],
    { stdout, stderr, env: {} },
  );
  const lines = stdout.text().trim().split('\n');
  assert.equal(lines.length, 1, `stdout holds exactly one line; stderr:\n${stderr.text()}`);
  const result = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(code, 0, `exit 0 expected; result: ${lines[0]}`);
  assert.equal(result['status'], 'ok');
  assert.equal(result['delivered'], 50);
  assert.equal(result['backlog'], BACKLOG);
  assert.equal(typeof result['backlog_fill_s'], 'number');
  assert.ok((result['delayed_after_run'] as number) >= BACKLOG, 'the backlog is still delayed after the run');
  assert.ok(
    (result['redis_bytes_per_queued_message'] as number) > BODY_BYTES,
    'each queued message costs more than its body',
  );
});

test('without --backlog the result says backlog 0 and no bytes per queued message', async () => {
  const stdout = capture();
  const code = await runBench(['--messages', '10', '--concurrency', '2', '--timeout', '120'], {
    stdout,
    stderr: capture(),
    env: {},
  });
  const result = JSON.parse(stdout.text().trim()) as Record<string, unknown>;
  assert.equal(code, 0, `exit 0 expected; result: ${stdout.text()}`);
  assert.equal(result['backlog'], 0);
  assert.equal(result['backlog_fill_s'], null);
  assert.equal(result['redis_bytes_per_queued_message'], null);
  assert.equal(result['delayed_after_run'], 0);
});

test('--backlog takes a count of zero or more and is refused with --relay', () => {
  assert.equal(parseBenchArgs(['--backlog', '1000000']).backlog, 1_000_000);
  assert.equal(parseBenchArgs([]).backlog, 0);
  assert.throws(() => parseBenchArgs(['--backlog', '-1']), /--backlog: expected an integer/);
  assert.throws(
    () => parseBenchArgs(['--backlog', '5', '--relay', '127.0.0.1:2525', '--sink-port', '2526']),
    /--backlog only applies to a relay the bench starts/,
  );
});

test('the backlog body has exactly the requested size and INFO fields are read by name', () => {
  assert.equal(backlogBody(BODY_BYTES).length, BODY_BYTES);
  assert.equal(backlogBody(0).length, 0);
  const info = '# Memory\r\nused_memory:965032\r\nused_memory_human:942.41K\r\n';
  assert.equal(parseInfoField(info, 'used_memory'), 965_032);
  assert.equal(parseInfoField(info, 'used_memory_peak'), null);
});
