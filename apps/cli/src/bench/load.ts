/**
 * The bench's SMTP load generator: C client sessions (nodemailer SMTPConnection over sockets with
 * Nagle off) share one message counter; each session reuses its connection for consecutive
 * messages, as smtp-source -d does. Recipients are `<seq>rcpt@sink.bench.test`, seq run-wide
 * unique from 1 to N·R.
 * Owns: its sockets (all destroyed when `signal` aborts or the deadline passes) and LoadStats.
 * Guarantees: resolves (never rejects) once every message was tried, or at the deadline / abort;
 * a failed transaction counts as one error and is not retried (sessions cut off by the deadline
 * or an abort are not errors); a session gives up after
 * MAX_CONNECT_FAILURES consecutive failed connects.
 * Needs injected: target address, counts, deadline (epoch ms) and an AbortSignal.
 */
import type net from 'node:net';
import { connectNoDelay } from '@herald/delivery-core/smtp';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';

const CLIENT_NAME = 'client.bench.herald.test';
export const BENCH_SENDER = 'bench@source.bench.test';
export const RECIPIENT_DOMAIN = 'sink.bench.test';
const CONNECT_TIMEOUT_MS = 10_000;
const GREETING_TIMEOUT_MS = 30_000;
const SOCKET_TIMEOUT_MS = 60_000;
const MAX_CONNECT_FAILURES = 5;
const RECONNECT_DELAY_MS = 200;
const BODY_LINE_CHARS = 78;
const FILLER = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const MAX_ERROR_SAMPLES = 5;

export interface LoadOptions {
  host: string;
  port: number;
  messages: number;
  /** Recipient sequence offset: message i uses the recipients of message firstIndex + i. */
  firstIndex?: number;
  concurrency: number;
  sizeBytes: number;
  recipients: number;
  /** Epoch ms after which no new message starts and open sessions are destroyed. */
  deadline: number;
  signal: AbortSignal;
}

export interface LoadStats {
  /** Messages answered 250 at the end of DATA. */
  accepted: number;
  /** Failed transactions plus failed connects. */
  errors: number;
  /** Messages handed to a session (accepted + failed + in flight). */
  started: number;
  connects: number;
  /** The first few distinct error messages. */
  errorSamples: string[];
}

/** A complete RFC 5322 message whose body is exactly `sizeBytes` bytes (CRLF lines, no leading dot). */
export function buildMessage(sizeBytes: number): Buffer {
  const headers =
    `From: <${BENCH_SENDER}>\r\nTo: <bench@${RECIPIENT_DOMAIN}>\r\nSubject: herald bench\r\n` +
    `Date: ${new Date().toUTCString()}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n`;
  let body = '';
  while (body.length < sizeBytes) {
    const room = sizeBytes - body.length;
    const line = FILLER.repeat(Math.ceil(BODY_LINE_CHARS / FILLER.length)).slice(0, BODY_LINE_CHARS);
    body +=
      room >= line.length + 2
        ? `${line}\r\n`
        : room >= 2
          ? `${line.slice(0, room - 2)}\r\n`
          : 'x'.repeat(room);
  }
  return Buffer.from(headers + body, 'ascii');
}

export function recipientsFor(messageIndex: number, perMessage: number): string[] {
  const out: string[] = [];
  for (let r = 1; r <= perMessage; r++) out.push(`${messageIndex * perMessage + r}rcpt@${RECIPIENT_DOMAIN}`);
  return out;
}

function connectSocket(host: string, port: number): Promise<net.Socket> {
  return connectNoDelay({ host, port, timeoutMs: CONNECT_TIMEOUT_MS });
}

async function openSession(host: string, port: number, live: Set<SMTPConnection>): Promise<SMTPConnection> {
  const socket = await connectSocket(host, port);
  const conn = new SMTPConnection({
    connection: socket,
    host,
    port,
    name: CLIENT_NAME,
    secure: false,
    ignoreTLS: true,
    greetingTimeout: GREETING_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    logger: false,
    debug: false,
  } as SMTPConnection.Options);
  live.add(conn);
  conn.on('end', () => live.delete(conn));
  await new Promise<void>((resolve, reject) => {
    conn.once('error', reject);
    conn.connect(() => {
      conn.removeListener('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    live.delete(conn);
    socket.destroy();
    throw err;
  });
  // A late socket error must never become an unhandled 'error' event.
  conn.on('error', () => {});
  return conn;
}

/** One transaction; resolves to an error message or undefined on 250. */
function sendOne(conn: SMTPConnection, to: string[], message: Buffer): Promise<string | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (error: string | undefined) => {
      if (settled) return;
      settled = true;
      conn.removeListener('error', onError);
      conn.removeListener('end', onEnd);
      resolve(error);
    };
    const onError = (err: Error) => finish(err.message);
    const onEnd = () => finish('connection closed');
    conn.once('error', onError);
    conn.once('end', onEnd);
    conn.send({ from: BENCH_SENDER, to, size: message.length } as never, message, (err, info) => {
      if (err) finish((err as { response?: string }).response ?? err.message);
      else if ((info.rejected?.length ?? 0) > 0) finish(`recipients rejected: ${info.rejected.join(', ')}`);
      else finish(undefined);
    });
  });
}

export function noteError(stats: LoadStats, message: string): void {
  stats.errors++;
  if (stats.errorSamples.length < MAX_ERROR_SAMPLES && !stats.errorSamples.includes(message)) {
    stats.errorSamples.push(message);
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runLoad(options: LoadOptions, stats: LoadStats): Promise<void> {
  const message = buildMessage(options.sizeBytes);
  const live = new Set<SMTPConnection>();
  const stopped = () => options.signal.aborted || Date.now() >= options.deadline;
  const destroyAll = () => {
    for (const conn of live) conn.close();
    live.clear();
  };
  const deadlineTimer = setTimeout(destroyAll, Math.max(0, options.deadline - Date.now()));
  options.signal.addEventListener('abort', destroyAll, { once: true });

  const session = async () => {
    let conn: SMTPConnection | undefined;
    let connectFailures = 0;
    while (!stopped() && stats.started < options.messages) {
      if (!conn) {
        try {
          conn = await openSession(options.host, options.port, live);
          stats.connects++;
          connectFailures = 0;
        } catch (err) {
          noteError(stats, (err as Error).message);
          if (++connectFailures >= MAX_CONNECT_FAILURES) return;
          await delay(RECONNECT_DELAY_MS);
          continue;
        }
        if (stopped()) break;
      }
      const index = stats.started++;
      if (index >= options.messages) break;
      const error = await sendOne(
        conn,
        recipientsFor((options.firstIndex ?? 0) + index, options.recipients),
        message,
      );
      if (error === undefined) {
        stats.accepted++;
        continue;
      }
      if (stopped()) break; // destroyed by the deadline or an abort: not the relay's error
      noteError(stats, error);
      // The session's state is unknown after a failure: start over on a fresh connection.
      live.delete(conn);
      conn.close();
      conn = undefined;
    }
    if (conn) {
      live.delete(conn);
      conn.quit();
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, options.messages) }, session));
  } finally {
    clearTimeout(deadlineTimer);
    options.signal.removeEventListener('abort', destroyAll);
    destroyAll();
  }
  stats.started = Math.min(stats.started, options.messages);
}
