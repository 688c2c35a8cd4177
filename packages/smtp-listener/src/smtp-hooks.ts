/**
 * Per-command and per-reply hooks on smtp-server connections, which its public API does not
 * offer. `attachSmtpHooks(server, hooks)` makes every connection of that server ask
 * `hooks.command` before a command runs (go on, hold it for a while, or answer it instead and
 * perhaps close) and tell `hooks.reply` about every 4xx/5xx reply it sends (which may answer with
 * one more reply, a closing 421). AUTH continuation lines are not commands and are not shown.
 * Servers without hooks (the test sinks, the bench's sink) behave exactly as before.
 *
 * This reaches into smtp-server's SMTPConnection internals, all through
 * smtp-server-internals.ts (touchpoint `smtp-hooks`); test/smtp-hooks.test.ts drives a real
 * SMTPServer through every hook, so an upgrade that moves them fails loudly.
 */
import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import {
  abort,
  type ConnectionInternals,
  connectionPrototype,
  continuationPending,
  isClosing,
  isUpgrading,
  serverOf,
  waitingForClient,
} from './smtp-server-internals.js';

export interface SmtpConnectionControl {
  readonly session: SMTPServerSession;
  readonly remoteAddress: string;
  /** True while the server waits for the client's next command or STARTTLS handshake (no reply pending, not in DATA). */
  waitingForClient(): boolean;
  /**
   * Sends "<code> <text>" (a text that starts with an enhanced code keeps it). A 421 closes.
   * Nothing is sent during a STARTTLS handshake (plain text there is no SMTP reply).
   */
  reply(code: number, text: string): void;
  /** Closes the connection; during a STARTTLS handshake, drops it at once. */
  close(): void;
}

export interface SmtpReplyLine {
  code: number;
  text: string;
}

/** undefined: run the command; delayMs: run it after that long; a reply: answer instead. */
export type CommandVerdict = undefined | { delayMs: number } | (SmtpReplyLine & { close: boolean });

export interface SmtpHooks {
  /** A connection was accepted (before its greeting). */
  connected?(conn: SmtpConnectionControl): void;
  /** A command (upper-cased verb; `line`: the whole command as the client wrote it) arrived on `conn`. */
  command(conn: SmtpConnectionControl, name: string, line: string): CommandVerdict;
  /** An error reply (4xx/5xx other than 421) was sent on `conn`; a reply to send after it closes. */
  reply(conn: SmtpConnectionControl, code: number): SmtpReplyLine | undefined;
}

/** The reply code with which smtp-server closes a connection itself. */
const CLOSING_CODE = 421;
const ERROR_CODE_MIN = 400;

const hooksByServer = new WeakMap<object, SmtpHooks>();
const controls = new WeakMap<ConnectionInternals, SmtpConnectionControl>();
let installed = false;

export function attachSmtpHooks(server: SMTPServer, hooks: SmtpHooks): void {
  install();
  hooksByServer.set(server, hooks);
}

function install(): void {
  if (installed) return;
  const proto = connectionPrototype('smtp-hooks');
  installed = true;
  const onCommand = proto._onCommand;
  proto._onCommand = function hookedOnCommand(this: ConnectionInternals, command, callback) {
    const hooks = hooksByServer.get(serverOf(this));
    if (!hooks || continuationPending(this) || isClosing(this))
      return onCommand.call(this, command, callback);
    const line = (command ?? '').toString();
    const name = line.split(' ')[0]!.toUpperCase();
    const verdict = hooks.command(control(this), name, line);
    if (!verdict) return onCommand.call(this, command, callback);
    if ('delayMs' in verdict) {
      const timer = setTimeout(() => {
        if (isClosing(this)) callback?.();
        else onCommand.call(this, command, callback);
      }, verdict.delayMs);
      timer.unref();
      return;
    }
    this.send(verdict.code, verdict.text);
    if (verdict.close) this.close();
    if (callback) setImmediate(callback);
  };
  const connectionReady = proto.connectionReady;
  proto.connectionReady = function hookedConnectionReady(this: ConnectionInternals, next) {
    hooksByServer.get(serverOf(this))?.connected?.(control(this));
    return connectionReady.call(this, next);
  };
  const send = proto.send;
  proto.send = function hookedSend(this: ConnectionInternals, code, data, context) {
    send.call(this, code, data, context);
    if (code < ERROR_CODE_MIN || code === CLOSING_CODE || isClosing(this)) return;
    const next = hooksByServer.get(serverOf(this))?.reply(control(this), code);
    if (next) this.send(next.code, next.text);
  };
}

function control(conn: ConnectionInternals): SmtpConnectionControl {
  let known = controls.get(conn);
  if (!known) {
    known = {
      get session() {
        return conn.session;
      },
      get remoteAddress() {
        return conn.remoteAddress;
      },
      waitingForClient: () => waitingForClient(conn),
      reply: (code, text) => {
        if (!isUpgrading(conn)) conn.send(code, text);
      },
      close: () => (isUpgrading(conn) ? abort(conn) : conn.close()),
    };
    controls.set(conn, known);
  }
  return known;
}
