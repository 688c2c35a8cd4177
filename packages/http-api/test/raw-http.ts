/**
 * Raw HTTP over a TCP socket, for what fetch will not send (an invalid header byte, a body that
 * never finishes) or cannot show (whether the server closed the connection, how much of a body
 * it took). Loopback only.
 */
import http from 'node:http';
import net from 'node:net';

export interface RawAnswer {
  status: number;
  head: string;
  body: string;
}

/** A connected socket from `localAddress` (default 127.0.0.1) to the API. */
export function connect(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves when `socket` is closed (by either side). */
export function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

/** The first HTTP answer read on `socket` (head and body up to its Content-Length). */
export function readAnswer(socket: net.Socket): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = text.slice(0, end);
      const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      const body = text.slice(end + 4);
      if (body.length < length) return;
      socket.off('data', onData);
      resolve({ status: Number(head.split(' ')[1]), head, body: body.slice(0, length) });
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed before an answer: ${JSON.stringify(text)}`)));
    socket.on('error', () => {});
  });
}

/** One request with node:http from `localAddress` (fetch cannot pick its source address). */
export function callFrom(
  port: number,
  localAddress: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, path, localAddress, headers, agent: false },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
    request.end();
  });
}
