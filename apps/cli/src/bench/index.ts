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
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatCliError } from '@herald/delivery-core';
import { maskUrl } from '@herald/delivery-core/config';
import { type BenchKey, createBenchKey } from './api-key.js';
import { runApiLoad } from './api-load.js';
import { BENCH_USAGE, type BenchParams, type BenchPath, BenchUsageError, parseBenchArgs } from './args.js';
import { type Backlog, openBacklog } from './backlog.js';
import { runLoad } from './load.js';
import { type PhaseResult, round, runPhase } from './phase.js';
import { type RelayChild, startRelayChild } from './relay-process.js';
import { type CountingSink, startCountingSink } from './sink.js';

export type { BenchParams } from './args.js';
export { parseBenchArgs } from './args.js';

const MS_PER_S = 1000;
const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_INTERRUPTED = 130;
const REDIS_PREFIX = 'herald-bench';
const RATIO_DECIMALS = 2;
/** The tenant the API phase's key belongs to: the one trusted SMTP clients are accounted to. */
const BENCH_TENANT = 'default';
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
    /** The phases run, in order. */
    paths: BenchPath[];
    /** How API requests carry the message (raw or structured). */
    api_body: string | null;
  };
  /** The fields from here to process_cpu_s describe the SMTP phase (null/0 when not run). */
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
  /** The HTTP API phase (null when not run). */
  api: PhaseResult | null;
  /** API rate divided by SMTP rate, both from this run (null unless both phases ran and ended). */
  api_vs_smtp: { submit: number | null; e2e: number | null } | null;
  error?: string;
}

interface Started {
  sink?: CountingSink;
  redis?: { url: string; pid?: number; stop(): Promise<void> };
  relay?: RelayChild;
  workDir?: string;
  backlog?: Backlog;
  apiKey?: BenchKey;
}

async function stopAll(started: Started, keepWorkDir: boolean): Promise<void> {
  await started.apiKey?.revoke().catch(() => {});
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

function initialResult(params: BenchParams, env: BenchIo['env']): BenchResult {
  return {
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
      redis: params.relay ? null : env['REDIS_URL'] ? 'REDIS_URL' : 'private',
      sink: '',
      timeout_s: params.timeoutS,
      paths: params.paths,
      api_body: params.paths.includes('api') ? params.apiBody : null,
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
    api: null,
    api_vs_smtp: null,
  };
}

/** A phase's verdict: ok, or what went wrong first. */
function phaseStatus(
  phase: PhaseResult & { reached: boolean },
  messages: number,
  deadline: number,
): BenchStatus {
  if (!phase.reached && Date.now() >= deadline) return 'timeout';
  if (phase.submitted < messages || phase.errors > 0) return 'submit_failed';
  if (!phase.reached || phase.delivered !== messages) return 'incomplete';
  return 'ok';
}

const ratio = (api: number | null, smtp: number | null) =>
  api === null || smtp === null || smtp === 0 ? null : round(api / smtp, RATIO_DECIMALS);

function phaseLine(p: PhaseResult): string {
  return (
    `submit ${p.submit_msgs_per_s ?? '-'} msg/s, end-to-end ${p.e2e_msgs_per_s ?? '-'} msg/s, ` +
    `${p.delivered} delivered, ${p.errors} errors, CPU ${p.cpu_busy_pct ?? '-'} %`
  );
}

/** The summary on stderr: the status, one line per phase, and the ratio when both ran. */
function summary(result: BenchResult): string[] {
  const lines = [`${result.status}`];
  if (result.params.paths.includes('smtp')) lines.push(`smtp: ${phaseLine(result)}`);
  if (result.api) lines.push(`api:  ${phaseLine(result.api)}`);
  const r = result.api_vs_smtp;
  if (r) lines.push(`api/smtp: submit ${r.submit ?? '-'}, end-to-end ${r.e2e ?? '-'}`);
  return lines;
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
        api: withApi,
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
    const phase = (label: string, load: Parameters<typeof runPhase>[0]['load']) => {
      if (controller.signal.aborted) throw new Error('interrupted');
      return runPhase({
        label,
        messages: params.messages,
        sink,
        load,
        pids: { relay: started.relay?.pid, redis: started.redis?.pid },
        deadline,
        signal: controller.signal,
        progress: params.jsonOnly ? undefined : io.stderr,
      });
    };
    const common = {
      messages: params.messages,
      concurrency: params.concurrency,
      sizeBytes: params.sizeBytes,
      recipients: params.recipients,
      deadline,
      signal: controller.signal,
    };
    const verdicts: BenchStatus[] = [];
    if (params.paths.includes('smtp')) {
      say(`smtp: sending ${params.messages} messages over ${params.concurrency} sessions`);
      const smtp = await phase('smtp', (stats) => runLoad({ ...common, ...relay }, stats));
      const { reached: _, ...fields } = smtp;
      Object.assign(result, fields);
      verdicts.push(phaseStatus(smtp, params.messages, deadline));
    }
    const apiAddress = started.relay?.api;
    if (withApi && apiAddress && started.apiKey) {
      say(
        `api: sending ${params.messages} messages (${params.apiBody}) over ${params.concurrency} connections`,
      );
      const key = started.apiKey.key;
      const firstIndex = params.paths.includes('smtp') ? params.messages : 0;
      const api = await phase('api', (stats) =>
        runApiLoad({ ...common, ...apiAddress, key, firstIndex, body: params.apiBody }, stats),
      );
      const { reached: _, ...fields } = api;
      result.api = fields;
      verdicts.push(phaseStatus(api, params.messages, deadline));
      if (params.paths.includes('smtp'))
        result.api_vs_smtp = {
          submit: ratio(api.submit_msgs_per_s, result.submit_msgs_per_s),
          e2e: ratio(api.e2e_msgs_per_s, result.e2e_msgs_per_s),
        };
    }
    if (started.backlog) result.delayed_after_run = await started.backlog.delayedCount();
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
