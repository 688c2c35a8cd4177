/**
 * Registry of child processes started by the test fixtures and the bench (redis-server, ...).
 * Owns: killing, by PID, every still-running tracked child when this process exits or receives
 * SIGINT/SIGTERM, so a crashed or interrupted test never leaves a server behind; synchronous
 * cleanup callbacks (temp dirs) run at exit too.
 * Guarantees: handlers are installed once, on first use; a signal is re-raised after cleanup when
 * nobody else handles it, so the default "terminate" behaviour is kept.
 * Needs injected: nothing (children register themselves with trackChild).
 */
import type { ChildProcess } from 'node:child_process';

const EXIT_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

interface TrackedChild {
  pid: number;
  label: string;
  child: ChildProcess;
}

const tracked = new Map<number, TrackedChild>();
const exitCleanups = new Set<() => void>();
let handlersInstalled = false;

function isRunning(entry: TrackedChild): boolean {
  return entry.child.exitCode === null && entry.child.signalCode === null;
}

/** SIGKILL every tracked child that is still running; synchronous, safe inside an 'exit' handler. */
export function killTrackedChildren(): void {
  for (const entry of tracked.values()) {
    if (!isRunning(entry)) continue;
    try {
      process.kill(entry.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  tracked.clear();
}

function runExitCleanups(): void {
  for (const cleanup of exitCleanups) {
    try {
      cleanup();
    } catch {
      // best effort at exit
    }
  }
  exitCleanups.clear();
}

function onExit(): void {
  killTrackedChildren();
  runExitCleanups();
}

function onSignal(signal: NodeJS.Signals): void {
  onExit();
  for (const s of EXIT_SIGNALS) process.removeListener(s, onSignal);
  process.removeListener('exit', onExit);
  handlersInstalled = false;
  // Keep the default behaviour (terminate) unless someone else handles this signal.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', onExit);
  for (const s of EXIT_SIGNALS) process.on(s, onSignal);
}

/** Track a spawned child until it exits; it is SIGKILLed if this process exits first. */
export function trackChild(child: ChildProcess, label: string): void {
  const pid = child.pid;
  if (pid === undefined) return; // spawn failed, nothing to kill
  installHandlers();
  const entry: TrackedChild = { pid, label, child };
  tracked.set(pid, entry);
  child.once('exit', () => {
    if (tracked.get(pid) === entry) tracked.delete(pid);
  });
}

/** Stop tracking a child (it was stopped deliberately). */
export function untrackChild(pid: number): void {
  tracked.delete(pid);
}

/** PIDs and labels of tracked children that are still running (for diagnostics and tests). */
export function trackedChildren(): { pid: number; label: string }[] {
  return [...tracked.values()].filter(isRunning).map(({ pid, label }) => ({ pid, label }));
}

/**
 * Run `cleanup` (synchronous) at process exit, after children are killed. Returns a function that
 * unregisters it (call it when the resource was cleaned up normally).
 */
export function registerExitCleanup(cleanup: () => void): () => void {
  installHandlers();
  exitCleanups.add(cleanup);
  return () => {
    exitCleanups.delete(cleanup);
  };
}
