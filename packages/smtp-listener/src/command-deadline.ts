/**
 * The command deadline of an SMTP listener (Postfix's smtpd_timeout with per-record deadlines, and
 * its stress mode): while the server waits for a client's next command, that command must be
 * complete within `normalMs` of the previous reply — `stressMs` while the listener holds
 * `stressAt` connections or more, and for STRESS_HOLD_MS after —, whatever the client trickles in meanwhile. A client that is
 * silent, or drips a command a byte at a time, is handed to `expire` (the caller answers
 * `421 4.4.2` and closes). The clock does not run while the server owes the reply or the message
 * is being received (DATA has its own deadlines). One timer per listener looks at every
 * connection each CHECK_MS; per process, in memory.
 */

/** How often the connections are looked at (the deadline's resolution). */
export const CHECK_MS = 1_000;
/** Stress lasts this long after the listener was last seen at its stress level (no flapping). */
export const STRESS_HOLD_MS = 60_000;

export interface DeadlineConnection {
  waitingForClient(): boolean;
}

export interface CommandDeadlineOptions {
  normalMs: number;
  stressMs: number;
  /** Connections at which the listener is under stress. */
  stressAt: number;
  expire(connection: DeadlineConnection, afterMs: number): void;
  now?: () => number;
}

export class CommandDeadlines {
  /** Connections by id: since when the server has been waiting for them. */
  private readonly waiting = new Map<string, { since: number; connection: DeadlineConnection }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private stressUntil = 0;

  constructor(private readonly options: CommandDeadlineOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A connection was accepted: its clock starts. */
  start(id: string, connection: DeadlineConnection): void {
    this.waiting.set(id, { since: this.now(), connection });
    this.noteLoad();
    if (!this.timer) {
      this.timer = setInterval(() => this.check(), CHECK_MS);
      this.timer.unref();
    }
  }

  /** A whole command arrived: the clock starts over (from its reply, see check). */
  commandArrived(id: string): void {
    const entry = this.waiting.get(id);
    if (entry) entry.since = this.now();
  }

  stop(id: string): void {
    this.waiting.delete(id);
    if (this.waiting.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** The deadline in force now. */
  get currentMs(): number {
    return this.now() < this.stressUntil ? this.options.stressMs : this.options.normalMs;
  }

  private noteLoad(): void {
    if (this.waiting.size >= this.options.stressAt) this.stressUntil = this.now() + STRESS_HOLD_MS;
  }

  /** Expires the connections past the deadline; the clock of one the server owes a reply to waits. */
  check(): void {
    const now = this.now();
    this.noteLoad();
    const deadline = this.currentMs;
    for (const [id, entry] of this.waiting) {
      if (!entry.connection.waitingForClient()) {
        entry.since = now;
        continue;
      }
      if (now - entry.since < deadline) continue;
      this.waiting.delete(id);
      this.options.expire(entry.connection, deadline);
    }
  }
}
