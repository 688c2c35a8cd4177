/**
 * The JSON object `herald bench` prints, and how phase measurements become it: the rounds of one
 * path (SMTP or API) add up into that path's rates, CPU and counts; the SMTP path fills the
 * top-level fields (as before --api existed), the API path the `api` object, and both together
 * the ratio `api_vs_smtp`. Also the one-line-per-path summary for stderr.
 * Owns: nothing. Guarantees: pure.
 * Needs injected: the params and the measurements.
 */
import { cpus } from 'node:os';
import type { BenchParams, BenchPath } from './args.js';
import type { PhaseMeasure } from './phase.js';

const MS_PER_S = 1000;
const PERCENT = 100;
const RATE_DECIMALS = 1;
const SECONDS_DECIMALS = 3;
const CPU_DECIMALS = 2;
const RATIO_DECIMALS = 2;
const MAX_ERROR_SAMPLES = 5;
const MICROS_PER_S = 1_000_000;
const BYTES_PER_MIB = 1024 * 1024;

export type BenchStatus = 'ok' | 'submit_failed' | 'incomplete' | 'timeout' | 'interrupted' | 'failed';

/** One path's figures over all its rounds. */
export interface PhaseResult {
  /** Summed over rounds: from each round's first connection until its last accepted message. */
  submit_s: number | null;
  submit_msgs_per_s: number | null;
  /** Summed over rounds: until the sink counted each round's accepted messages (null: it did not). */
  e2e_s: number | null;
  e2e_msgs_per_s: number | null;
  submitted: number;
  delivered: number;
  errors: number;
  error_samples: string[];
  cpu_busy_pct: number | null;
  /** CPU seconds each process used during this path's rounds (null: not started here). */
  process_cpu_s: { bench: number; relay: number | null; redis: number | null };
  /** The relay child's CPU per delivered message, in µs (null: not started here, or none delivered). */
  relay_cpu_us_per_msg: number | null;
  /** The private Redis's CPU per delivered message, in µs (null: not started here, or none delivered). */
  redis_cpu_us_per_msg: number | null;
}

export interface BenchResult extends PhaseResult {
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
    /** The paths measured (each with `messages` messages). */
    paths: BenchPath[];
    /** Rounds the paths alternated in. */
    rounds: number;
    /** How API requests carry the message (raw or structured); null without the API path. */
    api_body: string | null;
    /** The relay's redis.durability (null: the bench did not start the relay). */
    durability: 'fast' | 'strict' | null;
    /** The relay's queue.shards (null: the bench did not start the relay). */
    shards: number | null;
    /** Whether the relay ran with a `behaviour` section (null: the bench did not start the relay). */
    behaviour: boolean | null;
    /** The relay's telemetry.sample_ratio (null: telemetry off). */
    telemetry_sample: number | null;
  };
  /** Scheduled messages written before the timed run (--backlog). */
  backlog: number;
  backlog_fill_s: number | null;
  /** Redis used_memory growth over the fill divided by the backlog (null: no backlog). */
  redis_bytes_per_queued_message: number | null;
  /** Jobs in the delayed set after the run (null: the bench did not start the relay). */
  delayed_after_run: number | null;
  /**
   * The relay child's peak resident memory (VmHWM) over its whole life, start-up included, read
   * just before it is stopped (null: the bench did not start it, or not Linux).
   */
  relay_peak_rss_bytes: number | null;
  /** With --telemetry-sample: OTLP export requests and bytes the bench's sink took. */
  otlp_requests: number | null;
  otlp_bytes: number | null;
  /** The HTTP API path (null when not run); the top-level rates are the SMTP path's. */
  api: PhaseResult | null;
  /** API rate divided by SMTP rate, from this run (null unless both paths ran and ended). */
  api_vs_smtp: { submit: number | null; e2e: number | null } | null;
  error?: string;
}

export const round = (n: number, decimals: number) => Number(n.toFixed(decimals));

const EMPTY_PHASE: PhaseResult = {
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
  relay_cpu_us_per_msg: null,
  redis_cpu_us_per_msg: null,
};

export function initialResult(params: BenchParams, env: Record<string, string | undefined>): BenchResult {
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
      rounds: params.rounds,
      api_body: params.paths.includes('api') ? params.apiBody : null,
      durability: params.relay ? null : params.durability,
      shards: params.relay ? null : params.shards,
      behaviour: params.relay ? null : params.behaviour,
      telemetry_sample: params.telemetrySample ?? null,
    },
    ...EMPTY_PHASE,
    backlog: params.backlog,
    backlog_fill_s: null,
    redis_bytes_per_queued_message: null,
    delayed_after_run: null,
    relay_peak_rss_bytes: null,
    otlp_requests: null,
    otlp_bytes: null,
    api: null,
    api_vs_smtp: null,
  };
}

