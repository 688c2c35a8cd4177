/**
 * `herald bench`: measures a Herald relay's submit and end-to-end throughput on loopback.
 * Owns: the run — a counting sink, and unless --relay is given a private redis-server (or
 * REDIS_URL) and a relay child process; the load; the JSON result on stdout; progress on stderr.
 * Guarantees: everything it started is stopped (by PID / close) on success, failure, timeout and
 * SIGINT/SIGTERM; the run ends by itself after --timeout seconds. Exit status 0 only when every
 * message was accepted and delivered; 1 otherwise; 2 for a usage error; 130 when interrupted.
 * Needs injected: argv (and optionally the output streams and environment, for tests).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { formatCliError } from '@herald/delivery-core';
import { maskUrl } from '@herald/delivery-core/config';
import { BENCH_USAGE, type BenchParams, BenchUsageError, parseBenchArgs } from './args.js';
import { type Backlog, openBacklog } from './backlog.js';
import { busyPercent, processCpuSeconds, sampleCpu } from './cpu.js';
import { type LoadStats, runLoad } from './load.js';
import { startProgress } from './progress.js';
import { type RelayChild, startRelayChild } from './relay-process.js';
import { type CountingSink, startCountingSink } from './sink.js';

export type { BenchParams } from './args.js';
export { parseBenchArgs } from './args.js';

const MS_PER_S = 1000;
const MICROS_PER_S = 1_000_000;
const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_INTERRUPTED = 130;
const REDIS_PREFIX = 'herald-bench';
const RATE_DECIMALS = 1;
const SECONDS_DECIMALS = 3;

export interface BenchIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: Record<string, string | undefined>;
}

export type BenchStatus = 'ok' | 'submit_failed' | 'incomplete' | 'timeout' | 'interrupted' | 'failed';

export interface BenchResult {
  tool: 'herald-bench';
  started_at: string;
  status: BenchStatus;
  machine: { cpus: number; cpu_model: string };
  params: {
    messages: number;
    concurrency: number;
    size_bytes: number;
    recipients: number;
    relay: string;
    relay_started_by_bench: boolean;
    redis: 'private' | 'REDIS_URL' | null;
    sink: string;
    timeout_s: number;
  };
  submit_s: number | null;
  submit_msgs_per_s: number | null;
  e2e_s: number | null;
  e2e_msgs_per_s: number | null;
  submitted: number;
  delivered: number;
  errors: number;
  error_samples: string[];
  cpu_busy_pct: number | null;
  /** CPU seconds each process used during the run (null: not started here or unreadable). */
  process_cpu_s: { bench: number; relay: number | null; redis: number | null };
  /** Scheduled messages written before the timed run (--backlog). */
  backlog: number;
  backlog_fill_s: number | null;
  /** Redis used_memory growth over the fill divided by the backlog (null: no backlog). */
  redis_bytes_per_queued_message: number | null;
  /** Jobs in the delayed set after the run (null: the bench did not start the relay). */
  delayed_after_run: number | null;
  error?: string;
}

const round = (n: number, decimals: number) => Number(n.toFixed(decimals));

interface Started {
  sink?: CountingSink;
  redis?: { url: string; pid?: number; stop(): Promise<void> };
  relay?: RelayChild;
  workDir?: string;
  backlog?: Backlog;
}

async function stopAll(started: Started, keepWorkDir: boolean): Promise<void> {
  await started.backlog?.close().catch(() => {});
  await started.relay?.stop().catch(() => {});
  await started.redis?.stop().catch(() => {});
  await started.sink?.close().catch(() => {});
  if (started.workDir && !keepWorkDir) await rm(started.workDir, { recursive: true, force: true });
}

async function privateRedis(): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  // Loaded lazily: only a run that starts its own Redis needs it.
  const { startRedis } = await import('@herald/local-redis');
  return startRedis();
}

