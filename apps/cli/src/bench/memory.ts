/**
 * A process's peak resident memory from /proc/<pid>/status (`VmHWM`, the high-water mark of its
 * resident set over its whole life, every thread included), for the bench's relay child.
 * Owns: nothing. Guarantees: returns null where the file is missing or unreadable (not Linux, the
 * process gone), never throws.
 * Needs injected: the file reader (for tests), default fs.readFileSync.
 */
import { readFileSync } from 'node:fs';

const BYTES_PER_KB = 1024;
const VM_HWM = /^VmHWM:\s+(\d+)\s+kB$/m;

/** The `VmHWM` of a /proc/<pid>/status text, in bytes, or null. */
export function parsePeakRss(status: string): number | null {
  const match = VM_HWM.exec(status);
  return match ? Number(match[1]) * BYTES_PER_KB : null;
}

export function processPeakRssBytes(
  pid: number,
  read: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): number | null {
  try {
    return parsePeakRss(read(`/proc/${pid}/status`));
  } catch {
    return null;
  }
}