const sumOrNull = (values: (number | null)[]) =>
  values.some((v) => v === null) ? null : values.reduce<number>((a, b) => a + (b ?? 0), 0);

/** One path's rounds added up. */
export function pathResult(rounds: readonly PhaseMeasure[]): PhaseResult {
  if (rounds.length === 0) return { ...EMPTY_PHASE };
  const sum = (f: (m: PhaseMeasure) => number) => rounds.reduce((a, m) => a + f(m), 0);
  const submitted = sum((m) => m.submitted);
  const delivered = sum((m) => m.delivered);
  const submitMs = sum((m) => m.submitMs);
  const e2eMs = sum((m) => m.e2eMs);
  const reached = rounds.every((m) => m.reached);
  const machine = rounds.every((m) => m.machine)
    ? { busy: sum((m) => m.machine!.busy), total: sum((m) => m.machine!.total) }
    : null;
  const cpu = (values: (number | null)[]) => {
    const total = sumOrNull(values);
    return total === null ? null : round(total, CPU_DECIMALS);
  };
  // Per message from the unrounded sums, so a short run is not skewed by the rounding above.
  const perMessage = (values: (number | null)[]) => {
    const total = sumOrNull(values);
    return total === null || delivered === 0 ? null : Math.round((total * MICROS_PER_S) / delivered);
  };
  return {
    submit_s: submitted > 0 ? round(submitMs / MS_PER_S, SECONDS_DECIMALS) : null,
    submit_msgs_per_s: submitted > 0 ? round((submitted * MS_PER_S) / submitMs, RATE_DECIMALS) : null,
    e2e_s: reached ? round(e2eMs / MS_PER_S, SECONDS_DECIMALS) : null,
    e2e_msgs_per_s: reached ? round((delivered * MS_PER_S) / e2eMs, RATE_DECIMALS) : null,
    submitted,
    delivered,
    errors: sum((m) => m.errors),
    error_samples: [...new Set(rounds.flatMap((m) => m.errorSamples))].slice(0, MAX_ERROR_SAMPLES),
    cpu_busy_pct: machine && machine.total > 0 ? Math.round((PERCENT * machine.busy) / machine.total) : null,
    process_cpu_s: {
      bench: round(
        sum((m) => m.cpu.bench),
        CPU_DECIMALS,
      ),
      relay: cpu(rounds.map((m) => m.cpu.relay)),
      redis: cpu(rounds.map((m) => m.cpu.redis)),
    },
    relay_cpu_us_per_msg: perMessage(rounds.map((m) => m.cpu.relay)),
    redis_cpu_us_per_msg: perMessage(rounds.map((m) => m.cpu.redis)),
  };
}

/** A path's verdict: ok, or what went wrong first. */
export function pathStatus(rounds: readonly PhaseMeasure[], messages: number, deadline: number): BenchStatus {
  const p = pathResult(rounds);
  const reached = rounds.length > 0 && rounds.every((m) => m.reached);
  if (!reached && Date.now() >= deadline) return 'timeout';
  if (p.submitted < messages || p.errors > 0) return 'submit_failed';
  if (!reached || p.delivered !== messages) return 'incomplete';
  return 'ok';
}

export function ratio(api: number | null, smtp: number | null): number | null {
  return api === null || smtp === null || smtp === 0 ? null : round(api / smtp, RATIO_DECIMALS);
}

function phaseLine(p: PhaseResult): string {
  const perMessage = [
    p.relay_cpu_us_per_msg === null ? '' : `relay ${p.relay_cpu_us_per_msg} µs`,
    p.redis_cpu_us_per_msg === null ? '' : `redis ${p.redis_cpu_us_per_msg} µs`,
  ].filter(Boolean);
  return (
    `submit ${p.submit_msgs_per_s ?? '-'} msg/s, end-to-end ${p.e2e_msgs_per_s ?? '-'} msg/s, ` +
    `${p.delivered} delivered, ${p.errors} errors, CPU ${p.cpu_busy_pct ?? '-'} %` +
    (perMessage.length > 0 ? `, CPU/msg ${perMessage.join(', ')}` : '')
  );
}

/** The summary on stderr: the status, one line per path, and the ratio when both ran. */
export function summary(result: BenchResult): string[] {
  const lines = [`${result.status}`];
  if (result.params.paths.includes('smtp')) lines.push(`smtp: ${phaseLine(result)}`);
  if (result.api) lines.push(`api:  ${phaseLine(result.api)}`);
  const r = result.api_vs_smtp;
  if (r) lines.push(`api/smtp: submit ${r.submit ?? '-'}, end-to-end ${r.e2e ?? '-'}`);
  if (result.relay_peak_rss_bytes !== null)
    lines.push(`relay peak RSS ${(result.relay_peak_rss_bytes / BYTES_PER_MIB).toFixed(1)} MiB`);
  return lines;
}
