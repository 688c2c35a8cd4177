/**
 * guardListener: the API listener's own limits, so one client cannot hold what every client
 * shares: connections at once in total (`server.maxConnections`, api.max_connections: the
 * server drops a new one) and per client (`clientKey`: IPv4 address, IPv6 /64;
 * api.max_connections_per_client: a new one beyond it is destroyed at once); a deadline on a
 * request's headers (api.header_timeout) and on the whole request (api.request_timeout), checked
 * every CONNECTIONS_CHECK_MS. `clientErrorAnswer` is what a request the HTTP parser refuses (a
 * bad header, a timeout, headers too large) is answered, in the API's one error shape and
 * without quoting the input. `lingerAfterAnswer`: a request answered before its body was all read
 * (413) has its connection half-closed after the answer and the rest of the body drained for up
 * to LINGER_MS / LINGER_MAX_BYTES, so the client's writes do not fail with a reset before it has
 * read the answer (Apache's and nginx's lingering close).
 */
import { type Server, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { clientKey } from '@herald/delivery-core/door';
import { IPV6_CLIENT_PREFIX_BITS } from './auth.js';
import { ApiError, errorBody } from './errors.js';

/** How often Node checks header_timeout and request_timeout of open connections. */
export const CONNECTIONS_CHECK_MS = 1_000;
/** Longest a refused body is drained after the answer before the connection is destroyed. */
export const LINGER_MS = 2_000;
/** Most bytes drained after the answer before the connection is destroyed. */
export const LINGER_MAX_BYTES = 8 * 1024 * 1024;

export interface ListenerLimits {
  maxConnections: number;
  maxConnectionsPerClient: number;
}

/** Applies the connection caps to `server` (call before listening). */
export function guardListener(server: Server, limits: ListenerLimits): void {
  server.maxConnections = limits.maxConnections;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const client = clientKey(socket.remoteAddress ?? '', IPV6_CLIENT_PREFIX_BITS);
    const count = (open.get(client) ?? 0) + 1;
    if (count > limits.maxConnectionsPerClient) {
      socket.destroy();
      return;
    }
    open.set(client, count);
    socket.once('close', () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left > 0) open.set(client, left);
      else open.delete(client);
    });
  });
}

/** The raw HTTP answer to a request the parser refused (fastify's clientErrorHandler). */
export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const error = clientError(err.code);
  const body = JSON.stringify(errorBody(error));
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  socket.destroySoon();
}

function clientError(code: string | undefined): ApiError {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return new ApiError(408, 'HERALD_API_BAD_REQUEST', 'the request did not arrive in time');
  if (code === 'HPE_HEADER_OVERFLOW')
    return new ApiError(431, 'HERALD_API_TOO_LARGE', 'request headers too large');
  return new ApiError(400, 'HERALD_API_BAD_REQUEST', 'malformed HTTP request');
}

/**
 * Makes the close that Node's HTTP server does after a `Connection: close` answer (its call to
 * `socket.destroySoon()`) a lingering one: FIN after the answer, the unread body drained and
 * discarded until the client closes, LINGER_MS pass or LINGER_MAX_BYTES arrive, then destroy.
 * (Destroying a socket with unread input sends a reset, which can reach the client before it
 * read the answer.) The contract with Node (destroySoon called on close) is pinned by a test.
 */
export function lingerAfterAnswer(socket: Socket): void {
  socket.destroySoon = () => {
    let drained = 0;
    const stop = () => socket.destroy();
    const timer = setTimeout(stop, LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    socket.once('end', stop);
    socket.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > LINGER_MAX_BYTES) stop();
    });
    socket.end();
    socket.resume();
  };
}
