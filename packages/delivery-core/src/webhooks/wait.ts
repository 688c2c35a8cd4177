/**
 * Waiting inside the dispatcher's loops: `pause` sleeps until a time or an abort (never rejects);
 * `Wakeup` lets the fan-out tell an idle sender loop that its outbox got a batch.
 */

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

export class Wakeup {
  private waiters: (() => void)[] = [];
  private signalled = false;

  notify(): void {
    this.signalled = true;
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves on `notify` (also one that came since the last wait), after `ms`, or on abort. */
  async wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.signalled) {
      this.signalled = false;
      return;
    }
    const controller = new AbortController();
    const abort = () => controller.abort();
    signal?.addEventListener('abort', abort, { once: true });
    this.waiters.push(abort);
    await pause(ms, controller.signal);
    signal?.removeEventListener('abort', abort);
    this.waiters = this.waiters.filter((w) => w !== abort);
    this.signalled = false;
  }
}
