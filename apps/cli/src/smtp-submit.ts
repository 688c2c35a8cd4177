/**
 * One SMTP submission session for `herald send`, on nodemailer's SMTPConnection over a socket we
 * connect ourselves with Nagle off (setNoDelay), as delivery-core's SmtpSession does.
 * Owns: connect (with a timeout), EHLO, STARTTLS per mode (certificates are NOT verified: a relay
 * usually has a self-signed one), AUTH, transactions, RSET, QUIT.
 * Guarantees: send() never throws — it reports the server's final reply per message; open()
 * rejects with an Error whose message says which step failed; close() is idempotent.
 */
import type net from 'node:net';
import { connectNoDelay } from '@herald/delivery-core/smtp';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';

export const CONNECT_TIMEOUT_MS = 10_000;
export const GREETING_TIMEOUT_MS = 30_000;
export const SOCKET_TIMEOUT_MS = 60_000;

export type TlsChoice = 'opportunistic' | 'require' | 'none';

export interface SubmitTarget {
  host: string;
  port: number;
  tls: TlsChoice;
  /** EHLO name; nodemailer's default (this host's name) when absent. */
  ehlo?: string | undefined;
  auth?: { user: string; pass: string } | undefined;
}

export interface SubmitResult {
  /** True when the server took the message for every recipient. */
  ok: boolean;
  /** The server's final reply line ("250 2.0.0 Ok: queued as …"), when it sent one. */
  reply?: string;
  /** What went wrong without a reply (connection lost, local error). */
  error?: string;
  /** Recipients the server refused, with its reply to each RCPT. */
  rejected: { recipient: string; reply: string }[];
}

type SmtpErrorLike = Error & {
  response?: string;
  command?: string;
  recipient?: string;
  rejectedErrors?: SmtpErrorLike[];
};
/** nodemailer's pseudo-commands for errors that are not a reply to a command we sent. */
const PSEUDO_COMMANDS = new Set(['CONN', 'API']);

/** "STARTTLS: 500 Error: command not recognized", or nodemailer's message when no reply came. */
function describeOpenError(err: SmtpErrorLike): string {
  if (!err.response) return err.message;
  const command = err.command && !PSEUDO_COMMANDS.has(err.command) ? `${err.command}: ` : '';
  return `${command}${err.response}`;
}

function connectSocket(host: string, port: number): Promise<net.Socket> {
  return connectNoDelay({ host, port, timeoutMs: CONNECT_TIMEOUT_MS });
}

function rejectedOf(errors: SmtpErrorLike[] | undefined): SubmitResult['rejected'] {
  return (errors ?? []).map((e) => ({ recipient: e.recipient ?? '?', reply: e.response ?? e.message }));
}

export class SmtpSubmission {
  private closed = false;
  private constructor(private readonly conn: SMTPConnection) {
    conn.on('end', () => {
      this.closed = true;
    });
    // Keep a listener so a late socket error never becomes an unhandled 'error' event.
    conn.on('error', () => {
      this.closed = true;
    });
  }

  get usable(): boolean {
    return !this.closed;
  }

  /** True when the session runs over TLS (STARTTLS succeeded). */
  get secure(): boolean {
    return this.conn.secure;
  }

  static async open(target: SubmitTarget): Promise<SmtpSubmission> {
    const socket = await connectSocket(target.host, target.port);
    const conn = new SMTPConnection({
      connection: socket,
      host: target.host,
      port: target.port,
      ...(target.ehlo ? { name: target.ehlo } : {}),
      secure: false,
      ignoreTLS: target.tls === 'none',
      requireTLS: target.tls === 'require',
      opportunisticTLS: target.tls === 'opportunistic',
      tls: { rejectUnauthorized: false },
      greetingTimeout: GREETING_TIMEOUT_MS,
      socketTimeout: SOCKET_TIMEOUT_MS,
      logger: false,
      debug: false,
    });
    // Failures surface through the callbacks below; never let one become an unhandled 'error'.
    conn.on('error', () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        conn.once('error', reject);
        conn.connect(() => {
          conn.removeListener('error', reject);
          resolve();
        });
      });
      if (target.auth) {
        const auth = target.auth;
        await new Promise<void>((resolve, reject) => {
          conn.login(auth, (err) => (err ? reject(err) : resolve()));
        });
      }
    } catch (err) {
      conn.close();
      socket.destroy();
      throw new Error(describeOpenError(err as SmtpErrorLike));
    }
    return new SmtpSubmission(conn);
  }

  /** MAIL, RCPT per recipient, DATA. Never throws. */
  send(from: string, to: string[], message: Buffer): Promise<SubmitResult> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (result: SubmitResult) => {
        if (settled) return;
        settled = true;
        this.conn.removeListener('error', onError);
        this.conn.removeListener('end', onEnd);
        resolve(result);
      };
      const onError = (err: SmtpErrorLike) =>
        finish({
          ok: false,
          error: err.message,
          rejected: [],
          ...(err.response ? { reply: err.response } : {}),
        });
      const onEnd = () => finish({ ok: false, error: 'the server closed the connection', rejected: [] });
      this.conn.once('error', onError);
      this.conn.once('end', onEnd);
      this.conn.send({ from, to }, message, (err, info) => {
        if (err) {
          const e = err as SmtpErrorLike;
          const rejected = rejectedOf(e.rejectedErrors);
          finish({ ok: false, rejected, ...(e.response ? { reply: e.response } : { error: e.message }) });
          return;
        }
        const rejected = rejectedOf(info.rejectedErrors as SmtpErrorLike[] | undefined);
        finish({ ok: rejected.length === 0, reply: info.response, rejected });
      });
    });
  }

  /** RSET after a failed transaction so the next one can start; false when the session is gone. */
  reset(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => this.conn.reset((err) => resolve(!err)));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.quit();
    } catch {
      this.conn.close();
    }
  }
}
