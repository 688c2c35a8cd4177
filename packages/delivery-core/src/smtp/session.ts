/**
 * One outbound SMTP session (RFC 5321) on Herald's own client: a socket Herald connects with
 * Nagle off, EHLO (HELO when EHLO is refused), opportunistic or required STARTTLS, AUTH PLAIN /
 * LOGIN for smarthosts (session-setup.ts), and transactions (transaction.ts's exchange) that
 * pipeline MAIL, every RCPT and DATA in one write when the server offers PIPELINING (RFC 2920),
 * with one result per recipient.
 * Every step has a deadline (connect, greeting, each command, the body and its final reply, RSET,
 * QUIT), and every way the connection can end (close, reset, timeout, TLS error, protocol error)
 * settles the step exactly once (wire.ts): `open` throws a DeliveryError, `send` resolves a result
 * and never throws. A session whose transaction did not end with a reply to its final dot is
 * reused only after an RSET answered in time (`readyForReuse`); one that saw a 421 or lost its
 * connection is never reused. What the server offered decides what the message may carry
 * (params.ts): the sender's DSN request only to a server with DSN; an 8-bit message to one
 * without 8BITMIME only in its 7-bit form (else 554 5.6.3); a UTF-8 address, or UTF-8 headers of
 * a message submitted with SMTPUTF8, to one without SMTPUTF8 never (553 5.6.7).
 */
import type { TLSSocket } from 'node:tls';
import { DeliveryError, PermanentError, type SmtpReply } from '../errors/index.js';
import { mailParameters, rcptParameters, refusedAlone, wireForm } from './params.js';
import { connectError, networkError } from './reply.js';
import {
  authenticate,
  type Extensions,
  exchange,
  greetAndHello,
  plaintextAllowedAfter,
  startTls,
} from './session-setup.js';
import type {
  ConnectionLease,
  SessionTarget,
  SessionTimeouts,
  TlsDetails,
  TransactionOptions,
  TransactionResult,
} from './session-types.js';
import { connectNoDelay } from './socket.js';
import { runTransaction, type TransactionProgress, transactionResult } from './transaction.js';
import { SmtpWire } from './wire.js';

/** How long QUIT may take before the connection is cut. */
const QUIT_DEADLINE_MS = 2_000;

export class SmtpSession {
  readonly target: SessionTarget;
  readonly tlsActive: boolean;
  /** Our end of the connection: the local IP the system (or a bound source) gave it. */
  readonly localAddress: string | undefined;
  /** Set when the session runs over TLS. */
  readonly tlsDetails?: TlsDetails;
  /** Why an opportunistic session runs in plaintext although STARTTLS was offered (its handshake failed). */
  tlsFallback?: string;
  /** Transactions begun on this connection. */
  messagesSent = 0;
  /** The site-wide connection lease this session holds, released when it is gone. */
  lease?: ConnectionLease | undefined;
  /** False from MAIL until the server answered the final dot: RSET before the next MAIL. */
  private clean = true;
  private closing: Promise<void> | undefined;

  private constructor(
    target: SessionTarget,
    private readonly wire: SmtpWire,
    private readonly ext: Extensions,
    private readonly timeouts: SessionTimeouts,
    localAddress: string | undefined,
  ) {
    this.target = target;
    this.localAddress = localAddress;
    const socket = wire.current as TLSSocket;
    this.tlsActive = typeof socket.getProtocol === 'function';
    if (this.tlsActive) {
      this.tlsDetails = {
        version: socket.getProtocol() ?? 'unknown',
        cipher: socket.getCipher()?.name ?? 'unknown',
        // A peer check replaced the PKIX check: the session exists only because it passed.
        verified: target.peerCheck ? true : socket.authorized,
        ...(target.peerCheck ? { verifiedBy: target.peerCheck.by } : {}),
      };
    }
  }

  /**
   * True while the connection is open, not closing, and quiet: anything the server sent between
   * transactions (typically "421 idle timeout" before it hangs up) means it is going away.
   */
  get usable(): boolean {
    return this.wire.alive && !this.wire.unread && this.closing === undefined;
  }

  /**
   * Connects, greets, says EHLO, upgrades to TLS per `target.tls`, authenticates. Throws
   * DeliveryError. Opportunistic TLS whose handshake (or the EHLO over it) fails connects to the
   * same address again in plaintext, as Postfix's `may` level does (RETRY_AS_PLAINTEXT), unless
   * the certificate was to be verified, a peer check (DANE) applies or credentials would be sent.
   */
  static async open(
    target: SessionTarget,
    ehloName: string,
    timeouts: SessionTimeouts,
  ): Promise<SmtpSession> {
    try {
      return await SmtpSession.establish(target, target.tls, ehloName, timeouts);
    } catch (err) {
      if (!plaintextAllowedAfter(target, err)) throw err;
      const session = await SmtpSession.establish(target, 'none', ehloName, timeouts);
      session.tlsFallback = (err as Error).message;
      return session;
    }
  }

