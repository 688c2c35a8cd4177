/**
 * One timed phase of `herald bench`: a load (SMTP sessions or HTTP API requests) of N messages,
 * then the wait until the sink has counted every accepted one, with the CPU each process used.
 * Owns: the phase's progress line and its measurements (unrounded; result.ts reports them).
 * Guarantees: resolves (never rejects on the relay's errors) by the deadline or on abort; the
 * sink's count before the phase is its baseline, so phases on one sink are measured apart.
 * Needs injected: the load to run, the sink, the PIDs to sample, the output for progress.
 */
import { performance } from 'node:perf_hooks';
import { type CpuSample, processCpuSeconds, sampleCpu } from './cpu.js';
import type { LoadStats } from './load.js';
import { startProgress } from './progress.js';
import type { CountingSink } from './sink.js';

const MICROS_PER_S = 1_000_000;

/** What one phase measured, unrounded, so rounds of a path can be added up. */
export interface PhaseMeasure {
  submitted: number;
  /** Messages the sink counted during the phase. */
  delivered: number;
  errors: number;
  errorSamples: string[];
  /** From the first connection until the last accepted message. */
  submitMs: number;
  /** From the same start until the sink counted every accepted message (if it did). */
  e2eMs: number;
  /** The sink counted every accepted message in time. */
  reached: boolean;
  /** Machine-wide CPU jiffies (busy, total) over the phase; null where /proc/stat is missing. */
  machine: CpuSample | null;
  /** CPU seconds per process (null: not started here or unreadable). */
  cpu: { bench: number; relay: number | null; redis: number | null };
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

export async function runPhase(options: PhaseOptions): Promise<PhaseMeasure> {
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
  const cpuEnd = sampleCpu();
  const processCpuEnd = processCpu();
  const benchCpu = process.cpuUsage(processCpuStart.bench);
  const delta = (a: number | null, b: number | null) => (a === null || b === null ? null : b - a);
  return {
    submitted: stats.accepted,
    delivered: sink.count - baseline,
    errors: stats.errors,
    errorSamples: stats.errorSamples,
    submitMs,
    e2eMs,
    reached,
    machine:
      cpuStart && cpuEnd ? { busy: cpuEnd.busy - cpuStart.busy, total: cpuEnd.total - cpuStart.total } : null,
    cpu: {
      bench: (benchCpu.user + benchCpu.system) / MICROS_PER_S,
      relay: delta(processCpuStart.relay, processCpuEnd.relay),
      redis: delta(processCpuStart.redis, processCpuEnd.redis),
    },
  };
}
