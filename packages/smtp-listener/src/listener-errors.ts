/**
 * How loud an smtp-server listener's `error` event is. smtp-server re-emits each connection's
 * socket errors on the server, so a client that resets its connection (mid-DATA or at any time),
 * a broken pipe or a failed TLS handshake from a client would be logged at error level once per
 * connection: anyone who can connect could flood the error log. Those are the client's doing and
 * go to `debug`; anything else (the listener's own failure) stays an error.
 */

/** Socket error codes caused by the peer, not by the listener. */
const CLIENT_SIDE_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

export type ListenerErrorLevel = 'debug' | 'error';

export function listenerErrorLevel(err: unknown): ListenerErrorLevel {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 'error';
  // A client's TLS failures (bad handshake, wrong version, unknown CA) are OpenSSL codes.
  if (CLIENT_SIDE_CODES.has(code) || code.startsWith('ERR_SSL_')) return 'debug';
  return 'error';
}
