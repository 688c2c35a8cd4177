/**
 * Scripted SMTP sinks on 127.0.0.x, built on smtp-server (what a script says: sink-script.ts).
 * Owns: accepting (or, per script, refusing) SMTP transactions, recording accepted messages with
 * their envelope and exact body bytes, recording rejections, connection statistics, and
 * closedPort() for "MX refuses the connection" tests.
 * Guarantees: scripted replies go on the wire exactly as "<code> <enhanced> <text>" (smtp-server's
 * own enhanced codes stay hidden); close() destroys open sockets; STARTTLS uses a self-signed cert
 * generated once per process with the openssl CLI (test-ca.ts), or a given one (`tls`, e.g. issued
 * by a `createTestCa()` authority for the sink's MX name); each message records whether it came
 * over TLS. On a plaintext sink every connection runs through a reply gate (reply-gate.ts): the
 * script's `stages` chaos applies there, and each connection's transcript (what the sink actually
 * wrote for every command) is the ground truth `transcripts()` / `truth()` report.
 * Needs injected: a script (replaceable live with setScript); nothing else.
 */
import type net from 'node:net';
import { freePort, LOOPBACK_HOST } from '@herald/local-redis';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { ReplyGate } from './reply-gate.js';
import { sinkHooks } from './sink-hooks.js';
import type { SinkMessage, SinkRejection, SinkScript } from './sink-script.js';
import { type ConnectionTranscript, type RecipientTruth, recipientTruth } from './sink-transcript.js';
import { selfSignedCertificate } from './test-ca.js';

export type { SinkClient, SinkMessage, SinkRejection, SinkReply, SinkScript } from './sink-script.js';
export * from './sink-stages.js';
export * from './sink-transcript.js';

const DEFAULT_WAIT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_SIZE_BYTES = 25 * 1024 * 1024;
const SINK_NAME = 'sink.herald.test';

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
  /** Every plaintext connection's commands and what became of each reply (live records: read only). */
  transcripts(): readonly ConnectionTranscript[];
  /** Per recipient (lower-cased), the verdict of every transaction it was in (sink-transcript.ts). */
  truth(): Map<string, RecipientTruth>;
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
  /** Offer PIPELINING (RFC 2920); default true. */
  pipelining?: boolean;
  /** Offer DSN (RFC 3461: NOTIFY / ORCPT / RET / ENVID accepted; the transcript shows them); default false. */
  dsn?: boolean;
  /** Offer 8BITMIME (RFC 6152); default true. */
  eightBitMime?: boolean;
  /** Offer SMTPUTF8 (RFC 6531); default true. */
  smtputf8?: boolean;
}

interface SinkConnection {
  socket: net.Socket;
  /** The chaos layer and transcript of a plaintext connection. */
  gate: ReplyGate | undefined;
}

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
  const connections = new Map<string, SinkConnection>();
  const transcripts: ConnectionTranscript[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const waiters = new Set<Waiter>();
  const counters = { connections: 0, activeConnections: 0, maxConcurrentConnections: 0, transactions: 0 };
  const tls = opts.tls ?? (opts.starttls ? await selfSignedCertificate() : undefined);
  const checked = (next: SinkScript): SinkScript => {
    if (tls && next.stages) throw new Error('smtp sink: stage behaviours need a sink without STARTTLS');
    return next;
  };
  let script: SinkScript = checked(opts.script ?? {});

  const connectionOf = (session: SMTPServerSession): SinkConnection | undefined =>
    connections.get(`${session.remoteAddress}:${session.remotePort}`) ??
    [...connections.values()].find((c) => c.socket.remotePort === session.remotePort);

  const settleWaiters = () => {
    for (const waiter of waiters) {
      if (messages.length < waiter.n) continue;
      clearTimeout(waiter.timer);
      waiters.delete(waiter);
      waiter.resolve(messages.slice());
    }
  };

  const hooks = sinkHooks({
    host,
    rejected,
    counters,
    timers,
    script: () => script,
    gateOf: (session) => connectionOf(session)?.gate,
    socketOf: (session) => connectionOf(session)?.socket,
    accept(message) {
      messages.push(message);
      settleWaiters();
    },
  });

  const server = new SMTPServer({
    name: SINK_NAME,
    logger: false,
    size: opts.size ?? DEFAULT_MAX_SIZE_BYTES,
    authOptional: true,
    disableReverseLookup: true,
    hideENHANCEDSTATUSCODES: true,
    hideDSN: opts.dsn !== true,
    hidePIPELINING: opts.pipelining === false,
    hide8BITMIME: opts.eightBitMime === false,
    hideSMTPUTF8: opts.smtputf8 === false,
    disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    ...hooks,
  });
  // Clients that vanish mid-session (dropInData, tests) surface as errors here; they are expected.
  server.on('error', () => {});
  // Runs before smtp-server's own listener, so a gate sits between the socket and smtp-server.
  server.server.prependListener('connection', (socket: net.Socket) => {
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    counters.connections++;
    counters.activeConnections++;
    const { activeConnections, maxConcurrentConnections } = counters;
    counters.maxConcurrentConnections = Math.max(maxConcurrentConnections, activeConnections);
    const gate = tls
      ? undefined
      : new ReplyGate({
          socket,
          connection: counters.connections,
          clientAddress: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
          stages: () => script.stages,
        });
    if (gate) transcripts.push(gate.transcript);
    connections.set(key, { socket, gate });
    socket.once('close', () => {
      connections.delete(key);
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
      script = checked(next);
    },
    transcripts: () => transcripts,
    truth: () => recipientTruth(transcripts),
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
        for (const { socket, gate } of connections.values()) {
          if (gate) gate.kill();
          else socket.destroy();
        }
      });
      return closing;
    },
  };
}

/** A port on `host` where nothing listens (connections are refused), for "MX refuses" tests. */
export async function closedPort(host: string = LOOPBACK_HOST): Promise<number> {
  return freePort(host);
}
