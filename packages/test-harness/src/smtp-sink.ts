/**
 * Scripted SMTP sinks on 127.0.0.x, built on smtp-server.
 * Owns: accepting (or, per script, refusing) SMTP transactions, recording accepted messages with
 * their envelope and exact body bytes, recording rejections, connection statistics, and
 * closedPort() for "MX refuses the connection" tests.
 * Guarantees: scripted replies go on the wire exactly as "<code> <enhanced> <text>" (smtp-server's
 * own enhanced codes stay hidden); close() destroys open sockets; STARTTLS uses a self-signed cert
 * generated once per process with the openssl CLI, or a given one (`tls`, e.g. issued by a
 * `createTestCa()` authority for the sink's MX name); each message records whether it came over TLS.
 * Needs injected: a script (replaceable live with setScript); nothing else.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import { freePort, LOOPBACK_HOST } from './ports.js';

const DEFAULT_WAIT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_SIZE_BYTES = 25 * 1024 * 1024;
const SINK_NAME = 'sink.herald.test';
const MIN_FAILURE_CODE = 400;
const DATA_OK_CODE = 250;
const CERT_VALIDITY_DAYS = '2';
const OPENSSL_TIMEOUT_MS = 30_000;

export interface SinkReply {
  code: number;
  enhanced?: string;
  text?: string;
}

/** Who is sending: the client's address (the relay's source IP) and the name it gave in EHLO/HELO. */
export interface SinkClient {
  clientAddress: string;
  clientHello: string;
}

function clientOf(session: SMTPServerSession): SinkClient {
  return {
    clientAddress: session.remoteAddress.replace(/^::ffff:/, ''),
    clientHello: session.hostNameAppearsAs,
  };
}

export interface SinkMessage extends SinkClient {
  from: string;
  to: string[];
  raw: Buffer;
  receivedAt: number;
  connectionId: string;
  host: string;
  /** The transaction ran over TLS (after STARTTLS). */
  secure: boolean;
}

export interface SinkScript {
  /** Wait this long before the greeting. */
  greetingDelayMs?: number;
  /** A 4xx/5xx reply sent instead of 220, then the connection is closed. */
  greeting?: SinkReply;
  mail?: SinkReply | ((from: string) => SinkReply | undefined);
  /** Per-recipient replies; undefined = 250. A function also sees the client's address and EHLO name. */
  rcpt?: Record<string, SinkReply> | ((to: string, client: SinkClient) => SinkReply | undefined);
  /** Reply after the body; a 250 reply's enhanced/text are used verbatim too. */
  data?: SinkReply | ((msg: SinkMessage) => SinkReply | undefined);
  /** Destroy the socket in the middle of DATA (after the first body bytes arrive). */
  dropInData?: boolean;
}

export interface SinkRejection extends Partial<SinkClient> {
  stage: 'greeting' | 'mail' | 'rcpt' | 'data';
  address?: string;
  reply: SinkReply;
  /** When it was sent (epoch ms); set for rcpt rejections. */
  at?: number;
}

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

let certificate: Promise<{ key: string; cert: string }> | null = null;

/** A self-signed localhost certificate, generated once per process with the openssl CLI. */
export function selfSignedCertificate(): Promise<{ key: string; cert: string }> {
  certificate ??= generateCertificate().catch((err: unknown) => {
    certificate = null;
    throw err;
  });
  return certificate;
}

function generateCertificate(): Promise<{ key: string; cert: string }> {
  return withOpenssl(async (run, dir) => {
    const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', CERT_VALIDITY_DAYS];
    args.push('-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1');
    await run([...args, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    return {
      key: await readFile(join(dir, 'key.pem'), 'utf8'),
      cert: await readFile(join(dir, 'cert.pem'), 'utf8'),
    };
  });
}

/** A throw-away certificate authority: its certificate, and server certificates it issues. */
export interface TestCa {
  /** The CA certificate (PEM): what a client must trust. */
  cert: string;
  /** A key and certificate for these DNS names (the first is also the CN), signed by the CA. */
  issue(names: string[]): Promise<{ key: string; cert: string }>;
}

/** A new CA (P-256 keys, valid 2 days), made with the openssl CLI; its key stays in memory. */
export async function createTestCa(name = 'Herald Test CA'): Promise<TestCa> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = await withOpenssl(async (run, dir) => {
    const args = ['req', '-x509', ...ec, '-days', CERT_VALIDITY_DAYS, '-subj', `/CN=${name}`];
    args.push('-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
    await run([...args, '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem')]);
    return {
      key: await readFile(join(dir, 'ca.key'), 'utf8'),
      cert: await readFile(join(dir, 'ca.pem'), 'utf8'),
    };
  });
  const issue = (names: string[]) =>
    withOpenssl(async (run, dir) => {
      const file = (f: string) => join(dir, f);
      await writeFile(file('ca.key'), ca.key);
      await writeFile(file('ca.pem'), ca.cert);
      const san = names.map((n) => `DNS:${n}`).join(',');
      await writeFile(file('ext.cnf'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
      await run([
        'req',
        ...ec,
        '-subj',
        `/CN=${names[0]}`,
        '-keyout',
        file('key.pem'),
        '-out',
        file('req.csr'),
      ]);
      const sign = ['x509', '-req', '-in', file('req.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key')];
      sign.push('-CAcreateserial', '-days', CERT_VALIDITY_DAYS, '-extfile', file('ext.cnf'));
      await run([...sign, '-out', file('cert.pem')]);
      return { key: await readFile(file('key.pem'), 'utf8'), cert: await readFile(file('cert.pem'), 'utf8') };
    });
  return { cert: ca.cert, issue };
}

/** Runs `work` with an openssl runner and a temporary folder that is removed afterwards. */
async function withOpenssl<T>(
  work: (run: (args: string[]) => Promise<void>, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-sink-tls-'));
  const run = async (args: string[]) => {
    await promisify(execFile)('openssl', args, { timeout: OPENSSL_TIMEOUT_MS });
  };
  try {
    return await work(run, dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('TLS sinks need openssl: `apt-get install -y openssl`');
    throw new Error(`openssl could not create a certificate: ${e.stderr ?? e.message}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type ReplyError = Error & { responseCode: number };
type Done = (err?: Error | null, message?: string) => void;

/** "<enhanced> <text>" — the part of the reply line after the code. */
function replyText(reply: SinkReply): string {
  return [reply.enhanced, reply.text].filter((part) => part !== undefined && part !== '').join(' ');
}

function replyError(reply: SinkReply): ReplyError {
  const err = new Error(replyText(reply)) as ReplyError;
  err.responseCode = reply.code;
  return err;
}

/** The reply if it refuses (4xx/5xx); 2xx/3xx scripted replies mean "accept". */
function failureOf(reply: SinkReply | undefined): SinkReply | undefined {
  return reply !== undefined && reply.code >= MIN_FAILURE_CODE ? reply : undefined;
}

function rcptReply(script: SinkScript, to: string, client: SinkClient): SinkReply | undefined {
  const rule = script.rcpt;
  if (rule === undefined) return undefined;
  if (typeof rule === 'function') return rule(to, client);
  const exact = rule[to];
  if (exact !== undefined) return exact;
  const key = Object.keys(rule).find((k) => k.toLowerCase() === to.toLowerCase());
  return key === undefined ? undefined : rule[key];
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
