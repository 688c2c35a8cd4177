/**
 * Outbound TCP for SMTP clients (delivery, `herald send`, the bench): connect with a timeout,
 * Nagle off (`setNoDelay`) — with it on, each message waits for a delayed ACK (~40 ms) — and
 * writes of one tick coalesced into one syscall (cork now, uncork on the next tick), so a message
 * body and its terminating "." do not cost two writes. Errors are plain Errors with a one-line
 * message ("connect to 127.0.0.1:25 failed: ECONNREFUSED"); callers map them to their own types.
 */
import net from 'node:net';

export interface ConnectOptions {
  host: string;
  port: number;
  timeoutMs: number;
  localAddress?: string;
}

export function connectNoDelay(options: ConnectOptions): Promise<net.Socket> {
  const { host, port, timeoutMs } = options;
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host,
      port,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    socket.setNoDelay(true);
    coalesceWrites(socket);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        Object.assign(new Error(`connect to ${host}:${port} failed: ${err.code ?? err.message}`), {
          code: err.code,
        }),
      );
    });
  });
}

function coalesceWrites(socket: net.Socket): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  const uncork = () => socket.uncork();
  socket.write = ((...args: unknown[]) => {
    if (socket.writableCorked === 0) {
      socket.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as typeof socket.write;
}
