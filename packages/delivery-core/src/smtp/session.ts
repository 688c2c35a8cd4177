/**
 * One outbound SMTP session (RFC 5321) on Herald's own client: a socket Herald connects with
 * Nagle off, EHLO (HELO when EHLO is refused), opportunistic or required STARTTLS, AUTH PLAIN /
 * LOGIN for smarthosts (session-setup.ts), and transactions that pipeline MAIL, every RCPT and
 * DATA in one write when the server offers PIPELINING (RFC 2920), with one result per recipient.
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
import { DeliveryError, PermanentError, type SmtpReply, type SmtpStage } from '../errors/index.js';
import { dataDeadlineMs, encodeDataChunks } from './data-encoding.js';
import { mailParameters, rcptParameters, refusedAlone, wireForm } from './params.js';
import { tooManyAsTemporary } from './recipient-limit.js';
import { connectError, networkError, replyError } from './reply.js';
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
      return result(recipients, new Map(), new PermanentError(reply, 'remote'));
    }
    this.clean = false;
    const replies = new Map<string, SmtpReply>(alone);
    const at: { stage: SmtpStage } = { stage: 'mail' };
    try {
      const mail = `MAIL FROM:<${from}>${mailParameters(this.ext, form, options)}`;
      const rcpt = (to: string) => `RCPT TO:<${to}>${rcptParameters(this.ext, to, options, form.smtputf8)}`;
      const sent = await this.transaction(mail, rcpt, sendable, form.body, replies, at);
      const out = alone.size > 0 ? { ...sent, ...result(recipients, replies, sent.error) } : sent;
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
      return result(recipients, replies, error);
    }
  }

  private async transaction(
    mailCommand: string,
    rcptCommand: (to: string) => string,
    recipients: string[],
    body: Buffer,
    replies: Map<string, SmtpReply>,
    at: { stage: SmtpStage },
  ): Promise<TransactionResult> {
    const host = this.target.hostname;
    const { commandMs, dataMs } = this.timeouts;
    const pipelined = this.ext.pipelining;
    if (pipelined) {
      const group = [mailCommand, ...recipients.map(rcptCommand), 'DATA', ''];
      this.wire.write(group.join('\r\n'));
    }
    // Pipelined, every command is already written: only its reply is read, and every reply of the
    // group is due within command_timeout of the write (a server that takes almost the deadline
    // per reply cannot stretch an attempt with the number of recipients). One at a time, each
    // command's reply is due within command_timeout of its own write.
    const groupDue = Date.now() + commandMs;
    // `command` undefined: only read the next reply (the end of data's, the drained ones).
    const next = (command: string | undefined, what: string, ms?: number) => {
      const deadline = ms ?? (pipelined ? Math.max(1, groupDue - Date.now()) : commandMs);
      const stated = ms ?? commandMs;
      return exchange(
        this.wire,
        pipelined ? undefined : command,
        deadline,
        at.stage,
        host,
        what,
        stated,
      ).then((r) => r.reply);
    };

    const mail = await next(mailCommand, 'the reply to MAIL FROM');
    if (mail.code >= 300) {
      // Pipelined, RCPT and DATA were refused too: read their replies to keep the session in step
      // (a connection that fails meanwhile is dropped; the recipients keep the MAIL reply).
      if (pipelined) await this.drainRefused(recipients.length, next).catch(() => this.wire.destroy());
      return result(recipients, replies, replyError(mail));
    }
    at.stage = 'rcpt';
    const accepted: string[] = [];
    for (const to of recipients) {
      const rcpt = tooManyAsTemporary(await next(rcptCommand(to), `the reply to RCPT TO:<${to}>`));
      if (rcpt.code < 300) accepted.push(to);
      else replies.set(to, rcpt);
    }
    at.stage = 'data';
    if (accepted.length === 0 && !pipelined) return result(recipients, replies);
    const data = await next('DATA', 'the reply to DATA');
    const early = this.wire.unread;
    if ((data.code >= 200 && data.code < 300) || early) {
      // "250" to DATA: the server says it took a message it never received; or a reply already
      // waits after DATA's, which nothing asked for. Nothing was sent: never count that as
      // delivered (nor a 5xx read as DATA's as a refusal). The replies are out of step — shifted
      // by one, say, by a late extra reply to the last final dot read as MAIL's — so no RCPT reply
      // of this transaction stands: every recipient waits for the next attempt, never bounced
      // with the reply the server gave another one. The connection is dropped.
      const what = early
        ? `sent a reply after its reply to DATA (${data.code})`
        : `answered DATA with ${data.code} instead of 354`;
      this.wire.destroy(`the server ${what}`);
      for (const to of recipients) replies.delete(to);
      const text = `protocol error: ${host} ${what}; message not sent`;
      return result(recipients, replies, networkError(text, 'data', host, '4.5.0'));
    }
    if (data.code !== 354) {
      for (const to of accepted) replies.set(to, data);
      return result(recipients, replies, accepted.length > 0 ? replyError(data) : undefined);
    }
    // RFC 2920 §3.1: a server that says 354 with no recipient accepted gets an empty message.
    if (accepted.length === 0) this.wire.write('.\r\n');
    else this.wire.pump(encodeDataChunks(body));
    const final = await next(undefined, 'the reply to the end of data', dataDeadlineMs(dataMs, body.length));
    // The transaction is over, whatever the reply: no RSET needed.
    this.clean = true;
    for (const to of accepted) replies.set(to, final);
    return result(
      recipients,
      replies,
      accepted.length > 0 && final.code >= 300 ? replyError(final) : undefined,
    );
  }

  /** Pipelined after a refused MAIL: read the RCPT and DATA replies (an odd 354 gets an empty message). */
  private async drainRefused(
    rcpts: number,
    next: (command: string | undefined, what: string) => Promise<SmtpReply>,
  ): Promise<void> {
    for (let i = 0; i < rcpts; i++) await next(undefined, 'the reply to RCPT TO');
    const data = await next(undefined, 'the reply to DATA');
    if (data.code === 354) {
      this.wire.write('.\r\n');
      await next(undefined, 'the reply to the end of data');
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

/** Each recipient's reply; those without one get `error`'s (or, if none, "no reply recorded"). */
function result(
  recipients: string[],
  replies: Map<string, SmtpReply>,
  error?: DeliveryError,
): TransactionResult {
  const out: TransactionResult = {
    recipients: recipients.map((address) => {
      const reply = replies.get(address) ?? error?.reply ?? noReply(address);
      return { address, accepted: reply.code >= 200 && reply.code < 300, reply };
    }),
  };
  if (error) out.error = error;
  return out;
}

function noReply(address: string): SmtpReply {
  return { code: 451, enhanced: '4.3.0', text: `no reply recorded for <${address}>`, stage: 'rcpt' };
}