export async function runBench(
  argv: string[],
  io: BenchIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  let params: BenchParams;
  try {
    params = parseBenchArgs(argv);
  } catch (err) {
    if (!(err instanceof BenchUsageError)) throw err;
    io.stderr.write(`${formatCliError('HERALD_CLI_USAGE', `bench: ${err.message}`)}\n${BENCH_USAGE}`);
    return EXIT_USAGE;
  }
  if (params.help) {
    io.stdout.write(BENCH_USAGE);
    return EXIT_OK;
  }
  const say = (text: string) => {
    if (!params.jsonOnly) io.stderr.write(`bench: ${text}\n`);
  };
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const deadline = Date.now() + params.timeoutS * MS_PER_S;
  const started: Started = {};
  const stats: LoadStats = { accepted: 0, errors: 0, started: 0, connects: 0, errorSamples: [] };
  const result: BenchResult = {
    tool: 'herald-bench',
    started_at: new Date().toISOString(),
    status: 'failed',
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown' },
    params: {
      messages: params.messages,
      concurrency: params.concurrency,
      size_bytes: params.sizeBytes,
      recipients: params.recipients,
      relay: params.relay ? `${params.relay.host}:${params.relay.port}` : '',
      relay_started_by_bench: !params.relay,
      redis: params.relay ? null : io.env['REDIS_URL'] ? 'REDIS_URL' : 'private',
      sink: '',
      timeout_s: params.timeoutS,
    },
    submit_s: null,
    submit_msgs_per_s: null,
    e2e_s: null,
    e2e_msgs_per_s: null,
    submitted: 0,
    delivered: 0,
    errors: 0,
    error_samples: [],
    cpu_busy_pct: null,
    process_cpu_s: { bench: 0, relay: null, redis: null },
    backlog: params.backlog,
    backlog_fill_s: null,
    redis_bytes_per_queued_message: null,
    delayed_after_run: null,
  };
  let progress: { stop(): void } | undefined;
  try {
    started.sink = await startCountingSink(params.sinkPort);
    const sink = started.sink;
    result.params.sink = `${sink.host}:${sink.port}`;
    let target = params.relay;
    if (!target) {
      started.workDir = await mkdtemp(join(tmpdir(), 'herald-bench-'));
      const envUrl = io.env['REDIS_URL'];
      started.redis = envUrl ? { url: envUrl, stop: async () => {} } : await privateRedis();
      started.backlog = await openBacklog(started.redis.url, REDIS_PREFIX);
      if (params.backlog > 0) {
        say(`filling the queue with ${params.backlog} scheduled messages of ${params.sizeBytes} B`);
        const fill = await started.backlog.fill({
          messages: params.backlog,
          sizeBytes: params.sizeBytes,
          deadline,
          signal: controller.signal,
          onProgress: (n) => say(`backlog: ${n} written`),
        });
        result.backlog_fill_s = round(fill.fillMs / MS_PER_S, SECONDS_DECIMALS);
        result.redis_bytes_per_queued_message =
          fill.bytesPerMessage === null ? null : Math.round(fill.bytesPerMessage);
        say(
          `backlog filled in ${result.backlog_fill_s} s; redis used_memory ${fill.usedMemoryBefore} -> ` +
            `${fill.usedMemoryAfter} B, ${result.redis_bytes_per_queued_message} B per queued message`,
        );
        await started.backlog.settleAof(deadline, controller.signal);
      }
      say(`redis ${maskUrl(started.redis.url)}; starting the relay (route * -> ${result.params.sink})`);
      started.relay = await startRelayChild({
        redisUrl: started.redis.url,
        redisPrefix: REDIS_PREFIX,
        sinkPort: sink.port,
        workDir: started.workDir,
        cpuProfDir: params.cpuProfDir ? resolve(params.cpuProfDir) : undefined,
        signal: controller.signal,
      });
      target = started.relay.smtp;
      result.params.relay = `${target.host}:${target.port}`;
      say(`relay pid ${started.relay.pid} ready on ${result.params.relay}`);
    }
    if (controller.signal.aborted) throw new Error('interrupted');
    say(`sending ${params.messages} messages over ${params.concurrency} sessions`);
    if (!params.jsonOnly) {
      progress = startProgress({
        out: io.stderr,
        isTty: Boolean(io.stderr.isTTY),
        snapshot: () => ({
          total: params.messages,
          accepted: stats.accepted,
          delivered: sink.count,
          errors: stats.errors,
        }),
      });
    }
    const cpuStart = sampleCpu();
    const processCpu = () => ({
      bench: process.cpuUsage(),
      relay: started.relay ? processCpuSeconds(started.relay.pid) : null,
      redis: started.redis?.pid ? processCpuSeconds(started.redis.pid) : null,
    });
    const processCpuStart = processCpu();
    const t0 = performance.now();
    await runLoad(
      {
        host: target.host,
        port: target.port,
        messages: params.messages,
        concurrency: params.concurrency,
        sizeBytes: params.sizeBytes,
        recipients: params.recipients,
        deadline,
        signal: controller.signal,
      },
      stats,
    );
    const submitMs = performance.now() - t0;
    const expected = stats.accepted;
    const reached = expected > 0 && (await sink.waitFor(expected, deadline, controller.signal));
    const e2eMs = performance.now() - t0;
    result.cpu_busy_pct = busyPercent(cpuStart, sampleCpu());
    const processCpuEnd = processCpu();
    const benchCpu = process.cpuUsage(processCpuStart.bench);
    const delta = (a: number | null, b: number | null) => (a === null || b === null ? null : round(b - a, 2));
    result.process_cpu_s = {
      bench: round((benchCpu.user + benchCpu.system) / MICROS_PER_S, 2),
      relay: delta(processCpuStart.relay, processCpuEnd.relay),
      redis: delta(processCpuStart.redis, processCpuEnd.redis),
    };
    progress?.stop();
    progress = undefined;
    if (started.backlog) result.delayed_after_run = await started.backlog.delayedCount();

    result.submitted = stats.accepted;
    result.delivered = sink.count;
    result.errors = stats.errors;
    result.error_samples = stats.errorSamples;
    if (stats.accepted > 0) {
      result.submit_s = round(submitMs / MS_PER_S, SECONDS_DECIMALS);
      result.submit_msgs_per_s = round((stats.accepted * MS_PER_S) / submitMs, RATE_DECIMALS);
    }
    if (reached) {
      result.e2e_s = round(e2eMs / MS_PER_S, SECONDS_DECIMALS);
      result.e2e_msgs_per_s = round((sink.count * MS_PER_S) / e2eMs, RATE_DECIMALS);
    }
    if (controller.signal.aborted) result.status = 'interrupted';
    else if (!reached && Date.now() >= deadline) result.status = 'timeout';
    else if (stats.accepted < params.messages || stats.errors > 0) result.status = 'submit_failed';
    else if (!reached || sink.count !== params.messages) result.status = 'incomplete';
    else if (result.delayed_after_run !== null && result.delayed_after_run < params.backlog)
      result.status = 'incomplete';
    else result.status = 'ok';
  } catch (err) {
    result.status = controller.signal.aborted ? 'interrupted' : 'failed';
    result.error = (err as Error).message;
    say(`failed: ${(err as Error).message}`);
  } finally {
    progress?.stop();
    const keep = result.status !== 'ok' && result.status !== 'interrupted' && Boolean(started.workDir);
    if (keep) say(`relay config and log kept in ${started.workDir}`);
    say('stopping what the bench started');
    await stopAll(started, keep);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  if (!params.jsonOnly) {
    say(
      `${result.status}: submit ${result.submit_msgs_per_s ?? '-'} msg/s, end-to-end ${result.e2e_msgs_per_s ?? '-'} msg/s, ` +
        `${result.delivered} delivered, ${result.errors} errors, CPU ${result.cpu_busy_pct ?? '-'} %`,
    );
  }
  io.stdout.write(`${JSON.stringify(result)}\n`);
  if (result.status === 'ok') return EXIT_OK;
  return result.status === 'interrupted' ? EXIT_INTERRUPTED : EXIT_FAILED;
}