  private static async establish(
    target: SessionTarget,
    tls: SessionTarget['tls'],
    ehloName: string,
    timeouts: SessionTimeouts,
  ): Promise<SmtpSession> {
    let socket: Awaited<ReturnType<typeof connectNoDelay>>;
    try {
      socket = await connectNoDelay({
        host: target.address,
        port: target.port,
        timeoutMs: timeouts.connectMs,
        ...(target.localAddress ? { localAddress: target.localAddress } : {}),
      });
    } catch (err) {
      throw connectError((err as Error).message, target.hostname, err);
    }
    const wire = new SmtpWire(socket);
    const localAddress = socket.localAddress;
    try {
      let ext = await greetAndHello(wire, target.hostname, ehloName, timeouts);
      if (tls !== 'none') ext = await startTls(wire, target, ehloName, timeouts, ext);
      if (target.auth) await authenticate(wire, target.hostname, target.auth, timeouts.commandMs, ext);
      return new SmtpSession(target, wire, ext, timeouts, localAddress);
    } catch (err) {
      wire.destroy();
      if (err instanceof DeliveryError && localAddress) err.localAddress ??= localAddress;
      throw err;
    }
  }

  /** One transaction: MAIL, RCPT per recipient, DATA, the body. Never throws. */
  async send(
    from: string,
    recipients: string[],
    body: Buffer,
    options: TransactionOptions = {},
  ): Promise<TransactionResult> {
    this.messagesSent++;
    const host = this.target.hostname;
    // A UTF-8 address the server cannot take is refused alone; its co-recipients still go.
    const alone = new Map<string, SmtpReply>();
    for (const [to, refused] of refusedAlone(this.ext, from, recipients, host))
      alone.set(to, { ...refused, stage: 'rcpt', host });
    const sendable = alone.size > 0 ? recipients.filter((to) => !alone.has(to)) : recipients;
    const form = wireForm(this.ext, from, sendable, body, options, host);
    if ('refused' in form) {
      const reply: SmtpReply = { ...form.refused, stage: 'mail', host };
      return transactionResult(recipients, new Map(), new PermanentError(reply, 'remote'));
    }
    this.clean = false;
    const replies = new Map<string, SmtpReply>(alone);
    const at: TransactionProgress = { stage: 'mail' };
    try {
      const commands = {
        mail: `MAIL FROM:<${from}>${mailParameters(this.ext, form, options)}`,
        rcpt: (to: string) => `RCPT TO:<${to}>${rcptParameters(this.ext, to, options, form.smtputf8)}`,
      };
      const link = { wire: this.wire, ext: this.ext, timeouts: this.timeouts, host };
      const sent = await runTransaction(link, commands, sendable, form.body, replies, at, () => {
        this.clean = true;
      });
      const out = alone.size > 0 ? { ...sent, ...transactionResult(recipients, replies, sent.error) } : sent;
      // The next hop took the request (it reports from now on) only when it offers DSN and was given it.
      if (this.ext.dsn && options.dsn) for (const r of out.recipients) if (r.accepted) r.dsnPassed = true;
      return out;
    } catch (err) {
      // The connection failed, timed out or broke the protocol: it is gone.
      this.wire.destroy();
      const error =
        err instanceof DeliveryError
          ? err
          : networkError(`local error: ${(err as Error)?.message}`, at.stage, host, '4.3.0', err);
      const out = transactionResult(recipients, replies, error);
      if (at.dotSent) out.dotUnanswered = true;
      return out;
    }
  }

  /**
   * Makes the session ready for the next transaction: nothing to do after one that ended; after
   * one that did not, RSET answered within the command deadline. False: do not reuse it.
   */
  async readyForReuse(): Promise<boolean> {
    if (!this.usable) return false;
    if (this.clean) return true;
    try {
      const { raw } = await exchange(
        this.wire,
        'RSET',
        this.timeouts.commandMs,
        'mail',
        this.target.hostname,
      );
      this.clean = raw.code >= 200 && raw.code < 300 && this.wire.alive;
    } catch {
      this.clean = false;
    }
    if (!this.clean) this.wire.destroy();
    return this.clean;
  }

  /** QUIT, resolving once the connection is gone (cut after QUIT_DEADLINE_MS). Never throws. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.wire.alive) {
        await exchange(this.wire, 'QUIT', QUIT_DEADLINE_MS, 'mail', this.target.hostname).catch(
          () => undefined,
        );
      }
      this.wire.destroy();
      await this.wire.whenClosed();
    })();
    return this.closing;
  }
}
