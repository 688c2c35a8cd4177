/**
 * A submitting mail client for the e2e tests, on nodemailer's SMTPConnection.
 * Owns: one client connection (connect, optional STARTTLS, AUTH, any number of messages, QUIT).
 * Guarantees: SMTP refusals never throw — every call resolves with the server's reply (code and
 * full text) so tests can assert on it; only a failure to connect at all rejects.
 * Needs injected: the relay's host and port.
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';

/** Connect and greeting bound: a hang guard, not a timing assertion. */
const CLIENT_TIMEOUT_MS = 30_000;
/**
 * Idle bound of a session: tests keep sessions open across slow steps (a CLI reload starting under
 * load took longer than 10 s), so only a true hang trips it.
 */
const CLIENT_IDLE_MS = 120_000;
const CLIENT_NAME = 'client.herald.test';

export interface ClientOptions {
  port: number;
  host?: string;
  /** Bind the client to this local address (e.g. 127.0.0.5 for a "different network"). */
  localAddress?: string;
  /** Require STARTTLS (self-signed certificates are accepted). Default: never use TLS. */
  starttls?: boolean;
  /** How long the session may sit without a reply before the client gives up (default CLIENT_IDLE_MS). */
  idleTimeoutMs?: number;
}

export interface Credentials {
  user: string;
  pass: string;
  method?: 'PLAIN' | 'LOGIN';
}

export interface Reply {
  ok: boolean;
  /** Basic reply code of the deciding reply (0 when the connection failed without one). */
  code: number;
  /** Full text of the deciding reply, e.g. "530 5.7.0 Authentication required". */
  response: string;
  /** The command that got the deciding refusal (e.g. "MAIL FROM", "DATA", "AUTH PLAIN"). */
  command?: string;
}

export interface SendResult extends Reply {
  accepted: string[];
  rejected: string[];
  /** One reply text per rejected recipient, in order. */
  rejectedResponses: string[];
  /** Herald's id from "queued as <id>", when accepted. */
  queueId?: string;
}

export interface Envelope {
  from: string;
  to: string[];
  /** Declared size for MAIL FROM SIZE=. */
  size?: number;
}

type SmtpError = SMTPConnection.SMTPError & {
  rejected?: string[];
  rejectedErrors?: SMTPConnection.SMTPError[];
};

function codeOf(response: string | undefined, fallback: number | undefined): number {
  const match = /^(\d{3})/.exec(response ?? '');
  return match ? Number(match[1]) : (fallback ?? 0);
}

function refusal(err: SmtpError): Reply {
  return {
    ok: false,
    code: codeOf(err.response, err.responseCode),
    response: err.response ?? err.message,
    ...(err.command ? { command: err.command } : {}),
  };
}

export class SmtpClient {
  private constructor(private readonly conn: SMTPConnection) {}

  /** Connects (and upgrades with STARTTLS when asked); rejects if no session could be opened. */
  static async connect(opts: ClientOptions): Promise<SmtpClient> {
    const conn = new SMTPConnection({
      host: opts.host ?? '127.0.0.1',
      port: opts.port,
      name: CLIENT_NAME,
      connectionTimeout: CLIENT_TIMEOUT_MS,
      greetingTimeout: CLIENT_TIMEOUT_MS,
      socketTimeout: opts.idleTimeoutMs ?? CLIENT_IDLE_MS,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(opts.starttls ? { requireTLS: true, tls: { rejectUnauthorized: false } } : { ignoreTLS: true }),
    });
    // Late socket errors (server gone) must not crash the test process; calls report them.
    conn.on('error', () => {});
    await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())));
    return new SmtpClient(conn);
  }

  /** True once the session runs over TLS. */
  get secure(): boolean {
    return this.conn.secure;
  }

  /** The last reply the server sent (after connect: the EHLO reply, all lines). */
  get lastResponse(): string {
    return this.conn.lastServerResponse || '';
  }

  /** AUTH with `method` (default PLAIN); the reply's `command` names the mechanism used. */
  login(credentials: Credentials): Promise<Reply> {
    const method = credentials.method ?? 'PLAIN';
    // nodemailer reads the SASL mechanism from `method`, which its types do not declare.
    const auth = { user: credentials.user, pass: credentials.pass, method } as SMTPConnection.Credentials;
    return new Promise((resolve) => {
      this.conn.login(auth, (err) => {
        if (err) resolve(refusal(err));
        else
          resolve({
            ok: true,
            code: codeOf(this.lastResponse, 235),
            response: this.lastResponse,
            command: `AUTH ${method}`,
          });
      });
    });
  }

  send(envelope: Envelope, body: Buffer | string): Promise<SendResult> {
    const env: SMTPConnection.Envelope = {
      from: envelope.from,
      to: envelope.to,
      ...(envelope.size !== undefined ? { size: envelope.size } : {}),
    };
    return new Promise((resolve) => {
      this.conn.send(env, body, (err, info) => {
        if (err) {
          const e = err as SmtpError;
          resolve({
            ...refusal(e),
            accepted: [],
            rejected: e.rejected ?? [],
            rejectedResponses: (e.rejectedErrors ?? []).map((r) => r.response ?? r.message),
          });
          return;
        }
        const queueId = /queued as (\S+)/.exec(info.response)?.[1];
        resolve({
          ok: true,
          code: codeOf(info.response, 250),
          response: info.response,
          accepted: info.accepted,
          rejected: info.rejected,
          rejectedResponses: (info.rejectedErrors ?? []).map((r) => r.response ?? r.message),
          ...(queueId ? { queueId } : {}),
        });
      });
    });
  }

  /** RSET, so the next send starts clean after a refused transaction. */
  reset(): Promise<void> {
    return new Promise((resolve) => this.conn.reset(() => resolve()));
  }

  close(): void {
    this.conn.quit();
    this.conn.close();
  }
}

export interface SubmitOptions extends ClientOptions, Envelope {
  body: Buffer | string;
  auth?: Credentials;
}

/** One message in one session: connect, optional AUTH, send, QUIT. Resolves with the deciding reply. */
export async function submit(opts: SubmitOptions): Promise<SendResult> {
  const client = await SmtpClient.connect(opts);
  try {
    if (opts.auth) {
      const auth = await client.login(opts.auth);
      if (!auth.ok) return { ...auth, accepted: [], rejected: [], rejectedResponses: [] };
    }
    return await client.send(opts, opts.body);
  } finally {
    client.close();
  }
}
