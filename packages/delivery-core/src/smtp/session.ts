/**
 * One outbound SMTP session on nodemailer's SMTPConnection, over a socket Herald connects itself
 * so that Nagle's algorithm is off (`setNoDelay`): with it on, every message waits for a delayed
 * ACK (~40 ms). Handles EHLO, opportunistic or required STARTTLS, PIPELINING and SIZE (nodemailer
 * pipelines RCPTs when the server offers PIPELINING), and reports one result per recipient.
 */
import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { type DeliveryError, type SmtpReply, TransientError } from '../errors/index.js';
import { errorFromSmtp, parseReply } from './reply.js';
import { connectNoDelay } from './socket.js';

export type TlsMode = 'opportunistic' | 'require' | 'none';

/** A site-wide connection slot (see pool.ts ConnectionLeases). */
export interface ConnectionLease {
  /** Gives the slot back; resolves once it is free for others (never rejects). */
  release(): Promise<void>;
}

/** How long `close` waits for the server to answer QUIT and close before cutting the connection. */
const CLOSE_WAIT_MS = 2_000;

/** Per-destination settings (shaping) for the sessions an attempt opens or reuses; not pool keys. */
export interface SessionLimits {
  maxMessagesPerConnection?: number;
  /** Connections this process keeps to the host at most (shaping's max_connections). */
  maxConnections?: number;
  /** The site the host belongs to and its connection limit across every relay (leases). */
  site?: string;
  siteMaxConnections?: number;
  /** New connections to the site per period across every relay (shaping's max_connection_rate). */
  siteConnectionRate?: { count: number; periodMs: number };
  timeouts?: SessionTimeouts;
}

export interface SessionTarget extends SessionLimits {
  /** IP address to connect to. */
  address: string;
  port: number;
  /** Host name the address belongs to (MX name or smarthost); TLS SNI and logs. */
  hostname: string;
  tls: TlsMode;
  tlsVerify: boolean;
  /** Trusted CA certificates (PEM) for the certificate check; absent = Node's bundled roots. */
  tlsCa?: readonly string[] | undefined;
  /** Source address to bind (a shaping pool's IP); absent = the system picks. */
  localAddress?: string;
  /** EHLO name for this source; absent = the pool's default. */
  ehloName?: string;
  auth?: { username: string; password: string };
}

export interface SessionTimeouts {
  connectMs: number;
  greetingMs: number;
  commandMs: number;
  dataMs: number;
}

/** What the STARTTLS handshake gave: protocol, cipher, and whether the certificate verified. */
export interface TlsDetails {
  version: string;
  cipher: string;
  /** The chain reached a trusted root and the certificate names the host (whether enforced or not). */
  verified: boolean;
}

export interface RecipientOutcome {
  address: string;
  accepted: boolean;
  reply: SmtpReply;
}

export interface TransactionResult {
  recipients: RecipientOutcome[];
  /** Set when the transaction as a whole failed (MAIL or DATA rejected, connection lost). */
  error?: DeliveryError;
}

export class SmtpSession {
  readonly target: SessionTarget;
  readonly tlsActive: boolean;
  /** Set when the session runs over TLS. */
  readonly tlsDetails?: TlsDetails;
  messagesSent = 0;
  /** The site-wide connection lease this session holds, released when it is gone. */
  lease?: ConnectionLease | undefined;
  private closed = false;
  private ended = false;
  private readonly conn: SMTPConnection;

  private constructor(target: SessionTarget, conn: SMTPConnection) {
    this.target = target;
    this.conn = conn;
    this.tlsActive = Boolean((conn as unknown as { secure?: boolean }).secure);
    const socket = (conn as unknown as { _socket?: TLSSocket })._socket;
    if (this.tlsActive && socket?.getProtocol) {
      this.tlsDetails = {
        version: socket.getProtocol() ?? 'unknown',
        cipher: socket.getCipher()?.name ?? 'unknown',
        verified: socket.authorized,
      };
    }
    conn.on('end', () => {
      this.closed = true;
      this.ended = true;
    });
    conn.on('error', () => {
      this.closed = true;
    });
  }

  get usable(): boolean {
    return !this.closed;
  }

