/**
 * The bench's counting SMTP sink: a lean smtp-server on 127.0.0.1 that accepts everything, drops
 * the body bytes and counts messages at the end of DATA (one per transaction).
 * Owns: the listener, its open sockets and the counter.
 * Guarantees: `waitFor` resolves (never rejects) by its deadline or when aborted; `close` destroys
 * open connections and is idempotent.
 * Needs injected: nothing.
 */
import type net from 'node:net';
import { SMTPServer } from 'smtp-server';

const SINK_HOST = '127.0.0.1';
const SINK_NAME = 'sink.bench.herald.test';
/** Idle sink connections close after this (the relay reconnects on demand). */
const SINK_SOCKET_TIMEOUT_MS = 60_000;

export interface CountingSink {
  readonly host: string;
  readonly port: number;
  /** Messages received (end of DATA answered 250). */
  readonly count: number;
  /** True once `count >= n`; false if the deadline passed or `signal` aborted first. */
  waitFor(n: number, deadline: number, signal?: AbortSignal): Promise<boolean>;
  close(): Promise<void>;
}

export async function startCountingSink(port = 0): Promise<CountingSink> {
  let count = 0;
  const waiters = new Set<{ n: number; done: (ok: boolean) => void }>();
  const sockets = new Set<net.Socket>();
  const server = new SMTPServer({
    name: SINK_NAME,
    banner: 'bench sink',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    hideSTARTTLS: true,
    disableReverseLookup: true,
    socketTimeout: SINK_SOCKET_TIMEOUT_MS,
    logger: false,
    onConnect(_session, callback) {
      callback();
    },
    onData(stream, _session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => {
        count++;
        callback(null, 'Ok: counted');
        for (const waiter of waiters) if (count >= waiter.n) waiter.done(true);
      });
    },
  });
  server.on('error', () => {});
  server.server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const boundPort = await new Promise<number>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, SINK_HOST, () => {
      server.server.removeListener('error', reject);
      const address = server.server.address() as net.AddressInfo;
      resolve(address.port);
    });
  });
  let closing: Promise<void> | undefined;
  return {
    host: SINK_HOST,
    port: boundPort,
    get count() {
      return count;
    },
    waitFor(n, deadline, signal) {
      if (count >= n) return Promise.resolve(true);
      return new Promise((resolve) => {
        const waiter = {
          n,
          done: (ok: boolean) => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            waiters.delete(waiter);
            resolve(ok);
          },
        };
        const onAbort = () => waiter.done(false);
        const timer = setTimeout(() => waiter.done(count >= n), Math.max(0, deadline - Date.now()));
        signal?.addEventListener('abort', onAbort, { once: true });
        if (signal?.aborted) onAbort();
        else waiters.add(waiter);
      });
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const waiter of waiters) waiter.done(false);
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
