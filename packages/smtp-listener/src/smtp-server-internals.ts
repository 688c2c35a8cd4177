/**
 * Every place Herald relies on smtp-server beyond its documented API, behind one accessor
 * (smtp-server is pinned to an exact version for this reason). What Herald relies on:
 * 1. `smtp-hooks` (smtp-hooks.ts): SMTPConnection.prototype's `_onCommand(command, callback)`,
 *    `connectionReady(next)`, `send(code, data, context)` and `close()`, wrapped once per
 *    process; a connection's `_server` (the SMTPServer it belongs to), `_nextHandler` (a
 *    continuation such as AUTH LOGIN's next line is pending), `_handlerPending`, `_dataStream`,
 *    `_upgrading`, `_socket` (destroyed to drop a stalled STARTTLS handshake), `_closing`, `_closed`,
 *    `session` and `remoteAddress`.
 * 2. `own-enhanced-codes` (enhanced-codes.ts): `send(code, data, context)` writes no enhanced
 *    status code when `context` is `false`, and a connection's `_server`.
 * 3. `data-unstuffing` (data-unstuffing.ts): SMTPStream.prototype's `_feedDataStream(chunk, done)`,
 *    replaced, and the stream's `_countDataBytes(len)`, `_endDataMode(chunk, remainder, done)`,
 *    `_dataStream`, `_lastBytes` and `_atDataStart` it uses (smtp-server 3.21's DATA parser).
 * Wrapping the prototype is process-wide, so each wrapper acts only for the servers that asked
 * for it (looked up by the connection's `_server`); every other server behaves as before.
 * `connectionPrototype` throws SmtpServerContractError naming the touchpoint when a method is
 * gone; packages/smtp-listener/test/smtp-hooks.test.ts and enhanced-codes.test.ts drive a real
 * SMTPServer through every one, so an upgrade that changes them fails there first.
 */
import type { SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

export type SmtpServerTouchpoint = 'smtp-hooks' | 'own-enhanced-codes' | 'data-unstuffing';

/** The private side of an smtp-server connection, as Herald reads it. */
export interface ConnectionInternals {
  _server: object;
  _nextHandler: unknown;
  _closing: boolean;
  _closed: boolean;
  _handlerPending: boolean;
  _dataStream: unknown;
  _upgrading: boolean;
  /** The socket the connection reads (the plain one until a STARTTLS handshake completes). */
  _socket: { destroy(): void };
  connectionReady(next?: unknown): unknown;
  session: SMTPServerSession;
  remoteAddress: string;
  send(code: number, data: unknown, context?: unknown): void;
  close(): void;
  _onCommand(command: Buffer, callback?: () => void): void;
}

type PrototypeMethod = '_onCommand' | 'send' | 'close' | 'connectionReady';

/** The prototype methods each touchpoint wraps or calls. */
export const TOUCHPOINT_METHODS: Record<SmtpServerTouchpoint, readonly PrototypeMethod[]> = {
  'smtp-hooks': ['_onCommand', 'send', 'close', 'connectionReady'],
  'own-enhanced-codes': ['send'],
  'data-unstuffing': [],
};

/** The private side of smtp-server's SMTPStream (its DATA parser), as Herald replaces it. */
export interface StreamInternals {
  _dataStream: (NodeJS.WritableStream & { writable: boolean; destroyed: boolean }) | null;
  _lastBytes: Buffer | false;
  _atDataStart: boolean;
  _countDataBytes(len: number): void;
  _endDataMode(chunk: Buffer | false, remainder: Buffer, done: () => void): void;
  _feedDataStream(chunk: Buffer, done: () => void): void;
}

const STREAM_METHODS = ['_feedDataStream', '_countDataBytes', '_endDataMode'] as const;

/** SMTPStream.prototype, after checking that the methods the touchpoint relies on exist. */
export function streamPrototype(touchpoint: SmtpServerTouchpoint): StreamInternals {
  const proto = SMTPStream.prototype as unknown as StreamInternals;
  for (const method of STREAM_METHODS) {
    if (typeof proto[method] !== 'function')
      throw new SmtpServerContractError(touchpoint, `SMTPStream.prototype.${method} is gone`);
  }
  return proto;
}

/** The installed smtp-server no longer has what Herald relies on (see smtp-server-internals.ts). */
export class SmtpServerContractError extends Error {
  constructor(
    readonly touchpoint: SmtpServerTouchpoint,
    detail: string,
  ) {
    super(
      `smtp-server changed under Herald's touchpoint "${touchpoint}": ${detail} (see smtp-listener/src/smtp-server-internals.ts)`,
    );
    this.name = 'SmtpServerContractError';
  }
}

/** SMTPConnection.prototype, after checking that the methods `touchpoint` relies on exist. */
export function connectionPrototype(touchpoint: SmtpServerTouchpoint): ConnectionInternals {
  const proto = SMTPConnection.prototype as unknown as ConnectionInternals;
  for (const method of TOUCHPOINT_METHODS[touchpoint]) {
    if (typeof proto[method] !== 'function')
      throw new SmtpServerContractError(touchpoint, `SMTPConnection.prototype.${method} is gone`);
  }
  return proto;
}

/** The SMTPServer a connection belongs to (`_server`). */
export function serverOf(conn: ConnectionInternals): object {
  return conn._server;
}

/**
 * True while the connection waits for the client's next command (no reply owed, not in DATA) or
 * for its side of a STARTTLS handshake (the 220 went out: the ClientHello is the client's turn, so
 * a client that never sends it is cut at the command deadline, not held until socketTimeout).
 */
export function waitingForClient(conn: ConnectionInternals): boolean {
  return !conn._handlerPending && !conn._dataStream && !conn._closing && !conn._closed;
}

/** True while a STARTTLS handshake runs (no SMTP reply can be sent then). */
export function isUpgrading(conn: ConnectionInternals): boolean {
  return conn._upgrading;
}

/** Drops the connection at once (a handshake cannot be ended with an SMTP reply). */
export function abort(conn: ConnectionInternals): void {
  conn._socket.destroy();
}

/** True when the connection is closing or closed. */
export function isClosing(conn: ConnectionInternals): boolean {
  return conn._closing || conn._closed;
}

/** True when a command continuation (e.g. AUTH LOGIN's next line) is pending. */
export function continuationPending(conn: ConnectionInternals): boolean {
  return Boolean(conn._nextHandler);
}
