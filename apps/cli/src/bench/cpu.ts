/**
 * Machine-wide CPU use from /proc/stat: the non-idle, non-iowait share of all cores between two
 * samples (the same measure peer-bench reports as cpu_busy_pct).
 * Owns: nothing. Guarantees: returns null where /proc/stat is unavailable (not Linux).
 * Needs injected: the file reader (for tests), default fs.readFileSync.
 */
import { readFileSync } from 'node:fs';

export interface CpuSample {
  busy: number;
  total: number;
}

const IDLE_FIELD = 3;
const IOWAIT_FIELD = 4;
/** user nice system idle iowait irq softirq steal (guest time is already inside user). */
const COUNTED_FIELDS = 8;
const PERCENT = 100;

export function parseProcStat(text: string): CpuSample | null {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const fields = line
    .trim()
    .split(/\s+/)
    .slice(1, 1 + COUNTED_FIELDS)
    .map(Number);
  if (fields.length < IOWAIT_FIELD + 1 || fields.some((n) => !Number.isFinite(n))) return null;
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - fields[IDLE_FIELD]! - fields[IOWAIT_FIELD]!, total };
}

export function sampleCpu(read: () => string = () => readFileSync('/proc/stat', 'utf8')): CpuSample | null {
  try {
    return parseProcStat(read());
  } catch {
    return null;
  }
}

/** Busy percentage (0–100, rounded) between two samples, or null. */
export function busyPercent(start: CpuSample | null, end: CpuSample | null): number | null {
  if (!start || !end || end.total <= start.total) return null;
  return Math.round((PERCENT * (end.busy - start.busy)) / (end.total - start.total));
}

/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every Linux we run). */
const CLOCK_TICKS_PER_S = 100;
/** utime and stime are fields 14 and 15 of /proc/<pid>/stat; counted after the ") " of comm. */
const UTIME_AFTER_COMM = 11;

/** CPU seconds (user + system) a process has used so far, or null if unreadable. */
export function processCpuSeconds(
  pid: number,
  read: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): number | null {
  try {
    const text = read(`/proc/${pid}/stat`);
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[UTIME_AFTER_COMM]);
    const stime = Number(fields[UTIME_AFTER_COMM + 1]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
    return (utime + stime) / CLOCK_TICKS_PER_S;
  } catch {
    return null;
  }
}
