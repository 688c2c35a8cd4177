/** Pure parts of `herald bench`: options, /proc/stat arithmetic, the message and progress lines. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BenchUsageError, parseBenchArgs } from '../src/bench/args.js';
import { busyPercent, parseProcStat, processCpuSeconds } from '../src/bench/cpu.js';
import { buildMessage, recipientsFor } from '../src/bench/load.js';
import { formatProgress, startProgress } from '../src/bench/progress.js';

test('no options gives the documented defaults', () => {
  const p = parseBenchArgs([]);
  assert.deepEqual(
    [p.messages, p.concurrency, p.sizeBytes, p.recipients, p.timeoutS, p.relay, p.jsonOnly],
    [20000, 20, 2048, 1, 300, undefined, false],
  );
});

test('options are read in both --name value and --name=value forms', () => {
  const p = parseBenchArgs([
    '--messages=10',
    '--concurrency',
    '3',
    '--relay',
    '127.0.0.1:2525',
    '--sink-port=2626',
  ]);
  assert.equal(p.messages, 10);
  assert.equal(p.concurrency, 3);
  assert.deepEqual(p.relay, { host: '127.0.0.1', port: 2525 });
  assert.equal(p.sinkPort, 2626);
});

test('a non-loopback relay, a bad number and a missing value are usage errors', () => {
  assert.throws(() => parseBenchArgs(['--relay', '10.0.0.1:25', '--sink-port', '1']), BenchUsageError);
  assert.throws(() => parseBenchArgs(['--messages', '0']), /--messages: expected 1\.\./);
  assert.throws(() => parseBenchArgs(['--size']), /--size: expected an integer/);
});

test('busy share counts everything but idle and iowait', () => {
  const a = parseProcStat('cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n');
  const b = parseProcStat('cpu  200 0 200 800 200 0 0 0 0 0\n');
  assert.deepEqual(a, { busy: 200, total: 1000 });
  assert.equal(busyPercent(a, b), 50);
  assert.equal(busyPercent(null, b), null);
});

test('process CPU seconds come from utime + stime, even when comm has spaces', () => {
  const stat = '42 (node (x) y) S 1 1 1 0 -1 0 0 0 0 0 250 50 0 0 20 0 1 0 1 1 1';
  assert.equal(
    processCpuSeconds(42, () => stat),
    3,
  );
  assert.equal(
    processCpuSeconds(42, () => {
      throw new Error('gone');
    }),
    null,
  );
});

test('the message body has exactly the requested size in CRLF lines and no leading dot', () => {
  for (const size of [0, 1, 2, 79, 80, 81, 2048]) {
    const raw = buildMessage(size).toString('ascii');
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    assert.equal(body.length, size, `size ${size}`);
    assert.ok(!/(^|\n)\./.test(body));
  }
});

test('recipient sequence numbers are unique across messages', () => {
  assert.deepEqual(recipientsFor(0, 2), ['1rcpt@sink.bench.test', '2rcpt@sink.bench.test']);
  assert.deepEqual(recipientsFor(1, 2), ['3rcpt@sink.bench.test', '4rcpt@sink.bench.test']);
});

test('progress shows counts and the delivered rate; a TTY gets a bar redrawn in place', () => {
  const snapshot = { total: 100, accepted: 60, delivered: 50, errors: 1 };
  assert.equal(
    formatProgress(snapshot, 2000, false),
    'submitted 60/100, delivered 50/100, 1 errors, 2.0 s, 25 msg/s delivered',
  );
  assert.match(formatProgress(snapshot, 2000, true), /^\[#{15} {15}\] submitted/);
  const out: string[] = [];
  let now = 0;
  const progress = startProgress({
    out: { write: (t: string) => out.push(t) },
    isTty: true,
    snapshot: () => snapshot,
    now: () => now,
  });
  now = 1000;
  progress.stop();
  progress.stop();
  assert.equal(out.length, 2);
  assert.match(out[0]!, /^\r\x1b\[2K\[/);
  assert.equal(out[1], '\n');
});
