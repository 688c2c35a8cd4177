/**
 * The byte level of one outbound SMTP connection: writes commands, hands out the server's replies
 * in order (pipelined replies wait in a queue bounded in count and bytes), and upgrades to TLS after STARTTLS.
 * Guarantees: every `read` settles exactly once — with the next reply, or with a WireFailure when
 * its deadline passes, the server closes or resets the connection, TLS fails, or the server
 * breaks the protocol (reply-reader.ts caps). The first failure kills the wire for good: the
 * socket is destroyed and every later read fails at once with it. Replies that arrived before the
 * server closed are still handed out first ("421 closing" followed by FIN reads as the 421).
 * Plaintext the server sends after its STARTTLS reply is a protocol error, never read as if it
 * came over TLS (command injection, CVE-2011-0411).
 */
import type net from 'node:net';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { type RawReply, ReplyProtocolError, ReplyReader } from './reply-reader.js';

/** Replies received but not yet read; a server sending more than this unasked is broken. */
const MAX_QUEUED_REPLIES = 10_000;
/** Bytes of text those replies may hold together (a flood of 4 KiB × 200-line replies). */
const MAX_QUEUED_REPLY_BYTES = 1024 * 1024;

export type WireFailureKind = 'timeout' | 'closed' | 'error' | 'protocol' | 'tls';

