/**
 * `herald bench`: measures a Herald relay's submit and end-to-end throughput on loopback, over
 * SMTP and (--api, --api-only) through the HTTP API's POST /v1/messages, one phase after the
 * other on the same relay, Redis and sink, and reports each phase's rates and the ratio API/SMTP.
 * Owns: the run — a counting sink, and unless --relay is given a private redis-server (or
 * REDIS_URL), a relay child process and (API) a tenant key for the run; the phases; the JSON
 * result on stdout; progress on stderr.
 * Guarantees: everything it started is stopped (by PID / close) on success, failure, timeout and
 * SIGINT/SIGTERM; the run ends by itself after --timeout seconds. Exit status 0 only when every
 * message was accepted and delivered; 1 otherwise; 2 for a usage error; 130 when interrupted.
 * Needs injected: argv (and optionally the output streams and environment, for tests).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatCliError } from '@herald/delivery-core';
import { maskUrl } from '@herald/delivery-core/config';
import { type BenchKey, createBenchKey } from './api-key.js';
import { runApiLoad } from './api-load.js';
import { BENCH_USAGE, type BenchParams, type BenchPath, BenchUsageError, parseBenchArgs } from './args.js';
import { type Backlog, openBacklog } from './backlog.js';
import { runLoad } from './load.js';
import { processPeakRssBytes } from './memory.js';
import { type OtlpSink, startOtlpSink } from './otlp-sink.js';
import { type PhaseMeasure, runPhase } from './phase.js';
import { type RelayChild, startRelayChild } from './relay-process.js';
import { type BenchStatus, initialResult, pathResult, pathStatus, ratio, round, summary } from './result.js';
import { type CountingSink, startCountingSink } from './sink.js';

export type { BenchParams } from './args.js';
export { parseBenchArgs } from './args.js';
export type { BenchResult, BenchStatus, PhaseResult } from './result.js';

const MS_PER_S = 1000;
const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_INTERRUPTED = 130;
const REDIS_PREFIX = 'herald-bench';
/** The tenant the API phase's key belongs to: the one trusted SMTP clients are accounted to. */
const BENCH_TENANT = 'default';
const SECONDS_DECIMALS = 3;

export interface BenchIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: Record<string, string | undefined>;
}

type PhaseLoad = Parameters<typeof runPhase>[0]['load'];

interface Started {
  sink?: CountingSink;
  redis?: { url: string; pid?: number; stop(): Promise<void> };
  relay?: RelayChild;
  workDir?: string;
  backlog?: Backlog;
  apiKey?: BenchKey;
  otlp?: OtlpSink;
}

async function stopAll(started: Started, keepWorkDir: boolean): Promise<void> {
  await started.apiKey?.revoke().catch(() => {});
  await started.backlog?.close().catch(() => {});
  await started.relay?.stop().catch(() => {});
  await started.redis?.stop().catch(() => {});
  await started.sink?.close().catch(() => {});
  await started.otlp?.close().catch(() => {});
  if (started.workDir && !keepWorkDir) await rm(started.workDir, { recursive: true, force: true });
}