  static async open(
    target: SessionTarget,
    ehloName: string,
    timeouts: SessionTimeouts,
  ): Promise<SmtpSession> {
    const socket = await connectSocket(target, timeouts.connectMs);
    const conn = new SMTPConnection({
      connection: socket,
      host: target.hostname,
      port: target.port,
      name: ehloName,
      secure: false,
      ignoreTLS: target.tls === 'none',
      requireTLS: target.tls === 'require',
      opportunisticTLS: target.tls === 'opportunistic',
      tls: {
        rejectUnauthorized: target.tlsVerify,
        servername: target.hostname,
        ...(target.tlsCa ? { ca: [...target.tlsCa] } : {}),
      },
      greetingTimeout: timeouts.greetingMs,
      socketTimeout: Math.max(timeouts.commandMs, timeouts.dataMs),
      logger: false,
      debug: false,
    } as SMTPConnection.Options);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: unknown) => {
        const error = errorFromSmtp(err, 'greeting', target.hostname);
        // A failed TLS handshake (e.g. an untrusted certificate) surfaces as a socket error.
        if ((conn as unknown as { upgrading?: boolean }).upgrading) error.reply.stage = 'starttls';
        reject(error);
      };
      conn.once('error', onError);
      conn.connect(() => {
        conn.removeListener('error', onError);
        resolve();
      });
    }).catch((err) => {
      socket.destroy();
      throw err;
    });
    if (target.auth) {
      await new Promise<void>((resolve, reject) => {
        conn.login({ user: target.auth!.username, pass: target.auth!.password }, (err) =>
          err ? reject(errorFromSmtp(err, 'auth', target.hostname)) : resolve(),
        );
      }).catch((err) => {
        conn.close();
        throw err;
      });
    }
    const session = new SmtpSession(target, conn);
    // Keep a listener so a late socket error never becomes an unhandled 'error' event.
    conn.on('error', () => {});
    return session;
  }

  /** One transaction: MAIL, RCPT per recipient (pipelined), DATA. Never throws. */
  send(from: string, recipients: string[], body: Buffer): Promise<TransactionResult> {
    const host = this.target.hostname;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (result: TransactionResult) => {
        if (settled) return;
        settled = true;
        this.conn.removeListener('error', onError);
        resolve(result);
      };
      const onError = (err: unknown) => {
        this.closed = true;
        const error = errorFromSmtp(err, 'data', host);
        finish({
          recipients: recipients.map((address) => ({ address, accepted: false, reply: error.reply })),
          error,
        });
      };
      this.conn.once('error', onError);
      this.conn.send({ from, to: recipients, size: body.length }, body, (err, info) => {
        this.messagesSent++;
        if (err) {
          const error = errorFromSmtp(err, 'data', host);
          const rejectedErrors = (err as { rejectedErrors?: unknown[] }).rejectedErrors;
          if (rejectedErrors && (err as { command?: string }).command?.startsWith('RCPT')) {
            // Every recipient was refused at RCPT: per-recipient replies, no transaction error.
            finish({ recipients: perRecipient(recipients, [], rejectedErrors, host) });
            return;
          }
          finish({
            recipients: recipients.map((address) => ({ address, accepted: false, reply: error.reply })),
            error,
          });
          return;
        }
        const dataReply = parseReply(info.response ?? '250 OK', 'data', host);
        finish({
          recipients: perRecipient(
            recipients,
            info.accepted as string[],
            info.rejectedErrors ?? [],
            host,
            dataReply,
          ),
        });
      });
    });
  }

  /** RSET after a failed transaction so the session can be reused. */
  reset(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.conn.reset((err) => resolve(!err));
    });
  }

  /** QUIT, resolving once the connection is gone (at most CLOSE_WAIT_MS, then it is cut). */
  close(): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.conn.close();
        done();
      }, CLOSE_WAIT_MS);
      this.conn.once('end', done);
      try {
        this.conn.quit();
      } catch {
        this.conn.close();
      }
    });
  }
}

function perRecipient(
  recipients: string[],
  accepted: string[],
  rejectedErrors: unknown[],
  host: string,
  dataReply?: SmtpReply,
): RecipientOutcome[] {
  const acceptedSet = new Set(accepted.map((a) => a.toLowerCase()));
  const rejectedReplies = new Map<string, SmtpReply>();
  for (const rejected of rejectedErrors) {
    const r = rejected as { recipient?: string; response?: string };
    if (r.recipient && r.response)
      rejectedReplies.set(r.recipient.toLowerCase(), parseReply(r.response, 'rcpt', host));
  }
  return recipients.map((address) => {
    const key = address.toLowerCase();
    const rejected = rejectedReplies.get(key);
    if (rejected) return { address, accepted: false, reply: rejected };
    if (acceptedSet.has(key) && dataReply) return { address, accepted: true, reply: dataReply };
    const reply: SmtpReply = {
      code: 451,
      enhanced: '4.3.0',
      text: 'no reply recorded for recipient',
      stage: 'rcpt',
      host,
    };
    return { address, accepted: false, reply };
  });
}

async function connectSocket(target: SessionTarget, timeoutMs: number): Promise<net.Socket> {
  try {
    return await connectNoDelay({
      host: target.address,
      port: target.port,
      timeoutMs,
      ...(target.localAddress ? { localAddress: target.localAddress } : {}),
    });
  } catch (err) {
    const reply = {
      code: 451,
      enhanced: '4.4.1',
      text: (err as Error).message,
      stage: 'connect' as const,
      host: target.hostname,
    };
    throw new TransientError(reply, 'network', { cause: err });
  }
}