/** Why the connection is unusable; `message` says what was being waited for. */
export class WireFailure extends Error {
  override readonly name = 'WireFailure';
  constructor(
    readonly kind: WireFailureKind,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface TlsUpgrade {
  /** The name the certificate must carry (the MX host name), also sent as SNI when not an IP. */
  hostname: string;
  verify: boolean;
  ca?: readonly string[] | undefined;
  deadlineMs: number;
  /** Checks the presented chain (DER, leaf first) after the handshake; a problem fails the upgrade. */
  check?: ((chain: readonly Buffer[]) => string | undefined) | undefined;
}

/** The chain a TLS peer presented, DER, leaf first (Node links each certificate to its issuer). */
export function presentedChain(socket: tls.TLSSocket): Buffer[] {
  const chain: Buffer[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cert?.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    chain.push(cert.raw);
    cert = cert.issuerCertificate;
  }
  return chain;
}

interface Waiter {
  resolve(reply: RawReply): void;
  reject(failure: WireFailure): void;
  timer: NodeJS.Timeout;
}

export class SmtpWire {
  private socket: net.Socket;
  private reader = new ReplyReader();
  private readonly queued: RawReply[] = [];
  private queuedBytes = 0;
  private waiter: Waiter | undefined;
  private failure: WireFailure | undefined;
  /** What the current read waits for, for failure messages. */
  private waitingFor = 'a reply';
  private readonly onData = (chunk: Buffer) => this.receive(chunk);
  private readonly onEnd = () => this.fail(new WireFailure('closed', 'connection closed by the server'));
  private readonly onClose = () => this.fail(new WireFailure('closed', 'connection closed'));
  private readonly onError = (err: NodeJS.ErrnoException) =>
    this.fail(new WireFailure('error', `connection error: ${err.code ?? err.message}`, err.code));

  constructor(socket: net.Socket) {
    this.socket = socket;
    this.listen(socket);
  }

  get alive(): boolean {
    return this.failure === undefined;
  }

  /** Bytes or replies arrived that no read has taken yet. */
  get unread(): boolean {
    return this.queued.length > 0 || this.reader.midReply;
  }

  /** The socket in use (the TLS socket after an upgrade). */
  get current(): net.Socket {
    return this.socket;
  }

  /** Sends bytes as they are; on a dead wire nothing is sent (the next read reports why). */
  write(data: string | Buffer): void {
    if (this.failure) return;
    this.socket.write(data);
  }

  /**
   * Sends the buffers `chunks` makes, in order, taking the next one only while the socket has
   * room (else after its 'drain'), so a large body is never copied whole into the socket's
   * queue. Returns at once; stops when the wire fails. What bounds it is the caller's next read:
   * a peer that stops reading fails that read at its deadline, which ends the connection.
   * `written` is called once the last buffer went to the socket (not when the wire failed first).
   */
  pump(chunks: Iterator<Buffer>, written?: () => void): void {
    const socket = this.socket;
    const next = (): void => {
      for (;;) {
        if (this.failure || socket.destroyed) return;
        const chunk = chunks.next();
        if (chunk.done) {
          written?.();
          return;
        }
        if (!socket.write(chunk.value)) {
          socket.once('drain', next);
          return;
        }
      }
    };
    next();
  }

  /**
   * The next reply, within `deadlineMs`; `what` names it in failures ("the reply to MAIL FROM").
   * `statedMs` is the deadline a failure names, when this read has only what is left of a longer
   * one (a pipelined group's replies share one command_timeout).
   */
  read(deadlineMs: number, what: string, statedMs = deadlineMs): Promise<RawReply> {
    const queued = this.queued.shift();
    if (queued) {
      this.queuedBytes -= replyBytes(queued);
      return Promise.resolve(queued);
    }
    if (this.failure) return Promise.reject(this.explain(this.failure, what));
    if (this.waiter) return Promise.reject(new WireFailure('protocol', 'two reads at once (Herald bug)'));
    this.waitingFor = what;
    return new Promise<RawReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new WireFailure('timeout', `timed out after ${statedMs} ms`, 'ETIMEDOUT'));
      }, deadlineMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  /** STARTTLS was answered 220: handshake within the deadline; resolves with the TLS socket. */
  upgrade(options: TlsUpgrade): Promise<tls.TLSSocket> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.queued.length > 0 || this.reader.midReply) {
      const failure = new WireFailure('protocol', 'server sent data after its STARTTLS reply');
      this.fail(failure);
      return Promise.reject(failure);
    }
    const plain = this.socket;
    this.unlisten(plain);
    plain.on('error', () => {});
    return new Promise<tls.TLSSocket>((resolve, reject) => {
      let settled = false;
      const done = (failure?: WireFailure) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (failure) {
          this.failure = failure;
          secure.destroy();
          plain.destroy();
          reject(failure);
          return;
        }
        secure.removeListener('error', onHandshakeError);
        this.socket = secure;
        this.reader = new ReplyReader();
        this.listen(secure);
        resolve(secure);
      };
      const onHandshakeError = (err: NodeJS.ErrnoException) =>
        done(new WireFailure('tls', `TLS handshake failed: ${err.code ?? ''} ${err.message}`.trim(), 'ETLS'));
      const secure = tls.connect({
        socket: plain,
        host: options.hostname,
        ...(isIP(options.hostname) ? {} : { servername: options.hostname }),
        rejectUnauthorized: options.verify,
        ...(options.ca ? { ca: [...options.ca] } : {}),
      });
      const timer = setTimeout(
        () =>
          done(new WireFailure('tls', `TLS handshake timed out after ${options.deadlineMs} ms`, 'ETIMEDOUT')),
        options.deadlineMs,
      );
      // Errors after the handshake's own outcome must not become unhandled 'error' events.
      secure.on('error', () => {});
      secure.once('secureConnect', () => {
        const problem = options.check?.(presentedChain(secure));
        done(
          problem === undefined
            ? undefined
            : new WireFailure('tls', `certificate check failed: ${problem}`, 'ETLS'),
        );
      });
      secure.once('error', onHandshakeError);
      secure.once('close', () =>
        done(new WireFailure('tls', 'connection closed during the TLS handshake', 'ETLS')),
      );
    });
  }

  /** Kills the connection now (no QUIT); pending and later reads fail with `reason`. */
  destroy(reason = 'connection closed by Herald'): void {
    this.fail(new WireFailure('closed', reason));
  }

  /** Resolves once the socket is fully closed (at once when it already is). */
  whenClosed(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  private receive(chunk: Buffer): void {
    let replies: RawReply[];
    try {
      replies = this.reader.push(chunk);
    } catch (err) {
      const message = err instanceof ReplyProtocolError ? err.message : String(err);
      this.fail(new WireFailure('protocol', `protocol error: ${message}`, 'EPROTOCOL'));
      return;
    }
    for (const reply of replies) {
      const waiter = this.waiter;
      if (waiter) {
        this.waiter = undefined;
        clearTimeout(waiter.timer);
        waiter.resolve(reply);
      } else {
        this.queued.push(reply);
        this.queuedBytes += replyBytes(reply);
        if (this.queued.length > MAX_QUEUED_REPLIES || this.queuedBytes > MAX_QUEUED_REPLY_BYTES) {
          this.fail(new WireFailure('protocol', 'protocol error: too many unrequested replies', 'EPROTOCOL'));
          return;
        }
      }
    }
  }

  private fail(failure: WireFailure): void {
    if (this.failure) return;
    this.failure = failure;
    // After a protocol error what is queued cannot be trusted (nor kept: it may be a flood).
    if (failure.kind === 'protocol') {
      this.queued.length = 0;
      this.queuedBytes = 0;
    }
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.reject(this.explain(failure, this.waitingFor));
    }
    this.unlisten(this.socket);
    // Late errors of a dying socket must not become unhandled 'error' events.
    this.socket.on('error', () => {});
    this.socket.destroy();
  }

  private explain(failure: WireFailure, what: string): WireFailure {
    return new WireFailure(failure.kind, `${failure.message} while waiting for ${what}`, failure.code);
  }

  private listen(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
  }

  private unlisten(socket: net.Socket): void {
    socket.removeListener('data', this.onData);
    socket.removeListener('end', this.onEnd);
    socket.removeListener('close', this.onClose);
    socket.removeListener('error', this.onError);
  }
}

/** The text a queued reply holds (its lines; the code and separators are noise). */
function replyBytes(reply: RawReply): number {
  let bytes = 0;
  for (const line of reply.lines) bytes += line.length + 4;
  return bytes;
}
