/**
 * The bench's HTTP API load generator: C workers share one message counter and POST
 * /v1/messages over a keep-alive node:http Agent of C sockets (Nagle off), as the SMTP load's C
 * sessions reuse their connections. Bodies are JSON: `raw` with the SMTP bench's exact message
 * bytes, or the same content as fields (`structured`). Recipients continue the run-wide sequence
 * from `firstIndex` so they never repeat the SMTP phase's.
 * Owns: its Agent and sockets (destroyed when `signal` aborts or the deadline passes) and LoadStats.
 * Guarantees: resolves (never rejects) once every message was tried, or at the deadline / abort;
 * a request not answered 202 counts as one error and is not retried (requests cut off by the
 * deadline or an abort are not errors); each request must finish within REQUEST_TIMEOUT_MS.
 * Needs injected: the API address, a bearer key, counts, deadline (epoch ms) and an AbortSignal.
 */
import http from 'node:http';
import type { ApiBodyMode } from './args.js';
import { BENCH_SENDER, buildMessage, type LoadStats, noteError, recipientsFor } from './load.js';

const REQUEST_TIMEOUT_MS = 60_000;
const ACCEPTED = 202;
const SEND_PATH = '/v1/messages';
const SUBJECT = 'herald bench';
const MAX_ERROR_BODY_CHARS = 200;

export interface ApiLoadOptions {
  host: string;
  port: number;
  /** `Authorization: Bearer` value (never printed). */
  key: string;
  messages: number;
  /** Recipient sequence offset: message i uses the recipients of message firstIndex + i. */
  firstIndex: number;
  concurrency: number;
  sizeBytes: number;
  recipients: number;
  body: ApiBodyMode;
  deadline: number;
  signal: AbortSignal;
}

/** The JSON request body for message `index`; the constant part is serialized once. */
export function requestBodies(options: Pick<ApiLoadOptions, 'body' | 'sizeBytes' | 'recipients'>) {
  const message = buildMessage(options.sizeBytes);
  let tail: string;
  if (options.body === 'raw') tail = `,"raw":${JSON.stringify(message.toString('ascii'))}}`;
  else {
    const text = message.subarray(message.indexOf('\r\n\r\n') + 4).toString('ascii');
    tail = `,"subject":${JSON.stringify(SUBJECT)},"text":${JSON.stringify(text)}}`;
  }
  const head = `{"from":${JSON.stringify(BENCH_SENDER)},"to":`;
  return (index: number): string =>
    `${head}${JSON.stringify(recipientsFor(index, options.recipients))}${tail}`;
}

/** One request; resolves to an error message or undefined on 202. */
function postOne(agent: http.Agent, options: ApiLoadOptions, body: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        agent,
        host: options.host,
        port: options.port,
        method: 'POST',
        path: SEND_PATH,
        headers: {
          authorization: `Bearer ${options.key}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => resolve(err.message));
        res.on('end', () => {
          if (res.statusCode === ACCEPTED) return resolve(undefined);
          const text = Buffer.concat(chunks).toString('utf8').slice(0, MAX_ERROR_BODY_CHARS);
          resolve(`HTTP ${res.statusCode}: ${text}`);
        });
      },
    );
    req.setNoDelay(true);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (err) => resolve(err.message));
    req.end(body);
  });
}

export async function runApiLoad(options: ApiLoadOptions, stats: LoadStats): Promise<void> {
  const bodyFor = requestBodies(options);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const stopped = () => options.signal.aborted || Date.now() >= options.deadline;
  const destroyAll = () => agent.destroy();
  const deadlineTimer = setTimeout(destroyAll, Math.max(0, options.deadline - Date.now()));
  options.signal.addEventListener('abort', destroyAll, { once: true });
  const sockets = new Set<unknown>();
  agent.on('free', (socket) => sockets.add(socket));

  const worker = async () => {
    while (!stopped() && stats.started < options.messages) {
      const index = stats.started++;
      if (index >= options.messages) break;
      const error = await postOne(agent, options, bodyFor(options.firstIndex + index));
      if (error === undefined) {
        stats.accepted++;
        continue;
      }
      if (stopped()) break; // destroyed by the deadline or an abort: not the relay's error
      noteError(stats, error);
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, options.messages) }, worker));
  } finally {
    clearTimeout(deadlineTimer);
    options.signal.removeEventListener('abort', destroyAll);
    stats.connects = sockets.size;
    destroyAll();
  }
  stats.started = Math.min(stats.started, options.messages);
}
