/**
 * Last-in-first-out cleanup for a test: `defer(fn)` as resources start, and they are stopped in
 * reverse order by one after-hook (relays before the Redis they use). Owns: the list.
 * Guarantees: every deferred function runs even if an earlier one fails; the first failure is
 * rethrown at the end. Needs injected: the test context (anything with `after`).
 */
export type Defer = (cleanup: () => unknown) => void;

export function deferrer(t: { after: (fn: () => Promise<void>) => void }): Defer {
  const cleanups: (() => unknown)[] = [];
  t.after(async () => {
    let first: unknown;
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  });
  return (cleanup) => void cleanups.push(cleanup);
}
