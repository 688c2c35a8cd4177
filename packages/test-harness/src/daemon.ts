/**
 * A daemon a fixture started (unbound, rspamd), stopped by its PID: SIGTERM, then SIGKILL after
 * STOP_TIMEOUT_MS; with `group` the signals go to its whole process group (a daemon that forks
 * workers, spawned `detached`). `daemonCloser` is the fixture's close(): stop once, forget it in
 * the child registry, remove its temp dir; every call gets the same promise.
 */
import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { untrackChild } from '@herald/local-redis';

/** How long a daemon gets to exit on SIGTERM before SIGKILL. */
export const STOP_TIMEOUT_MS = 5_000;

export function stopDaemon(child: ChildProcess, opts: { group?: boolean } = {}): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const signal = (sig: NodeJS.Signals) => {
    if (opts.group && child.pid !== undefined) {
      try {
        process.kill(-child.pid, sig); // its process group: the main process and its workers
        return;
      } catch {
        // no group (already gone, or not a leader): the process itself below
      }
    }
    child.kill(sig);
  };
  return new Promise((resolve) => {
    const timer = setTimeout(() => signal('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    signal('SIGTERM');
  });
}

export function daemonCloser(
  child: ChildProcess,
  dir: string,
  opts: { group?: boolean } = {},
): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () =>
    (closing ??= (async () => {
      await stopDaemon(child, opts);
      if (child.pid !== undefined) untrackChild(child.pid);
      await rm(dir, { recursive: true, force: true });
    })());
}
