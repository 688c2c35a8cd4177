/**
 * Taps one net.Socket for the reply gate: the socket's own write/end/destroy (what smtp-server
 * calls to answer and to close) and its 'data' events (what smtp-server's parser reads) go to the
 * given handlers instead; the returned originals write, close and pass data on for real. Every other
 * event is untouched. An end or destroy that carries an error (Node's own error path) should be
 * passed straight on by the handler.
 */
import type net from 'node:net';

export interface TapHandlers {
  /** smtp-server writes a reply; the result is what socket.write returns. */
  write(chunk: unknown, rest: unknown[]): boolean;
  /** smtp-server (or Node, after the client's FIN) ends or destroys the socket. */
  close(how: 'end' | 'destroy', args: unknown[]): net.Socket;
  /** The client's bytes, before smtp-server sees them. */
  clientData(chunk: Buffer): void;
}

export interface SocketOriginals {
  write(data: string | Buffer): void;
  close(how: 'end' | 'destroy', args?: unknown[]): net.Socket;
  /** Hands bytes to the socket's 'data' listeners (smtp-server's parser). */
  passData(data: Buffer): void;
}

type Method = (...args: unknown[]) => unknown;

export function tapSocket(socket: net.Socket, handlers: TapHandlers): SocketOriginals {
  const own = socket as unknown as Record<string, Method>;
  const write = own.write!;
  const end = own.end!;
  const destroy = own.destroy!;
  const emit = own.emit!;
  own.write = (chunk: unknown, ...rest: unknown[]) => handlers.write(chunk, rest);
  own.end = (...args: unknown[]) => handlers.close('end', args);
  own.destroy = (...args: unknown[]) => handlers.close('destroy', args);
  own.emit = (event: unknown, ...args: unknown[]) => {
    if (event !== 'data') return emit.call(socket, event, ...args);
    handlers.clientData(args[0] as Buffer);
    return true;
  };
  return {
    write: (data) => void write.call(socket, data),
    close: (how, args = []) => (how === 'end' ? end : destroy).apply(socket, args) as net.Socket,
    passData: (data) => void emit.call(socket, 'data', data),
  };
}
