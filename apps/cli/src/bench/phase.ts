/**
 * One timed phase of `herald bench`: a load (SMTP sessions or HTTP API requests) of N messages,
 * then the wait until the sink has counted every accepted one, with the CPU each process used.
 * Owns: the phase's progress line and its measurements.
 * Guarantees: resolves (never rejects on the relay's errors) by the deadline or on abort; the
 * sink's count before the phase is its baseline, so phases on one sink are measured apart.
 * Needs injected: the load to run, the sink, the PIDs to sample, the output for progress.
 */
import { performance } from 'node:perf_hooks';
import { busyPercent, processCpuSeconds, sampleCpu } from './cpu.js';
import type { LoadStats } from './load.js';
import { startProgress } from './progress.js';
import type { CountingSink } from './sink.js';

const MS_PER_S = 1000;
const MICROS_PER_S = 1_000_000;
const RATE_DECIMALS = 1;
const SECONDS_DECIMALS = 3;
const CPU_DECIMALS = 2;

export interface PhaseResult {
  /** From the first connection until the last accepted message (null: none accepted). */
  submit_s: number | null;
  submit_msgs_per_s: number | null;
  /** From the same start until the sink counted every accepted message (null: it did not). */
  e2e_s: number | null;
  e2e_msgs_per_s: number | null;
  submitted: number;
  /** Messages the sink counted during this phase. */
  delivered: number;
  errors: number;
  error_samples: string[];
  cpu_busy_pct: number | null;
  /** CPU seconds each process used during the phase (null: not started here or unreadable). */
  process_cpu_s: { bench: number; relay: number | null; redis: number | null };
}

export interface PhaseOptions {
  label: string;
  messages: number;
  sink: CountingSink;
  load: (stats: LoadStats) => Promise<void>;
  pids: { relay: number | undefined; redis: number | undefined };
  deadline: number;
  signal: AbortSignal;
  /** Progress output; undefined = none (--json-only). */
  progress: { write(text: string): unknown; isTTY?: boolean } | undefined;
}

export const round = (n: number, decimals: number) => Number(n.toFixed(decimals));

export async function runPhase(options: PhaseOptions): Promise<PhaseResult & { reached: boolean }> {
  const { sink, pids } = options;
  const stats: LoadStats = { accepted: 0, errors: 0, started: 0, connects: 0, errorSamples: [] };
  const baseline = sink.count;
  const progress = options.progress
    ? startProgress({
        out: options.progress,
        isTty: Boolean(options.progress.isTTY),
        label: options.label,
        snapshot: () => ({
          total: options.messages,
          accepted: stats.accepted,
          delivered: sink.count - baseline,
          errors: stats.errors,
        }),
      })
    : undefined;
  const cpuStart = sampleCpu();
  const processCpu = () => ({
    bench: process.cpuUsage(),
    relay: pids.relay ? processCpuSeconds(pids.relay) : null,
    redis: pids.redis ? processCpuSeconds(pids.redis) : null,
  });
  const processCpuStart = processCpu();
  const t0 = performance.now();
  let reached = false;
  let submitMs = 0;
  let e2eMs = 0;
  try {
    await options.load(stats);
    submitMs = performance.now() - t0;
    reached =
      stats.accepted > 0 && (await sink.waitFor(baseline + stats.accepted, options.deadline, options.signal));
    e2eMs = performance.now() - t0;
  } finally {
    progress?.stop();
  }
  const processCpuEnd = processCpu();
  const benchCpu = process.cpuUsage(processCpuStart.bench);
  const delta = (a: number | null, b: number | null) =>
    a === null || b === null ? null : round(b - a, CPU_DECIMALS);
  const delivered = sink.count - baseline;
  return {
    reached,
    submit_s: stats.accepted > 0 ? round(submitMs / MS_PER_S, SECONDS_DECIMALS) : null,
    submit_msgs_per_s:
      stats.accepted > 0 ? round((stats.accepted * MS_PER_S) / submitMs, RATE_DECIMALS) : null,
    e2e_s: reached ? round(e2eMs / MS_PER_S, SECONDS_DECIMALS) : null,
    e2e_msgs_per_s: reached ? round((delivered * MS_PER_S) / e2eMs, RATE_DECIMALS) : null,
    submitted: stats.accepted,
    delivered,
    errors: stats.errors,
    error_samples: stats.errorSamples,
    cpu_busy_pct: busyPercent(cpuStart, sampleCpu()),
    process_cpu_s: {
      bench: round((benchCpu.user + benchCpu.system) / MICROS_PER_S, CPU_DECIMALS),
      relay: delta(processCpuStart.relay, processCpuEnd.relay),
      redis: delta(processCpuStart.redis, processCpuEnd.redis),
    },
  };
}
