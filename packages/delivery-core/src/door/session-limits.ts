/**
 * Per-session limits of an SMTP listener, Postfix style (smtpd_junk_command_limit,
 * smtpd_soft_error_limit / smtpd_error_sleep_time, smtpd_hard_error_limit), as pure counting:
 * - junk: commands other than MAIL, RCPT, DATA and QUIT since the session began, last
 *   authenticated or last had a MAIL accepted; one past `junkCommandLimit` ends the session;
 * - errors: 4xx/5xx replies since the session began or last had a message accepted; from
 *   `softErrorLimit` on every command waits `errorSleepMs`; at `hardErrorLimit` the session ends;
 * - AUTH failures in this session; at `authFailureLimit` the session ends.
 * The caller answers `421 4.7.0` and closes when a method names a limit.
 */

export type SessionLimit = 'junk_commands' | 'errors' | 'auth_failures';

export interface SessionLimits {
  junkCommandLimit: number;
  softErrorLimit: number;
  hardErrorLimit: number;
  errorSleepMs: number;
  authFailureLimit: number;
}

/** Commands that carry mail (or end the session): never junk. */
const TRANSACTION_COMMANDS: ReadonlySet<string> = new Set(['MAIL', 'RCPT', 'DATA', 'QUIT']);

export class SessionCounters {
  private junk = 0;
  private errors = 0;
  private authFailures = 0;

  constructor(private readonly limits: SessionLimits) {}

  /** A command named `name` (upper case) arrived: the limit it broke, or how long to hold it. */
  command(name: string): { limit: SessionLimit } | { delayMs: number } {
    if (!TRANSACTION_COMMANDS.has(name)) {
      this.junk += 1;
      if (this.junk > this.limits.junkCommandLimit) return { limit: 'junk_commands' };
    }
    return { delayMs: this.errors >= this.limits.softErrorLimit ? this.limits.errorSleepMs : 0 };
  }

  /** An error reply (4xx/5xx) went out; 'errors' once the hard limit is reached. */
  error(): SessionLimit | undefined {
    this.errors += 1;
    return this.errors >= this.limits.hardErrorLimit ? 'errors' : undefined;
  }

  /** An AUTH failed; 'auth_failures' once the session's limit is reached. */
  authFailed(): SessionLimit | undefined {
    this.authFailures += 1;
    return this.authFailures >= this.limits.authFailureLimit ? 'auth_failures' : undefined;
  }

  /** The client authenticated or had a MAIL accepted: junk counting starts over. */
  progressed(): void {
    this.junk = 0;
  }

  /** A message was accepted: error counting starts over. */
  delivered(): void {
    this.errors = 0;
  }
}
