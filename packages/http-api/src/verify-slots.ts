/**
 * VerifySlots: a tiny semaphore for expensive key verifications (scrypt of an admin `key_hash`):
 * at most `running` at once per process and at most `waiting` queued behind them; `acquire`
 * answers undefined at once when both are full (the caller answers 429 with Retry-After), so a
 * flood of garbage tokens cannot fill libuv's threadpool or queue up without bound. Pure.
 */
export type Release = () => void;

export class VerifySlots {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly running: number,
    private readonly waiting: number,
  ) {}

  /** A release function once a slot is free, or undefined at once if the queue is full too. */
  acquire(): Promise<Release> | undefined {
    if (this.active < this.running) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.queue.length >= this.waiting) return undefined;
    return new Promise((resolve) => this.queue.push(() => resolve(this.releaser())));
  }

  /** Verifications running and queued (for tests and metrics). */
  get load(): { active: number; queued: number } {
    return { active: this.active, queued: this.queue.length };
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    };
  }
}