async function privateRedis(
  durability: BenchParams['durability'],
): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  // Loaded lazily: only a run that starts its own Redis needs it.
  const { startRedis } = await import('@herald/local-redis');
  // Strict mode on a lone server needs each write fsynced before Redis answers.
  return startRedis({ appendfsync: durability === 'strict' ? 'always' : 'everysec' });
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
  const result = initialResult(params, io.env);
  const withApi = params.paths.includes('api');
  try {
    started.sink = await startCountingSink(params.sinkPort);
    const sink = started.sink;
    result.params.sink = `${sink.host}:${sink.port}`;
    let target = params.relay;
    if (!target) {
      started.workDir = await mkdtemp(join(tmpdir(), 'herald-bench-'));
      const envUrl = io.env['REDIS_URL'];
      started.redis = envUrl ? { url: envUrl, stop: async () => {} } : await privateRedis(params.durability);
      started.backlog = await openBacklog(started.redis.url, REDIS_PREFIX, params.shards);
      if (params.backlog > 0) {
        say(
          `filling the queue with ${params.backlog} scheduled messages of ${params.sizeBytes} B` +
            ` over ${params.shards} shard${params.shards === 1 ? '' : 's'}`,
        );
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
      say(
        `redis ${maskUrl(started.redis.url)}; starting the relay (redis.durability ${params.durability}, queue.shards ${params.shards}, route * -> ${result.params.sink})`,
      );
      if (params.telemetrySample !== undefined) {
        started.otlp = await startOtlpSink();
        say(`telemetry on: sample_ratio ${params.telemetrySample}, spans to ${started.otlp.url} (discarded)`);
      }
      started.relay = await startRelayChild({
        redisUrl: started.redis.url,
        redisPrefix: REDIS_PREFIX,
        sinkPort: sink.port,
        workDir: started.workDir,
        cpuProfDir: params.cpuProfDir ? resolve(params.cpuProfDir) : undefined,
        api: withApi,
        durability: params.durability,
        sizeBytes: params.sizeBytes,
        shards: params.shards,
        behaviour: params.behaviour,
        telemetry: started.otlp && { endpoint: started.otlp.url, sampleRatio: params.telemetrySample ?? 1 },
        signal: controller.signal,
      });
      target = started.relay.smtp;
      result.params.relay = `${target.host}:${target.port}`;
      say(`relay pid ${started.relay.pid} ready on ${result.params.relay}`);
      if (withApi) {
        started.apiKey = await createBenchKey(started.redis.url, REDIS_PREFIX, BENCH_TENANT);
        say(
          `HTTP API on ${started.relay.api?.host}:${started.relay.api?.port}, tenant key created for the run`,
        );
      }
    }
    const relay = target;
    const phase = (label: string, load: PhaseLoad, messages: number) => {
      if (controller.signal.aborted) throw new Error('interrupted');
      return runPhase({
        label,
        messages,
        sink,
        load,
        pids: { relay: started.relay?.pid, redis: started.redis?.pid },
        deadline,
        signal: controller.signal,
        progress: params.jsonOnly ? undefined : io.stderr,
      });
    };
    const common = {
      concurrency: params.concurrency,
      sizeBytes: params.sizeBytes,
      recipients: params.recipients,
      deadline,
      signal: controller.signal,
    };
    const apiAddress = started.relay?.api;
    const apiKey = started.apiKey?.key;
    const loads: Record<BenchPath, (first: number, count: number) => PhaseLoad> = {
      smtp: (firstIndex, messages) => (stats) =>
        runLoad({ ...common, ...relay, messages, firstIndex }, stats),
      api: (firstIndex, messages) => (stats) => {
        if (!apiAddress || !apiKey) throw new Error('the HTTP API is not running');
        return runApiLoad(
          { ...common, ...apiAddress, key: apiKey, messages, firstIndex, body: params.apiBody },
          stats,
        );
      },
    };
    const measures: Record<BenchPath, PhaseMeasure[]> = { smtp: [], api: [] };
    // Recipients stay unique over the run: each path has its block of `messages` indexes.
    for (let r = 0, done = 0; r < params.rounds; r++) {
      const count = Math.floor((params.messages * (r + 1)) / params.rounds) - done;
      for (const [i, path] of params.paths.entries()) {
        say(
          `${path}: sending ${count} messages over ${params.concurrency} ${path === 'smtp' ? 'sessions' : 'connections'}`,
        );
        measures[path].push(await phase(path, loads[path](i * params.messages + done, count), count));
      }
      done += count;
    }
    const verdicts: BenchStatus[] = params.paths.map((path) =>
      pathStatus(measures[path], params.messages, deadline),
    );
    if (params.paths.includes('smtp')) Object.assign(result, pathResult(measures.smtp));
    if (params.paths.includes('api')) {
      result.api = pathResult(measures.api);
      if (params.paths.includes('smtp'))
        result.api_vs_smtp = {
          submit: ratio(result.api.submit_msgs_per_s, result.submit_msgs_per_s),
          e2e: ratio(result.api.e2e_msgs_per_s, result.e2e_msgs_per_s),
        };
    }
    if (started.backlog) result.delayed_after_run = await started.backlog.delayedCount();
    if (started.relay) result.relay_peak_rss_bytes = processPeakRssBytes(started.relay.pid);
    if (started.otlp) {
      result.otlp_requests = started.otlp.requests;
      result.otlp_bytes = started.otlp.bytes;
    }
    if (controller.signal.aborted) result.status = 'interrupted';
    else result.status = verdicts.find((v) => v !== 'ok') ?? 'ok';
    if (
      result.status === 'ok' &&
      result.delayed_after_run !== null &&
      result.delayed_after_run < params.backlog
    )
      result.status = 'incomplete';
  } catch (err) {
    result.status = controller.signal.aborted ? 'interrupted' : 'failed';
    result.error = (err as Error).message;
    say(`failed: ${(err as Error).message}`);
  } finally {
    const keep = result.status !== 'ok' && result.status !== 'interrupted' && Boolean(started.workDir);
    if (keep) say(`relay config and log kept in ${started.workDir}`);
    say('stopping what the bench started');
    await stopAll(started, keep);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  for (const line of summary(result)) say(line);
  io.stdout.write(`${JSON.stringify(result)}\n`);
  if (result.status === 'ok') return EXIT_OK;
  return result.status === 'interrupted' ? EXIT_INTERRUPTED : EXIT_FAILED;
}
