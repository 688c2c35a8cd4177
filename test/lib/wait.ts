/**
 * Bounded waiting for the e2e tests: poll a condition until it holds or a deadline passes.
 * Owns: nothing but timers. Guarantees: never waits longer than `timeoutMs` (plus one poll), and
 * the failure names what was awaited and the last value seen. Needs injected: nothing.
 */
import { setTimeout as delay } from 'node:timers/promises';

export const DEFAULT_WAIT_MS = 15_000;
const POLL_INTERVAL_MS = 50;

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns something other than undefined/false and resolves with it;
 * rejects after `timeoutMs` with `what` and the last probe value (or error).
 */
export async function waitUntil<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WAIT_MS;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err instanceof Error ? `error: ${err.message}` : err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    }
    await delay(opts.intervalMs ?? POLL_INTERVAL_MS);
  }
}
