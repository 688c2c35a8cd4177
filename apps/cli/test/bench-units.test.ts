/** Pure parts of `herald bench`: options, /proc/stat arithmetic, the message and progress lines. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestBodies } from '../src/bench/api-load.js';
import { BenchUsageError, parseBenchArgs } from '../src/bench/args.js';
import { busyPercent, parseProcStat, processCpuSeconds } from '../src/bench/cpu.js';
import { buildMessage, recipientsFor } from '../src/bench/load.js';
import { parsePeakRss, processPeakRssBytes } from '../src/bench/memory.js';
import type { PhaseMeasure } from '../src/bench/phase.js';
import { formatProgress, startProgress } from '../src/bench/progress.js';
import { benchRelayConfig } from '../src/bench/relay-process.js';
import { initialResult, pathResult, pathStatus, ratio, summary } from '../src/bench/result.js';

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

test('--api adds the API path after SMTP, --api-only measures it alone; neither goes with --relay', () => {
  assert.deepEqual(parseBenchArgs([]).paths, ['smtp']);
  const both = parseBenchArgs(['--api', '--rounds', '4', '--api-body', 'structured']);
  assert.deepEqual([both.paths, both.rounds, both.apiBody], [['smtp', 'api'], 4, 'structured']);
  assert.deepEqual(parseBenchArgs(['--api-only']).paths, ['api']);
  assert.equal(parseBenchArgs(['--api']).apiBody, 'raw');
  assert.throws(() => parseBenchArgs(['--api-body', 'xml']), /--api-body: expected raw or structured/);
  assert.throws(() => parseBenchArgs(['--messages', '3', '--rounds', '4']), /--rounds: at most --messages/);
  assert.throws(
    () => parseBenchArgs(['--api', '--relay', '127.0.0.1:2525', '--sink-port', '2626']),
    /--api and --api-only only apply to a relay the bench starts/,
  );
});

test("--durability picks the relay's redis.durability (fast by default); not with --relay", () => {
  assert.equal(parseBenchArgs([]).durability, 'fast');
  assert.equal(parseBenchArgs(['--durability', 'strict']).durability, 'strict');
  assert.throws(() => parseBenchArgs(['--durability', 'paranoid']), /--durability: expected fast or strict/);
  assert.throws(
    () => parseBenchArgs(['--durability=strict', '--relay', '127.0.0.1:2525', '--sink-port', '2626']),
    /--durability only applies to a relay the bench starts/,
  );
});

test("an API request's raw is the SMTP bench's message, byte for byte, with that message's recipients", () => {
  const body = JSON.parse(requestBodies({ body: 'raw', sizeBytes: 300, recipients: 2 })(7)) as {
    from: string;
    to: string[];
    raw: string;
  };
  // Only the Date header may differ (a second may pass between the two calls).
  const withoutDate = (text: string) => text.replace(/^Date: .*$/m, '');
  assert.equal(Buffer.byteLength(body.raw), buildMessage(300).length);
  assert.equal(withoutDate(body.raw), withoutDate(buildMessage(300).toString('ascii')));
  assert.deepEqual(body.to, recipientsFor(7, 2));
  const structured = JSON.parse(requestBodies({ body: 'structured', sizeBytes: 300, recipients: 1 })(0)) as {
    text: string;
    subject: string;
  };
  assert.equal(structured.text.length, 300);
  assert.equal(structured.subject, 'herald bench');
});

function measure(over: Partial<PhaseMeasure>): PhaseMeasure {
  return {
    submitted: 100,
    delivered: 100,
    errors: 0,
    errorSamples: [],
    submitMs: 1000,
    e2eMs: 2000,
    reached: true,
    machine: { busy: 50, total: 100 },
    cpu: { bench: 0.5, relay: 1, redis: 0.25 },
    ...over,
  };
}

test("a path's rounds add up: rates over the summed times, CPU summed, the verdict over all rounds", () => {
  const rounds = [measure({}), measure({ submitMs: 3000, e2eMs: 3000, machine: { busy: 100, total: 100 } })];
  const p = pathResult(rounds);
  assert.deepEqual(
    [p.submitted, p.delivered, p.submit_s, p.submit_msgs_per_s, p.e2e_s, p.e2e_msgs_per_s, p.cpu_busy_pct],
    [200, 200, 4, 50, 5, 40, 75],
  );
  assert.deepEqual(p.process_cpu_s, { bench: 1, relay: 2, redis: 0.5 });
  // 2 s of relay CPU and 0.5 s of Redis CPU over 200 delivered messages.
  assert.deepEqual([p.relay_cpu_us_per_msg, p.redis_cpu_us_per_msg], [10_000, 2_500]);
  assert.equal(pathStatus(rounds, 200, Date.now() + 60_000), 'ok');
  assert.equal(pathStatus([...rounds, measure({ reached: false })], 300, Date.now() + 60_000), 'incomplete');
  assert.equal(
    pathStatus([measure({ errors: 1, submitted: 99 })], 100, Date.now() + 60_000),
    'submit_failed',
  );
  assert.equal(ratio(50, 40), 1.25);
  assert.equal(ratio(50, null), null);
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

test('CPU per message is null without a process to measure or without a delivered message', () => {
  const external = pathResult([measure({ cpu: { bench: 0.5, relay: null, redis: null } })]);
  assert.deepEqual([external.relay_cpu_us_per_msg, external.redis_cpu_us_per_msg], [null, null]);
  const none = pathResult([measure({ delivered: 0 })]);
  assert.deepEqual([none.relay_cpu_us_per_msg, none.redis_cpu_us_per_msg], [null, null]);
});

test("the summary line gives relay and Redis CPU per message, and the relay's peak RSS", () => {
  const result = { ...initialResult(parseBenchArgs([]), {}), ...pathResult([measure({})]) };
  result.status = 'ok';
  result.relay_peak_rss_bytes = 150 * 1024 * 1024;
  const lines = summary(result);
  assert.match(lines[1]!, /^smtp: submit .*, CPU\/msg relay 10000 µs, redis 2500 µs$/);
  assert.equal(lines.at(-1), 'relay peak RSS 150.0 MiB');
});

test("peak RSS is /proc/<pid>/status's VmHWM in bytes, null when unreadable", () => {
  const status = 'Name:\tnode\nVmPeak:\t 1200000 kB\nVmHWM:\t  153600 kB\nVmRSS:\t  100000 kB\n';
  assert.equal(parsePeakRss(status), 153_600 * 1024);
  assert.equal(parsePeakRss('Name:\tnode\n'), null);
  assert.equal(
    processPeakRssBytes(42, () => {
      throw new Error('ENOENT');
    }),
    null,
  );
});

test("a bench message over smtp.max_message_size's default raises it in the relay's config", () => {
  const smtpOf = (size: number) =>
    benchRelayConfig('redis://127.0.0.1:1', 'p', 2525, false, 'fast', size)['smtp'];
  assert.equal((smtpOf(2048) as Record<string, unknown>)['max_message_size'], undefined);
  assert.equal(
    (smtpOf(50 * 1024 * 1024) as Record<string, unknown>)['max_message_size'],
    50 * 1024 * 1024 + 65_536,
  );
});

test("--shards above 1 becomes the relay's queue.shards; one shard writes no queue section", () => {
  const queueOf = (shards: number) =>
    benchRelayConfig('redis://127.0.0.1:1', 'p', 2525, false, 'fast', 2048, shards)['queue'];
  assert.equal(queueOf(1), undefined);
  assert.deepEqual(queueOf(4), { shards: 4 });
});
