/**
 * Scripted SMTP sinks on 127.0.0.x, built on smtp-server (what a script says: sink-script.ts).
 * Owns: accepting (or, per script, refusing) SMTP transactions, recording accepted messages with
 * their envelope and exact body bytes, recording rejections, connection statistics, and
 * closedPort() for "MX refuses the connection" tests.
 * Guarantees: scripted replies go on the wire exactly as "<code> <enhanced> <text>" (smtp-server's
 * own enhanced codes stay hidden); close() destroys open sockets; STARTTLS uses a self-signed cert
 * generated once per process with the openssl CLI (test-ca.ts), or a given one (`tls`, e.g. issued
 * by a `createTestCa()` authority for the sink's MX name); each message records whether it came
 * over TLS.
 * Needs injected: a script (replaceable live with setScript); nothing else.
 */
import type net from 'node:net';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import { freePort, LOOPBACK_HOST } from './ports.js';
import {
  clientOf,
  failureOf,
  rcptReply,
  replyError,
  replyText,
  type SinkMessage,
  type SinkRejection,
  type SinkScript,
} from './sink-script.js';
import { selfSignedCertificate } from './test-ca.js';

export type { SinkClient, SinkMessage, SinkRejection, SinkReply, SinkScript } from './sink-script.js';

const DEFAULT_WAIT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_SIZE_BYTES = 25 * 1024 * 1024;
const SINK_NAME = 'sink.herald.test';
const DATA_OK_CODE = 250;

export interface SinkStats {
  connections: number;
  activeConnections: number;
  maxConcurrentConnections: number;
  /** MAIL FROM commands received (each starts a transaction), whatever the reply. */
  transactions: number;
}

export interface SmtpSinkHandle {
  host: string;
  port: number;
  /** "127.0.0.2:PORT" */
  address: string;
  /** Accepted messages only (data reply 2xx), in order. */
  messages: SinkMessage[];
  rejected: SinkRejection[];
  stats(): SinkStats;
  setScript(script: SinkScript): void;
  waitForMessages(n: number, timeoutMs?: number): Promise<SinkMessage[]>;
  close(): Promise<void>;
}

export interface StartSmtpSinkOptions {
  /** Default 127.0.0.1; any 127.x.y.z works on Linux. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  script?: SinkScript;
  /** Offer STARTTLS with a self-signed cert; default false. */
  starttls?: boolean;
  /** Offer STARTTLS with this key and certificate (PEM) instead; implies `starttls`. */
  tls?: { key: string; cert: string };
  /** SIZE limit announced in EHLO; default 25 MiB. */
  size?: number;
}

type Done = (err?: Error | null, message?: string) => void;

