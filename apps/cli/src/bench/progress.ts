/**
 * Progress on stderr while the bench runs: a redrawn one-line bar (plain ANSI) when stderr is a
 * TTY, otherwise one line every NON_TTY_INTERVAL_MS.
 * Owns: its interval timer (cleared by stop). Guarantees: stop() ends the line and is idempotent.
 * Needs injected: the output stream, whether it is a TTY, a snapshot function, and a clock.
 */

const TTY_INTERVAL_MS = 200;
const NON_TTY_INTERVAL_MS = 5_000;
const BAR_WIDTH = 30;
const MS_PER_S = 1000;
const CLEAR_LINE = '\r\x1b[2K';

export interface ProgressSnapshot {
  total: number;
  accepted: number;
  delivered: number;
  errors: number;
}

export interface ProgressOutput {
  write(text: string): unknown;
}

export function formatProgress(s: ProgressSnapshot, elapsedMs: number, withBar: boolean): string {
  const seconds = elapsedMs / MS_PER_S;
  const rate = seconds > 0 ? Math.round(s.delivered / seconds) : 0;
  const text =
    `submitted ${s.accepted}/${s.total}, delivered ${s.delivered}/${s.total}, ` +
    `${s.errors} errors, ${seconds.toFixed(1)} s, ${rate} msg/s delivered`;
  if (!withBar) return text;
  const filled =
    s.total > 0 ? Math.min(BAR_WIDTH, Math.floor((BAR_WIDTH * s.delivered) / s.total)) : BAR_WIDTH;
  return `[${'#'.repeat(filled)}${' '.repeat(BAR_WIDTH - filled)}] ${text}`;
}

export function startProgress(opts: {
  out: ProgressOutput;
  isTty: boolean;
  snapshot: () => ProgressSnapshot;
  /** Names the phase at the start of each line ("smtp", "api"). */
  label?: string;
  now?: () => number;
}): { stop(): void } {
  const now = opts.now ?? Date.now;
  const started = now();
  const draw = () => {
    const text = formatProgress(opts.snapshot(), now() - started, opts.isTty);
    const line = opts.label ? `${opts.label}: ${text}` : text;
    opts.out.write(opts.isTty ? `${CLEAR_LINE}${line}` : `bench: ${line}\n`);
  };
  const timer = setInterval(draw, opts.isTty ? TTY_INTERVAL_MS : NON_TTY_INTERVAL_MS);
  timer.unref();
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      draw();
      if (opts.isTty) opts.out.write('\n');
    },
  };
}