interface Waiter {
  n: number;
  resolve: (messages: SinkMessage[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Start a scripted SMTP sink; resolves once it listens. */
export async function startSmtpSink(opts: StartSmtpSinkOptions = {}): Promise<SmtpSinkHandle> {
  const host = opts.host ?? LOOPBACK_HOST;
  const messages: SinkMessage[] = [];
  const rejected: SinkRejection[] = [];
  const sockets = new Map<string, net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const waiters = new Set<Waiter>();
  const counters = { connections: 0, activeConnections: 0, maxConcurrentConnections: 0, transactions: 0 };
  let script: SinkScript = opts.script ?? {};
  const tls = opts.tls ?? (opts.starttls ? await selfSignedCertificate() : undefined);

  const socketOf = (session: SMTPServerSession): net.Socket | undefined =>
    sockets.get(`${session.remoteAddress}:${session.remotePort}`) ??
    [...sockets.values()].find((s) => s.remotePort === session.remotePort);

  const settleWaiters = () => {
    for (const waiter of waiters) {
      if (messages.length < waiter.n) continue;
      clearTimeout(waiter.timer);
      waiters.delete(waiter);
      waiter.resolve(messages.slice());
    }
  };

  const onConnect = (_session: SMTPServerSession, callback: Done) => {
    const current = script;
    const proceed = () => {
      const greeting = failureOf(current.greeting);
      if (!greeting) return callback();
      rejected.push({ stage: 'greeting', reply: greeting });
      callback(replyError(greeting));
    };
    if (!current.greetingDelayMs) return proceed();
    const timer = setTimeout(() => {
      timers.delete(timer);
      proceed();
    }, current.greetingDelayMs);
    timers.add(timer);
  };

  const onMailFrom = (address: SMTPServerAddress, _session: SMTPServerSession, cb: Done) => {
    counters.transactions++;
    const rule = script.mail;
    const reply = failureOf(typeof rule === 'function' ? rule(address.address) : rule);
    if (!reply) return cb();
    rejected.push({ stage: 'mail', address: address.address, reply });
    cb(replyError(reply));
  };

  const onRcptTo = (address: SMTPServerAddress, session: SMTPServerSession, cb: Done) => {
    const client = clientOf(session);
    const reply = failureOf(rcptReply(script, address.address, client));
    if (!reply) return cb();
    rejected.push({ stage: 'rcpt', address: address.address, reply, at: Date.now(), ...client });
    cb(replyError(reply));
  };

  const onData = (stream: NodeJS.ReadableStream, session: SMTPServerSession, cb: Done) => {
    const current = script;
    const chunks: Buffer[] = [];
    let dropped = false;
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (current.dropInData && !dropped) {
        dropped = true;
        socketOf(session)?.destroy();
      }
    });
    stream.on('end', () => {
      if (dropped) return; // the connection is gone: no reply, nothing recorded
      const mailFrom = session.envelope.mailFrom;
      const message: SinkMessage = {
        from: mailFrom ? mailFrom.address : '',
        to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
        raw: Buffer.concat(chunks),
        receivedAt: Date.now(),
        connectionId: session.id,
        host,
        secure: Boolean(session.secure),
        ...clientOf(session),
      };
      const reply = typeof current.data === 'function' ? current.data(message) : current.data;
      const failure = failureOf(reply);
      if (failure) {
        rejected.push({ stage: 'data', reply: failure });
        return cb(replyError(failure));
      }
      messages.push(message);
      settleWaiters();
      cb(null, reply?.code === DATA_OK_CODE ? replyText(reply) : undefined);
    });
  };

  const server = new SMTPServer({
    name: SINK_NAME,
    logger: false,
    size: opts.size ?? DEFAULT_MAX_SIZE_BYTES,
    authOptional: true,
    disableReverseLookup: true,
    hideENHANCEDSTATUSCODES: true,
    hideDSN: true,
    disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    onConnect,
    onMailFrom,
    onRcptTo,
    onData,
  });
  // Clients that vanish mid-session (dropInData, tests) surface as errors here; they are expected.
  server.on('error', () => {});
  server.server.prependListener('connection', (socket: net.Socket) => {
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    sockets.set(key, socket);
    counters.connections++;
    counters.activeConnections++;
    const { activeConnections, maxConcurrentConnections } = counters;
    counters.maxConcurrentConnections = Math.max(maxConcurrentConnections, activeConnections);
    socket.once('close', () => {
      sockets.delete(key);
      counters.activeConnections--;
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`smtp sink cannot listen on ${host}: ${err.message}`));
    server.server.once('error', onError);
    server.server.listen(opts.port ?? 0, host, () => {
      server.server.off('error', onError);
      resolve();
    });
  });
  const bound = server.server.address();
  if (bound === null || typeof bound === 'string') throw new Error('smtp sink: unexpected listener address');
  const port = bound.port;

  let closing: Promise<void> | null = null;
  return {
    host,
    port,
    address: `${host}:${port}`,
    messages,
    rejected,
    stats: () => ({ ...counters }),
    setScript(next: SinkScript) {
      script = next;
    },
    waitForMessages(n: number, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS): Promise<SinkMessage[]> {
      if (messages.length >= n) return Promise.resolve(messages.slice());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const seen = `got ${messages.length}; rejected so far: ${JSON.stringify(rejected)}`;
          reject(
            new Error(`smtp sink ${host}:${port}: expected ${n} message(s) within ${timeoutMs} ms, ${seen}`),
          );
        }, timeoutMs);
        const waiter: Waiter = { n, resolve, reject, timer };
        waiters.add(waiter);
      });
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        for (const waiter of waiters) {
          clearTimeout(waiter.timer);
          waiter.reject(
            new Error(`smtp sink ${host}:${port} closed while waiting for ${waiter.n} message(s)`),
          );
        }
        waiters.clear();
        server.close(() => resolve());
        for (const socket of sockets.values()) socket.destroy();
      });
      return closing;
    },
  };
}

/** A port on `host` where nothing listens (connections are refused), for "MX refuses" tests. */
export async function closedPort(host: string = LOOPBACK_HOST): Promise<number> {
  return freePort(host);
}
